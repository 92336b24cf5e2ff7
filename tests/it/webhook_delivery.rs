//! Webhook delivery through the running gateway, where the dispatcher takes
//! the journal's newest events from memory: what a receiver gets is what
//! the outbox holds (plus `sequence`), signed, in order, over one kept-alive
//! connection; and a receiver that was down gets every event once it is
//! back, also those that no longer fit in memory and are read from the
//! outbox file.
use crate::support::gateway::{token_for, TestGateway};
use crate::support::webhook::{gateway_for, secret, Received, WebhookReceiver};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

fn spawn(receiver: &WebhookReceiver, key: &str, extra: &str) -> TestGateway {
    gateway_for(receiver, key, "hooked", extra)
}

/// Creates `count` users named `{prefix}{i}`, each with `padding` bytes
/// of `title`, one after the other.
async fn create_users(gw: &TestGateway, prefix: &str, count: usize, padding: usize) {
    let client = gw.client();
    for i in 0..count {
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("{prefix}{i}"),
            "title": "t".repeat(padding),
        });
        let answer = client
            .post(format!("{}/Users", gw.base("hooked.localhost")))
            .bearer_auth(token_for("hooked"))
            .header("content-type", "application/scim+json")
            .body(user.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 201, "user {i}");
    }
}

/// The outbox's events by seq, as the journal wrote them.
fn outbox_events(gw: &TestGateway) -> BTreeMap<u64, Value> {
    let dir = gw.dir.join("audit").join("outbox");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let line: Value = serde_json::from_str(line).unwrap();
                out.insert(line["seq"].as_u64().unwrap(), line["event"].clone());
            }
        }
    }
    out
}

fn seq_of(r: &Received) -> u64 {
    r.body["sequence"].as_str().unwrap().parse().unwrap()
}

/// Every event of the outbox arrived, each the stored event with its
/// `sequence` (and signed: the receiver only keeps deliveries whose
/// signature it verified).
fn assert_delivered_as_stored(received: &[Received], stored: &BTreeMap<u64, Value>) {
    let mut first: Vec<&Received> = Vec::new();
    for r in received {
        if !first.iter().any(|f| f.id == r.id) {
            first.push(r);
        }
    }
    let mut seqs: Vec<u64> = first.iter().map(|r| seq_of(r)).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, stored.keys().copied().collect::<Vec<_>>());
    for r in first {
        let seq = seq_of(r);
        assert_eq!(r.body["sequence"], format!("{seq:020}"));
        let mut body = r.body.clone();
        body.as_object_mut().unwrap().remove("sequence");
        assert_eq!(&body, &stored[&seq], "event {seq}");
        assert_eq!(r.id, body["id"].as_str().unwrap());
    }
}

#[tokio::test]
async fn many_events_reach_one_receiver_in_order_over_one_connection() {
    let key = secret(11);
    let receiver = WebhookReceiver::spawn(&[&key]);
    // One at a time: strict outbox order, one connection.
    let gw = spawn(&receiver, &key, "max_in_flight = 1\n");
    create_users(&gw, "one-", 60, 0).await;
    let received = receiver.wait_for_distinct(60, WAIT).await;
    let stored = outbox_events(&gw);
    assert_eq!(stored.len(), 60);
    assert_delivered_as_stored(&received, &stored);
    let names: Vec<&str> = received
        .iter()
        .map(|r| r.body["data"]["userName"].as_str().unwrap())
        .collect();
    let wanted: Vec<String> = (0..60).map(|i| format!("one-{i}")).collect();
    assert_eq!(names, wanted, "in write order, each once");
    assert_eq!(receiver.bad_signatures(), 0);
    // Sixty events, one at a time: the sink's pooled client keeps its
    // connection alive between them.
    assert_eq!(receiver.connections(), 1, "one kept-alive connection");
}

#[tokio::test]
async fn a_receiver_down_then_up_gets_every_event_also_past_what_memory_keeps() {
    let key = secret(12);
    let receiver = WebhookReceiver::spawn(&[&key]);
    receiver.down();
    // The default window (events of different users may overtake each
    // other; each user has one event). Enough tries that no event is
    // dead-lettered while the writes go on (each in-flight event retries
    // on its own, at most 200 ms apart).
    let gw = spawn(&receiver, &key, "max_attempts = 100000\n");
    // About 6 MiB of events: more than the dispatcher keeps in memory
    // (4 MiB), so the oldest are read back from the outbox file.
    create_users(&gw, "down-", 100, 64 * 1024).await;
    assert!(receiver.received().is_empty());
    receiver.up();
    let received = receiver.wait_for_distinct(100, WAIT).await;
    let stored = outbox_events(&gw);
    assert_eq!(stored.len(), 100);
    assert_delivered_as_stored(&received, &stored);
    // Written while the receiver is up again: from memory once more.
    create_users(&gw, "after-", 5, 0).await;
    let received = receiver.wait_for_distinct(105, WAIT).await;
    assert_delivered_as_stored(&received, &outbox_events(&gw));
    assert_eq!(receiver.bad_signatures(), 0);
}
