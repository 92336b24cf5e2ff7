//! The rig of the Kafka TLS and SASL tests: tansu advertising the port of
//! an HAProxy that terminates TLS in front of it ([`super::kafka_tls`]), the
//! test PKI, and optionally SASL/SCRAM users (tansu keeps SCRAM credentials
//! only in SQL storage, so those brokers run on SQLite in the rig's
//! directory). Clients for the test's own checks (admin, consumer) and sink
//! settings come from here.
use super::audited::temp_dir;
use super::kafka_tls::{KafkaPki, TlsProxy};
use super::kafka_topic::{create_topic_with, KafkaRecord, TopicReader};
use super::tansu::{Tansu, TansuOptions};
use rdkafka::config::ClientConfig;
use scim_gateway::events::kafka::KafkaSettings;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Partitions of the test topics.
pub const PARTITIONS: i32 = 2;

/// tansu, HAProxy in front of it with `crt`, and the PKI.
pub struct Rig {
    pub broker: Tansu,
    pub proxy: TlsProxy,
    pub pki: KafkaPki,
    pub dir: PathBuf,
    /// The SASL login (mechanism, user, password) of the rig's own
    /// clients, once the broker requires one.
    pub login: Option<(String, String, String)>,
}

/// `crt`: which server certificate HAProxy presents; `mtls`: require a
/// client certificate from the test CA.
pub fn rig(name: &str, crt: impl Fn(&KafkaPki) -> &Path, mtls: bool) -> Option<Rig> {
    rig_with(name, crt, mtls, TansuOptions::default())
}

/// [`rig`] with the broker's other options (authentication, storage; its
/// working directory is the rig's directory).
pub fn rig_with(
    name: &str,
    crt: impl Fn(&KafkaPki) -> &Path,
    mtls: bool,
    tansu: TansuOptions,
) -> Option<Rig> {
    let dir = temp_dir(name);
    let pki = KafkaPki::write(&dir);
    let port = TlsProxy::reserve_port();
    let broker = Tansu::start_with(TansuOptions {
        advertised_port: Some(port),
        dir: Some(dir.clone()),
        ..tansu
    })?;
    let client_ca = mtls.then_some(pki.ca_file.as_path());
    let proxy = TlsProxy::start(&dir, port, broker.port, crt(&pki), client_ca)?;
    Some(Rig {
        broker,
        proxy,
        pki,
        dir,
        login: None,
    })
}

impl Drop for Rig {
    fn drop(&mut self) {
        // The processes stop right after (field drops); Linux lets their
        // files go meanwhile.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The SCRAM user the SASL tests log in as.
pub const SCRAM_USER: &str = "scim-gateway";

/// [`rig`] with a broker that requires SASL/SCRAM: tansu keeps SCRAM
/// credentials only in SQL storage (`sqlite://`, its `libsql` feature; its
/// memory storage answers every lookup with "no such user") and speaks no
/// PLAIN. The rig's own clients log in with SCRAM-SHA-512.
pub fn scram_rig(name: &str, crt: impl Fn(&KafkaPki) -> &Path, mtls: bool) -> Option<Rig> {
    let mut rig = rig_with(name, crt, mtls, sqlite())?;
    let password = scram_users(&mut rig.broker);
    rig.login = Some(("SCRAM-SHA-512".into(), SCRAM_USER.into(), password));
    Some(rig)
}

/// Storage options for a broker that can keep SCRAM credentials.
pub fn sqlite() -> TansuOptions {
    TansuOptions {
        storage: Some("sqlite://tansu.db".into()),
        ..TansuOptions::default()
    }
}

/// Creates [`SCRAM_USER`] for SCRAM-SHA-256 and SCRAM-SHA-512 with a fresh
/// password (tansu accepts the admin request only while authentication is
/// off), then restarts the broker with authentication required. Returns the
/// password.
pub fn scram_users(broker: &mut Tansu) -> String {
    let password = format!("Pw-{}-{}", std::process::id(), broker.port);
    for mechanism in ["scram256", "scram512"] {
        let out = Command::new(broker.bin())
            .args(["user", "create", "--broker"])
            .arg(format!("tcp://127.0.0.1:{}", broker.port))
            .args(["--mechanism", mechanism, SCRAM_USER, &password])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tansu user create failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            broker.log_tail()
        );
    }
    broker.options.authentication = true;
    broker.restart();
    password
}

impl Rig {
    /// A TLS client (admin, consumer) that trusts the test CA, has the
    /// client certificate, and logs in with [`Rig::login`] if set.
    pub fn client(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", self.proxy.bootstrap())
            .set("security.protocol", "ssl")
            .set("ssl.ca.location", self.pki.ca_file.display().to_string())
            .set(
                "ssl.certificate.location",
                self.pki.client_cert.display().to_string(),
            )
            .set(
                "ssl.key.location",
                self.pki.client_key.display().to_string(),
            );
        if let Some((mechanism, user, password)) = &self.login {
            c.set("security.protocol", "sasl_ssl")
                .set("sasl.mechanism", mechanism)
                .set("sasl.username", user)
                .set("sasl.password", password);
        }
        c
    }

    pub async fn create_topic(&self, topic: &str) {
        create_topic_with(&self.client(), &self.broker, topic, PARTITIONS).await;
    }

    /// The sink's settings: `tls` is the body of `[tls]`.
    pub fn settings(&self, topic: &str, tls: &str) -> KafkaSettings {
        toml::from_str(&format!(
            "brokers = [\"{}\"]\ntopic = \"{topic}\"\nmessage_timeout = \"3s\"\n\
             request_timeout = \"2s\"\nconnect_timeout = \"1s\"\n[tls]\n{tls}",
            self.proxy.bootstrap()
        ))
        .unwrap()
    }

    pub fn ca(&self) -> String {
        format!("ca_file = \"{}\"\n", self.pki.ca_file.display())
    }

    pub fn client_cert(&self) -> String {
        format!(
            "client_cert_file = \"{}\"\nclient_key_file = \"{}\"\n",
            self.pki.client_cert.display(),
            self.pki.client_key.display()
        )
    }

    /// The `data.seq` of the events on `topic` for `key`, in order,
    /// once `want` of them arrived (bounded).
    pub async fn read(&self, topic: &str, key: &str, want: usize) -> Vec<u64> {
        let mut reader = TopicReader::with_config(&self.client(), topic, PARTITIONS);
        let count = |records: &[KafkaRecord]| records.iter().filter(|r| r.key == key).count();
        reader
            .read_until(Duration::from_secs(20), |r| count(r) >= want)
            .await;
        reader
            .records
            .iter()
            .filter(|r| r.key == key)
            .map(|r| r.event["data"]["seq"].as_u64().unwrap())
            .collect()
    }

    pub fn logs(&self) -> String {
        format!(
            "tansu:\n{}\nhaproxy:\n{}",
            self.broker.log_tail(),
            self.proxy.log_text()
        )
    }
}
