//! No acknowledged write is lost (issue 8, point 4): the real gateway
//! binary with its audit journal, a webhook sink and the Kafka sink
//! (`crate::support::no_loss_rig`), a client streaming writes from several
//! tasks; (a) the gateway is SIGKILLed mid-stream and restarted on the same
//! audit directory (also with both sinks down across the kill), (b) the
//! webhook receiver goes down (then answers 503 for a while) and the broker
//! freezes mid-stream, (c) two config reloads restart event delivery
//! mid-stream, (d) clients write the same Users at once, (e) the upstream
//! fails some writes. Then: every write answered to the client has exactly
//! one audit record with the status it got, `audit verify` passes, and
//! every acknowledged successful write's event (and no other) reached the
//! webhook and Kafka, in order per User (duplicates counted, allowed).
use crate::support::gateway::token_for;
use crate::support::no_loss_rig::{report, rig, rig_flaky, spawn_gateway, wait_for_sinks, Rig};
use crate::support::webhook::Mode;
use crate::support::write_stream::{Kind, Write, WriteStream};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Streams 200 writes, SIGKILLs the gateway after 90 answers, restarts it
/// on the same audit directory, streams the rest. With `behind`, both
/// sinks are down from the 40th answer until after the restart, so the
/// restarted gateway starts with a backlog; without, the newest audit file
/// and outbox segment get a torn last line before the restart.
async fn kill_scenario(name: &str, rig: Rig, behind: bool) {
    let mut gw = spawn_gateway(&rig.config);
    let stream = WriteStream::start(gw.public, name, 8, 200, Duration::from_millis(2));
    if behind {
        stream.wait_answered(40, Duration::from_secs(30)).await;
        rig.hook.down();
        rig.broker.pause();
    }
    stream.wait_answered(90, Duration::from_secs(30)).await;
    let delivered_at_kill = rig.hook.received().len();
    tokio::task::block_in_place(|| gw.kill());
    stream.set_target(None);
    let before = gw.log_tail();
    drop(gw);
    if !behind {
        // As if the kill had caught both files mid-append (docs/audit.md,
        // "Crash behaviour"): the restarted journal cuts the torn lines off.
        tear_newest(
            &rig.dir.join("audit"),
            "audit-",
            "{\"seq\":999999,\"prev\":\"00",
        );
        tear_newest(
            &rig.dir.join("audit/outbox"),
            "",
            "{\"seq\":999999,\"event\":{\"id\":\"to",
        );
    }
    let mut gw = spawn_gateway(&rig.config);
    stream.set_target(Some(gw.public));
    if behind {
        rig.broker.resume();
        rig.hook.up();
    }
    let writes = stream.finish().await;
    let (hooked, kafka) = wait_for_sinks(&rig, &writes).await;
    let clean = tokio::task::block_in_place(|| gw.terminate(Duration::from_secs(15)));
    let after = gw.log_tail();
    println!("{name}: {delivered_at_kill} webhook deliveries before the kill; SIGTERM after the restart: {clean:?}");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        report(name, &rig, &writes, &hooked, &kafka)
    }));
    if let Err(e) = outcome {
        eprintln!("gateway log before the kill:\n{before}\n\nafter the restart:\n{after}");
        std::panic::resume_unwind(e);
    }
    assert_eq!(
        clean,
        Some(true),
        "the restarted gateway did not stop cleanly on SIGTERM"
    );
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// Appends `torn` (no newline) to the newest `.jsonl` file of `dir` whose
/// name starts with `prefix`.
fn tear_newest(dir: &std::path::Path, prefix: &str, torn: &str) {
    use std::io::Write as _;
    let newest = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".jsonl"))
        })
        .max()
        .unwrap_or_else(|| panic!("no {prefix}*.jsonl in {}", dir.display()));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&newest)
        .unwrap();
    f.write_all(torn.as_bytes()).unwrap();
}

/// With torn last lines in the audit file and the outbox at the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_acknowledged_write_is_lost_across_a_sigkill() {
    let Some(rig) = rig("nolose-kill", "interval", "resource").await else {
        return;
    };
    kill_scenario("kill", rig, false).await;
}

