//! The gateway as a real separate process (the built binary), on
//! ephemeral ports read from its start-up log line; killed on drop.
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many of the newest log lines the process keeps.
const LOG_LINES: usize = 20_000;
/// How many of those [`GatewayProcess::log_tail`] shows.
const TAIL_LINES: usize = 200;

pub struct GatewayProcess {
    pub public: SocketAddr,
    pub admin: Option<SocketAddr>,
    child: Child,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl GatewayProcess {
    pub fn spawn(config: &Path) -> GatewayProcess {
        GatewayProcess::spawn_with_env(config, &[])
    }

    /// [`GatewayProcess::spawn`] with extra environment variables (e.g.
    /// `NOTIFY_SOCKET`).
    pub fn spawn_with_env(config: &Path, env: &[(&str, &std::ffi::OsStr)]) -> GatewayProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
            .args(["run", "--config"])
            .arg(config)
            .envs(env.iter().copied())
            .env(
                "RUST_LOG",
                std::env::var("TEST_GATEWAY_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let kept = log.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && line.contains("scim-gateway listening") {
                    let _ = tx.send(line.clone());
                    sent = true;
                }
                keep(&kept, line);
            }
        });
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                keep(&kept, format!("stderr: {line}"));
            }
        });
        let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
            panic!(
                "the gateway process did not start:\n{}",
                Vec::from(log.lock().unwrap().clone()).join("\n")
            );
        };
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let public = v["address"].as_str().unwrap().parse().unwrap();
        let admin = v["admin"]
            .as_str()
            .and_then(|a| a.strip_prefix("Some(")?.strip_suffix(')')?.parse().ok());
        GatewayProcess {
            public,
            admin,
            child,
            log,
        }
    }

    /// SIGKILL, as a crash: nothing is flushed, no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait up to `within` for the exit; `Some(clean exit)`,
    /// or `None` when it had to be killed.
    pub fn terminate(&mut self, within: Duration) -> Option<bool> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.success());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        None
    }

    /// `Some(clean exit)` once the process has exited (by itself or not);
    /// `None` while it runs.
    pub fn exited(&mut self) -> Option<bool> {
        self.child.try_wait().ok().flatten().map(|s| s.success())
    }

    /// Sends `signal` (`-HUP`, `-STOP`, ...) with kill(1).
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success(), "kill {signal} {pid} failed");
    }

    /// The newest lines it logged (stdout and stderr), for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap();
        let skip = log.len().saturating_sub(TAIL_LINES);
        log.iter()
            .skip(skip)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The logged lines that contain `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }

    /// How many logged lines contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }
}

fn keep(log: &Mutex<VecDeque<String>>, line: String) {
    let mut log = log.lock().unwrap();
    if log.len() >= LOG_LINES {
        log.pop_front();
    }
    log.push_back(line);
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
