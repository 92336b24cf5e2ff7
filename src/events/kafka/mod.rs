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
//! on them for at-least-once, per-resource ordered delivery. TLS and SASL
//! (PLAIN, SCRAM) go through the OpenSSL that rdkafka's `ssl-vendored`
//! compiles from source and links statically: no OpenSSL at run time.
//!
//! Depends on: rdkafka, serde, arc-swap, humantime, rustls-pki-types (PEM
//! checks). The dispatcher drives it as a [`KafkaEventSink`] (the
//! `events::Sink` trait, one event at a time); [`KafkaSink::send`] and
//! [`KafkaSink::send_batch`] are the direct API, and
//! [`KafkaError::retryable`] decides between retry and dead-letter.
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

mod context;
mod delivery;
mod security;
#[cfg(test)]
mod security_tests;
mod settings;
#[cfg(test)]
mod tests;

use context::{LastError, SinkContext};
pub use delivery::KafkaEventSink;
pub use security::{KafkaSasl, KafkaTls};
use settings::{client_config, TopicTemplate};
pub use settings::{
    KafkaSettings, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MESSAGE_TIMEOUT, DEFAULT_REQUEST_TIMEOUT,
};

/// The content type of a structured-mode CloudEvent (CloudEvents Kafka
/// protocol binding 1.0, §3.2).
pub const CLOUDEVENTS_CONTENT_TYPE: &str = "application/cloudevents+json; charset=UTF-8";

/// Publishes events to Kafka. Cheap to share (`Arc` inside); `send` may be
/// called concurrently.
#[derive(Clone)]
pub struct KafkaSink {
    inner: Arc<Inner>,
}

/// The producer type: librdkafka's, with the context that remembers why
/// connections fail.
type SinkProducer = FutureProducer<SinkContext>;

struct Inner {
    config: ClientConfig,
    topic: TopicTemplate,
    message_timeout: Duration,
    /// Why connections failed lately (shared by every producer of this sink).
    last_error: LastError,
    /// Replaced after a fatal error or a message timeout (see [`is_stale`]).
    producer: ArcSwap<SinkProducer>,
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
    /// Errors (bad settings, unreadable SASL password or TLS file, a client
    /// key that does not match its certificate) are not retryable.
    pub fn new(settings: &KafkaSettings) -> Result<KafkaSink, KafkaError> {
        let topic = TopicTemplate::parse(&settings.topic)?;
        let (config, message_timeout) = client_config(settings)?;
        let last_error = LastError::default();
        let producer = create_producer(&config, &last_error)?;
        Ok(KafkaSink {
            inner: Arc::new(Inner {
                config,
                topic,
                message_timeout,
                last_error,
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
    ///
    /// Per resource the results are a prefix: once one event of a resource
    /// failed, every later event of that resource in the batch is reported
    /// failed too (retryable), even if the broker took it. Resending from the
    /// first failure then keeps the resource's order at the cost of
    /// duplicates (consumers deduplicate on `ce_id`).
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
        fail_after_first_failure(events, &mut results);
        self.explain_failures(&mut results);
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

    /// Appends the latest connection error (TLS, SASL, refused) to each
    /// retryable failure: "Message timed out" alone does not tell the
    /// operator what to fix.
    fn explain_failures(&self, results: &mut [Result<(), KafkaError>]) {
        // Errors older than two send timeouts are about another outage.
        let window = self.inner.message_timeout.saturating_mul(2);
        for e in results.iter_mut().filter_map(|r| r.as_mut().err()) {
            if e.retryable {
                e.detail = self.inner.last_error.explain(&e.detail, window);
            }
        }
    }

    fn enqueue(
        &self,
        producer: &SinkProducer,
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
        // The request's trace, as W3C Trace Context headers.
        let (parent, state) = crate::events::cloudevent::trace_context(e.event);
        for (key, value) in [("traceparent", parent), ("tracestate", state)] {
            if let Some(value) = value {
                headers = headers.insert(Header {
                    key,
                    value: Some(value),
                });
            }
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
    fn replace_producer(&self, failed: &Arc<SinkProducer>) {
        let current = self.inner.producer.load();
        if !Arc::ptr_eq(&current, failed) {
            return;
        }
        match create_producer(&self.inner.config, &self.inner.last_error) {
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

/// Turns every success that follows a failure of the same resource into a
/// retryable failure (see [`KafkaSink::send_batch`]).
fn fail_after_first_failure(events: &[KafkaEvent<'_>], results: &mut [Result<(), KafkaError>]) {
    let mut failed: HashSet<(&str, &str)> = HashSet::new();
    for (e, r) in events.iter().zip(results.iter_mut()) {
        let key = (e.tenant, e.resource_id);
        if r.is_err() {
            failed.insert(key);
        } else if failed.contains(&key) {
            *r = Err(KafkaError::retry(
                "an earlier event of this resource in the batch failed; resend from it to keep the order",
            ));
        }
    }
}

fn create_producer(
    config: &ClientConfig,
    last_error: &LastError,
) -> Result<SinkProducer, KafkaError> {
    let context = SinkContext {
        last_error: last_error.clone(),
    };
    config.create_with_context(context).map_err(|e| KafkaError {
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
