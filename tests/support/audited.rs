//! A gateway config with the audit journal and change events on, for the
//! tests that run the real binary ([`super::process::GatewayProcess`]):
//! tenant `acme` (host `acme.localhost`, the token of
//! [`super::gateway::token_for`]) in front of an HTTP upstream, its audit
//! directory `audit` beside the config file, optionally one webhook (secret
//! from a file) and the Kafka sink.
use super::gateway::token_for;
use scim_gateway::authn::static_token::hash_token_hex;
use std::path::{Path, PathBuf};

/// The Kafka topic template and the topic it names for `acme`.
pub const TOPIC_TEMPLATE: &str = "scim-events.{tenant}";
pub const ACME_TOPIC: &str = "scim-events.acme";

#[derive(Default)]
pub struct AuditedConfig {
    pub upstream: String,
    /// Webhook URL and its `whsec_` secret.
    pub webhook: Option<(String, String)>,
    /// Kafka bootstrap `host:port`.
    pub kafka: Option<String>,
    /// Extra lines for `[audit]` (e.g. `max_file_bytes = 4096`).
    pub audit_extra: String,
    /// `[audit] fsync`: `interval` (default) or `per_record`.
    pub fsync: Option<String>,
    /// `[tenants.events] data`: `resource` (default) or `changes`.
    pub event_data: Option<String>,
}

impl AuditedConfig {
    /// Writes `dir/gateway.toml` (and the webhook secret file); returns
    /// the config's path. The audit log goes to `dir/audit`.
    pub fn write(&self, dir: &Path) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let mut text = format!(
            r#"[server]
listen = "127.0.0.1:0"
plaintext = true
auth_failure_limit = 0
drain_delay = "0s"

[audit]
dir = "audit"
fsync = "{fsync}"
fsync_interval = "100ms"
{audit_extra}

[events]
poll_interval = "50ms"
"#,
            audit_extra = self.audit_extra,
            fsync = self.fsync.as_deref().unwrap_or("interval"),
        );
        if let Some(brokers) = &self.kafka {
            text.push_str(&format!(
                r#"
[events.kafka]
brokers = ["{brokers}"]
topic = "{TOPIC_TEMPLATE}"
message_timeout = "5s"
request_timeout = "2s"
connect_timeout = "1s"
"#
            ));
        }
        text.push_str(&format!(
            r#"
[upstreams.store]
kind = "http"
url = "{upstream}"

[[tenants]]
id = "acme"
hosts = ["acme.localhost"]
upstream = "store"
[[tenants.tokens]]
name = "idp"
hash = "{hash}"
"#,
            upstream = self.upstream,
            hash = hash_token_hex(&token_for("acme"))
        ));
        if let Some((url, secret)) = &self.webhook {
            let secret_file = dir.join("acme-hook.secret");
            std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
            text.push_str(&format!(
                r#"
[[tenants.webhooks]]
name = "main"
url = "{url}"
secret_file = ["{secret_file}"]
initial_backoff = "100ms"
max_backoff = "1s"
"#,
                secret_file = secret_file.display()
            ));
        }
        text.push_str(&format!(
            r#"
[tenants.events]
data = "{data}"

[tenants.audit]
values = ["active"]
"#,
            data = self.event_data.as_deref().unwrap_or("resource")
        ));
        let path = dir.join("gateway.toml");
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// A fresh directory under the system temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "scimgw-{name}-{}-{}",
        std::process::id(),
        scim_gateway::events::new_event_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
