//! The Kafka sink over TLS against a real broker: tansu behind Debian's
//! HAProxy terminating TLS (tests/support/kafka_tls.rs, kafka_rig.rs; tansu 0.6 serves
//! plaintext only). tansu advertises the proxy's port, so the client's
//! reconnection after the bootstrap goes through TLS as well; tansu's own
//! port speaks plaintext, which a client set to TLS cannot use, so a
//! delivered event proves that the whole path was TLS.
use std::time::{Duration, Instant};

use scim_gateway::events::kafka::KafkaSink;
use serde_json::{json, Value};

use crate::support::kafka_rig::{rig, PARTITIONS};
use crate::support::kafka_topic::create_topic_with;

fn event(resource: &str, seq: u64) -> Value {
    json!({
        "specversion": "1.0",
        "id": format!("{resource}-{seq}"),
        "source": "/tenants/acme",
        "type": "scim.user.updated",
        "subject": resource,
        "data": {"seq": seq},
    })
}

/// Sends until acknowledged (the dispatcher's loop, in small): every
/// failure on the way must be retryable.
async fn send_until_ok(sink: &KafkaSink, resource: &str, seq: u64, within: Duration) {
    let deadline = Instant::now() + within;
    while let Err(e) = sink.send("acme", resource, &event(resource, seq)).await {
        assert!(e.retryable, "{e}");
        assert!(Instant::now() < deadline, "event {seq} never went out: {e}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_the_broker_over_tls_and_only_over_tls() {
    let Some(mut rig) = rig("kafka-tls", |p| &p.server_pem, false) else {
        return;
    };
    let topic = "scim-tls";
    rig.create_topic(topic).await;
    let sink = KafkaSink::new(&rig.settings(topic, &rig.ca())).unwrap();
    for seq in 0..10 {
        sink.send("acme", "u1", &event("u1", seq))
            .await
            .unwrap_or_else(|e| panic!("send over TLS failed: {e}\n{}", rig.logs()));
    }
    assert_eq!(
        rig.read(topic, "acme/u1", 10).await,
        (0..10).collect::<Vec<_>>()
    );

    // The TLS endpoint gone, the broker still up: sends fail (retryably),
    // so they never took a plaintext path to the broker.
    rig.proxy.stop();
    let e = sink
        .send("acme", "u1", &event("u1", 10))
        .await
        .expect_err("a send without the TLS endpoint must fail");
    assert!(e.retryable, "{e}");
    // Back: the same event goes out, nothing lost, order kept.
    rig.proxy.restart();
    send_until_ok(&sink, "u1", 10, Duration::from_secs(30)).await;
    let seqs = rig.read(topic, "acme/u1", 11).await;
    assert_eq!(seqs.last(), Some(&10), "{seqs:?}");
    let mut firsts = seqs.clone();
    firsts.dedup();
    assert_eq!(firsts, (0..=10).collect::<Vec<_>>(), "{seqs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_fails_retryably_with_a_clear_error_and_the_event_waits() {
    let Some(rig) = rig("kafka-tls-ca", |p| &p.server_pem, false) else {
        return;
    };
    let topic = "scim-tls-ca";
    rig.create_topic(topic).await;
    let wrong = format!("ca_file = \"{}\"\n", rig.pki.other_ca_file.display());
    let sink = KafkaSink::new(&rig.settings(topic, &wrong)).unwrap();
    let started = Instant::now();
    let e = sink
        .send("acme", "u1", &event("u1", 0))
        .await
        .expect_err("a broker certificate from an untrusted CA must fail");
    eprintln!("wrong CA: {e}");
    assert!(e.retryable, "kept for retry, not dead-lettered: {e}");
    assert!(e.detail.contains("certificate verify failed"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // The operator fixes the CA (a config reload builds a new sink): the
    // event that waited goes out.
    let fixed = KafkaSink::new(&rig.settings(topic, &rig.ca())).unwrap();
    send_until_ok(&fixed, "u1", 0, Duration::from_secs(20)).await;
    assert_eq!(rig.read(topic, "acme/u1", 1).await, vec![0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_name_is_verified_unless_turned_off() {
    let Some(rig) = rig("kafka-tls-name", |p| &p.misnamed_server_pem, false) else {
        return;
    };
    let topic = "scim-tls-name";
    // The admin client does not check names (librdkafka's default is to
    // check: turn it off for this client only).
    let mut admin = rig.client();
    admin.set("ssl.endpoint.identification.algorithm", "none");
    create_topic_with(&admin, &rig.broker, topic, PARTITIONS).await;
    // A certificate from the trusted CA for kafka.invalid, dialled as
    // 127.0.0.1: refused by default.
    let sink = KafkaSink::new(&rig.settings(topic, &rig.ca())).unwrap();
    let e = sink
        .send("acme", "u1", &event("u1", 0))
        .await
        .expect_err("a certificate for another name must fail");
    eprintln!("wrong name: {e}");
    assert!(e.retryable, "{e}");
    assert!(e.detail.contains("certificate"), "{e}");
    // verify_server_name = false: the chain is still checked, the name not.
    let lax = format!("{}verify_server_name = false\n", rig.ca());
    let sink = KafkaSink::new(&rig.settings(topic, &lax)).unwrap();
    send_until_ok(&sink, "u1", 0, Duration::from_secs(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_refuses_a_client_without_a_certificate() {
    let Some(rig) = rig("kafka-mtls", |p| &p.server_pem, true) else {
        return;
    };
    let topic = "scim-mtls";
    rig.create_topic(topic).await;
    let sink = KafkaSink::new(&rig.settings(topic, &rig.ca())).unwrap();
    let e = sink
        .send("acme", "u1", &event("u1", 0))
        .await
        .expect_err("no client certificate: the proxy must refuse");
    eprintln!("no client certificate: {e}");
    assert!(e.retryable, "{e}");
    assert!(e.detail.contains("certificate required"), "{e}");
    let with_cert = format!("{}{}", rig.ca(), rig.client_cert());
    let sink = KafkaSink::new(&rig.settings(topic, &with_cert)).unwrap();
    for seq in 0..3 {
        send_until_ok(&sink, "u1", seq, Duration::from_secs(20)).await;
    }
    assert_eq!(rig.read(topic, "acme/u1", 3).await, vec![0, 1, 2]);
}