/// The same with fsync per record, `data = "changes"`, and both sinks
/// down across the kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_acknowledged_write_is_lost_across_a_sigkill_with_the_sinks_behind() {
    let Some(rig) = rig("nolose-kill-behind", "per_record", "changes").await else {
        return;
    };
    kill_scenario("kill-behind", rig, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_acknowledged_write_is_lost_while_the_sinks_are_down() {
    let Some(rig) = rig("nolose-outage", "interval", "resource").await else {
        return;
    };
    let mut gw = spawn_gateway(&rig.config);
    let stream = WriteStream::start(gw.public, "outage", 4, 200, Duration::from_millis(20));
    stream.wait_answered(50, Duration::from_secs(30)).await;
    rig.hook.down();
    rig.broker.pause();
    let outage = Instant::now();
    let before = (stream.answered(), rig.hook.received().len());
    stream
        .wait_answered((before.0 + 70).min(200), Duration::from_secs(30))
        .await;
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(outage.elapsed())).await;
    let during = (
        stream.answered() - before.0,
        rig.hook.received().len() - before.1,
    );
    let outage = outage.elapsed();
    rig.broker.resume();
    // The receiver comes back answering 503 for a second, then accepts.
    rig.hook.set_mode(Mode::Fail(503));
    let attempts = rig.hook.attempts();
    rig.hook.up();
    tokio::time::sleep(Duration::from_secs(1)).await;
    rig.hook.set_mode(Mode::Accept);
    let refused = rig.hook.attempts() - attempts;
    let writes = stream.finish().await;
    let (hooked, kafka) = wait_for_sinks(&rig, &writes).await;
    let clean = tokio::task::block_in_place(|| gw.terminate(Duration::from_secs(15)));
    let log = gw.log_tail();
    println!(
        "outage: {} writes acknowledged during the {:?} outage ({} webhook deliveries then); \
         {refused} deliveries answered 503 after it; SIGTERM: {clean:?}",
        during.0, outage, during.1
    );
    // The journal does not wait for the sinks: writes go on during the outage.
    assert!(during.0 >= 70, "{} writes during the outage", during.0);
    assert_eq!(during.1, 0, "deliveries to a receiver that was down");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        report("outage", &rig, &writes, &hooked, &kafka)
    }));
    if let Err(e) = outcome {
        eprintln!("gateway log:\n{log}");
        std::panic::resume_unwind(e);
    }
    assert_eq!(
        clean,
        Some(true),
        "the gateway did not stop cleanly on SIGTERM"
    );
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// Replaces the config file (write, then rename, as editors do) with
/// `from` changed to `to`.
fn edit_config(path: &std::path::Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in the config");
    let tmp = path.with_extension("toml.new");
    std::fs::write(&tmp, text.replace(from, to)).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Waits (bounded) until the gateway logged `needle` `n` times.
async fn wait_logged(gw: &crate::support::process::GatewayProcess, needle: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while gw.log_count(needle) < n {
        assert!(
            Instant::now() < deadline,
            "{needle:?} logged {} times, not {n}:\n{}",
            gw.log_count(needle),
            gw.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Config reloads mid-stream restart event delivery with the new sinks
/// (src/run/delivery.rs): twice, while events flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_acknowledged_write_is_lost_across_config_reloads() {
    let Some(rig) = rig("nolose-reload", "interval", "resource").await else {
        return;
    };
    let started = "event delivery started";
    let mut gw = spawn_gateway(&rig.config);
    let stream = WriteStream::start(gw.public, "reload", 4, 300, Duration::from_millis(60));
    wait_logged(&gw, started, 1).await;
    stream.wait_answered(30, Duration::from_secs(30)).await;
    edit_config(&rig.config, "max_backoff = \"1s\"", "max_backoff = \"2s\"");
    wait_logged(&gw, started, 2).await;
    let first = stream.answered();
    edit_config(&rig.config, "max_backoff = \"2s\"", "max_backoff = \"1s\"");
    wait_logged(&gw, started, 3).await;
    let second = stream.answered();
    let writes = stream.finish().await;
    let (hooked, kafka) = wait_for_sinks(&rig, &writes).await;
    let clean = tokio::task::block_in_place(|| gw.terminate(Duration::from_secs(15)));
    println!(
        "reload: event delivery restarted after {first} and {second} of {} writes; SIGTERM: {clean:?}",
        writes.len()
    );
    let log = gw.log_tail();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        report("reload", &rig, &writes, &hooked, &kafka)
    }));
    if let Err(e) = outcome {
        eprintln!("gateway log:\n{log}");
        std::panic::resume_unwind(e);
    }
    assert!(
        second < writes.len(),
        "both restarts happened while the client was still writing"
    );
    assert_eq!(
        clean,
        Some(true),
        "the gateway did not stop cleanly on SIGTERM"
    );
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// The number in a `W/"<n>"` version (the built-in store counts up).
fn version_number(resource: &Value) -> Option<usize> {
    resource["meta"]["version"]
        .as_str()?
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .ok()
}

/// One write through the gateway at `addr`; its record with `step` set to
/// the version the store gave the resource (the order it applied them).
async fn versioned_write(
    client: &reqwest::Client,
    addr: std::net::SocketAddr,
    task: usize,
    request_id: String,
    id: Option<&str>,
) -> Write {
    let (req, kind) = match id {
        None => (
            client.post(format!("http://{addr}/scim/v2/Users")).body(
                json!({"schemas": [USER], "userName": format!("user-{request_id}"),
                       "displayName": request_id})
                .to_string(),
            ),
            Kind::Create,
        ),
        Some(id) => (
            client
                .patch(format!("http://{addr}/scim/v2/Users/{id}"))
                .body(
                    json!({"schemas": [PATCH_OP], "Operations": [
                        {"op": "replace", "path": "displayName", "value": request_id}]})
                    .to_string(),
                ),
            Kind::Update,
        ),
    };
    let resp = req
        .header("host", "acme.localhost")
        .header("x-request-id", &request_id)
        .header("content-type", "application/scim+json")
        .bearer_auth(token_for("acme"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    Write {
        task,
        step: version_number(&body).unwrap_or_else(|| panic!("no version in {body}")),
        resource_id: body["id"].as_str().map(str::to_string),
        request_id,
        kind,
        status: Some(status),
        error: None,
    }
}

/// Several clients write the same Users at once: the gateway lets one
/// write of a resource through at a time and journals it before the next,
/// so each User's events arrive in the order the store applied the writes
/// (by the version the store gave each), with `sequence` rising.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_of_one_user_arrive_in_the_order_the_store_applied_them() {
    let Some(rig) = rig("nolose-concurrent", "interval", "resource").await else {
        return;
    };
    let mut gw = spawn_gateway(&rig.config);
    let client = reqwest::Client::new();
    let mut writes = Vec::new();
    for u in 0..3 {
        writes.push(versioned_write(&client, gw.public, 0, format!("same-create-{u}"), None).await);
    }
    let ids: Vec<String> = writes
        .iter()
        .map(|w| w.resource_id.clone().unwrap())
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..6 {
        let (client, ids, addr) = (client.clone(), ids.clone(), gw.public);
        tasks.spawn(async move {
            let mut out = Vec::new();
            for n in 0..20 {
                let id = &ids[(task + n) % ids.len()];
                let request_id = format!("same-t{task}-n{n}");
                out.push(versioned_write(&client, addr, task + 1, request_id, Some(id)).await);
            }
            out
        });
    }
    while let Some(done) = tasks.join_next().await {
        writes.extend(done.unwrap());
    }
    let (hooked, kafka) = wait_for_sinks(&rig, &writes).await;
    let clean = tokio::task::block_in_place(|| gw.terminate(Duration::from_secs(15)));
    let log = gw.log_tail();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        report("same-user", &rig, &writes, &hooked, &kafka)
    }));
    if let Err(e) = outcome {
        eprintln!("gateway log:\n{log}");
        std::panic::resume_unwind(e);
    }
    assert_eq!(
        clean,
        Some(true),
        "the gateway did not stop cleanly on SIGTERM"
    );
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// An upstream that fails 20 % of requests (503, 502, 429, resets) before
/// the store sees them: every answered write, failed ones included, has
/// its one audit record with the status the client got, and only the
/// successes have events.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_writes_are_audited_and_cause_no_event() {
    let Some(rig) = rig_flaky("nolose-flaky", 20).await else {
        return;
    };
    let mut gw = spawn_gateway(&rig.config);
    let stream = WriteStream::start(gw.public, "flaky", 4, 200, Duration::from_millis(2));
    let writes = stream.finish().await;
    let (hooked, kafka) = wait_for_sinks(&rig, &writes).await;
    let clean = tokio::task::block_in_place(|| gw.terminate(Duration::from_secs(15)));
    let log = gw.log_tail();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        report("flaky", &rig, &writes, &hooked, &kafka)
    }));
    if let Err(e) = outcome {
        eprintln!("gateway log:\n{log}");
        std::panic::resume_unwind(e);
    }
    let failed = writes
        .iter()
        .filter(|w| w.status.is_some() && !w.acknowledged())
        .count();
    assert!(
        failed > 0,
        "the upstream's faults should reach some clients"
    );
    assert_eq!(
        clean,
        Some(true),
        "the gateway did not stop cleanly on SIGTERM"
    );
    let _ = std::fs::remove_dir_all(&rig.dir);
}
