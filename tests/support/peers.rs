//! Third-party Python SCIM peers for the integration tests: scim2-tester (the
//! compliance checker), scim2-client (a real client for round trips) and
//! scim2-server (a real upstream no one here wrote). They live in a venv that
//! `tests/support/install-peers.sh` makes; see docs/testing.md.
//!
//! Every call is bounded in time and panics with a clear message when the
//! harness itself is broken (tests may panic); what a peer reports about the
//! server under test comes back as data for the test to assert on.

// Helpers shared by every test module; not each module uses all of them.
#![allow(dead_code)]

mod process;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use process::{run_bounded, LogTail};

/// scim2-tester runs ~135 checks in a few seconds; a hung server must not hang CI.
const TESTER_TIMEOUT: Duration = Duration::from_secs(180);
const ROUNDTRIP_TIMEOUT: Duration = Duration::from_secs(60);
const INSTALL_TIMEOUT: Duration = Duration::from_secs(900);
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(30);

const TESTER_DRIVER: &str = include_str!("peers/scim2_tester_driver.py");
const ROUNDTRIP_DRIVER: &str = include_str!("peers/scim2_client_roundtrip.py");

/// The peers venv, installed on first use (once per test process; a re-run of
/// the install script is a no-op when its stamp matches).
pub fn venv() -> PathBuf {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match VENV.get_or_init(install_peers) {
        Ok(path) => path.clone(),
        Err(why) => panic!("the SCIM peers venv is unavailable: {why}"),
    }
}

fn install_peers() -> Result<PathBuf, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/install-peers.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script);
    let out = run_bounded(cmd, INSTALL_TIMEOUT)?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}):\n{}{}",
            script.display(),
            out.status,
            out.stdout,
            out.stderr
        ));
    }
    let venv = out
        .stdout
        .lines()
        .rfind(|line| !line.trim().is_empty())
        .map(|line| PathBuf::from(line.trim()))
        .ok_or_else(|| format!("{} printed no venv path", script.display()))?;
    if venv.join("bin/python").is_file() {
        Ok(venv)
    } else {
        Err(format!("{} has no bin/python", venv.display()))
    }
}

fn venv_python() -> PathBuf {
    venv().join("bin/python")
}

/// One scim2-tester check, as its `CheckResult` reported it.
#[derive(Debug, Clone)]
pub struct TesterCheck {
    /// The `scim2_tester.Status` name: SUCCESS, COMPLIANT, ACCEPTABLE,
    /// DEVIATION, ERROR, CRITICAL or SKIPPED.
    pub status: String,
    pub title: String,
    /// First paragraph of the check's docstring.
    pub description: String,
    pub reason: String,
    pub resource_type: Option<String>,
}

/// What scim2-tester reported. `passed` counts SUCCESS, COMPLIANT and
/// ACCEPTABLE (conforming to the RFC); `failed` ERROR and CRITICAL (a MUST
/// violated); `skipped` SKIPPED; `other` DEVIATION (a SHOULD not followed)
/// and any status this harness does not know. Note that `scim test` (the
/// CLI) counts everything but SUCCESS as a failure.
#[derive(Debug, Clone, Default)]
pub struct TesterReport {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub other: usize,
    /// One line per failed check: `STATUS [ResourceType] title: reason`.
    pub failures: Vec<String>,
    /// The driver's JSON output as printed (plus its stderr, if any).
    pub raw: String,
    /// Every check, in the order scim2-tester ran them.
    pub checks: Vec<TesterCheck>,
}

impl TesterReport {
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.skipped + self.other
    }

    fn from_driver_output(stdout: &str, stderr: &str) -> Result<Self, String> {
        let mut report = TesterReport {
            raw: if stderr.trim().is_empty() {
                stdout.to_owned()
            } else {
                format!("{stdout}\n--- stderr\n{stderr}")
            },
            ..TesterReport::default()
        };
        let doc: Value = serde_json::from_str(stdout.trim())
            .map_err(|e| format!("the scim2-tester driver printed no JSON ({e})"))?;
        if let Some(error) = doc.get("error").and_then(Value::as_str) {
            // scim2-tester itself raised: the run is a failure, not a harness bug.
            report.failed = 1;
            report.failures.push(format!("scim2-tester raised {error}"));
            return Ok(report);
        }
        let checks = doc
            .get("checks")
            .and_then(Value::as_array)
            .ok_or("the scim2-tester driver printed no `checks` array")?;
        let field = |check: &Value, name: &str| {
            check
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        for check in checks {
            let check = TesterCheck {
                status: field(check, "status"),
                title: field(check, "title"),
                description: field(check, "description"),
                reason: field(check, "reason"),
                resource_type: check
                    .get("resource_type")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            };
            match check.status.as_str() {
                "SUCCESS" | "COMPLIANT" | "ACCEPTABLE" => report.passed += 1,
                "ERROR" | "CRITICAL" => {
                    report.failed += 1;
                    report.failures.push(check.to_string());
                }
                "SKIPPED" => report.skipped += 1,
                _ => report.other += 1,
            }
            report.checks.push(check);
        }
        Ok(report)
    }
}

