//! The Kafka sink: publishes change events (CloudEvents 1.0 JSON, structured
//! mode) to a Kafka topic, keyed `<tenant>/<resource id>` so that the events of
//! one resource land in one partition and stay in order.
//!
//! Owns the producer and its settings. The client is rdkafka on librdkafka 2.12
//! built from the crate's bundled sources (never Debian's librdkafka 2.0.2, whose
//! ApiVersions handshake fails against some brokers). The producer is always
//! idempotent with `acks=all`: a retried batch is never written twice nor
//! reordered within a partition, and a send succeeds only once every in-sync
//! replica has the event. Those two are not settings because the outbox relies
//! on them for at-least-once, per-resource ordered delivery.
//!
//! Depends on: rdkafka, serde, arc-swap, humantime. The dispatcher (outbox
//! reader) calls [`KafkaSink::send`] or [`KafkaSink::send_batch`] and decides
//! from [`KafkaError::retryable`] whether to retry or dead-letter.
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use serde::Deserialize;

#[cfg(test)]
#[path = "kafka_tests.rs"]
mod tests;

/// The content type of a structured-mode CloudEvent (CloudEvents Kafka
/// protocol binding 1.0, §3.2).
pub const CLOUDEVENTS_CONTENT_TYPE: &str = "application/cloudevents+json; charset=UTF-8";

/// Default for [`KafkaSettings::message_timeout`].
pub const DEFAULT_MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`KafkaSettings::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`KafkaSettings::connect_timeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `[events.kafka]` (or per tenant): where and how to publish.
#[derive(Debug, Clone, Deserialize)]
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
    /// SASL authentication (over plaintext: this build has no TLS to Kafka).
    #[serde(default)]
    pub sasl: Option<KafkaSasl>,
}

/// `[events.kafka.sasl]`: SASL/PLAIN credentials, the password named by
/// environment variable or file, never inline.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSasl {
    /// Only `"PLAIN"` (SCRAM needs librdkafka built with OpenSSL).
    pub mechanism: String,
    pub username: String,
    /// Environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// File holding the password (trailing newline ignored).
    #[serde(default)]
    pub password_file: Option<String>,
}

/// Publishes events to Kafka. Cheap to share (`Arc` inside); `send` may be
/// called concurrently.
#[derive(Clone)]
pub struct KafkaSink {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    topic: TopicTemplate,
    message_timeout: Duration,
    /// Replaced after a fatal error or a message timeout (see [`is_stale`]).
    producer: ArcSwap<FutureProducer>,
}

/// The topic name, fixed or per tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TopicTemplate {
    Fixed(String),
    PerTenant { prefix: String, suffix: String },
}

/// A failed send. `retryable` tells the dispatcher whether trying again later
/// can succeed (broker down, timeout, leader moving) or not (event too large,
/// bad topic name, not authorized): the latter goes to the dead-letter store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaError {
    pub retryable: bool,
    /// Human-readable cause, safe to log (no event data, no secrets).
    pub detail: String,
}

/// One event of a batch: who it belongs to and the CloudEvent itself.
#[derive(Debug, Clone, Copy)]
pub struct KafkaEvent<'a> {
    pub tenant: &'a str,
    pub resource_id: &'a str,
    pub event: &'a serde_json::Value,
}

// === impl KafkaSink ===

impl KafkaSink {
    /// Builds the producer (no network yet: librdkafka connects lazily).
    /// Errors (bad settings, unreadable SASL password) are not retryable.
    pub fn new(settings: &KafkaSettings) -> Result<KafkaSink, KafkaError> {
        let topic = TopicTemplate::parse(&settings.topic)?;
        let (config, message_timeout) = client_config(settings)?;
        let producer = create_producer(&config)?;
        Ok(KafkaSink {
            inner: Arc::new(Inner {
                config,
                topic,
                message_timeout,
                producer: ArcSwap::from_pointee(producer),
            }),
        })
    }

    /// The topic `tenant`'s events go to.
    pub fn topic_for(&self, tenant: &str) -> Result<String, KafkaError> {
        self.inner.topic.render(tenant)
    }

