//! The gateway binary with its Kafka sink over TLS and SASL/SCRAM (tansu
//! with `--authentication` behind HAProxy terminating TLS, see
//! tests/support/kafka_rig.rs): what `check-config` prints about it, events
//! kept (not dead-lettered) while the CA is wrong and delivered once a reload
//! fixes it, and the SASL password in no output and no log line.
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::audited::{temp_dir, AuditedConfig, ACME_TOPIC};
use crate::support::gateway::token_for;
use crate::support::http::user;
use crate::support::kafka_rig::{scram_rig, PARTITIONS, SCRAM_USER};
use crate::support::kafka_topic::TopicReader;
use crate::support::no_loss_rig::spawn_gateway;
use crate::support::store::TestStore;

/// `scim-gateway check-config PATH`: (success, stdout and stderr).
fn check_config(path: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
        .arg("check-config")
        .arg(path)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// check-config on the Kafka security settings: SASL/PLAIN without TLS
/// warns (and passes), with TLS or with SCRAM it does not; the password is
/// in no output, not even a config error's.
#[test]
fn check_config_warns_about_plain_without_tls_and_never_prints_the_password() {
    let dir = temp_dir("kafka-check-config");
    let password = format!("Kafka-pw-{}-x9Q2", std::process::id());
    std::fs::write(dir.join("kafka.password"), format!("{password}\n")).unwrap();
    std::fs::write(dir.join("ca.pem"), "").unwrap();
    let base = std::fs::read_to_string(
        AuditedConfig {
            upstream: "http://127.0.0.1:9/scim/v2".into(),
            kafka: Some("127.0.0.1:9093".into()),
            ..AuditedConfig::default()
        }
        .write(&dir),
    )
    .unwrap();
    let sasl = |mechanism: &str| {
        format!(
            "\n[events.kafka.sasl]\nmechanism = \"{mechanism}\"\nusername = \"gw\"\n\
             password_file = \"kafka.password\"\n"
        )
    };
    let tls = "\n[events.kafka.tls]\n";
    let check = |name: &str, extra: &str| {
        let path = dir.join(name);
        std::fs::write(&path, format!("{base}{extra}")).unwrap();
        let (ok, out) = check_config(&path);
        assert!(!out.contains(&password), "the password leaked: {out}");
        (ok, out)
    };
    let (ok, out) = check("plain.toml", &sasl("PLAIN"));
    assert!(ok, "a warning is not an error: {out}");
    assert!(
        out.contains("warning: ") && out.contains("events.kafka.sasl: PLAIN without"),
        "{out}"
    );
    for (name, extra) in [
        ("plain-tls.toml", format!("{}{tls}", sasl("PLAIN"))),
        ("scram.toml", sasl("SCRAM-SHA-512")),
    ] {
        let (ok, out) = check(name, &extra);
        assert!(
            ok && out.contains("ok:") && !out.contains("warning"),
            "{name}: {out}"
        );
    }
    // Errors name the key (and the file), never the secret.
    let (ok, out) = check("gssapi.toml", &sasl("GSSAPI"));
    assert!(!ok && out.contains("sasl.mechanism"), "{out}");
    let (ok, out) = check(
        "bad-ca.toml",
        &format!("{}{tls}ca_file = \"ca.pem\"\n", sasl("SCRAM-SHA-256")),
    );
    assert!(
        !ok && out.contains("tls.ca_file") && out.contains("ca.pem"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The gateway with SCRAM-SHA-512 over TLS to tansu (behind HAProxy),
/// trusting the wrong CA at first: the write is acknowledged, its event
/// waits (retryable, not dead-lettered) while the log says why, and goes
/// out after a reload names the right CA. The password is in no log line.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_kafka_ca_keeps_events_until_a_reload_fixes_it() {
    let Some(rig) = scram_rig("kafka-gw-tls", |p| &p.server_pem, false) else {
        return;
    };
    let password = rig.login.as_ref().unwrap().2.clone();
    rig.create_topic(ACME_TOPIC).await;

    std::fs::copy(&rig.pki.other_ca_file, rig.dir.join("kafka-ca.pem")).unwrap();
    std::fs::write(rig.dir.join("kafka.password"), format!("{password}\n")).unwrap();
    let store = TestStore::spawn();
    let config = AuditedConfig {
        upstream: store.base_url(),
        kafka: Some(rig.proxy.bootstrap()),
        ..AuditedConfig::default()
    }
    .write(&rig.dir);
    let base = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "{base}\n[events.kafka.sasl]\nmechanism = \"SCRAM-SHA-512\"\nusername = \"{SCRAM_USER}\"\n\
             password_file = \"kafka.password\"\n\n[events.kafka.tls]\nca_file = \"kafka-ca.pem\"\n"
        ),
    )
    .unwrap();

    // A write: acknowledged, its event cannot reach Kafka (untrusted CA).
    let mut gw = spawn_gateway(&config);
    let resp = reqwest::Client::new()
        .post(format!("http://{}/scim/v2/Users", gw.public))
        .header("host", "acme.localhost")
        .header("content-type", "application/scim+json")
        .bearer_auth(token_for("acme"))
        .body(user("tls.alice").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let created: Value = resp.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    while gw.log_count("certificate verify failed") == 0 {
        assert!(
            Instant::now() < deadline,
            "no TLS error logged:\n{}",
            gw.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut reader = TopicReader::with_config(&rig.client(), ACME_TOPIC, PARTITIONS);
    reader
        .read_until(Duration::from_secs(2), |r| !r.is_empty())
        .await;
    assert!(reader.records.is_empty(), "delivered despite the wrong CA");

    // The operator names the right CA; the reload restarts delivery and
    // the event that waited goes out.
    std::fs::copy(&rig.pki.ca_file, rig.dir.join("kafka-ca-fixed.pem")).unwrap();
    let text = std::fs::read_to_string(&config).unwrap();
    let tmp = rig.dir.join("gateway.toml.new");
    std::fs::write(&tmp, text.replace("kafka-ca.pem", "kafka-ca-fixed.pem")).unwrap();
    std::fs::rename(&tmp, &config).unwrap();
    let arrived = reader
        .read_until(Duration::from_secs(45), |r| {
            r.iter()
                .any(|r| r.event["subject"].as_str() == Some(id.as_str()))
        })
        .await;
    assert!(
        arrived,
        "the event was lost:\n{}\n{}",
        gw.log_tail(),
        rig.logs()
    );
    let event = &reader.records[0].event;
    assert_eq!(event["type"], "scim.user.created", "{event}");
    assert_eq!(reader.records[0].key, format!("acme/{id}"));

    let _ = tokio::task::block_in_place(|| gw.terminate(Duration::from_secs(15)));
    assert_eq!(gw.log_count(&password), 0, "the password is in the log");
}
