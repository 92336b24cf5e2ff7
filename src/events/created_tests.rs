#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The spliced event of a created resource is the tree path's event
//! (`build_event_owned`), attribute for attribute and in the same order,
//! over generated answers; answers it cannot keep whole take the tree path.
use super::*;
use crate::events::cloudevent::build_event_owned;
use crate::events::{ChangeInput, Event, EventData, WriteMethod};
use crate::scim::json::get_ci;
use proptest::prelude::*;
use serde_json::{json, Value};

fn input<'a>(resource_id: &'a str, tenant: &'a str) -> ChangeInput<'a> {
    ChangeInput {
        id: "evt_0123456789abcdef0123456789abcdef",
        time: "2026-12-07T02:30:00.123Z",
        tenant,
        method: WriteMethod::Post,
        resource_type: "Users",
        resource_id,
        request_body: None,
        response_body: None,
        data: EventData::Resource,
    }
}

/// The event as the request path builds it from an answer's bytes: spliced
/// when [`Created::read`] takes them, else from the tree.
fn both(body: &[u8], tenant: &str) -> Option<(Value, Value)> {
    let tree: Value = serde_json::from_slice(body).ok()?;
    let id = tree
        .as_object()
        .and_then(|a| get_ci(a, "id"))
        .and_then(Value::as_str)?;
    let old = build_event_owned(&input(id, tenant), Some(tree.clone()));
    let created = Created::read(body)?;
    assert_eq!(created.id, id);
    let new = Event::created(
        &input(&created.id, tenant),
        "scim.user.created",
        created.data,
    );
    assert!(!new.json().contains(&b'\n'));
    Some((old, serde_json::from_slice(new.json()).unwrap()))
}

#[test]
fn a_plain_answer_is_spliced_as_the_tree_would_build_it() {
    let body = br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"2819c223","userName":"b\u00e9\"n","meta":{"location":"https://x/Users/2819c223"},"n":1.5e3}"#;
    let (old, new) = both(body, "acme").expect("spliced");
    assert_eq!(old.to_string(), new.to_string());
    // Padded with blanks around and inside: still the same event.
    let padded = b" { \"id\" : \"7\" ,\t\"a\" : [ 1 , 2 ] } ";
    let (old, new) = both(padded, "t\"x").expect("spliced");
    assert_eq!(old.to_string(), new.to_string());
}

#[test]
fn answers_the_tree_would_change_are_not_spliced() {
    for body in [
        json!({"id": "1", "password": "x"}).to_string(),
        json!({"id": "1", "PassWord": "x"}).to_string(),
        json!({"userName": "no id"}).to_string(),
        json!({"id": 42}).to_string(),
        r#"{"id":"1","a":1,"a":2}"#.to_string(),
        r#"{"id":"1","ID":"2"}"#.to_string(),
        "{\n\"id\": \"1\"\n}".to_string(),
        r#"{"id":"1"} trailing"#.to_string(),
        r#"[{"id":"1"}]"#.to_string(),
        r#"{"id":"1""#.to_string(),
        String::new(),
    ] {
        assert!(Created::read(body.as_bytes()).is_none(), "{body}");
    }
    let many: String = (0..200).map(|i| format!(",\"a{i}\":{i}")).collect();
    assert!(Created::read(format!("{{\"id\":\"1\"{many}}}").as_bytes()).is_none());
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-zA-Z0-9 \"\\\\/\u{e9}\u{1F600}\t<>&]{0,12}".prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::vec(("[a-z]{1,6}", inner), 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("id".to_string()),
        Just("Id".to_string()),
        Just("password".to_string()),
        Just("userName".to_string()),
        Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_string()),
        "[a-zA-Z\"\\\\\u{e9}]{1,8}",
    ]
}

/// Members written by hand (so a name may repeat), with blanks between
/// tokens chosen from `gaps`.
fn render(members: &[(String, Value)], gaps: &[&str]) -> String {
    let gap = |i: usize| gaps.get(i % gaps.len().max(1)).copied().unwrap_or("");
    let mut out = format!("{}{{", gap(0));
    for (i, (k, v)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            "{}{}{}:{}{}",
            gap(i + 1),
            json!(k),
            gap(i + 2),
            gap(i),
            v
        ));
    }
    out.push_str(&format!("{}}}{}", gap(3), gap(1)));
    out
}

