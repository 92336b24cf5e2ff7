//! A real Kafka-protocol broker for the Kafka sink tests: `tansu` (installed
//! by `tests/support/install-tansu.sh` into a cache outside the clone; `tests/run`
//! runs it and exports `TANSU_BIN`), on an ephemeral loopback port, with
//! in-memory storage (or SQLite, for SCRAM credentials: [`TansuOptions`]),
//! stopped on drop. Each test starts its own broker so it can stop and
//! restart it.
//!
//! A missing binary fails the test when `CI=true`; elsewhere the test is
//! skipped with a message (a first install builds for 10 to 30 minutes: run
//! `tests/run` or the install script once).
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long a broker may take to accept ApiVersions after its start.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Tansu {
    pub port: u16,
    bin: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    /// Changed between [`Tansu::restart`]s (e.g. authentication on).
    pub options: TansuOptions,
}

/// How [`Tansu::start_with`] runs the broker.
#[derive(Debug, Clone, Default)]
pub struct TansuOptions {
    /// The port advertised in metadata (clients reconnect there), e.g. a
    /// TLS proxy's in front of the broker; default the broker's own.
    pub advertised_port: Option<u16>,
    /// `--authentication`: every request but ApiVersions and the SASL ones
    /// needs a SASL login first.
    pub authentication: bool,
    /// `--storage-engine` (default `memory://tansu/`). tansu resolves a
    /// `sqlite://` path against its working directory, `dir`.
    pub storage: Option<String>,
    /// The broker's working directory (default: inherited).
    pub dir: Option<PathBuf>,
}

impl Tansu {
    /// Starts a broker, or returns `None` when tansu is not installed and this
    /// is not CI (the caller returns early: a skip, announced on stderr).
    pub fn start() -> Option<Tansu> {
        Tansu::start_with(TansuOptions::default())
    }

    /// [`Tansu::start`] with [`TansuOptions`].
    pub fn start_with(options: TansuOptions) -> Option<Tansu> {
        let bin = tansu_bin()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::env::temp_dir().join(format!("tansu-{}-{port}.log", std::process::id()));
        let mut broker = Tansu {
            port,
            bin,
            log,
            child: None,
            options,
        };
        broker.spawn();
        Some(broker)
    }

    /// The tansu binary (for its other commands, e.g. `tansu user create`).
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the broker now (its in-memory data is lost).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Freezes the broker (SIGSTOP): connections stay open but nothing is
    /// answered, and nothing is lost: an outage without losing the in-memory
    /// data, unlike [`Tansu::stop`].
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a [`Tansu::pause`]d broker (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("tansu is not running").id();
        let status = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {sig} {pid} failed");
    }

    /// Starts it again on the same port (empty: memory storage).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn spawn(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let advertised = format!(
            "tcp://127.0.0.1:{}",
            self.options.advertised_port.unwrap_or(self.port)
        );
        let storage = self
            .options
            .storage
            .clone()
            .unwrap_or_else(|| "memory://tansu/".into());
        let mut args = vec![
            "broker",
            "--cluster-id",
            "scim-gateway-test",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &advertised,
            "--storage-engine",
            &storage,
        ];
        if self.options.authentication {
            args.push("--authentication");
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut command = Command::new(&self.bin);
        if let Some(dir) = &self.options.dir {
            command.current_dir(dir);
        }
        let child = command
            .args(&args)
            // TANSU_LOG=debug to see what the broker does.
            .env(
                "RUST_LOG",
                std::env::var("TANSU_LOG").unwrap_or_else(|_| "warn".into()),
            )
            // Its tracing output goes to stdout.
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while !api_versions_ok(self.port) {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("tansu exited at start ({status}):\n{}", self.log_tail());
            }
            assert!(
                Instant::now() < deadline,
                "tansu did not answer ApiVersions within {START_TIMEOUT:?}:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last lines the broker logged (for failure messages).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        // SIGKILL ends a paused (SIGSTOPped) broker too.
        self.stop();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// `TANSU_BIN`, else the install script's cache location.
fn tansu_bin() -> Option<PathBuf> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if let Some(bin) = std::env::var_os("TANSU_BIN") {
        let bin = PathBuf::from(bin);
        assert!(bin.is_file(), "TANSU_BIN={} is not a file", bin.display());
        return Some(bin);
    }
    let root = std::env::var_os("TANSU_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("SCIM_GATEWAY_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    Path::new(&std::env::var_os("HOME").unwrap_or_default())
                        .join(".cache/scim-gateway")
                });
            cache.join("tansu")
        });
    let bin = root.join("bin/tansu");
    if bin.is_file() {
        return Some(bin);
    }
    assert!(
        !ci,
        "the Kafka broker tansu is required in CI and is missing at {} \
         (tests/run installs it with tests/support/install-tansu.sh)",
        bin.display()
    );
    eprintln!(
        "SKIPPED: tansu is not installed at {} (run tests/support/install-tansu.sh or tests/run)",
        bin.display()
    );
    None
}

/// Sends a Kafka ApiVersions v0 request and checks for a well-formed answer
/// with error code 0: the broker is up and speaks the protocol.
pub fn api_versions_ok(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    let client_id = b"probe";
    let correlation_id: i32 = 0x5c1a;
    let mut req = Vec::new();
    req.extend_from_slice(&18i16.to_be_bytes()); // api_key ApiVersions
    req.extend_from_slice(&0i16.to_be_bytes()); // api_version 0
    req.extend_from_slice(&correlation_id.to_be_bytes());
    req.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    req.extend_from_slice(client_id);
    let mut frame = (req.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&req);
    if s.write_all(&frame).is_err() {
        return false;
    }
    let mut head = [0u8; 10]; // size, correlation id, error code
    if s.read_exact(&mut head).is_err() {
        return false;
    }
    let size = i32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let corr = i32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    let error = i16::from_be_bytes([head[8], head[9]]);
    size >= 6 && corr == correlation_id && error == 0
}
