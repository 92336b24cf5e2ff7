//! OpenTelemetry traces: the W3C trace context continued from the caller
//! ([`context`]), one request's spans ([`span`]), and their export over
//! OTLP/HTTP in protobuf ([`otlp`], [`export`]), off unless
//! `[telemetry.traces]` is configured (docs/observability.md, "Traces").
//!
//! Cheap when off: the pipeline holds no [`Tracer`], every span call is a
//! branch on `None`, and the caller's `traceparent` goes upstream as it
//! came (the gateway takes no part in the trace). When on, every request
//! gets a [`RequestTrace`] (its ids; its spans only when sampled), the
//! pipeline starts and ends stage spans through [`Spans`], and code below
//! the pipeline that makes calls of its own (upstream attempts, key
//! fetches, introspection) reaches the request's trace through a task
//! local ([`child`]) instead of a parameter through every stage.
//!
//! Ground: imports `telemetry` (its metric names) and `http_client`.
pub(crate) mod context;
pub(crate) mod export;
pub(crate) mod otlp;
pub(crate) mod span;

pub(crate) use export::TraceSettings;
pub(crate) use span::{Kind, Mark, RequestTrace, Value};

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether any tracer was started in this process: until one is, code
/// below the pipeline skips even the task-local look-up.
static STARTED: AtomicBool = AtomicBool::new(false);

use export::Queue;
use http::{HeaderMap, HeaderValue};
use std::future::Future;
use std::sync::Arc;

static TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");
static TRACESTATE: http::HeaderName = http::HeaderName::from_static("tracestate");

/// Traces on: the sampling decision and the export queue.
#[derive(Debug)]
pub(crate) struct Tracer {
    sampling_ratio: f64,
    parent_based: bool,
    queue: Queue,
}

impl Tracer {
    /// Starts the exporter (a task on the current runtime) for `settings`.
    pub(crate) fn start(settings: &TraceSettings) -> Result<Arc<Tracer>, String> {
        STARTED.store(true, Ordering::Relaxed);
        Ok(Arc::new(Tracer {
            sampling_ratio: settings.sampling_ratio,
            parent_based: settings.parent_based,
            queue: export::start(settings)?,
        }))
    }

    /// A request's trace: the caller's continued when its `traceparent` is
    /// valid, else a new one; sampled as the caller says (`parent_based`)
    /// or by the ratio.
    pub(crate) fn begin(&self, headers: &HeaderMap, start: u64) -> RequestTrace {
        let parent = headers
            .get(&TRACEPARENT)
            .and_then(|v| context::parse_traceparent(v.as_bytes()));
        let trace_id = parent.map_or_else(span::new_trace_id, |p| p.trace_id);
        let sampled = match parent {
            Some(p) if self.parent_based => p.sampled,
            _ => ratio_sampled(&trace_id, self.sampling_ratio),
        };
        // A tracestate belongs to the parent it came with.
        let tracestate = parent
            .and_then(|_| headers.get(&TRACESTATE))
            .and_then(context::bounded_tracestate);
        RequestTrace::new(
            trace_id,
            parent.map(|p| p.span_id),
            sampled,
            tracestate,
            start,
        )
    }

    /// Queues a finished request's spans for export; never waits (a full
    /// queue drops them, counted).
    pub(crate) fn submit(&self, trace: &RequestTrace, error: bool) {
        let spans = trace.finish(error);
        // The root (first) has a parent only when the caller sent one.
        let Some(remote_parent) = spans.first().map(|root| root.parent.is_some()) else {
            return;
        };
        self.queue.push(otlp::FinishedTrace {
            trace_id: trace.trace_id,
            tracestate: trace
                .tracestate
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
            remote_parent,
            spans,
        });
    }

    /// Exports what is queued (at shutdown), waiting at most `within`.
    pub(crate) async fn flush(&self, within: std::time::Duration) {
        self.queue.flush(within).await;
    }
}

/// The ratio sampler: the trace id's low 63 bits against the ratio, so
/// that every process deciding on one trace id decides alike.
fn ratio_sampled(trace_id: &context::TraceId, ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio <= 0.0 {
        return false;
    }
    let mut low = [0u8; 8];
    low.copy_from_slice(&trace_id[8..]);
    let value = u64::from_be_bytes(low) >> 1;
    // `as` is exact enough here: the bound is a probability.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let bound = (ratio * (1u64 << 63) as f64) as u64;
    value < bound
}

