//! Change events end to end: an outbox written in the journal's format, the
//! dispatcher, the webhook sink over real HTTP, and a real receiver that
//! verifies Standard Webhooks signatures on its own.
use crate::support::outbox::{user_event, TestOutbox};
use crate::support::webhook::{secret, verify, Mode, Received, WebhookReceiver};
use scim_gateway::events::cursor::read_cursor;
use scim_gateway::events::deadletter;
use scim_gateway::events::outbox::list_segments;
use scim_gateway::events::webhook::{WebhookSettings, WebhookSink};
use scim_gateway::events::{Dispatcher, DispatcherSettings, Sink};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// A webhook sink for `tenant` to `receiver`, with fast retries.
fn sink(
    dir: &Path,
    tenant: &str,
    name: &str,
    receiver: &WebhookReceiver,
    secret: &str,
) -> Arc<WebhookSink> {
    let secret_file = dir.join(format!("{tenant}-{name}.secret"));
    std::fs::write(&secret_file, secret).unwrap();
    // One event at a time: these tests hold the sink to strict outbox
    // order (the window of several in flight: webhook_window.rs).
    let settings: WebhookSettings = toml::from_str(&format!(
        r#"
        name = "{name}"
        url = "{}"
        secret_file = ["{}"]
        connect_timeout = "200ms"
        timeout = "300ms"
        initial_backoff = "20ms"
        max_backoff = "100ms"
        max_attempts = 100000
        max_age = "1m"
        max_in_flight = 1
        "#,
        receiver.url(),
        secret_file.display()
    ))
    .unwrap();
    Arc::new(WebhookSink::new(settings.compile(tenant).unwrap()).unwrap())
}

