//! [`KafkaEventSink`]: the Kafka sink as one of the dispatcher's
//! [`Sink`]s. The key comes from the event itself: its `tenant` extension
//! attribute and its `subject` (the resource id).
use super::{KafkaError, KafkaSink};
use crate::events::cloudevent::event_tenant;
use crate::events::{is_valid_sink_name, DeliveryError, DeliveryFuture, OutboxRecord, Sink};

/// A [`KafkaSink`] with the name and tenant scope the dispatcher needs.
#[derive(Debug, Clone)]
pub struct KafkaEventSink {
    name: String,
    tenant: Option<String>,
    sink: KafkaSink,
}

// === impl KafkaEventSink ===

impl KafkaEventSink {
    /// `name`: unique among sinks, file-name safe (`[A-Za-z0-9._-]`);
    /// `tenant`: `Some` for one tenant's sink, `None` for a shared topic that
    /// takes every tenant's events.
    pub fn new(
        name: &str,
        tenant: Option<&str>,
        sink: KafkaSink,
    ) -> Result<KafkaEventSink, String> {
        if !is_valid_sink_name(name) {
            return Err(format!(
                "sink name {name:?}: use 1 to 128 of A-Z a-z 0-9 . _ - (not starting with .)"
            ));
        }
        Ok(KafkaEventSink {
            name: name.to_string(),
            tenant: tenant.map(str::to_string),
            sink,
        })
    }

    async fn publish(&self, record: &OutboxRecord) -> Result<(), DeliveryError> {
        // As delivered everywhere: with `sequence` (docs/events.md), the
        // same bytes on every retry.
        let delivered = record.delivered_event();
        let event = &delivered;
        let Some(tenant) = event_tenant(event) else {
            return Err(DeliveryError::permanent(format!(
                "event seq {} has no tenant attribute: no Kafka key or topic",
                record.seq
            )));
        };
        let resource_id = event
            .get("subject")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        self.sink
            .send(tenant, resource_id, event)
            .await
            .map_err(DeliveryError::from)
    }
}

impl Sink for KafkaEventSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    fn deliver<'a>(&'a self, record: &'a OutboxRecord) -> DeliveryFuture<'a> {
        Box::pin(self.publish(record))
    }
}

impl From<KafkaError> for DeliveryError {
    fn from(e: KafkaError) -> DeliveryError {
        DeliveryError {
            retryable: e.retryable,
            detail: e.detail,
            retry_after: None,
        }
    }
}
