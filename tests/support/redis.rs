//! A real `redis-server` (Debian's package, installed by `tests/run`) on
//! an ephemeral loopback port, without persistence, stopped on drop: a
//! plain server, a replica, a TLS-only server (Debian builds Redis with
//! TLS), or a sentinel (`redis-server FILE --sentinel`). A missing
//! `redis-server` fails the test: it is a required component.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

/// A free port on 127.0.0.1 (for servers that must keep theirs across a
/// restart).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The TLS files of a `rediss://` server (PEM paths).
pub struct RedisTlsFiles<'a> {
    pub ca: &'a Path,
    pub cert: &'a Path,
    pub key: &'a Path,
    /// `tls-auth-clients yes`: a client certificate from `ca` is required.
    pub auth_clients: bool,
    /// The certificate and key the server presents when it connects out
    /// (a replica to its master, a sentinel to what it watches), with
    /// `tls-replication yes`.
    pub client: Option<(&'a Path, &'a Path)>,
}

/// `key value` lines of the TLS settings (config file or `--key value`).
fn tls_conf(tls: &RedisTlsFiles<'_>) -> Vec<String> {
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let mut lines = vec![
        format!("tls-cert-file {}", path(tls.cert)),
        format!("tls-key-file {}", path(tls.key)),
        format!("tls-ca-cert-file {}", path(tls.ca)),
        format!(
            "tls-auth-clients {}",
            if tls.auth_clients { "yes" } else { "no" }
        ),
    ];
    if let Some((cert, key)) = tls.client {
        lines.push("tls-replication yes".into());
        lines.push(format!("tls-client-cert-file {}", path(cert)));
        lines.push(format!("tls-client-key-file {}", path(key)));
    }
    lines
}

impl RedisServer {
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    /// A plain server with more arguments (`--requirepass`, ...); its
    /// readiness is checked by connecting only.
    pub fn start_with(more: &[String]) -> RedisServer {
        let port = free_port();
        let mut args = vec!["--port".into(), port.to_string()];
        args.extend_from_slice(more);
        RedisServer::spawn(port, &args, more.is_empty())
    }

    /// A replica of the server on `master`.
    pub fn start_replica_of(master: u16) -> RedisServer {
        let port = free_port();
        let args = [
            "--port".into(),
            port.to_string(),
            "--replicaof".into(),
            "127.0.0.1".into(),
            master.to_string(),
        ];
        RedisServer::spawn(port, &args, true)
    }

    /// A server that speaks TLS only (`port` is the TLS port).
    pub fn start_tls(tls: &RedisTlsFiles<'_>) -> RedisServer {
        RedisServer::start_tls_with(tls, &[])
    }

    /// [`RedisServer::start_tls`] with more arguments (`--replicaof`, ...).
    pub fn start_tls_with(tls: &RedisTlsFiles<'_>, more: &[String]) -> RedisServer {
        let port = free_port();
        let mut args = vec![
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            port.to_string(),
        ];
        for line in tls_conf(tls) {
            let (key, value) = line.split_once(' ').unwrap();
            args.push(format!("--{key}"));
            args.push(value.to_string());
        }
        args.extend_from_slice(more);
        RedisServer::spawn(port, &args, false)
    }

    /// A sentinel watching `name` at `master_port` (quorum 2), quick to
    /// call the master down and fail over. Its config file (which the
    /// sentinel rewrites) is in `dir`.
    pub fn start_sentinel(dir: &Path, name: &str, master_port: u16) -> RedisServer {
        RedisServer::sentinel(dir, name, master_port, None)
    }

    /// A sentinel that speaks TLS only, to its clients and to the
    /// servers and sentinels it watches (`tls-replication yes`), with
    /// `client` as its own certificate.
    pub fn start_tls_sentinel(
        dir: &Path,
        name: &str,
        master_port: u16,
        tls: &RedisTlsFiles<'_>,
    ) -> RedisServer {
        RedisServer::sentinel(dir, name, master_port, Some(tls))
    }

    fn sentinel(
        dir: &Path,
        name: &str,
        master_port: u16,
        tls: Option<&RedisTlsFiles<'_>>,
    ) -> RedisServer {
        let port = free_port();
        let conf: PathBuf = dir.join(format!("sentinel-{port}.conf"));
        let listen = match tls {
            None => format!("port {port}\n"),
            Some(tls) => format!("port 0\ntls-port {port}\n{}\n", tls_conf(tls).join("\n")),
        };
        std::fs::write(
            &conf,
            format!(
                "{listen}bind 127.0.0.1\ndir {dir}\n\
                 sentinel monitor {name} 127.0.0.1 {master_port} 2\n\
                 sentinel down-after-milliseconds {name} 500\n\
                 sentinel failover-timeout {name} 2000\n\
                 sentinel parallel-syncs {name} 1\n",
                dir = dir.display()
            ),
        )
        .unwrap();
        RedisServer::spawn_with(
            port,
            &[conf.to_str().unwrap().to_string(), "--sentinel".into()],
            tls.is_none(),
            false,
        )
    }

    fn spawn(port: u16, args: &[String], ping: bool) -> RedisServer {
        RedisServer::spawn_with(port, args, ping, true)
    }

    fn spawn_with(port: u16, args: &[String], ping: bool, server_flags: bool) -> RedisServer {
        let mut command = Command::new("redis-server");
        command.args(args);
        if server_flags {
            // Nothing on disk, not even for a replica's first sync (which
            // would otherwise wait 5 s and write an RDB file in the cwd).
            let dir = std::env::temp_dir();
            command.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
            command.arg("--dir").arg(&dir);
            command.args([
                "--repl-diskless-sync",
                "yes",
                "--repl-diskless-sync-delay",
                "0",
            ]);
            command.args(["--repl-diskless-load", "on-empty-db"]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("redis-server is required for these tests (tests/run installs it): {e}")
            });
        let server = RedisServer {
            port,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        // A TLS port cannot answer a plaintext PING: its listening is enough.
        while !(if ping {
            server.ping()
        } else {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        }) {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        if s.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    /// Freezes the server (SIGSTOP): connections stay open and nothing
    /// answers, as with a hung or blackholed Redis.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Undoes [`RedisServer::pause`] (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// Stops the server and starts a plain one on the same port: empty,
    /// as a Redis restarted without persistence.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port;
        *self = RedisServer::spawn(port, &["--port".into(), port.to_string()], true);
    }

    /// Stops the server now (to test the fallback).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
