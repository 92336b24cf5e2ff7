//! A real gateway on an ephemeral 127.0.0.1 port with real TLS (a test
//! PKI), configured through a real config file, in a runtime of its own;
//! and a reqwest client that trusts it and resolves tenant hosts to it.
use scim_gateway::authn::static_token::hash_token_hex;
use scim_gateway::config::ConfigHandle;
use scim_gateway::run::{run, Bound};
use scim_gateway::tls::dev::{dev_pki_in_memory, DevPkiPem};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// The token every test tenant accepts (`token_for(id)`).
pub fn token_for(tenant: &str) -> String {
    format!("test-token-{tenant}-0123456789abcdef")
}

#[derive(Default)]
pub struct GatewayBuilder {
    plaintext: bool,
    server: Vec<String>,
    upstreams: Vec<String>,
    tenants: Vec<String>,
    hosts: Vec<String>,
}

pub struct TestGateway {
    pub bound: Bound,
    pub dir: PathBuf,
    pub config: Arc<ConfigHandle>,
    pki: DevPkiPem,
    hosts: Vec<String>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GatewayBuilder {
    /// Plain HTTP instead of TLS.
    pub fn plaintext(mut self) -> Self {
        self.plaintext = true;
        self
    }

    /// A `[server]` line, e.g. `request_timeout = "1s"`.
    pub fn server(mut self, line: &str) -> Self {
        self.server.push(line.to_string());
        self
    }

    pub fn builtin(mut self, name: &str) -> Self {
        self.upstreams
            .push(format!("[upstreams.{name}]\nkind = \"builtin\"\n"));
        self
    }

    /// An http upstream; `extra` is more TOML for its section.
    pub fn http(mut self, name: &str, url: &str, extra: &str) -> Self {
        let timeout = if extra.contains("request_timeout") {
            ""
        } else {
            "request_timeout = \"2s\"\n"
        };
        self.upstreams.push(format!(
            "[upstreams.{name}]\nkind = \"http\"\nurl = \"{url}\"\n{timeout}{extra}\n"
        ));
        self
    }

    /// An upstream section written in full (`[upstreams.NAME]` ...).
    pub fn raw_upstream(mut self, toml: &str) -> Self {
        self.upstreams.push(format!("{toml}\n"));
        self
    }

    pub fn tenant(self, id: &str, hosts: &[&str], upstream: &str) -> Self {
        self.tenant_with(id, hosts, upstream, "")
    }

    /// A tenant with more TOML for its section (`[tenants.jwt]`,
    /// `[[tenants.grants]]`, ...), after its static token.
    pub fn tenant_with(mut self, id: &str, hosts: &[&str], upstream: &str, extra: &str) -> Self {
        let hosts_toml: Vec<String> = hosts.iter().map(|h| format!("\"{h}\"")).collect();
        self.hosts.extend(hosts.iter().map(|h| h.to_string()));
        self.tenants.push(format!(
            "[[tenants]]\nid = \"{id}\"\nhosts = [{}]\nupstream = \"{upstream}\"\n[[tenants.tokens]]\nname = \"test\"\nhash = \"{}\"\n{extra}\n",
            hosts_toml.join(", "),
            hash_token_hex(&token_for(id))
        ));
        self
    }

    /// A tenant written in full (`[[tenants]]` ...), for tenants without
    /// the default static token.
    pub fn raw_tenant(mut self, toml: &str, hosts: &[&str]) -> Self {
        self.hosts.extend(hosts.iter().map(|h| h.to_string()));
        self.tenants.push(toml.to_string());
        self
    }

    pub fn config_text(&self, dir: &std::path::Path) -> String {
        let tls = if self.plaintext {
            "plaintext = true\n".to_string()
        } else {
            format!(
                "[server.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
                dir.join("server.crt").display(),
                dir.join("server.key").display()
            )
        };
        // `plaintext` must sit in [server], before any sub-table.
        let (server_tls, sub_tls) = if self.plaintext {
            (tls, String::new())
        } else {
            (String::new(), tls)
        };
        // Tests stop gateways by the hundred: no drain delay unless a test
        // asks for one (the default, 5 s, would add that much to each stop).
        let drain = if self
            .server
            .iter()
            .any(|l| l.trim_start().starts_with("drain_delay"))
        {
            ""
        } else {
            "drain_delay = \"0s\"\n"
        };
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n{drain}{}\n{server_tls}{sub_tls}\n[admin]\nlisten = \"127.0.0.1:0\"\n\n{}\n{}",
            self.server.join("\n"),
            self.upstreams.join("\n"),
            self.tenants.join("\n")
        )
    }

    pub fn spawn(self) -> TestGateway {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("scimgw-it-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut names = self.hosts.clone();
        names.push("gw.localhost".into());
        let pki = dev_pki_in_memory(&names, &[]).unwrap();
        std::fs::write(dir.join("server.crt"), &pki.server_cert).unwrap();
        std::fs::write(dir.join("server.key"), &pki.server_key).unwrap();
        let path = dir.join("gateway.toml");
        std::fs::write(&path, self.config_text(&dir)).unwrap();

        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        let (config_tx, config_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread_path = path.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let config =
                    Arc::new(ConfigHandle::new(&thread_path).unwrap_or_else(|e| panic!("{e}")));
                config_tx.send(config.clone()).unwrap();
                run(
                    config,
                    async {
                        let _ = stop_rx.await;
                    },
                    move |b| bound_tx.send(b).unwrap(),
                )
                .await
                .unwrap();
            });
        });
        let config = config_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("config");
        let bound = bound_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("gateway did not start");
        let mut hosts = self.hosts;
        hosts.push("gw.localhost".into());
        TestGateway {
            bound,
            dir,
            config,
            pki,
            hosts,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl TestGateway {
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder::default()
    }

    /// `https://HOST:PORT`
    pub fn origin(&self, host: &str) -> String {
        format!("https://{host}:{}", self.bound.public.port())
    }

    /// The SCIM base of a host-routed tenant.
    pub fn base(&self, host: &str) -> String {
        format!("{}/scim/v2", self.origin(host))
    }

    /// A client trusting the test CA, resolving every tenant host here.
    pub fn client(&self) -> reqwest::Client {
        self.client_builder().build().unwrap()
    }

    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        let ca = reqwest::Certificate::from_pem(self.pki.ca_cert.as_bytes()).unwrap();
        let mut b = reqwest::Client::builder()
            .add_root_certificate(ca)
            .tls_built_in_root_certs(false)
            .timeout(Duration::from_secs(20));
        for h in &self.hosts {
            b = b.resolve(h, self.bound.public);
        }
        b
    }

    /// The test CA, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.pki.ca_cert
    }

    /// The test CA as a PEM file (for a client or another gateway).
    pub fn ca_file(&self) -> PathBuf {
        let path = self.dir.join("ca.crt");
        std::fs::write(&path, &self.pki.ca_cert).unwrap();
        path
    }

    /// The admin listener's `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.client()
            .get(self.admin_url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.bound.admin.expect("admin"))
    }

    /// Stops the gateway (graceful) and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Signals shutdown without waiting.
    pub fn begin_shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }

    /// Waits for the gateway thread to end.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        // Tests often drop the gateway on their own (current-thread)
        // runtime, where the client's connections cannot answer the
        // gateway's graceful HTTP/2 GOAWAY/PING while we block: finish in
        // the background instead of waiting for the drain deadline.
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let thread = self.thread.take();
        let dir = self.dir.clone();
        std::thread::spawn(move || {
            if let Some(t) = thread {
                let _ = t.join();
            }
            let _ = std::fs::remove_dir_all(&dir);
        });
    }
}
