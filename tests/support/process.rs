//! The gateway as a real separate process (the built binary), on
//! ephemeral ports read from its start-up log line; killed on drop.
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct GatewayProcess {
    pub public: SocketAddr,
    pub admin: Option<SocketAddr>,
    child: Child,
}

impl GatewayProcess {
    pub fn spawn(config: &Path) -> GatewayProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && line.contains("scim-gateway listening") {
                    let _ = tx.send(line);
                    sent = true;
                }
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the gateway process did not start");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let public = v["address"].as_str().unwrap().parse().unwrap();
        let admin = v["admin"]
            .as_str()
            .and_then(|a| a.strip_prefix("Some(")?.strip_suffix(')')?.parse().ok());
        GatewayProcess {
            public,
            admin,
            child,
        }
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
