//! A TLS endpoint for the Kafka sink tests: tansu 0.6 takes `--cert` and
//! `--key` but never uses them (its listener serves plaintext only), so
//! Debian's HAProxy terminates TLS in front of it (`mode tcp`, `ssl crt`,
//! optionally `verify required ca-file` for mutual TLS) and forwards to the
//! broker's plaintext port. The broker advertises the proxy's port, so every
//! connection a client makes after the bootstrap (produce included) goes
//! through TLS too.
//!
//! Also the PKI those tests use ([`KafkaPki`]): a CA, a server certificate
//! for 127.0.0.1 and one for another name, a client certificate, and a
//! second, unrelated CA.
use super::audited::temp_dir;
use super::kafka_topic::{create_topic_with, KafkaRecord, TopicReader};
use super::pki::{write_ca, write_leaf, ClientSpec, TestCa};
use super::tansu::{Tansu, TansuOptions};
use rdkafka::config::ClientConfig;
use scim_gateway::events::kafka::KafkaSettings;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long HAProxy may take to accept connections after its start.
const START_TIMEOUT: Duration = Duration::from_secs(10);

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

/// The test PKI, as files in `dir`.
pub struct KafkaPki {
    pub dir: PathBuf,
    /// The CA that signed the server and client certificates.
    pub ca_file: PathBuf,
    /// Another CA: trusting only it must fail the handshake.
    pub other_ca_file: PathBuf,
    /// HAProxy's `crt` for 127.0.0.1 (chain and key in one PEM).
    pub server_pem: PathBuf,
    /// HAProxy's `crt` for `kafka.invalid` only (not the address dialled).
    pub misnamed_server_pem: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl KafkaPki {
    pub fn write(dir: &Path) -> KafkaPki {
        std::fs::create_dir_all(dir).unwrap();
        let ca = TestCa::root("kafka-test-ca");
        let other = TestCa::root("unrelated-ca");
        let ca_file = write_ca(&ca, &dir.join("ca.pem"));
        let other_ca_file = write_ca(&other, &dir.join("other-ca.pem"));
        let server_pem = haproxy_crt(&ca, "127.0.0.1", dir, "server");
        let misnamed_server_pem = haproxy_crt(&ca, "kafka.invalid", dir, "misnamed");
        let client = ca.client(&ClientSpec {
            cn: "scim-gateway",
            ..ClientSpec::default()
        });
        let client_cert = dir.join("client.pem");
        let client_key = dir.join("client.key");
        write_leaf(&client, &client_cert, &client_key);
        KafkaPki {
            dir: dir.to_path_buf(),
            ca_file,
            other_ca_file,
            server_pem,
            misnamed_server_pem,
            client_cert,
            client_key,
        }
    }
}

/// A server certificate for `host` and its key, concatenated as HAProxy wants.
fn haproxy_crt(ca: &TestCa, host: &str, dir: &Path, name: &str) -> PathBuf {
    let leaf = ca.server(host);
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    write_leaf(&leaf, &cert, &key);
    let both = dir.join(format!("{name}.pem"));
    let text = std::fs::read_to_string(&cert).unwrap() + &std::fs::read_to_string(&key).unwrap();
    std::fs::write(&both, text).unwrap();
    both
}

/// HAProxy terminating TLS on 127.0.0.1:`port` for a broker on `backend`.
pub struct TlsProxy {
    pub port: u16,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl TlsProxy {
    /// A free loopback port to give the broker as its advertised port
    /// before the proxy starts on it.
    pub fn reserve_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// Starts HAProxy, or returns `None` when it is not installed and this
    /// is not CI (a skip, announced on stderr). `client_ca`: require a
    /// client certificate signed by it.
    pub fn start(
        dir: &Path,
        port: u16,
        backend: u16,
        crt: &Path,
        client_ca: Option<&Path>,
    ) -> Option<TlsProxy> {
        let bin = haproxy_bin()?;
        let verify = client_ca
            .map(|ca| format!(" verify required ca-file {}", ca.display()))
            .unwrap_or_default();
        let config = dir.join(format!("haproxy-{port}.cfg"));
        std::fs::write(
            &config,
            format!(
                "global\n    maxconn 256\n\
                 defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 60s\n    timeout server 60s\n\
                 frontend kafka_tls\n    bind 127.0.0.1:{port} ssl crt {crt}{verify}\n    default_backend tansu\n\
                 backend tansu\n    server broker 127.0.0.1:{backend}\n",
                crt = crt.display()
            ),
        )
        .unwrap();
        let mut proxy = TlsProxy {
            port,
            config,
            log: dir.join(format!("haproxy-{port}.log")),
            child: None,
        };
        proxy.spawn(&bin);
        Some(proxy)
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops HAProxy: the TLS endpoint is gone, the broker still runs.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let bin = haproxy_bin().expect("haproxy went missing");
        self.spawn(&bin);
    }

    fn spawn(&mut self, bin: &Path) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(bin)
            .arg("-db")
            .arg("-f")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("haproxy exited at start ({status}):\n{}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "haproxy did not listen within {START_TIMEOUT:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What HAProxy logged (for failure messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Debian's haproxy (in /usr/sbin, often not on a user's PATH).
fn haproxy_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("haproxy"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let found = on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin/haproxy")])
        .find(|p| p.is_file());
    if found.is_some() {
        return found;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "haproxy is required in CI and is missing (tests/run installs Debian's package)"
    );
    eprintln!("SKIPPED: haproxy is not installed (apt-get install haproxy, or run tests/run)");
    None
}
