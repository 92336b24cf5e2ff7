//! The rig of the no-loss tests (tests/it/no_loss.rs): the gateway binary
//! in front of a store, with its audit journal, a webhook receiver and the
//! Kafka sink to a tansu broker; and the checks run once a scenario is
//! over: audit records per write, `audit verify`, `events status`, and
//! both sinks against the writes ([`super::delivery`]).
use super::audit_log::{audit_verify, read_records, writes_by_request_id};
use super::audited::{temp_dir, AuditedConfig, ACME_TOPIC};
use super::delivery::{check_sink, delivered_count, SinkCheck};
use super::flaky::FlakyStore;
use super::kafka_topic::{create_topic, TopicReader};
use super::process::GatewayProcess;
use super::store::TestStore;
use super::tansu::Tansu;
use super::webhook::{secret, WebhookReceiver};
use super::write_stream::{Kind, Write};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 3;
/// How long the sinks may take to catch up once everything is back.
const DELIVERY_BOUND: Duration = Duration::from_secs(45);

/// Everything a scenario runs against.
pub struct Rig {
    pub broker: Tansu,
    /// The upstream ([`TestStore`] or [`FlakyStore`]), kept alive.
    _upstream: Box<dyn std::any::Any + Send>,
    /// The upstream fails some requests: writes answered with an error
    /// are expected (and checked: audited, no event).
    pub faulty: bool,
    pub hook: WebhookReceiver,
    pub dir: std::path::PathBuf,
    pub config: std::path::PathBuf,
}

/// `fsync` and `data`: the `[audit] fsync` policy and the tenant's event
/// data (`resource` or `changes`: both carry the `displayName` the checks
/// match on).
pub async fn rig(name: &str, fsync: &str, data: &str) -> Option<Rig> {
    let store = TestStore::spawn();
    let url = store.base_url();
    rig_on(name, fsync, data, url, Box::new(store), false).await
}

/// The rig in front of the built-in store behind an upstream that fails
/// `fault_percent` % of requests before the store sees them.
pub async fn rig_flaky(name: &str, fault_percent: u64) -> Option<Rig> {
    let store = FlakyStore::spawn(fault_percent);
    let url = store.url();
    rig_on(name, "interval", "resource", url, Box::new(store), true).await
}

async fn rig_on(
    name: &str,
    fsync: &str,
    data: &str,
    upstream: String,
    keep: Box<dyn std::any::Any + Send>,
    faulty: bool,
) -> Option<Rig> {
    let broker = Tansu::start()?;
    create_topic(&broker, ACME_TOPIC, PARTITIONS).await;
    let key = secret(8);
    let hook = WebhookReceiver::spawn(&[&key]);
    let dir = temp_dir(name);
    let config = AuditedConfig {
        upstream,
        webhook: Some((hook.url(), key)),
        kafka: Some(broker.bootstrap()),
        // Small files: the stream rotates audit files and outbox segments.
        audit_extra: "max_file_bytes = 16384\noutbox_segment_bytes = 8192".into(),
        fsync: Some(fsync.into()),
        event_data: Some(data.into()),
    }
    .write(&dir);
    Some(Rig {
        broker,
        _upstream: keep,
        faulty,
        hook,
        dir,
        config,
    })
}

pub fn spawn_gateway(config: &Path) -> GatewayProcess {
    tokio::task::block_in_place(|| GatewayProcess::spawn(config))
}

