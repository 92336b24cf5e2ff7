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
//! second, unrelated CA. The rig that puts broker, proxy and PKI together
//! is in `kafka_rig`.
use super::pki::{write_ca, write_leaf, ClientSpec, TestCa};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long HAProxy may take to accept connections after its start.
const START_TIMEOUT: Duration = Duration::from_secs(10);

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