    /// Publishes one event and waits until every in-sync replica has it, or
    /// until `message_timeout` (then the error is retryable).
    pub async fn send(
        &self,
        tenant: &str,
        resource_id: &str,
        event: &serde_json::Value,
    ) -> Result<(), KafkaError> {
        let mut results = self
            .send_batch(&[KafkaEvent {
                tenant,
                resource_id,
                event,
            }])
            .await;
        results
            .pop()
            .unwrap_or_else(|| Err(KafkaError::fatal("no result")))
    }

    /// Publishes several events at once (one produce request per partition
    /// when they fit) and waits for all; one result per event, same order.
    /// Events with the same key keep their order on the broker.
    pub async fn send_batch(&self, events: &[KafkaEvent<'_>]) -> Vec<Result<(), KafkaError>> {
        let producer = self.inner.producer.load_full();
        let mut pending = Vec::with_capacity(events.len());
        for e in events {
            pending.push(self.enqueue(&producer, e));
        }
        let mut results = Vec::with_capacity(events.len());
        let mut stale = false;
        for p in pending {
            let result = match p {
                Ok(delivery) => match delivery.await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err((e, _))) => {
                        stale |= is_stale(&e);
                        Err(KafkaError::from_rdkafka(&e))
                    }
                    Err(_canceled) => Err(KafkaError::retry("the producer was shut down")),
                },
                Err(e) => Err(e),
            };
            results.push(result);
        }
        if stale || producer.client().fatal_error().is_some() {
            self.replace_producer(&producer);
            // Dropping a producer purges and flushes for up to 500 ms: not on
            // an async worker thread.
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn_blocking(move || drop(producer));
            }
        }
        results
    }

    /// Waits up to `timeout` for everything queued to be acknowledged (at
    /// shutdown).
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.inner
            .producer
            .load()
            .flush(timeout)
            .map_err(|e| KafkaError::from_rdkafka(&e))
    }

    fn enqueue(
        &self,
        producer: &FutureProducer,
        e: &KafkaEvent<'_>,
    ) -> Result<rdkafka::producer::DeliveryFuture, KafkaError> {
        let topic = self.inner.topic.render(e.tenant)?;
        let payload = serde_json::to_vec(e.event).map_err(|err| KafkaError {
            retryable: false,
            detail: format!("cannot serialise the event: {err}"),
        })?;
        let key = format!("{}/{}", e.tenant, e.resource_id);
        let mut headers = OwnedHeaders::new().insert(Header {
            key: "content-type",
            value: Some(CLOUDEVENTS_CONTENT_TYPE),
        });
        if let Some(id) = e.event.get("id").and_then(|v| v.as_str()) {
            headers = headers.insert(Header {
                key: "ce_id",
                value: Some(id),
            });
        }
        let record = FutureRecord::to(&topic)
            .key(&key)
            .payload(&payload)
            .headers(headers);
        // The local queue is bounded (queue.buffering.max.messages): a full
        // queue is back-pressure, retryable.
        producer
            .send_result(record)
            .map_err(|(err, _)| KafkaError::from_rdkafka(&err))
    }

    /// Swaps in a fresh producer if `failed` is still the current one (two
    /// concurrent batches seeing the same fatal error rebuild it once).
    fn replace_producer(&self, failed: &Arc<FutureProducer>) {
        let current = self.inner.producer.load();
        if !Arc::ptr_eq(&current, failed) {
            return;
        }
        match create_producer(&self.inner.config) {
            Ok(fresh) => {
                tracing::warn!(
                    reason = ?failed.client().fatal_error().map(|(_, why)| why),
                    "kafka producer failed (fatal error or timeout); replaced it"
                );
                self.inner
                    .producer
                    .compare_and_swap(&*current, Arc::new(fresh));
            }
            Err(e) => tracing::error!(detail = %e.detail, "cannot recreate the kafka producer"),
        }
    }

    /// The configured `message_timeout` (a send's upper bound).
    pub fn message_timeout(&self) -> Duration {
        self.inner.message_timeout
    }
}

impl fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaSink")
            .field("topic", &self.inner.topic)
            .field("message_timeout", &self.inner.message_timeout)
            .finish_non_exhaustive()
    }
}

fn create_producer(config: &ClientConfig) -> Result<FutureProducer, KafkaError> {
    config.create().map_err(|e| KafkaError {
        retryable: false,
        detail: format!("cannot create the kafka producer: {e}"),
    })
}