/// Waits (bounded) until both sinks have an event for every acknowledged
/// successful write; returns the webhook's deliveries and Kafka's records.
pub async fn wait_for_sinks(rig: &Rig, writes: &[Write]) -> (Vec<Value>, Vec<Value>) {
    let want = writes.iter().filter(|w| w.acknowledged()).count();
    let deadline = Instant::now() + DELIVERY_BOUND;
    let hooked = loop {
        let got: Vec<Value> = rig.hook.received().into_iter().map(|r| r.body).collect();
        if delivered_count(writes, &got) >= want || Instant::now() >= deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut reader = TopicReader::new(&rig.broker, ACME_TOPIC, PARTITIONS);
    let left = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(5);
    reader
        .read_until(left, |records| {
            let events: Vec<Value> = records.iter().map(|r| r.event.clone()).collect();
            delivered_count(writes, &events) >= want
        })
        .await;
    // Late duplicates: whatever else is already there.
    reader
        .read_until(Duration::from_millis(500), |_| false)
        .await;
    for r in &reader.records {
        let subject = r.event["subject"].as_str().unwrap_or_default();
        assert_eq!(r.key, format!("acme/{subject}"), "Kafka key of {}", r.event);
    }
    let kafka = reader.records.iter().map(|r| r.event.clone()).collect();
    (hooked, kafka)
}

/// What the audit log says about the writes.
struct Audited {
    /// Acknowledged writes with their one record.
    acknowledged: usize,
    /// Writes without an answer that have a record anyway.
    unanswered: usize,
    /// Those of them whose record says they succeeded (their event was
    /// journaled in the same commit, so it must reach the sinks).
    unanswered_successes: Vec<String>,
    problems: Vec<String>,
}

/// The audit checks.
fn check_audit(dir: &Path, writes: &[Write]) -> Audited {
    let records = read_records(&dir.join("audit"));
    let by_id = writes_by_request_id(&records);
    let mut problems = Vec::new();
    let (mut audited, mut unanswered_audited) = (0, 0);
    let mut audited_successes = Vec::new();
    for w in writes {
        let found = by_id.get(&w.request_id).map_or(&[][..], Vec::as_slice);
        let Some(status) = w.status else {
            unanswered_audited += found.len().min(1);
            if let Some(r) = found.first() {
                let status = r["outcome"]["status"].as_u64().unwrap_or(0);
                if (200..300).contains(&status) {
                    audited_successes.push(w.request_id.clone());
                }
            }
            if found.len() > 1 {
                problems.push(format!("{} audit records of {}", found.len(), w.request_id));
            }
            continue;
        };
        let [r] = found else {
            problems.push(format!(
                "{} audit records of the answered write {} ({:?}, {status})",
                found.len(),
                w.request_id,
                w.kind
            ));
            continue;
        };
        audited += usize::from(w.acknowledged());
        let want = (
            w.kind.method(),
            Some(status),
            w.resource_id.as_deref(),
            "acme",
        );
        let got = (
            r["method"].as_str().unwrap_or_default(),
            r["outcome"]["status"].as_u64().map(|s| s as u16),
            r["resource_id"].as_str(),
            r["tenant"].as_str().unwrap_or_default(),
        );
        if got != want {
            problems.push(format!(
                "audit record of {}: (method, status, resource_id, tenant) {got:?}, want {want:?}",
                w.request_id
            ));
        }
        if w.kind == Kind::Deactivate && w.acknowledged() {
            let values = &r["values"];
            if values.get("active").is_none() || values.get("displayName").is_some() {
                problems.push(format!(
                    "audit record of {}: values {values} (allow-list is [\"active\"])",
                    w.request_id
                ));
            }
        }
    }
    let ours = records
        .iter()
        .filter(|r| r["kind"] == "write")
        .filter(|r| {
            !writes
                .iter()
                .any(|w| r["request_id"] == w.request_id.as_str())
        })
        .count();
    if ours > 0 {
        problems.push(format!("{ours} audit records of writes nobody made"));
    }
    Audited {
        acknowledged: audited,
        unanswered: unanswered_audited,
        unanswered_successes: audited_successes,
        problems,
    }
}

/// `scim-gateway events status --dir DIR`, stdout and stderr.
fn events_status(dir: &Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
        .args(["events", "status", "--dir"])
        .arg(dir)
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs every check, prints the summary line, and asserts.
pub fn report(name: &str, rig: &Rig, writes: &[Write], hooked: &[Value], kafka: &[Value]) {
    let acked = writes.iter().filter(|w| w.acknowledged()).count();
    let answered = writes.iter().filter(|w| w.status.is_some()).count();
    let unanswered = writes.len() - answered;
    let failed: Vec<String> = writes
        .iter()
        .filter(|w| w.status.is_some() && !w.acknowledged())
        .map(|w| format!("{} {:?} -> {:?}", w.request_id, w.kind, w.status))
        .collect();
    let Audited {
        acknowledged: audited,
        unanswered: unanswered_audited,
        unanswered_successes,
        mut problems,
    } = check_audit(&rig.dir, writes);
    let verified = audit_verify(&[&rig.dir.join("audit")]);
    if !verified.success {
        problems.push(format!("audit verify failed: {}", verified.output));
    }
    // After the clean stop, each sink's cursor is at the outbox's end.
    let status = events_status(&rig.dir.join("audit"));
    let sinks: Vec<&str> = status.lines().filter(|l| l.contains("cursor")).collect();
    if sinks.len() != 2 || !sinks.iter().all(|l| l.contains("behind 0, dead letters 0")) {
        problems.push(format!("events status after the stop: {status}"));
    }
    let hook = check_sink("webhook", writes, hooked);
    let kafka = check_sink("kafka", writes, kafka);
    for (request_id, id) in &hook.event_ids {
        if kafka.event_ids.get(request_id).is_some_and(|k| k != id) {
            problems.push(format!(
                "write {request_id}: webhook event {id}, Kafka event {:?}",
                kafka.event_ids[request_id]
            ));
        }
    }
    // A success in the audit log whose client got no answer may lack its
    // event: the journal writes the audit file, then the outbox, and a
    // kill between the two leaves the record alone (allowed for entries
    // never acknowledged: docs/audit.md, "Crash behaviour"). Counted.
    let record_only = unanswered_successes
        .iter()
        .filter(|id| {
            !hook.unanswered_with_event.contains(*id) || !kafka.unanswered_with_event.contains(*id)
        })
        .count();
    let dups = |c: &SinkCheck| c.duplicates.values().map(|n| n - 1).sum::<usize>();
    println!(
        "no-loss ({name}): {} writes, {acked} acknowledged, {audited} audited, \
         {} delivered to the webhook ({} deliveries, {} duplicates), \
         {} delivered to Kafka ({} records, {} duplicates), {} lost; \
         {unanswered} without an answer ({unanswered_audited} audited, {} as a success, {record_only} of them without an event, \
         {} / {} with an event at webhook / Kafka); {} answered non-2xx; {}",
        writes.len(),
        hook.delivered,
        hook.deliveries,
        dups(&hook),
        kafka.delivered,
        kafka.deliveries,
        dups(&kafka),
        hook.lost().max(kafka.lost()),
        unanswered_successes.len(),
        hook.of_unanswered,
        kafka.of_unanswered,
        failed.len(),
        verified.output.trim()
    );
    for (sink, c) in [("webhook", &hook), ("kafka", &kafka)] {
        if !c.duplicates.is_empty() {
            println!("  {sink} duplicates (event id: times): {:?}", c.duplicates);
        }
    }
    problems.extend(hook.problems);
    problems.extend(kafka.problems);
    assert!(
        rig.faulty || failed.is_empty(),
        "writes answered with an error: {failed:?}"
    );
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(audited, acked);
    assert!(
        acked >= writes.len() / 2,
        "too few writes acknowledged: {acked}"
    );
}