/// The pipeline's handle on the request's trace: every call is a no-op
/// when traces are off (`None`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spans<'a>(pub Option<&'a RequestTrace>);

/// A stage's span while it runs: its place in the request's list. Four
/// bytes (`Option` included), since the pipeline's future holds one
/// across each stage's await.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stage(NonZeroU32);

impl Spans<'_> {
    /// Starts a stage's span (under the innermost open one); `None` when
    /// the request is not recorded.
    #[inline]
    pub(crate) fn start(self, name: &'static str) -> Option<Stage> {
        let trace = self.0.filter(|t| t.sampled)?;
        let index = trace.start(name, Kind::Internal).index;
        u32::try_from(index)
            .ok()
            .and_then(NonZeroU32::new)
            .map(Stage)
    }

    /// Ends a stage's span, marked failed when the stage failed; passes
    /// the stage's result on.
    #[inline]
    pub(crate) fn close<T, E>(self, stage: Option<Stage>, result: Result<T, E>) -> Result<T, E> {
        if let (Some(t), Some(s)) = (self.0, stage) {
            t.end(s.0.get() as usize, result.is_err());
        }
        result
    }

    /// Ends a span that cannot fail.
    #[inline]
    pub(crate) fn end(self, stage: Option<Stage>) {
        if let (Some(t), Some(s)) = (self.0, stage) {
            t.end(s.0.get() as usize, false);
        }
    }

    /// Adds an attribute (computed only when recording).
    #[inline]
    pub(crate) fn attribute<V: Into<Value>>(
        self,
        stage: Option<Stage>,
        key: &'static str,
        value: impl FnOnce() -> V,
    ) {
        if let (Some(t), Some(s)) = (self.0, stage) {
            t.attribute(s.0.get() as usize, key, value());
        }
    }
}

tokio::task_local! {
    /// The request's trace, for the calls made below the pipeline.
    static CURRENT: Arc<RequestTrace>;
}

/// `fut`, run with `trace` as its request's trace (for [`child`]).
pub(crate) fn scope<F: Future>(
    trace: Arc<RequestTrace>,
    fut: F,
) -> impl Future<Output = F::Output> {
    CURRENT.scope(trace, fut)
}

/// A span of a call made below the pipeline, under the innermost open
/// span of the request's trace; ended when dropped if not before.
#[derive(Debug)]
pub(crate) struct ChildSpan {
    trace: Arc<RequestTrace>,
    mark: Mark,
    ended: bool,
}

/// The headers that carry a span to the callee.
#[derive(Debug, Clone)]
pub(crate) struct Propagation {
    pub traceparent: HeaderValue,
    pub tracestate: Option<HeaderValue>,
}

/// Starts a span for a call, when the current task serves a request whose
/// trace is on (`None` when traces are off).
pub(crate) fn child(name: &'static str, kind: Kind) -> Option<ChildSpan> {
    if !STARTED.load(Ordering::Relaxed) {
        return None;
    }
    CURRENT
        .try_with(|trace| ChildSpan {
            mark: trace.start(name, kind),
            trace: trace.clone(),
            ended: false,
        })
        .ok()
}

impl ChildSpan {
    /// Whether the span is recorded (attributes are worth computing).
    pub(crate) fn recording(&self) -> bool {
        self.trace.sampled
    }

    pub(crate) fn attribute(&self, key: &'static str, value: impl Into<Value>) {
        self.trace.attribute(self.mark.index, key, value);
    }

    /// The headers naming this span as the callee's parent.
    pub(crate) fn propagation(&self) -> Propagation {
        Propagation {
            traceparent: self.trace.traceparent(&self.mark.id),
            tracestate: self.trace.tracestate.clone(),
        }
    }

    pub(crate) fn end(mut self, error: bool) {
        self.trace.end(self.mark.index, error);
        self.ended = true;
    }
}

impl Drop for ChildSpan {
    fn drop(&mut self) {
        if !self.ended {
            self.trace.end(self.mark.index, true);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_sampler_keeps_about_the_ratio() {
        let kept = (0..10_000)
            .filter(|_| ratio_sampled(&span::new_trace_id(), 0.25))
            .count();
        assert!((2_000..3_000).contains(&kept), "{kept}");
        assert!(ratio_sampled(&span::new_trace_id(), 1.0));
        assert!(!ratio_sampled(&span::new_trace_id(), 0.0));
    }
}