struct Running {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

fn start(dispatcher: Dispatcher) -> Running {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(dispatcher.run(async {
        let _ = rx.await;
    }));
    Running {
        stop: Some(tx),
        task,
    }
}

fn settings(dir: &Path) -> DispatcherSettings {
    let mut s = DispatcherSettings::new(dir);
    s.poll_interval = Duration::from_millis(20);
    s.housekeeping_interval = Duration::from_millis(50);
    s
}

fn dispatcher(dir: &Path, sinks: &[Arc<WebhookSink>]) -> Dispatcher {
    sinks.iter().fold(Dispatcher::new(settings(dir)), |d, s| {
        let policy = s.policy();
        d.with_sink(s.clone() as Arc<dyn Sink>, policy)
    })
}

fn seq(r: &Received) -> u64 {
    r.body["sequence"].as_str().unwrap().parse().unwrap()
}

/// The seqs in first-arrival order, and how many deliveries repeated one.
fn first_arrivals(received: &[Received]) -> (Vec<u64>, usize) {
    let mut seen = Vec::new();
    let mut duplicates = 0;
    for r in received {
        let s = seq(r);
        if seen.contains(&s) {
            duplicates += 1;
        } else {
            seen.push(s);
        }
    }
    (seen, duplicates)
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn the_receiver_verifies_with_the_spec_test_vector() {
    // The Standard Webhooks reference libraries' vector: the receiver's
    // verifier is right independently of the gateway's signer.
    let (key, id, ts, body) = (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        br#"{"test": 2432232314}"#,
    );
    let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert!(verify(key, id, ts, body, sig));
    assert!(verify(key, id, ts, body, &format!("v1,bm9wZQ== {sig}")));
    assert!(!verify(key, id, "1614265331", body, sig));
    assert!(!verify(&secret(1), id, ts, body, sig));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_is_delivered_once_in_order_and_signed() {
    scim_gateway::telemetry::metrics_handle();
    let mut outbox = TestOutbox::new("order");
    let key = secret(7);
    let receiver = WebhookReceiver::spawn(&[&key]);
    for i in 0..12 {
        outbox.append(user_event("acme", &format!("u{}", i % 3), &format!("v{i}")));
    }
    outbox.rotate();
    for i in 12..20 {
        outbox.append(user_event("acme", &format!("u{}", i % 3), &format!("v{i}")));
    }
    // The writer is caught mid-line: that event must wait for its newline.
    outbox.append_torn(user_event("acme", "u9", "torn"));
    let hook = sink(outbox.path(), "acme", "main", &receiver, &key);
    let running = start(dispatcher(outbox.path(), &[hook]));
    let received = receiver.wait_for_distinct(20, WAIT).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        receiver.received().len(),
        20,
        "the torn line was delivered early"
    );
    outbox.finish_torn();
    let received_all = receiver.wait_for_distinct(21, WAIT).await;
    // The receiver has the 21st when it reads it, before its answer
    // reaches the sink: stopped now, the dispatcher would abandon that
    // delivery (sent again at the next start, by design). Stopped once
    // the sink has its answer (the cursor moved past it).
    eventually("the cursor past the 21st event", || {
        read_cursor(outbox.path(), "webhook.acme.main")
            .ok()
            .flatten()
            == Some(21)
    })
    .await;
    running.stop().await;

    let (order, duplicates) = first_arrivals(&received_all);
    assert_eq!(order, (1..=21).collect::<Vec<u64>>());
    assert_eq!(duplicates, 0);
    assert_eq!(receiver.attempts(), 21, "each event once");
    assert_eq!(receiver.bad_signatures(), 0);
    for r in &received {
        assert_eq!(r.content_type, "application/cloudevents+json");
        assert_eq!(r.body["id"], r.id.as_str(), "webhook-id is the event id");
        assert_eq!(r.body["specversion"], "1.0");
        assert_eq!(r.body["source"], "/tenants/acme");
    }
    assert_eq!(
        read_cursor(outbox.path(), "webhook.acme.main").unwrap(),
        Some(21)
    );
    // Every sink is past the first segment: it is gone; the newest stays.
    let segments = list_segments(&outbox.path().join("outbox")).unwrap();
    assert_eq!(segments.len(), 1, "{segments:?}");
    assert_eq!(segments[0].first_seq, 13);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_loses_nothing_and_keeps_per_resource_order() {
    let mut outbox = TestOutbox::new("outage");
    let key = secret(3);
    let receiver = WebhookReceiver::spawn(&[&key]);
    receiver.down();
    let hook = sink(outbox.path(), "acme", "main", &receiver, &key);
    let running = start(dispatcher(outbox.path(), &[hook]));
    for i in 0..10 {
        outbox.append(user_event("acme", &format!("u{}", i % 4), &format!("v{i}")));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(receiver.received().is_empty());
    // Back, but hanging past the sink's timeout for a while, then 503s.
    receiver.set_mode(Mode::Hang(Duration::from_secs(1)));
    receiver.up();
    for i in 10..15 {
        outbox.append(user_event("acme", &format!("u{}", i % 4), &format!("v{i}")));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    receiver.set_mode(Mode::Fail(503));
    tokio::time::sleep(Duration::from_millis(200)).await;
    receiver.set_mode(Mode::Accept);
    let received = receiver.wait_for_distinct(15, WAIT).await;
    running.stop().await;

    let (order, duplicates) = first_arrivals(&received);
    assert_eq!(
        order,
        (1..=15).collect::<Vec<u64>>(),
        "15 written, 15 delivered, 0 lost"
    );
    println!("outage: 15 written, 15 delivered, {duplicates} duplicate(s)");
    let mut per_resource: HashMap<String, Vec<u64>> = HashMap::new();
    for r in &received {
        per_resource
            .entry(r.body["subject"].as_str().unwrap().to_string())
            .or_default()
            .push(seq(r));
    }
    for (subject, seqs) in per_resource {
        let mut dedup = seqs.clone();
        dedup.dedup();
        assert!(dedup.windows(2).all(|w| w[0] < w[1]), "{subject}: {seqs:?}");
    }
    assert!(receiver.attempts() > 15, "the outage caused retries");
    assert_eq!(receiver.bad_signatures(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_events_are_dead_lettered_and_redeliver_replays_them() {
    let mut outbox = TestOutbox::new("dead");
    let key = secret(5);
    let receiver = WebhookReceiver::spawn(&[&key]);
    receiver.set_mode(Mode::Fail(400));
    let hook = sink(outbox.path(), "acme", "main", &receiver, &key);
    let running = start(dispatcher(outbox.path(), &[hook]));
    for i in 0..3 {
        outbox.append(user_event("acme", &format!("u{i}"), "x"));
    }
    let dir = outbox.path().to_path_buf();
    // The dead letter is stored before the cursor moves past its event.
    eventually("3 dead letters and the cursor past them", || {
        deadletter::list(&dir, "webhook.acme.main").unwrap().len() == 3
            && read_cursor(&dir, "webhook.acme.main").unwrap() == Some(3)
    })
    .await;
    // A 400 is not retried: one attempt each, and the sink moved on.
    assert_eq!(receiver.attempts(), 3);
    let letters = deadletter::list(&dir, "webhook.acme.main").unwrap();
    assert_eq!(letters[0].attempts, 1);
    assert!(
        letters[0].last_error.contains("400"),
        "{}",
        letters[0].last_error
    );
    assert_eq!(letters[0].tenant.as_deref(), Some("acme"));

    receiver.set_mode(Mode::Accept);
    // Another tenant's filter requeues nothing.
    let out = gateway_cli(&[
        "events",
        "redeliver",
        "--dir",
        dir.to_str().unwrap(),
        "--tenant",
        "globex",
    ]);
    assert!(out.contains("0 event(s) requeued"), "{out}");
    let out = gateway_cli(&[
        "events",
        "redeliver",
        "--dir",
        dir.to_str().unwrap(),
        "--sink",
        "webhook.acme.main",
    ]);
    assert!(out.contains("webhook.acme.main: 3 requeued"), "{out}");
    let received = receiver.wait_for_distinct(3, WAIT).await;
    eventually("the retry queue to drain", || {
        deadletter::list_requeued(&dir, "webhook.acme.main")
            .unwrap()
            .is_empty()
    })
    .await;
    running.stop().await;
    let (order, _) = first_arrivals(&received);
    assert_eq!(order, vec![1, 2, 3]);
    assert!(deadletter::list(&dir, "webhook.acme.main")
        .unwrap()
        .is_empty());
    let status = gateway_cli(&["events", "status", "--dir", dir.to_str().unwrap()]);
    assert!(
        status.contains("webhook.acme.main: cursor 3, behind 0, dead letters 0, requeued 0"),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_delivers_dead_letters_straight_to_a_sink() {
    let mut outbox = TestOutbox::new("resend");
    let key = secret(6);
    let receiver = WebhookReceiver::spawn(&[&key]);
    receiver.set_mode(Mode::Fail(410));
    let hook = sink(outbox.path(), "acme", "main", &receiver, &key);
    let running = start(dispatcher(outbox.path(), std::slice::from_ref(&hook)));
    outbox.append(user_event("acme", "u1", "x"));
    outbox.append(user_event("acme", "u2", "x"));
    let dir = outbox.path().to_path_buf();
    eventually("2 dead letters", || {
        read_cursor(&dir, "webhook.acme.main").unwrap() == Some(2)
    })
    .await;
    running.stop().await;
    receiver.set_mode(Mode::Accept);
    let report = deadletter::resend(&dir, hook.as_ref(), None).await.unwrap();
    assert_eq!((report.delivered, report.failed, report.skipped), (2, 0, 0));
    assert_eq!(first_arrivals(&receiver.received()).0, vec![1, 2]);
    assert!(deadletter::list(&dir, "webhook.acme.main")
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_never_receive_each_others_events() {
    let mut outbox = TestOutbox::new("tenants");
    let (acme_key, globex_key) = (secret(11), secret(12));
    let acme = WebhookReceiver::spawn(&[&acme_key]);
    let globex = WebhookReceiver::spawn(&[&globex_key]);
    for i in 0..20 {
        let tenant = if i % 2 == 0 { "acme" } else { "globex" };
        outbox.append(user_event(tenant, &format!("u{i}"), "x"));
    }
    let sinks = [
        sink(outbox.path(), "acme", "main", &acme, &acme_key),
        sink(outbox.path(), "globex", "main", &globex, &globex_key),
    ];
    let running = start(dispatcher(outbox.path(), &sinks));
    let a = acme.wait_for_distinct(10, WAIT).await;
    let g = globex.wait_for_distinct(10, WAIT).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    running.stop().await;
    assert_eq!(acme.received().len(), 10);
    assert_eq!(globex.received().len(), 10);
    assert!(a
        .iter()
        .all(|r| r.body["tenant"] == "acme" && seq(r) % 2 == 1));
    assert!(g
        .iter()
        .all(|r| r.body["tenant"] == "globex" && seq(r).is_multiple_of(2)));
    // Each was signed with its own tenant's secret only.
    assert_eq!(acme.bad_signatures() + globex.bad_signatures(), 0);
    // Both cursors passed the other tenant's events too.
    assert_eq!(
        read_cursor(outbox.path(), "webhook.acme.main").unwrap(),
        Some(20)
    );
    assert_eq!(
        read_cursor(outbox.path(), "webhook.globex.main").unwrap(),
        Some(20)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_durable_events_are_delivered_when_the_writer_says_so() {
    let mut outbox = TestOutbox::new("durable");
    let key = secret(9);
    let receiver = WebhookReceiver::spawn(&[&key]);
    for i in 0..5 {
        outbox.append(user_event("acme", &format!("u{i}"), "x"));
    }
    let (durable_tx, durable_rx) = tokio::sync::watch::channel(2u64);
    let hook = sink(outbox.path(), "acme", "main", &receiver, &key);
    let mut settings = settings(outbox.path());
    // Long poll: the watch must be what wakes the dispatcher.
    settings.poll_interval = Duration::from_secs(30);
    let running = start(
        Dispatcher::new(settings)
            .with_sink(hook.clone() as Arc<dyn Sink>, hook.policy())
            .with_durable_seq(durable_rx),
    );
    receiver.wait_for_distinct(2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 2);
    durable_tx.send(5).unwrap();
    let received = receiver.wait_for_distinct(5, Duration::from_secs(5)).await;
    running.stop().await;
    assert_eq!(first_arrivals(&received).0, vec![1, 2, 3, 4, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_after_the_cursor() {
    let mut outbox = TestOutbox::new("restart");
    let key = secret(2);
    let receiver = WebhookReceiver::spawn(&[&key]);
    for i in 0..4 {
        outbox.append(user_event("acme", &format!("u{i}"), "x"));
    }
    let hook = sink(outbox.path(), "acme", "main", &receiver, &key);
    let running = start(dispatcher(outbox.path(), std::slice::from_ref(&hook)));
    receiver.wait_for_distinct(4, WAIT).await;
    running.stop().await;
    for i in 4..7 {
        outbox.append(user_event("acme", &format!("u{i}"), "x"));
    }
    let running = start(dispatcher(outbox.path(), &[hook]));
    let received = receiver.wait_for_distinct(7, WAIT).await;
    running.stop().await;
    assert_eq!(first_arrivals(&received), ((1..=7).collect(), 0));
}

/// Runs the gateway binary; returns stdout (panics on failure).
fn gateway_cli(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
