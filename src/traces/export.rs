//! The exporter: finished traces wait in a bounded queue (counted in spans;
//! a request never waits for it: a full queue drops the newest, counted in
//! `scim_gateway_trace_spans_dropped_total`), and one task sends them in
//! batches as OTLP/HTTP protobuf (`POST` to the endpoint, `Content-Type:
//! application/x-protobuf`) through the gateway's own HTTP client, one
//! export at a time, each bounded by `export_timeout`.
use super::otlp::{self, FinishedTrace};
use crate::http_client::{build_http_client, HttpClient};
use crate::telemetry::names::{TRACE_SPANS_DROPPED_TOTAL, TRACE_SPANS_EXPORTED_TOTAL};
use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// `[telemetry.traces]`, compiled.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TraceSettings {
    /// The OTLP/HTTP traces endpoint, e.g. `http://collector:4318/v1/traces`.
    pub endpoint: Uri,
    /// The share of new traces recorded (0.0 to 1.0).
    pub sampling_ratio: f64,
    /// A caller's `sampled` flag decides for its trace.
    pub parent_based: bool,
    /// Spans waiting for export at most; beyond, new ones are dropped.
    pub max_queue_spans: usize,
    /// Spans per export request at most.
    pub max_export_batch_spans: usize,
    /// How long spans wait for a batch to fill.
    pub export_interval: Duration,
    /// One export's time limit.
    pub export_timeout: Duration,
    /// The `service.name` resource attribute.
    pub service_name: String,
    /// Trust only this CA for an `https` endpoint (default: the public roots).
    pub ca_file: Option<PathBuf>,
}

enum Message {
    Trace(FinishedTrace),
    Flush(oneshot::Sender<()>),
}

/// The sending side of the exporter's queue.
#[derive(Debug)]
pub(super) struct Queue {
    tx: mpsc::UnboundedSender<Message>,
    /// Spans queued and not yet taken by an export.
    queued: Arc<AtomicUsize>,
    max: usize,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

impl Queue {
    pub(super) fn push(&self, trace: FinishedTrace) {
        let n = trace.spans.len();
        let before = self.queued.fetch_add(n, Ordering::Relaxed);
        if before + n > self.max {
            self.queued.fetch_sub(n, Ordering::Relaxed);
            dropped(n, "queue_full");
            return;
        }
        if self.tx.send(Message::Trace(trace)).is_err() {
            self.queued.fetch_sub(n, Ordering::Relaxed);
            dropped(n, "exporter_stopped");
        }
    }

    pub(super) async fn flush(&self, within: Duration) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).is_ok() {
            let _ = tokio::time::timeout(within, wait).await;
        }
    }
}

fn dropped(n: usize, reason: &'static str) {
    metrics::counter!(TRACE_SPANS_DROPPED_TOTAL, "reason" => reason).increment(n as u64);
}

/// Starts the export task.
pub(super) fn start(settings: &TraceSettings) -> Result<Queue, String> {
    let client = build_http_client(settings.ca_file.as_deref(), Duration::from_secs(5), 2)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let exporter = Exporter {
        client,
        settings: settings.clone(),
        queued: queued.clone(),
    };
    tokio::spawn(exporter.run(rx));
    Ok(Queue {
        tx,
        queued,
        max: settings.max_queue_spans.max(1),
    })
}

struct Exporter {
    client: HttpClient,
    settings: TraceSettings,
    queued: Arc<AtomicUsize>,
}

impl Exporter {
    /// Collects a batch (full, or as much as `export_interval` brought),
    /// exports it, and again; ends, after a last export, when the gateway
    /// drops its tracer.
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Message>) {
        let max_batch = self.settings.max_export_batch_spans.max(1);
        let mut batch: Vec<FinishedTrace> = Vec::new();
        let mut spans = 0usize;
        let mut flushed: Vec<oneshot::Sender<()>> = Vec::new();
        loop {
            let deadline = tokio::time::Instant::now() + self.settings.export_interval;
            let mut closed = false;
            while spans < max_batch && flushed.is_empty() {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(Message::Trace(t))) => {
                        spans += t.spans.len();
                        batch.push(t);
                    }
                    Ok(Some(Message::Flush(done))) => flushed.push(done),
                    Ok(None) => {
                        closed = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                self.queued.fetch_sub(spans, Ordering::Relaxed);
                self.export(std::mem::take(&mut batch), spans).await;
                spans = 0;
            }
            // A flush is answered once what was queued before it is sent.
            for done in flushed.drain(..) {
                let _ = done.send(());
            }
            if closed {
                return;
            }
        }
    }

    async fn export(&self, batch: Vec<FinishedTrace>, spans: usize) {
        let body = otlp::encode(&self.settings.service_name, &batch);
        let request = Request::post(self.settings.endpoint.clone())
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .body(Full::new(Bytes::from(body)));
        let Ok(request) = request else {
            dropped(spans, "export_failed");
            return;
        };
        let sent = tokio::time::timeout(self.settings.export_timeout, async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            // Read the answer so the connection can be reused.
            let _ = response.into_body().collect().await;
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("status {status}"))
            }
        })
        .await;
        match sent {
            Ok(Ok(())) => {
                metrics::counter!(TRACE_SPANS_EXPORTED_TOTAL).increment(spans as u64);
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, spans, "the trace export failed; spans dropped");
                dropped(spans, "export_failed");
            }
            Err(_) => {
                tracing::warn!(spans, "the trace export timed out; spans dropped");
                dropped(spans, "export_failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::span::{new_trace_id, now_nanos, RequestTrace};

    fn finished(spans: usize) -> FinishedTrace {
        let t = RequestTrace::new(new_trace_id(), None, true, None, now_nanos());
        for _ in 1..spans {
            let m = t.start("stage", crate::traces::Kind::Internal);
            t.end(m.index, false);
        }
        FinishedTrace {
            trace_id: t.trace_id,
            tracestate: String::new(),
            remote_parent: false,
            spans: t.finish(false),
        }
    }

    #[test]
    fn a_full_queue_drops_instead_of_waiting() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let queue = Queue {
            tx,
            queued: Arc::new(AtomicUsize::new(0)),
            max: 5,
        };
        queue.push(finished(3));
        queue.push(finished(3)); // 6 > 5: dropped
        queue.push(finished(2));
        assert_eq!(queue.queued.load(Ordering::Relaxed), 5);
        let mut sizes = Vec::new();
        while let Ok(Message::Trace(t)) = rx.try_recv() {
            sizes.push(t.spans.len());
        }
        assert_eq!(sizes, [3, 2]);
    }
}