proptest! {
    #[test]
    fn spliced_events_equal_tree_events(
        members in prop::collection::vec((name(), value()), 0..8),
        id in "[a-z0-9\"\\\\-]{1,12}",
        gaps in prop::collection::vec(prop_oneof![Just(""), Just(" "), Just("\t"), Just("\n")], 1..4),
        tenant in "[a-z\"]{1,6}",
    ) {
        let mut members = members;
        members.insert(0, ("id".to_string(), Value::from(id)));
        let body = render(&members, &gaps);
        if let Some((old, new)) = both(body.as_bytes(), &tenant) {
            prop_assert_eq!(old.to_string(), new.to_string());
        }
        // Not vacuous: a compact answer with one string id, no password
        // and no repeated name is always spliced.
        let names: Vec<&String> = members.iter().map(|(k, _)| k).collect();
        let clean = names.iter().all(|n| !n.eq_ignore_ascii_case("password"))
            && names.iter().filter(|n| n.eq_ignore_ascii_case("id")).count() == 1
            && names.iter().enumerate().all(|(i, n)| !names[..i].contains(n));
        if clean {
            let compact = render(&members, &[""]);
            prop_assert!(Created::read(compact.as_bytes()).is_some(), "{}", compact);
            prop_assert!(both(compact.as_bytes(), &tenant).is_some());
        }
    }
}

/// The scanner's reading of an answer, where it does not decline it, is
/// serde_json's (the path it replaced, kept for what it declines).
fn same_reading(body: &[u8]) -> bool {
    let data = body.trim_ascii();
    scanned(data).is_none_or(|decided| decided == parsed(data))
}

#[test]
fn the_scanner_reads_the_answers_as_serde_json_does() {
    let body = br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"2819c223","userName":"b\"n","meta":{"location":"https://x/Users/2819c223"},"n":1.5}"#;
    assert_eq!(scanned(body), Some(Some("2819c223".to_string())));
    assert_eq!(scanned(br#"{"i\u0064":"1"}"#), None, "declined: \\u");
    assert_eq!(
        scanned(br#"{"id":"1","n":1e3}"#),
        None,
        "declined: exponent"
    );
    for (body, id) in [
        (&br#"{"i\/d":"1","id":"a\/b\\c"}"#[..], Some("a/b\\c")),
        (br#"{"id":"1","pass\/word":1}"#, Some("1")),
        (br#"{"id":"1","pass\u0077ord":1}"#, None),
        (br#"{"id":"1","Password":{"a":[1,2]}}"#, None),
        (br#"{"id":"1","x":1,"x":1}"#, None),
        (br#"{"Id":"1","iD":"1"}"#, None),
        (br#"{"id":null}"#, None),
        (br#"{"id":"1",}"#, None),
        (br#"{"id":"1"}}"#, None),
        (br#"{"id":"1" "a":2}"#, None),
        (br#"{"id":"\u00e9"}"#, Some("é")),
    ] {
        assert!(same_reading(body), "{}", String::from_utf8_lossy(body));
        let data = body.trim_ascii();
        assert_eq!(
            scanned(data).unwrap_or_else(|| parsed(data)).as_deref(),
            id,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    // The usual answer: an upstream's created User.
    let user = include_bytes!("../../benches/load/user.json");
    assert!(scanned(user.trim_ascii()).is_some_and(|id| id.is_some()));
}

proptest! {
    #[test]
    fn scanned_and_parsed_readings_agree(
        members in prop::collection::vec((name(), value()), 0..8),
        id in prop_oneof![
            "[a-z0-9\"\\\\-]{1,12}".prop_map(Value::from),
            Just(Value::Null),
            Just(json!(7)),
        ],
        gaps in prop::collection::vec(prop_oneof![Just(""), Just(" "), Just("\t")], 1..4),
        cut in 0usize..400,
        flip in any::<prop::sample::Index>(),
    ) {
        let mut members = members;
        members.insert(0, ("id".to_string(), id));
        let body = render(&members, &gaps);
        prop_assert!(same_reading(body.as_bytes()), "{}", body);
        // Broken: cut short, or one byte changed.
        let bytes = body.as_bytes();
        prop_assert!(same_reading(&bytes[..cut.min(bytes.len())]));
        if !bytes.is_empty() {
            let mut changed = bytes.to_vec();
            let at = flip.index(changed.len());
            for b in [b'"', b'}', b',', b':', b'\\', b'x', b'1', b'{', b']'] {
                changed[at] = b;
                prop_assert!(same_reading(&changed), "{}", String::from_utf8_lossy(&changed));
            }
        }
    }
}