/// Errors after which the producer instance is not trusted any more: a fatal
/// error (it can never send again), or a message timeout. librdkafka answers
/// a broker's UNKNOWN_PRODUCER_ID by bumping the epoch of the same producer
/// id and trying again; a broker that lost its producer state (tansu on
/// memory storage after a restart) refuses every bump, and the producer would
/// time out forever. A fresh producer asks for a new id (InitProducerId). The
/// cost of a spurious swap during an outage is one new connection.
fn is_stale(e: &RdError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(RDKafkaErrorCode::Fatal | RDKafkaErrorCode::MessageTimedOut)
    )
}

/// librdkafka properties from the settings (and the resolved message timeout).
fn client_config(s: &KafkaSettings) -> Result<(ClientConfig, Duration), KafkaError> {
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
    if let Some(sasl) = &s.sasl {
        if !sasl.mechanism.eq_ignore_ascii_case("PLAIN") {
            return Err(KafkaError::config(&format!(
                "sasl.mechanism: {:?} is not supported (only PLAIN)",
                sasl.mechanism
            )));
        }
        let password = sasl_password(sasl)?;
        c.set("security.protocol", "sasl_plaintext")
            .set("sasl.mechanism", "PLAIN")
            .set("sasl.username", &sasl.username)
            .set("sasl.password", password);
    }
    Ok((c, message_timeout))
}

fn sasl_password(sasl: &KafkaSasl) -> Result<String, KafkaError> {
    match (&sasl.password_env, &sasl.password_file) {
        (Some(var), None) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(v),
            _ => Err(KafkaError::config(&format!(
                "sasl.password_env: environment variable {var} is not set or empty"
            ))),
        },
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(v) if !v.trim_end_matches(['\n', '\r']).is_empty() => {
                Ok(v.trim_end_matches(['\n', '\r']).to_string())
            }
            Ok(_) => Err(KafkaError::config(&format!(
                "sasl.password_file: {path} is empty"
            ))),
            Err(e) => Err(KafkaError::config(&format!(
                "sasl.password_file: cannot read {path}: {e}"
            ))),
        },
        _ => Err(KafkaError::config(
            "sasl: set exactly one of password_env or password_file",
        )),
    }
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
    fn parse(t: &str) -> Result<TopicTemplate, KafkaError> {
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

    fn render(&self, tenant: &str) -> Result<String, KafkaError> {
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

// === impl KafkaError ===

impl KafkaError {
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    fn config(detail: &str) -> KafkaError {
        KafkaError {
            retryable: false,
            detail: format!("kafka settings: {detail}"),
        }
    }

    fn retry(detail: &str) -> KafkaError {
        KafkaError {
            retryable: true,
            detail: detail.to_string(),
        }
    }

    fn fatal(detail: &str) -> KafkaError {
        KafkaError {
            retryable: false,
            detail: detail.to_string(),
        }
    }

    /// Classifies a librdkafka error: anything a later attempt (after the
    /// broker is back, the leader moved, the topic appeared) can fix is
    /// retryable; a message or configuration the broker will always refuse is
    /// not.
    fn from_rdkafka(e: &RdError) -> KafkaError {
        let retryable = match e.rdkafka_error_code() {
            Some(code) => code_is_retryable(code),
            // Canceled, client creation and the like: local, transient.
            None => true,
        };
        KafkaError {
            retryable,
            detail: format!("kafka: {e}"),
        }
    }
}

/// Codes that will fail the same way however often the event is sent.
fn code_is_retryable(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    !matches!(
        code,
        C::MessageSizeTooLarge
            | C::InvalidMessageSize
            | C::InvalidMessage
            | C::InvalidRecord
            | C::InvalidTopic
            | C::TopicAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::TransactionalIdAuthorizationFailed
            | C::SaslAuthenticationFailed
            | C::Authentication
            | C::InvalidArgument
            | C::InvalidRequiredAcks
            | C::UnsupportedVersion
            | C::UnsupportedFeature
            | C::UnsupportedForMessageFormat
            | C::PolicyViolation
    )
}

impl fmt::Display for KafkaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.retryable {
            "retryable"
        } else {
            "permanent"
        };
        write!(f, "{} ({kind})", self.detail)
    }
}

impl std::error::Error for KafkaError {}

impl fmt::Debug for KafkaSasl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaSasl")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password_env", &self.password_env)
            .field("password_file", &self.password_file)
            .finish()
    }
}
