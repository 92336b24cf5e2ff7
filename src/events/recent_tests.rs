#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use serde_json::json;

fn event(seq: u64, event: serde_json::Value) -> RecentEvent {
    RecentEvent {
        record: OutboxRecord::new(seq, event),
    }
}

fn plain(seq: u64) -> RecentEvent {
    event(seq, json!({"id": format!("evt_{seq}"), "tenant": "acme"}))
}

fn seqs(events: &[Arc<RecentEvent>]) -> Vec<u64> {
    events.iter().map(|e| e.record.seq).collect()
}

#[test]
fn the_spliced_body_is_byte_for_byte_the_general_one() {
    let cases = [
        json!({"specversion": "1.0", "id": "evt_1", "data": {"name": "a\"b\u{e9}", "n": 1.5e300, "x": [1, -2, null]}}),
        json!({"id": "evt_2", "resourceversion": "00000000000000000007", "traceparent": "00-ab-cd-01"}),
        // Already has a sequence: replaced in place, the general path.
        json!({"id": "evt_3", "sequence": "old", "data": {}}),
        // Not a (non-empty) object: the general path too.
        json!({}),
        json!([1, 2]),
    ];
    for (i, value) in cases.into_iter().enumerate() {
        let e = event(4711 + i as u64, value);
        assert_eq!(
            String::from_utf8(e.delivered_body()).unwrap(),
            String::from_utf8(serde_json::to_vec(&e.record.delivered_event()).unwrap()).unwrap(),
            "case {i}"
        );
    }
    let e = plain(9);
    let body: serde_json::Value = serde_json::from_slice(&e.delivered_body()).unwrap();
    assert_eq!(body["sequence"], "00000000000000000009");
}

#[test]
fn takes_contiguous_durable_events_from_the_asked_seq() {
    let ring = RecentEvents::new();
    assert!(ring.take(1, 10, 10).is_none(), "empty");
    ring.push((5..=9).map(plain));
    assert_eq!(seqs(&ring.take(5, 9, 100).unwrap()), [5, 6, 7, 8, 9]);
    assert_eq!(
        seqs(&ring.take(6, 7, 100).unwrap()),
        [6, 7],
        "not above upto"
    );
    assert_eq!(seqs(&ring.take(6, 9, 2).unwrap()), [6, 7], "at most max");
    assert!(ring.take(4, 9, 100).is_none(), "older than the oldest kept");
    assert!(ring.take(10, 20, 100).is_none(), "not pushed yet");
    assert!(ring.take(8, 7, 100).is_none(), "not durable yet");
}

#[test]
fn a_gap_empties_the_ring_so_it_stays_contiguous() {
    let ring = RecentEvents::new();
    ring.push((1..=3).map(plain));
    ring.push([plain(7), plain(8)]);
    assert!(ring.take(3, 10, 10).is_none());
    assert!(ring.take(4, 10, 10).is_none());
    assert_eq!(seqs(&ring.take(7, 10, 10).unwrap()), [7, 8]);
}

#[test]
fn bounded_by_count_and_bytes() {
    let ring = RecentEvents::new();
    ring.push((1..=(MAX_EVENTS as u64 + 10)).map(plain));
    assert!(ring.take(10, u64::MAX, 1).is_none());
    assert_eq!(seqs(&ring.take(11, u64::MAX, 1).unwrap()), [11]);

    let big = "x".repeat(MAX_BYTES / 3);
    let ring = RecentEvents::new();
    ring.push((1..=4).map(|s| event(s, json!({"id": s, "data": big}))));
    assert!(ring.take(2, 10, 10).is_none(), "over the byte bound");
    assert_eq!(seqs(&ring.take(3, 10, 10).unwrap()), [3, 4]);
    // One event larger than the bound is still kept, alone.
    let huge = "y".repeat(MAX_BYTES + 1);
    ring.push([event(5, json!({"id": 5, "data": huge}))]);
    assert_eq!(seqs(&ring.take(5, 10, 10).unwrap()), [5]);
    assert!(ring.take(4, 10, 10).is_none());
}
