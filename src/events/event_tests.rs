#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use serde_json::json;

fn cases() -> Vec<Value> {
    vec![
        json!({"specversion": "1.0", "id": "evt_1", "source": "/tenants/acme", "type": "scim.user.created",
               "subject": "u\"1", "time": "2026-12-07T00:00:00Z", "tenant": "acme", "resourcetype": "User",
               "data": {"id": "u\"1", "name": {"givenName": "\u{e9}"}, "n": 1.5e300, "x": [1, -2, null]}}),
        json!({"id": "evt_2", "resourceversion": "00000000000000000007", "traceparent": "00-ab-cd-01", "tracestate": "k=v"}),
        json!({"id": "evt_3", "sequence": "old", "data": {}}),
        json!({"id": 4, "tenant": null, "subject": ["x"]}),
        json!({}),
        json!([1, 2]),
        json!("text"),
    ]
}

/// The head as the tree gives it, for comparison.
fn tree_head(
    v: &Value,
) -> (
    String,
    Option<&str>,
    Option<&str>,
    Option<&str>,
    Option<&str>,
) {
    let text = |n: &str| v.get(n).and_then(Value::as_str);
    (
        text("id").unwrap_or("").to_string(),
        text("tenant"),
        text("subject"),
        text("time"),
        text("traceparent"),
    )
}

#[test]
fn the_head_read_from_json_is_the_trees() {
    for value in cases() {
        let built = Event::from_value(&value);
        let read = Event::from_json(built.json()).unwrap();
        assert_eq!(read, built, "{value}");
        let head = (
            read.id().to_string(),
            read.tenant(),
            read.subject(),
            read.time(),
            read.trace_context().0,
        );
        assert_eq!(head, tree_head(&value), "{value}");
        assert_eq!(read.to_value(), value);
    }
    // A repeated name: the last value, as in a tree.
    let read = Event::from_json(br#"{"id":"a","tenant":"x","tenant":"y"}"#).unwrap();
    assert_eq!(read.tenant(), Some("y"));
    assert!(Event::from_json(b"{\"id\":").is_err());
    assert!(Event::from_json(b"{} {}").is_err());
}

#[test]
fn line_breaks_never_reach_the_outbox() {
    let e = Event::from_json(b"{\n  \"id\": \"a\",\r\n  \"data\": {\"s\": \"x\\ny\"}\n}").unwrap();
    assert_eq!(e.json(), br#"{"id":"a","data":{"s":"x\ny"}}"#);
    assert_eq!(e.id(), "a");
}

/// What inserting into the tree and serializing gives.
fn by_tree(value: &Value, name: &str, text: &str) -> Vec<u8> {
    let mut value = value.clone();
    if let Value::Object(map) = &mut value {
        map.insert(name.into(), text.into());
    }
    serde_json::to_vec(&value).unwrap()
}

#[test]
fn appended_attributes_are_byte_for_byte_the_trees() {
    for value in cases() {
        let mut e = Event::from_value(&value);
        assert_eq!(
            e.delivered(42),
            by_tree(&value, "sequence", "00000000000000000042")
        );
        e.set_resource_version("0000000000000000000\"9");
        let stamped = by_tree(&value, "resourceversion", "0000000000000000000\"9");
        assert_eq!(e.json(), stamped.as_slice(), "{value}");
        let stamped: Value = serde_json::from_slice(&stamped).unwrap();
        e.set_trace_context("00-aa-bb-01", Some("a=b"));
        let traced = by_tree(&stamped, "traceparent", "00-aa-bb-01");
        let traced: Value = serde_json::from_slice(&traced).unwrap();
        let traced = by_tree(&traced, "tracestate", "a=b");
        assert_eq!(e.json(), traced.as_slice(), "{value}");
        if value.is_object() {
            assert_eq!(e.trace_context(), (Some("00-aa-bb-01"), Some("a=b")));
        }
        // Read back from the outbox: the same delivered bytes.
        let read = Event::from_json(e.json()).unwrap();
        assert_eq!(read.delivered(7), e.delivered(7));
    }
}

#[test]
fn a_member_set_on_shared_bytes_leaves_the_other_holder_as_it_was() {
    let value = serde_json::json!({"id": "e1", "data": {"a": 1}});
    let mut e = Event::from_value(&value);
    let held = e.bytes();
    e.set_resource_version("7");
    assert_eq!(e.json(), by_tree(&value, "resourceversion", "7").as_slice());
    assert_eq!(
        held.as_ref(),
        serde_json::to_vec(&value).unwrap().as_slice()
    );
    // Held by no one else: appended in place, the same bytes.
    let mut alone = Event::from_value(&value);
    alone.set_resource_version("7");
    assert_eq!(alone, e);
}

#[test]
fn serialized_as_its_json() {
    let e = Event::from_value(&json!({"id": "a", "data": {"b": [1, 2]}}));
    let line = serde_json::to_string(&json!({"seq": 1, "event": e.to_value()})).unwrap();
    #[derive(Serialize, Deserialize)]
    struct Line {
        seq: u64,
        event: Event,
    }
    let ours = serde_json::to_string(&Line {
        seq: 1,
        event: e.clone(),
    })
    .unwrap();
    assert_eq!(ours, line);
    let back: Line = serde_json::from_str(&ours).unwrap();
    assert_eq!(back.event, e);
}

#[test]
fn the_delivered_sequence_is_twenty_digits_as_format_wrote_them() {
    for value in cases() {
        let e = Event::from_value(&value);
        for seq in [0, 7, 42, 1_000_000_007, u64::MAX / 3, u64::MAX] {
            let digits = format!("{seq:020}");
            assert_eq!(
                e.delivered(seq),
                by_tree(&value, "sequence", &digits),
                "{value} {seq}"
            );
            // Borrowed, it says its length and writes the same bytes
            // after what a batch's body holds already.
            let body = e.delivered_body(seq);
            assert_eq!(body.len(), e.delivered(seq).len(), "{value} {seq}");
            let mut out = b"[".to_vec();
            body.write_to(&mut out);
            assert_eq!(out[1..], e.delivered(seq)[..], "{value} {seq}");
        }
    }
}
