//! A real HAProxy (Debian's package, installed by `tests/run`) in front of
//! N backends on an ephemeral 127.0.0.1 port: `mode tcp` or `mode http`
//! (with `option forwardfor`), round robin, optionally sending a PROXY
//! protocol header (v1 or v2) to each backend. Backends are health
//! checked every 500 ms (a TCP connect, with the PROXY header when one is
//! sent, so the checks are not refused), and a request whose backend
//! refuses the connection is retried on another: a killed replica drops
//! out of the rotation within about a second. Its config is written to a
//! temp dir; it runs in the foreground and is stopped on drop. A missing
//! `haproxy` fails the test: it is a required component.
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How HAProxy talks to the client: bytes (`Tcp`) or HTTP (`Http`, which
/// appends the client's address to `X-Forwarded-For`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Tcp,
    Http,
}

/// The PROXY protocol header HAProxy sends each backend, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proxy {
    None,
    V1,
    V2,
}

pub struct HaProxy {
    /// Where clients connect (127.0.0.1).
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl HaProxy {
    /// Starts HAProxy in front of `backends`; returns once it accepts.
    pub fn start(backends: &[SocketAddr], mode: Mode, proxy: Proxy) -> HaProxy {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("scimgw-haproxy-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let send = match proxy {
            Proxy::None => "",
            Proxy::V1 => " send-proxy check-send-proxy",
            Proxy::V2 => " send-proxy-v2 check-send-proxy",
        };
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, b)| format!("    server s{i} {b}{send} check inter 500ms fall 2 rise 2\n"))
            .collect();
        let (mode_name, http_options) = match mode {
            Mode::Tcp => ("tcp", ""),
            Mode::Http => (
                "http",
                "    option forwardfor\n    option http-server-close\n",
            ),
        };
        let config = format!(
            "global\n    maxconn 512\n\ndefaults\n    mode {mode_name}\n    retries 3\n    option redispatch\n    timeout connect 2s\n    timeout check 1s\n    timeout client 30s\n    timeout server 30s\n\nfrontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\nbackend be\n    balance roundrobin\n{http_options}{servers}"
        );
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, &config).unwrap();
        let child = Command::new(haproxy_bin())
            // -db: foreground, no daemon; -f: the config.
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("haproxy is required for these tests (tests/run installs it): {e}")
            });
        let mut haproxy = HaProxy {
            port,
            dir,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = haproxy
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("haproxy exited ({status}); its config:\n{config}");
            }
            assert!(Instant::now() < deadline, "haproxy did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        haproxy
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Stops it now.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Debian's haproxy: on the PATH, or in /usr/sbin (often not on a
/// user's PATH). Missing fails the test: `tests/run` installs it.
fn haproxy_bin() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("haproxy"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin/haproxy")])
        .find(|p| p.is_file())
        .expect("haproxy is required for these tests (tests/run installs Debian's package)")
}

impl Drop for HaProxy {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
