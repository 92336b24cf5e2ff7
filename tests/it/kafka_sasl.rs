//! The Kafka sink with SASL/SCRAM against a real broker: tansu with
//! `--authentication` and SQL storage (where it keeps SCRAM credentials),
//! users made with `tansu user create` (tests/support/kafka_rig.rs). Over
//! plaintext (SASL_PLAINTEXT) straight to the broker, and over TLS
//! (SASL_SSL) through HAProxy. tansu 0.6 has no SASL/PLAIN, so PLAIN is
//! covered by the property mapping's unit tests only.
use std::time::Duration;

use scim_gateway::events::kafka::{KafkaSettings, KafkaSink};
use serde_json::{json, Value};

use crate::support::audited::temp_dir;
use crate::support::kafka_rig::{scram_rig, scram_users, sqlite, SCRAM_USER};
use crate::support::kafka_topic::{create_topic_with, TopicReader};
use crate::support::tansu::{Tansu, TansuOptions};

fn event(resource: &str, seq: u64) -> Value {
    json!({"specversion": "1.0", "id": format!("{resource}-{seq}"), "source": "/t",
           "type": "scim.user.updated", "subject": resource, "data": {"seq": seq}})
}

/// Settings for `brokers` with a SASL login from a password file in `dir`;
/// `extra`: more TOML (e.g. a `[tls]` table).
fn settings(
    brokers: &str,
    topic: &str,
    mechanism: &str,
    password: &str,
    dir: &std::path::Path,
    extra: &str,
) -> KafkaSettings {
    let file = dir.join(format!("password-{mechanism}"));
    std::fs::write(&file, format!("{password}\n")).unwrap();
    toml::from_str(&format!(
        "brokers = [\"{brokers}\"]\ntopic = \"{topic}\"\nmessage_timeout = \"3s\"\n\
         request_timeout = \"2s\"\nconnect_timeout = \"1s\"\n\
         [sasl]\nmechanism = \"{mechanism}\"\nusername = \"{SCRAM_USER}\"\npassword_file = \"{}\"\n{extra}",
        file.display()
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_over_plaintext_logs_in_and_a_wrong_password_fails_retryably() {
    let dir = temp_dir("kafka-scram");
    let Some(mut broker) = Tansu::start_with(TansuOptions {
        dir: Some(dir.clone()),
        ..sqlite()
    }) else {
        return;
    };
    let password = scram_users(&mut broker);
    let login = |mechanism: &str, password: &str| {
        let mut c = rdkafka::config::ClientConfig::new();
        c.set("bootstrap.servers", broker.bootstrap())
            .set("security.protocol", "sasl_plaintext")
            .set("sasl.mechanism", mechanism)
            .set("sasl.username", SCRAM_USER)
            .set("sasl.password", password);
        c
    };
    let topic = "scim-scram";
    create_topic_with(&login("SCRAM-SHA-256", &password), &broker, topic, 1).await;

    for (mechanism, seq) in [("SCRAM-SHA-256", 0), ("SCRAM-SHA-512", 1)] {
        let s = settings(&broker.bootstrap(), topic, mechanism, &password, &dir, "");
        let sink = KafkaSink::new(&s).unwrap();
        sink.send("acme", "u1", &event("u1", seq))
            .await
            .unwrap_or_else(|e| panic!("{mechanism}: {e}\n{}", broker.log_tail()));
    }
    let mut reader = TopicReader::with_config(&login("SCRAM-SHA-512", &password), topic, 1);
    reader
        .read_until(Duration::from_secs(20), |r| r.len() >= 2)
        .await;
    let seqs: Vec<u64> = reader
        .records
        .iter()
        .map(|r| r.event["data"]["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![0, 1]);

    // A wrong password: the broker refuses the login; the send fails
    // retryably (fixing the password and reloading loses nothing) and says
    // why, without the password it tried.
    let wrong = format!("{password}-wrong");
    let s = settings(
        &broker.bootstrap(),
        topic,
        "SCRAM-SHA-512",
        &wrong,
        &dir,
        "",
    );
    let e = KafkaSink::new(&s)
        .unwrap()
        .send("acme", "u1", &event("u1", 2))
        .await
        .expect_err("a wrong SCRAM password must not get in");
    eprintln!("wrong password: {e}");
    assert!(e.retryable, "{e}");
    assert!(e.detail.to_lowercase().contains("auth"), "{e}");
    assert!(
        !e.detail.contains(&wrong) && !e.detail.contains(&password),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_over_tls_delivers_through_the_tls_endpoint() {
    let Some(rig) = scram_rig("kafka-scram-tls", |p| &p.server_pem, true) else {
        return;
    };
    let password = rig.login.as_ref().unwrap().2.clone();
    let topic = "scim-scram-tls";
    rig.create_topic(topic).await;
    let tls = format!("[tls]\n{}{}", rig.ca(), rig.client_cert());
    let s = settings(
        &rig.proxy.bootstrap(),
        topic,
        "SCRAM-SHA-512",
        &password,
        &rig.dir,
        &tls,
    );
    let sink = KafkaSink::new(&s).unwrap();
    for seq in 0..5 {
        sink.send("acme", "u1", &event("u1", seq))
            .await
            .unwrap_or_else(|e| panic!("SASL_SSL: {e}\n{}", rig.logs()));
    }
    assert_eq!(rig.read(topic, "acme/u1", 5).await, vec![0, 1, 2, 3, 4]);
}
