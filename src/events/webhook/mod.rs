//! The webhook sink: POSTs each event of one tenant to that tenant's
//! endpoint as a structured-mode CloudEvent (CloudEvents HTTP binding
//! §3.2, `content-type: application/cloudevents+json`), signed per
//! Standard Webhooks ([`sign`]).
//!
//! Outcomes (Standard Webhooks "Delivery success and failure"): 2xx is
//! delivered; 408, 429 and 5xx, timeouts and connection errors are retried
//! (honouring `Retry-After` in seconds); any other status (3xx, 4xx
//! including 410 Gone) is permanent: the endpoint will not take this event
//! as it is, so it goes straight to the dead-letter store, where
//! `events redeliver` can replay it once the endpoint is fixed.
//!
//! Opt-in (`max_batch` above 1): every delivery is a batched-mode request
//! (§3.3, `application/cloudevents-batch+json`, a JSON array of events),
//! signed whole; the outcomes apply to the batch as a whole.
//! Standard Webhooks receivers expect one event per request, so this is
//! for receivers written for it.
pub(crate) mod settings;
pub(crate) mod sign;

pub use settings::{WebhookConfig, WebhookSettings};
pub(crate) use sign::signature_header;

use crate::events::outbox::OutboxRecord;
use crate::events::recent::RecentEvent;
use crate::events::retry::RetryPolicy;
use crate::events::{BatchEvent, BatchLimits, DeliveryError, DeliveryFuture, Sink};
use crate::http_client::HttpClient;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use http::{HeaderName, HeaderValue, Request};
use http_body_util::{BodyExt, Full, Limited};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The structured-mode content type.
pub(crate) const CLOUDEVENTS_JSON: &str = "application/cloudevents+json";
/// The batched-mode content type (HTTP binding §3.3).
pub(crate) const CLOUDEVENTS_BATCH_JSON: &str = "application/cloudevents-batch+json";
/// The most of a response body read (and then dropped).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

// The request's header names and fixed values, made once (a name given as
// text is parsed and checked on every request).
const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
const AGENT: HeaderValue =
    HeaderValue::from_static(concat!("scim-gateway/", env!("CARGO_PKG_VERSION")));

/// One tenant's webhook endpoint.
pub struct WebhookSink {
    config: WebhookConfig,
    client: HttpClient,
}

// === impl WebhookSink ===

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL without its query (where a receiver's token may sit).
        f.debug_struct("WebhookSink")
            .field("name", &self.config.sink_name)
            .field("url", &self.config.redacted_url)
            .finish_non_exhaustive()
    }
}

impl WebhookSink {
    /// Builds the sink and its pooled HTTP(S) client (needs a Tokio
    /// runtime context).
    pub fn new(config: WebhookConfig) -> Result<WebhookSink, String> {
        let client = crate::http_client::build_http_client(
            config.ca_file.as_deref(),
            config.connect_timeout,
            config.max_in_flight.max(4),
        )?;
        Ok(WebhookSink { config, client })
    }

    /// The retry schedule configured for this endpoint.
    pub fn policy(&self) -> RetryPolicy {
        self.config.policy
    }

    /// POSTs one event (`recent`: the same event as the journal handed it
    /// over, whose serialization makes the body without re-serializing).
    async fn post(
        &self,
        record: &OutboxRecord,
        recent: Option<&RecentEvent>,
    ) -> Result<(), DeliveryError> {
        let id = record.id();
        if id.is_empty() {
            return Err(DeliveryError::permanent(format!(
                "outbox record {} has an event without an id",
                record.seq
            )));
        }
        let body = match recent {
            Some(event) => event.delivered_body(),
            None => record.body(),
        };
        let trace = trace_headers(&record.event);
        self.send(id, CLOUDEVENTS_JSON, body, trace, record.seq)
            .await
    }

    /// POSTs several events as one batched-mode CloudEvents request
    /// (HTTP binding §3.3): a JSON array of the events as each would be
    /// sent alone, in outbox order, signed whole. `webhook-id` is the
    /// batch's: `batch_<first event id>_<number of events>`, the same on
    /// every retry of the same events. Each event carries its own trace
    /// context (its `traceparent` attribute); the request has none.
    async fn post_batch(&self, events: &[BatchEvent<'_>]) -> Result<(), DeliveryError> {
        let Some(first) = events.first() else {
            return Ok(());
        };
        let first_id = first.record.id();
        if first_id.is_empty() {
            return Err(DeliveryError::permanent(format!(
                "outbox record {} has an event without an id",
                first.record.seq
            )));
        }
        let id = format!("batch_{first_id}_{}", events.len());
        let len = events.iter().map(|e| e.body.len() + 1).sum::<usize>() + 1;
        let mut body = Vec::with_capacity(len);
        body.push(b'[');
        for (i, event) in events.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            event.body.write_to(&mut body);
        }
        body.push(b']');
        self.send(
            &id,
            CLOUDEVENTS_BATCH_JSON,
            body,
            (None, None),
            first.record.seq,
        )
        .await
    }

