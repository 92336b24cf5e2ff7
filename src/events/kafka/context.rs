//! The producer's client context: remembers librdkafka's last connection
//! error so that a failed send can say why.
//!
//! A send that cannot reach a broker ends as "Message timed out", whatever
//! the cause; the cause (TLS handshake failed: certificate verify failed,
//! SASL authentication failed, connection refused) only reaches librdkafka's
//! error callback. [`SinkContext`] logs it and keeps the latest one, and
//! [`LastError::explain`] appends it to a retryable failure's detail.
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};

/// The latest connection error of the sink's producers (shared by a
/// producer and the ones that replace it).
#[derive(Debug, Clone, Default)]
pub(super) struct LastError(Arc<ArcSwapOption<(Instant, String)>>);

/// The context every producer of one sink is created with.
#[derive(Debug, Clone)]
pub(super) struct SinkContext {
    pub(super) last_error: LastError,
}

// === impl LastError ===

impl LastError {
    pub(super) fn record(&self, reason: String) {
        self.0.store(Some(Arc::new((Instant::now(), reason))));
    }

    /// `detail` with the latest connection error seen within `window`, if
    /// there is one.
    pub(super) fn explain(&self, detail: &str, window: Duration) -> String {
        match self.0.load_full() {
            Some(last) if last.0.elapsed() <= window => {
                format!("{detail}; last broker connection error: {}", last.1)
            }
            _ => detail.to_string(),
        }
    }
}

// === impl SinkContext ===

impl ClientContext for SinkContext {
    fn error(&self, error: RdError, reason: &str) {
        tracing::warn!(%error, reason, "kafka client error");
        // "1/1 brokers are down" follows the real cause: keep the cause.
        if error.rdkafka_error_code() != Some(RDKafkaErrorCode::AllBrokersDown) {
            self.last_error.record(reason.to_string());
        }
    }
}