impl fmt::Display for TesterCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)?;
        if let Some(rt) = &self.resource_type {
            write!(f, " [{rt}]")?;
        }
        write!(f, " {}", self.title)?;
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}

impl fmt::Display for TesterReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "scim2-tester: passed={} failed={} skipped={} other={} (of {})",
            self.passed,
            self.failed,
            self.skipped,
            self.other,
            self.total()
        )?;
        for check in self.checks.iter().filter(|c| c.status != "SUCCESS") {
            writeln!(f, "  {check}")?;
        }
        for failure in self
            .failures
            .iter()
            .filter(|f| f.starts_with("scim2-tester raised"))
        {
            writeln!(f, "  {failure}")?;
        }
        Ok(())
    }
}

/// Runs scim2-tester's `check_server` against `base_url` (e.g.
/// `http://127.0.0.1:8081/v2`). Panics if the harness breaks or the run
/// exceeds three minutes.
pub fn run_scim2_tester(base_url: &str) -> TesterReport {
    run_scim2_tester_with_headers(base_url, &[])
}

/// [`run_scim2_tester`] sending extra headers on every request, e.g.
/// `("Authorization", "Bearer t")`.
pub fn run_scim2_tester_with_headers(base_url: &str, headers: &[(&str, &str)]) -> TesterReport {
    let out = run_driver(TESTER_DRIVER, base_url, headers, TESTER_TIMEOUT)
        .unwrap_or_else(|why| panic!("scim2-tester against {base_url}: {why}"));
    if !out.status.success() {
        panic!(
            "the scim2-tester driver broke ({}):\n{}\n{}",
            out.status, out.stdout, out.stderr
        );
    }
    TesterReport::from_driver_output(&out.stdout, &out.stderr)
        .unwrap_or_else(|why| panic!("{why}:\n{}\n{}", out.stdout, out.stderr))
}

/// A User round trip through scim2-client: discover, create, read by id,
/// filter on userName, PATCH displayName, delete, 404 after delete.
/// `Err` holds the driver's step log and what failed.
pub fn run_scim2_client_roundtrip(base_url: &str) -> Result<(), String> {
    run_scim2_client_roundtrip_with_headers(base_url, &[])
}

/// [`run_scim2_client_roundtrip`] sending extra headers on every request.
pub fn run_scim2_client_roundtrip_with_headers(
    base_url: &str,
    headers: &[(&str, &str)],
) -> Result<(), String> {
    let out = run_driver(ROUNDTRIP_DRIVER, base_url, headers, ROUNDTRIP_TIMEOUT)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "scim2-client round trip against {base_url} failed ({}):\n{}{}",
            out.status, out.stdout, out.stderr
        ))
    }
}

fn run_driver(
    script: &str,
    base_url: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<process::Finished, String> {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect();
    let mut cmd = Command::new(venv_python());
    cmd.arg("-c")
        .arg(script)
        .arg(base_url)
        .arg(Value::Object(headers).to_string())
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    run_bounded(cmd, timeout)
}

/// A running `scim2-server` (in-memory SCIM 2.0 server), killed on drop.
pub struct PythonServer {
    child: Child,
    port: u16,
    log: LogTail,
}

impl PythonServer {
    /// `http://127.0.0.1:PORT/v2` (scim2-server also answers without `/v2`).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v2", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the server printed so far (its access log; the tail if long).
    pub fn log(&self) -> String {
        self.log.text()
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        process::kill(&mut self.child);
    }
}

/// Starts `scim2-server --hostname 127.0.0.1 --port <free port>` and waits
/// until it accepts connections.
pub fn spawn_scim2_server() -> PythonServer {
    spawn_scim2_server_with(&[])
}

/// [`spawn_scim2_server`] with extra arguments, e.g. `["--bearer-token", "t"]`
/// or `["--tenant", "acme"]`.
pub fn spawn_scim2_server_with(args: &[&str]) -> PythonServer {
    let bin = venv().join("bin/scim2-server");
    let mut last_error = String::new();
    // Another process may take the free port between our probe and the
    // server's bind; a fresh port on retry makes that harmless.
    for _ in 0..3 {
        match try_spawn(&bin, args) {
            Ok(server) => return server,
            Err(why) => last_error = why,
        }
    }
    panic!("scim2-server did not start: {last_error}");
}

fn try_spawn(bin: &Path, args: &[&str]) -> Result<PythonServer, String> {
    let port = free_port()?;
    let mut child = Command::new(bin)
        .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let log = LogTail::default();
    log.follow(child.stdout.take());
    log.follow(child.stderr.take());
    let mut server = PythonServer { child, port, log };
    let deadline = Instant::now() + SERVER_START_TIMEOUT;
    loop {
        if TcpStream::connect_timeout(&server.addr(), Duration::from_millis(200)).is_ok() {
            return Ok(server);
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            // Give the log readers a moment to collect the reason.
            thread::sleep(Duration::from_millis(100));
            return Err(format!(
                "exited with {status} on port {port}:\n{}",
                server.log()
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "not listening on port {port} after {SERVER_START_TIMEOUT:?}:\n{}",
                server.log()
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// A port the OS just handed out on 127.0.0.1, released for the caller to bind.
pub fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}
