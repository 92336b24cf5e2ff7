//! A write whose client hangs up after the gateway forwarded it: the
//! upstream has (or may have) the change, so it must be audited (docs/
//! audit.md: "one audit record for every request that changes (or tries
//! to change) identity data") and, once the upstream answers 2xx, its
//! event kept for delivery, whatever the client did.
//! (A write the connection lets go of goes on in a task of its own:
//! `stack::Gateway`.)
use crate::support::audit_log::read_records;
use crate::support::audited::{temp_dir, AuditedConfig};
use crate::support::gateway::token_for;
use crate::support::process::GatewayProcess;
use crate::support::webhook::{secret, WebhookReceiver};
use crate::support::writes::WriteRecorder;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_client_hung_up_is_still_audited() {
    hung_up(reqwest::Client::builder().http1_only(), "hangup-1").await;
}

/// Over HTTP/2 the client's timeout resets the stream and the server
/// drops the write's future at once: the rest of the write goes on in a
/// task of its own (`Detachable`), to its record and its event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_http2_stream_was_reset_is_still_audited() {
    hung_up(
        reqwest::Client::builder().http2_prior_knowledge(),
        "hangup-h2",
    )
    .await;
}

async fn hung_up(client: reqwest::ClientBuilder, request_id: &str) {
    // The upstream takes the write at once and answers 200 after 500 ms.
    let upstream = WriteRecorder::spawn(Duration::from_millis(500));
    let dir = temp_dir("nolose-hangup");
    let key = secret(21);
    let receiver = WebhookReceiver::spawn(&[&key]);
    let config = AuditedConfig {
        upstream: upstream.url(),
        webhook: Some((receiver.url(), key.clone())),
        ..AuditedConfig::default()
    }
    .write(&dir);
    let mut gw = tokio::task::block_in_place(|| GatewayProcess::spawn(&config));
    // The tenant's host by name (HTTP/2 sends it as `:authority`).
    let client = client
        .resolve("acme.localhost", gw.public)
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let sent = client
        .patch(format!(
            "http://acme.localhost:{}/scim/v2/Groups/g1",
            gw.public.port()
        ))
        .header("x-request-id", request_id)
        .header("content-type", "application/scim+json")
        .bearer_auth(token_for("acme"))
        .body(r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"renamed"}]}"#)
        .send()
        .await;
    assert!(sent.is_err(), "the client should have given up: {sent:?}");
    assert_eq!(
        upstream.wait_for_writes(1, Duration::from_secs(3)).await,
        1,
        "the write reached the upstream"
    );
    // Time for the upstream to answer and the journal to write.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let clean = tokio::task::block_in_place(|| gw.terminate(Duration::from_secs(15)));
    assert_eq!(clean, Some(true));
    let records = read_records(&dir.join("audit"));
    let ours: Vec<_> = records
        .iter()
        .filter(|r| r["request_id"] == request_id)
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "a write the upstream received, whose client hung up, has no audit record: {records:?}\n{}",
        gw.log_tail()
    );
    let received = receiver.received();
    assert!(
        received
            .iter()
            .any(|r| r.body["type"] == "scim.group.updated" && r.body["subject"] == "g1"),
        "no event for a write the upstream answered 200: {received:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
