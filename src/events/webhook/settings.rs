//! Webhook settings: the raw serde form a tenant's config embeds
//! (`deny_unknown_fields`, durations as strings, secrets by environment
//! variable or file name only) and the compiled form the sink runs on.
use crate::events::retry::RetryPolicy;
use crate::events::webhook::sign::SigningSecret;
use crate::events::{is_valid_sink_name, BatchLimits};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// One webhook endpoint of a tenant, e.g.
///
/// ```toml
/// [[tenants.webhooks]]
/// name = "hr"
/// url = "https://hooks.acme.example/scim"
/// secret_env = ["ACME_HR_WEBHOOK_SECRET"]
/// max_age = "48h"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Unique within the tenant: `A-Z a-z 0-9 _ -`. The sink (cursor file,
    /// dead-letter directory, `sink` label) is `webhook.<tenant>.<name>`.
    pub name: String,
    /// Where events are POSTed (`https://`; `http://` for loopback and
    /// tests).
    pub url: String,
    /// Environment variables each holding a `whsec_...` secret. Every
    /// secret signs each delivery (rotation: add the new one, let
    /// receivers switch, remove the old one).
    #[serde(default)]
    pub secret_env: Vec<String>,
    /// Files each holding a `whsec_...` secret (same meaning).
    #[serde(default)]
    pub secret_file: Vec<String>,
    /// TCP + TLS connect timeout. Default `"5s"`.
    pub connect_timeout: Option<String>,
    /// Whole-request timeout (connect, send, answer). Default `"15s"`
    /// (Standard Webhooks recommends 15 to 30 s).
    pub timeout: Option<String>,
    /// Tries per event before it is dead-lettered. Default 30.
    pub max_attempts: Option<u32>,
    /// Time after the first try when an event is dead-lettered. Default
    /// `"24h"`.
    pub max_age: Option<String>,
    /// Wait after the first failure; doubles each time. Default `"5s"`.
    pub initial_backoff: Option<String>,
    /// Longest wait between tries. Default `"1h"`.
    pub max_backoff: Option<String>,
    /// PEM CA bundle to trust instead of the public roots.
    pub ca_file: Option<String>,
    /// Opt-in batches: above 1, each POST carries up to this many events
    /// as a CloudEvents batch (`application/cloudevents-batch+json`).
    /// Default 1: one event per POST, as Standard Webhooks receivers
    /// expect.
    pub max_batch: Option<usize>,
    /// With `max_batch` above 1: the most bytes of events per POST (one
    /// larger event still goes alone). Default 1048576 (1 MiB).
    pub max_batch_bytes: Option<usize>,
    /// One event per POST: how many POSTs may be in flight at once, never
    /// two for one resource (so each resource's events still arrive in
    /// write order). Default 4; 1 sends one event at a time, in outbox
    /// order. Batches (`max_batch` above 1) go one at a time.
    pub max_in_flight: Option<usize>,
}

/// Validated settings with secrets loaded.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `webhook.<tenant>.<name>`.
    pub sink_name: String,
    pub tenant: String,
    pub url: http::Uri,
    /// The URL without query or user info, for logs and dead letters.
    pub redacted_url: String,
    pub secrets: Vec<SigningSecret>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub policy: RetryPolicy,
    pub ca_file: Option<PathBuf>,
    /// `Some` when `max_batch` is above 1.
    pub batch: Option<BatchLimits>,
    /// Events in flight at once (one event per POST only).
    pub max_in_flight: usize,
}

/// The most events a batch may be configured for.
const MAX_BATCH: usize = 10_000;
/// `max_in_flight` by default, and its most.
const DEFAULT_IN_FLIGHT: usize = 4;
const MAX_IN_FLIGHT: usize = 64;
/// `max_batch_bytes` by default.
const DEFAULT_BATCH_BYTES: usize = 1024 * 1024;

// === impl WebhookSettings ===

