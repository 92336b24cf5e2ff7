//! Several webhook deliveries in flight (`max_in_flight`), through the
//! running gateway: a slow receiver gets several events at once, never two
//! of one resource, and each resource's events in write order; a resource
//! whose event keeps failing holds back only its own later events while
//! other resources' events go past it; the cursor ends past every event.
use crate::support::gateway::{token_for, TestGateway};
use crate::support::webhook::{gateway_for, secret, Mode, Received, WebhookReceiver};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);
const HOST: &str = "windowed.localhost";

fn spawn(receiver: &WebhookReceiver, key: &str) -> TestGateway {
    gateway_for(receiver, key, "windowed", "max_in_flight = 4\n")
}

async fn send(gw: &TestGateway, path: &str, body: Value) -> Value {
    let answer = gw
        .client()
        .post(format!("{}{path}", gw.base(HOST)))
        .bearer_auth(token_for("windowed"))
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{path}: {}", answer.status());
    answer.json().await.unwrap()
}

async fn create_user(gw: &TestGateway, name: &str) -> String {
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
    });
    send(gw, "/Users", user).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// One Bulk request of title replacements, `(user id, title)` in order:
/// its events enter the outbox together, in this order.
async fn retitle(gw: &TestGateway, changes: &[(&str, String)]) {
    let ops: Vec<Value> = changes
        .iter()
        .map(|(id, title)| {
            json!({"method": "PATCH", "path": format!("/Users/{id}"), "data": {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "title", "value": title}]
            }})
        })
        .collect();
    let request = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": ops,
    });
    let answer = send(gw, "/Bulk", request).await;
    for op in answer["Operations"].as_array().unwrap() {
        assert_eq!(op["status"], "200", "{op}");
    }
}

fn seq_of(r: &Received) -> u64 {
    r.body["sequence"].as_str().unwrap().parse().unwrap()
}

/// The first accepted delivery of each event, in arrival order.
fn first_arrivals(received: &[Received]) -> Vec<&Received> {
    let mut first: Vec<&Received> = Vec::new();
    for r in received {
        if !first.iter().any(|f| f.id == r.id) {
            first.push(r);
        }
    }
    first
}

/// Per resource, the seqs of its events in arrival order.
fn per_subject(first: &[&Received]) -> BTreeMap<String, Vec<u64>> {
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in first {
        let subject = r.body["subject"].as_str().unwrap().to_string();
        out.entry(subject).or_default().push(seq_of(r));
    }
    out
}

/// Waits until the sink's cursor file says `seq`.
async fn cursor_reaches(gw: &TestGateway, seq: u64) {
    let path = gw.dir.join("audit/outbox/cursors/webhook.windowed.main");
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.trim().parse::<u64>().ok() == Some(seq) {
            return;
        }
        assert!(Instant::now() < deadline, "cursor {text:?}, wanted {seq}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_slow_receiver_gets_several_at_once_each_resource_in_order() {
    let key = secret(21);
    let receiver = WebhookReceiver::spawn(&[&key]);
    let gw = spawn(&receiver, &key);
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(create_user(&gw, &format!("slow-{i}")).await);
    }
    receiver.wait_for_distinct(4, WAIT).await;
    receiver.set_mode(Mode::Slow(Duration::from_millis(100)));
    // Five rounds over the four users, interleaved: 20 events at once.
    let changes: Vec<(&str, String)> = (0..5)
        .flat_map(|round| ids.iter().map(move |id| (id.as_str(), format!("r{round}"))))
        .collect();
    retitle(&gw, &changes).await;
    let received = receiver.wait_for_distinct(24, WAIT).await;
    let first = first_arrivals(&received);
    assert_eq!(receiver.overlaps(), 0, "never two of one resource at once");
    assert!(
        receiver.most_in_flight() >= 2,
        "several in flight: {}",
        receiver.most_in_flight()
    );
    for (subject, seqs) in per_subject(&first) {
        let mut sorted = seqs.clone();
        sorted.sort_unstable();
        assert_eq!(seqs, sorted, "{subject}: its events in write order");
        let titles: Vec<&str> = first
            .iter()
            .filter(|r| r.body["subject"] == subject.as_str())
            .filter_map(|r| r.body["data"]["title"].as_str())
            .collect();
        assert_eq!(titles, ["r0", "r1", "r2", "r3", "r4"], "{subject}");
    }
    let mut seqs: Vec<u64> = first.iter().map(|r| seq_of(r)).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=24).collect::<Vec<_>>(), "each event once");
    assert_eq!(receiver.bad_signatures(), 0);
    cursor_reaches(&gw, 24).await;
}

#[tokio::test]
async fn a_failing_resource_holds_back_only_its_own_events() {
    let key = secret(22);
    let receiver = WebhookReceiver::spawn(&[&key]);
    let gw = spawn(&receiver, &key);
    let a = create_user(&gw, "fail-a").await;
    let b = create_user(&gw, "fail-b").await;
    receiver.wait_for_distinct(2, WAIT).await;
    // a's next event is refused three times (then taken), with backoffs
    // of 50 to 200 ms in between.
    receiver.fail_subject(&a, 3);
    let t = |s: &str| s.to_string();
    retitle(
        &gw,
        &[
            (&a, t("x1")),
            (&b, t("y1")),
            (&b, t("y2")),
            (&b, t("y3")),
            (&a, t("x2")),
        ],
    )
    .await;
    let received = receiver.wait_for_distinct(7, WAIT).await;
    let first = first_arrivals(&received);
    let order: Vec<&str> = first
        .iter()
        .skip(2)
        .map(|r| r.body["data"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["y1", "y2", "y3", "x1", "x2"],
        "b's events pass a's failing one; each resource in order"
    );
    assert!(receiver.attempts() >= 10, "a's event was tried 4 times");
    assert_eq!(receiver.overlaps(), 0);
    cursor_reaches(&gw, 7).await;
}
