//! Opt-in batched webhook delivery (`max_batch`) through the running
//! gateway, to a real receiver that verifies each request's Standard
//! Webhooks signature over the whole body: every request is a CloudEvents
//! batch (a JSON array, `application/cloudevents-batch+json`) of at most
//! `max_batch` events, the events in write order across batches; a batch
//! that failed is retried as the same events under the same `webhook-id`;
//! a refused batch dead-letters each of its events and later ones flow.
//! And the create's audit record, whose attribute names are read from the
//! body's bytes when the tenant keeps no values.
use crate::support::gateway::{token_for, TestGateway};
use crate::support::webhook::{gateway_for, secret, Mode, Received, WebhookReceiver};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);
const SINK: &str = "webhook.batched.main";

fn spawn(receiver: &WebhookReceiver, key: &str) -> TestGateway {
    gateway_for(receiver, key, "batched", "max_batch = 4\n")
}

/// Creates users `{prefix}{i}` one after the other; their ids in order.
async fn create_users(gw: &TestGateway, prefix: &str, count: usize) -> Vec<String> {
    let client = gw.client();
    let mut ids = Vec::new();
    for i in 0..count {
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("{prefix}{i}"),
        });
        let answer = client
            .post(format!("{}/Users", gw.base("batched.localhost")))
            .bearer_auth(token_for("batched"))
            .header("content-type", "application/scim+json")
            .body(user.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 201, "user {i}");
        let created: Value = answer.json().await.unwrap();
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    ids
}

/// Each accepted request's events (checking the batch's form on the way).
fn batches(received: &[Received]) -> Vec<Vec<Value>> {
    received
        .iter()
        .map(|r| {
            assert_eq!(r.content_type, "application/cloudevents-batch+json");
            let events = r.body.as_array().expect("a JSON array").clone();
            assert!((1..=4).contains(&events.len()), "{} events", events.len());
            let first = events[0]["id"].as_str().unwrap();
            assert_eq!(r.id, format!("batch_{first}_{}", events.len()));
            events
        })
        .collect()
}

/// Waits until the receiver accepted `n` events, counting each once.
async fn wait_for_events(receiver: &WebhookReceiver, n: usize) -> Vec<Received> {
    let deadline = Instant::now() + WAIT;
    loop {
        let received = receiver.received();
        let mut ids: Vec<String> = batches(&received)
            .iter()
            .flatten()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() >= n {
            return received;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {n} events",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn user_names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["data"]["userName"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn batches_are_signed_arrays_in_write_order_and_a_failed_one_is_retried_whole() {
    let key = secret(21);
    let receiver = WebhookReceiver::spawn(&[&key]);
    receiver.set_mode(Mode::Fail(503));
    let gw = spawn(&receiver, &key);
    create_users(&gw, "b-", 10).await;
    // The first batch failed at least twice; then the receiver takes it.
    let deadline = Instant::now() + WAIT;
    while receiver.attempts() < 2 {
        assert!(Instant::now() < deadline, "no retry");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    receiver.set_mode(Mode::Accept);
    let received = wait_for_events(&receiver, 10).await;
    let tried = receiver.tried();
    assert_eq!(tried[0], tried[1], "a retried batch keeps its webhook-id");
    assert_eq!(received[0].id, tried[0], "and its events");
    let all: Vec<Value> = batches(&received).into_iter().flatten().collect();
    let wanted: Vec<String> = (0..10).map(|i| format!("b-{i}")).collect();
    assert_eq!(user_names(&all), wanted, "write order, each once");
    let seqs: Vec<&str> = all
        .iter()
        .map(|e| e["sequence"].as_str().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // The writes made while the first batch was retried went in fewer,
    // fuller batches.
    assert!(received.len() < 10, "{} requests", received.len());
    assert_eq!(receiver.bad_signatures(), 0);
}

#[tokio::test]
async fn a_refused_batch_dead_letters_each_event_and_later_batches_flow() {
    let key = secret(22);
    let receiver = WebhookReceiver::spawn(&[&key]);
    receiver.set_mode(Mode::Fail(422));
    let gw = spawn(&receiver, &key);
    let audit = gw.dir.join("audit");
    let refused = create_users(&gw, "r-", 3).await;
    let deadline = Instant::now() + WAIT;
    let letters = loop {
        let letters = scim_gateway::events::deadletter::list(&audit, SINK).unwrap();
        if letters.len() == 3 {
            break letters;
        }
        assert!(Instant::now() < deadline, "{} dead letters", letters.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // One dead letter per event, in order, each naming the refusal.
    let subjects: Vec<&str> = letters.iter().map(|l| l.event.subject().unwrap()).collect();
    assert_eq!(
        subjects,
        refused.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(letters.iter().all(|l| l.last_error.contains("422")));
    assert!(receiver.received().is_empty());
    receiver.set_mode(Mode::Accept);
    create_users(&gw, "ok-", 2).await;
    let received = wait_for_events(&receiver, 2).await;
    let all: Vec<Value> = batches(&received).into_iter().flatten().collect();
    assert_eq!(user_names(&all), ["ok-0", "ok-1"]);
}

#[tokio::test]
async fn a_create_records_the_names_it_changes_read_from_its_bytes() {
    let key = secret(23);
    let receiver = WebhookReceiver::spawn(&[&key]);
    let gw = spawn(&receiver, &key);
    let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", enterprise],
        "userName": "names-0",
        "name": {"givenName": "Ada"},
        "emails": [{"value": "ada@example.com", "type": "work"}],
        "password": "hunter2-secret",
        "active": true,
        enterprise: {"department": "R&D", "costCenter": "4130"},
    });
    let answer = gw
        .client()
        .post(format!("{}/Users", gw.base("batched.localhost")))
        .bearer_auth(token_for("batched"))
        .header("content-type", "application/scim+json")
        .header("x-request-id", "req-names")
        .body(user.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let received = wait_for_events(&receiver, 1).await;
    let event = &batches(&received)[0][0];
    assert_eq!(event["data"]["userName"], "names-0");
    assert!(!received[0].body.to_string().contains("hunter2"));
    // The tenant keeps no values: its record names what the create set
    // (without reading the body into a tree: the same names as the tree).
    let audit = gw.dir.join("audit");
    let mut record = None;
    for entry in std::fs::read_dir(&audit).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let line: Value = serde_json::from_str(line).unwrap();
                if line["request_id"] == "req-names" {
                    record = Some(line);
                }
            }
        }
    }
    let record = record.expect("the create's audit record");
    assert_eq!(
        record["attributes"],
        json!([
            "userName",
            "name",
            "emails",
            "password",
            "active",
            format!("{enterprise}:department"),
            format!("{enterprise}:costCenter"),
        ])
    );
    assert!(record.get("values").is_none_or(Value::is_null), "{record}");
    assert_eq!(record["resource_id"], event["subject"]);
}
