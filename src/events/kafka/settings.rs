//! The Kafka sink's settings (`[events.kafka]`): the raw serde type, its
//! translation into librdkafka properties (TLS and SASL in [`super::security`]),
//! and the topic template.
use std::time::Duration;

use rdkafka::config::ClientConfig;
use serde::Deserialize;

use super::security::{self, KafkaSasl, KafkaTls};
use super::KafkaError;

/// Default for [`KafkaSettings::message_timeout`].
pub const DEFAULT_MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`KafkaSettings::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`KafkaSettings::connect_timeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `[events.kafka]` (or per tenant): where and how to publish.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// Bootstrap brokers, `host:port` each (at least one).
    pub brokers: Vec<String>,
    /// The topic: a fixed shared name (`"scim-events"`), or a template in
    /// which `{tenant}` becomes the tenant id (`"scim-events.{tenant}"`, one
    /// topic per tenant). Kafka topic names allow `[a-zA-Z0-9._-]`, up to 249.
    pub topic: String,
    /// `client.id` the broker logs and quotas see (default `scim-gateway`).
    #[serde(default)]
    pub client_id: Option<String>,
    /// How long one send may take in all, retries included, before it fails
    /// retryably (librdkafka `message.timeout.ms`; default `"30s"`).
    #[serde(default)]
    pub message_timeout: Option<String>,
    /// How long the broker may take to acknowledge one produce request
    /// (librdkafka `request.timeout.ms`; default `"10s"`).
    #[serde(default)]
    pub request_timeout: Option<String>,
    /// TCP connect plus handshake bound (librdkafka
    /// `socket.connection.setup.timeout.ms`; default `"5s"`).
    #[serde(default)]
    pub connect_timeout: Option<String>,
    /// How long to wait for more events to batch (librdkafka `linger.ms`;
    /// default `"5ms"`).
    #[serde(default)]
    pub linger: Option<String>,
    /// TLS to the brokers (see [`KafkaTls`]); absent: plaintext.
    #[serde(default)]
    pub tls: Option<KafkaTls>,
    /// SASL authentication (see [`KafkaSasl`]); absent: none.
    #[serde(default)]
    pub sasl: Option<KafkaSasl>,
}

// === impl KafkaSettings ===

impl KafkaSettings {
    /// Checks everything [`super::KafkaSink::new`] would (topic template,
    /// durations, brokers, TLS files, SASL password readable) without creating a
    /// producer: for the config compiler, which reports every problem at once.
    pub fn validate(&self) -> Result<(), KafkaError> {
        TopicTemplate::parse(&self.topic)?;
        client_config(self).map(|_| ())
    }
}

/// The topic name, fixed or per tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TopicTemplate {
    Fixed(String),
    PerTenant { prefix: String, suffix: String },
}

/// librdkafka properties from the settings (and the resolved message timeout).
pub(super) fn client_config(s: &KafkaSettings) -> Result<(ClientConfig, Duration), KafkaError> {
    if s.brokers.is_empty() || s.brokers.iter().any(|b| b.trim().is_empty()) {
        return Err(KafkaError::config("brokers: list at least one host:port"));
    }
    let message_timeout = duration(
        "message_timeout",
        &s.message_timeout,
        DEFAULT_MESSAGE_TIMEOUT,
    )?;
    let request_timeout = duration(
        "request_timeout",
        &s.request_timeout,
        DEFAULT_REQUEST_TIMEOUT,
    )?;
    let connect_timeout = duration(
        "connect_timeout",
        &s.connect_timeout,
        DEFAULT_CONNECT_TIMEOUT,
    )?;
    let linger = duration("linger", &s.linger, Duration::from_millis(5))?;
    // librdkafka wants request.timeout.ms <= message.timeout.ms.
    let request_timeout = request_timeout.min(message_timeout);
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", s.brokers.join(","))
        .set(
            "client.id",
            s.client_id.as_deref().unwrap_or("scim-gateway"),
        )
        // At-least-once without duplicates from retries, in order per partition.
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", millis(message_timeout))
        .set("request.timeout.ms", millis(request_timeout))
        .set(
            "socket.connection.setup.timeout.ms",
            millis(connect_timeout),
        )
        .set("linger.ms", millis(linger))
        // Reconnect quickly after a broker restart, but not in a tight loop.
        .set("reconnect.backoff.ms", "100")
        .set("reconnect.backoff.max.ms", "2000")
        // Same key → same partition as the Java client picks.
        .set("partitioner", "murmur2_random");
    security::apply(s, &mut c)?;
    Ok((c, message_timeout))
}

fn duration(name: &str, value: &Option<String>, default: Duration) -> Result<Duration, KafkaError> {
    let Some(text) = value else {
        return Ok(default);
    };
    match humantime::parse_duration(text) {
        Ok(d) if d >= Duration::from_millis(1) || name == "linger" => Ok(d),
        Ok(_) => Err(KafkaError::config(&format!("{name}: must be at least 1ms"))),
        Err(e) => Err(KafkaError::config(&format!(
            "{name}: {text:?} is not a duration such as \"10s\" ({e})"
        ))),
    }
}

fn millis(d: Duration) -> String {
    d.as_millis().min(i32::MAX as u128).to_string()
}

// === impl TopicTemplate ===

impl TopicTemplate {
    pub(super) fn parse(t: &str) -> Result<TopicTemplate, KafkaError> {
        match t.split_once("{tenant}") {
            None => {
                check_topic_name(t)?;
                Ok(TopicTemplate::Fixed(t.to_string()))
            }
            Some((prefix, suffix)) => {
                if suffix.contains("{tenant}") {
                    return Err(KafkaError::config("topic: use {tenant} at most once"));
                }
                // Check the fixed parts with a sample tenant in the middle.
                check_topic_name(&format!("{prefix}t{suffix}"))?;
                Ok(TopicTemplate::PerTenant {
                    prefix: prefix.to_string(),
                    suffix: suffix.to_string(),
                })
            }
        }
    }

    pub(super) fn render(&self, tenant: &str) -> Result<String, KafkaError> {
        match self {
            TopicTemplate::Fixed(t) => Ok(t.clone()),
            TopicTemplate::PerTenant { prefix, suffix } => {
                let t = format!("{prefix}{tenant}{suffix}");
                check_topic_name(&t)?;
                Ok(t)
            }
        }
    }
}

/// Kafka's legal topic names: 1 to 249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
fn check_topic_name(t: &str) -> Result<(), KafkaError> {
    let legal = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    if t.is_empty() || t.len() > 249 || t == "." || t == ".." || !t.bytes().all(legal) {
        return Err(KafkaError::config(&format!(
            "topic: {t:?} is not a legal Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -)"
        )));
    }
    Ok(())
}