impl WebhookSettings {
    /// Checks every setting and loads the secrets; on failure, every
    /// problem, each naming its key (never a secret's value).
    pub fn compile(&self, tenant: &str) -> Result<WebhookConfig, Vec<String>> {
        let mut problems = Vec::new();
        let at = |key: &str| format!("webhook \"{}\" of tenant \"{tenant}\": {key}", self.name);
        let sink_name = format!("webhook.{tenant}.{}", self.name);
        if self.name.is_empty()
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
        {
            problems.push(format!("{}: use A-Z a-z 0-9 _ - only", at("name")));
        } else if !is_valid_sink_name(&sink_name) {
            problems.push(format!(
                "{}: the tenant id and name make \"{sink_name}\", which is not a valid file name",
                at("name")
            ));
        }
        let url = match self.url.parse::<http::Uri>() {
            Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => {
                Some(u)
            }
            _ => {
                problems.push(format!(
                    "{}: expected an http:// or https:// URL",
                    at("url")
                ));
                None
            }
        };
        let mut secrets = Vec::new();
        for var in &self.secret_env {
            match std::env::var(var) {
                Ok(v) => match SigningSecret::parse(&v) {
                    Ok(s) => secrets.push(s),
                    Err(e) => problems.push(format!("{}: ${var}: {e}", at("secret_env"))),
                },
                Err(_) => problems.push(format!(
                    "{}: environment variable {var} is not set",
                    at("secret_env")
                )),
            }
        }
        for file in &self.secret_file {
            match std::fs::read_to_string(file) {
                Ok(v) => match SigningSecret::parse(&v) {
                    Ok(s) => secrets.push(s),
                    Err(e) => problems.push(format!("{}: {file}: {e}", at("secret_file"))),
                },
                Err(e) => problems.push(format!("{}: cannot read {file}: {e}", at("secret_file"))),
            }
        }
        if self.secret_env.is_empty() && self.secret_file.is_empty() {
            problems.push(format!(
                "{}: at least one signing secret is needed (secret_env or secret_file)",
                at("secret_env")
            ));
        }
        let mut duration = |key: &str, value: &Option<String>, default: &str| -> Duration {
            let text = value.as_deref().unwrap_or(default);
            match humantime::parse_duration(text) {
                Ok(d) if !d.is_zero() => d,
                _ => {
                    problems.push(format!(
                        "{}: \"{text}\" is not a positive duration such as \"10s\" or \"250ms\"",
                        at(key)
                    ));
                    Duration::from_secs(1)
                }
            }
        };
        let connect_timeout = duration("connect_timeout", &self.connect_timeout, "5s");
        let timeout = duration("timeout", &self.timeout, "15s");
        let defaults = RetryPolicy::default();
        let policy = RetryPolicy {
            initial_backoff: duration("initial_backoff", &self.initial_backoff, "5s"),
            max_backoff: duration("max_backoff", &self.max_backoff, "1h"),
            max_attempts: self.max_attempts.unwrap_or(defaults.max_attempts),
            max_age: duration("max_age", &self.max_age, "24h"),
        };
        if policy.max_attempts == 0 {
            problems.push(format!("{}: must be at least 1", at("max_attempts")));
        }
        if policy.initial_backoff > policy.max_backoff {
            problems.push(format!(
                "{}: is longer than max_backoff",
                at("initial_backoff")
            ));
        }
        let max_batch = self.max_batch.unwrap_or(1);
        if !(1..=MAX_BATCH).contains(&max_batch) {
            problems.push(format!("{}: must be 1 to {MAX_BATCH}", at("max_batch")));
        }
        let max_bytes = self.max_batch_bytes.unwrap_or(DEFAULT_BATCH_BYTES);
        if max_bytes == 0 {
            problems.push(format!("{}: must be at least 1", at("max_batch_bytes")));
        }
        let max_in_flight = self.max_in_flight.unwrap_or(DEFAULT_IN_FLIGHT);
        if !(1..=MAX_IN_FLIGHT).contains(&max_in_flight) {
            problems.push(format!(
                "{}: must be 1 to {MAX_IN_FLIGHT}",
                at("max_in_flight")
            ));
        }
        let batch = (max_batch > 1).then_some(BatchLimits {
            max_events: max_batch,
            max_bytes,
        });
        match (url, problems.is_empty()) {
            (Some(url), true) => Ok(WebhookConfig {
                sink_name,
                tenant: tenant.to_string(),
                redacted_url: redact(&url),
                url,
                secrets,
                connect_timeout,
                timeout,
                policy,
                ca_file: self.ca_file.as_ref().map(PathBuf::from),
                batch,
                max_in_flight,
            }),
            _ => Err(problems),
        }
    }
}

/// `scheme://host[:port]/path`: no user info, no query (either may hold a
/// token).
fn redact(url: &http::Uri) -> String {
    let host = url.host().unwrap_or("");
    let port = url.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "{}://{host}{port}{}",
        url.scheme_str().unwrap_or("https"),
        url.path()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn settings(toml_text: &str) -> WebhookSettings {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn compiles_with_defaults_and_a_secret_file() {
        let file = std::env::temp_dir().join(format!("scimgw-whsec-{}", std::process::id()));
        std::fs::write(&file, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n").unwrap();
        let s = settings(&format!(
            "name = \"hr\"\nurl = \"https://user:pw@hooks.example:8443/in?token=t\"\nsecret_file = [{:?}]\nmax_age = \"2h\"\n",
            file.display().to_string()
        ));
        let c = s.compile("acme").unwrap();
        assert_eq!(c.sink_name, "webhook.acme.hr");
        assert_eq!(c.redacted_url, "https://hooks.example:8443/in");
        assert_eq!(c.secrets.len(), 1);
        assert_eq!(c.timeout, Duration::from_secs(15));
        assert_eq!(c.policy.max_age, Duration::from_secs(7200));
        assert_eq!(c.policy.max_attempts, 30);
        assert_eq!(c.batch, None, "one event per POST unless asked");
        let batched = WebhookSettings {
            max_batch: Some(100),
            ..s.clone()
        };
        let limits = batched.compile("acme").unwrap().batch.unwrap();
        assert_eq!((limits.max_events, limits.max_bytes), (100, 1024 * 1024));
        let zero = WebhookSettings {
            max_batch: Some(0),
            max_batch_bytes: Some(0),
            ..s
        };
        assert_eq!(zero.compile("acme").unwrap_err().len(), 2);
        std::fs::remove_file(file).unwrap();
    }

    #[test]
    fn lists_every_problem_without_secret_values() {
        let s = settings(
            "name = \"h r\"\nurl = \"ftp://x\"\nsecret_env = [\"SCIMGW_TEST_UNSET_SECRET\"]\ntimeout = \"soon\"\nmax_attempts = 0\n",
        );
        let problems = s.compile("acme").unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert!(problems
            .iter()
            .any(|p| p.contains("SCIMGW_TEST_UNSET_SECRET is not set")));
        assert!(problems.iter().all(|p| p.contains("tenant \"acme\"")));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let r: Result<WebhookSettings, _> =
            toml::from_str("name = \"a\"\nurl = \"https://x\"\nsecret = \"whsec_x\"\n");
        assert!(r.is_err());
    }
}