    /// Signs and POSTs one body (`id`: its `webhook-id`; `seq`: the first
    /// event's, for errors).
    async fn send(
        &self,
        id: &str,
        content_type: &'static str,
        body: Vec<u8>,
        trace: (Option<HeaderValue>, Option<HeaderValue>),
        seq: u64,
    ) -> Result<(), DeliveryError> {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let signature = signature_header(&self.config.secrets, id, timestamp, &body);
        let id_header = HeaderValue::from_str(id).map_err(|_| {
            DeliveryError::permanent(format!(
                "event id of record {seq} is not a valid header value"
            ))
        })?;
        let signature = HeaderValue::from_str(&signature)
            .map_err(|_| DeliveryError::permanent("signature is not a valid header value"))?;
        let request = Request::post(self.config.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static(content_type))
            .header(USER_AGENT, AGENT)
            .header(WEBHOOK_ID, id_header)
            .header(WEBHOOK_TIMESTAMP, timestamp)
            .header(WEBHOOK_SIGNATURE, signature);
        // The request's trace goes on to the receiver (W3C Trace Context).
        let request = match trace {
            (Some(parent), state) => {
                let request = request.header(TRACEPARENT, parent);
                match state {
                    Some(state) => request.header(TRACESTATE, state),
                    None => request,
                }
            }
            _ => request,
        };
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| DeliveryError::permanent(format!("cannot build the request: {e}")))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| {
                DeliveryError::retryable(format!(
                    "{}: {}",
                    self.config.redacted_url,
                    connect_detail(&e)
                ))
            })?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            // Read (boundedly) so the connection can be reused.
            let _ = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await;
            classify(status.as_u16(), retry_after, &self.config.redacted_url)
        };
        match tokio::time::timeout(self.config.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::retryable(format!(
                "{}: no answer within {}",
                self.config.redacted_url,
                humantime::format_duration(self.config.timeout)
            ))),
        }
    }
}

impl Sink for WebhookSink {
    fn name(&self) -> &str {
        &self.config.sink_name
    }

    fn tenant(&self) -> Option<&str> {
        Some(&self.config.tenant)
    }

    fn deliver<'a>(&'a self, record: &'a OutboxRecord) -> DeliveryFuture<'a> {
        Box::pin(self.post(record, None))
    }

    fn deliver_recent<'a>(&'a self, event: &'a RecentEvent) -> DeliveryFuture<'a> {
        Box::pin(self.post(&event.record, Some(event)))
    }

    fn batch_limits(&self) -> Option<BatchLimits> {
        self.config.batch
    }

    fn max_in_flight(&self) -> usize {
        self.config.max_in_flight
    }

    fn deliver_batch<'a>(&'a self, events: &'a [BatchEvent<'a>]) -> DeliveryFuture<'a> {
        Box::pin(self.post_batch(events))
    }
}

/// The outcome of an answer with `status`.
/// The event's trace context, as header values (an attribute that is not
/// a valid header value is left out).
fn trace_headers(event: &crate::events::Event) -> (Option<HeaderValue>, Option<HeaderValue>) {
    let (parent, state) = event.trace_context();
    let value = |v: Option<&str>| v.and_then(|v| HeaderValue::from_str(v).ok());
    (value(parent), value(state))
}

fn classify(status: u16, retry_after: Option<Duration>, url: &str) -> Result<(), DeliveryError> {
    match status {
        200..=299 => Ok(()),
        408 | 429 | 500..=599 => Err(DeliveryError::retryable(format!("{url} answered {status}"))
            .with_retry_after(retry_after)),
        _ => Err(DeliveryError::permanent(format!("{url} answered {status}"))),
    }
}

/// A connection error's cause chain, which names the actual problem
/// (refused, DNS, TLS) where the top level says only "client error".
fn connect_detail(e: &hyper_util::client::legacy::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn statuses_are_classified_per_standard_webhooks() {
        assert!(classify(204, None, "u").is_ok());
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(classify(s, None, "u").unwrap_err().retryable, "{s}");
        }
        for s in [301, 400, 401, 404, 410, 422] {
            assert!(!classify(s, None, "u").unwrap_err().retryable, "{s}");
        }
        let e = classify(503, Some(Duration::from_secs(3)), "u").unwrap_err();
        assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
    }
}
