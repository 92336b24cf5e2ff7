//! One request's trace: its ids, the spans it records (when sampled), and
//! the innermost open span, which is the parent of the next one started.
//! A request's stages run one after another, so "the innermost open span"
//! is the whole of the context a child needs; nothing is carried per call.
//!
//! Attribute values are the gateway's own words (stage names, a tenant id,
//! a method, a route template, a status, an attempt number): no token,
//! header value, resource id, filter or body ever becomes one.
use super::context::{traceparent, SpanId, TraceId};
use http::HeaderValue;
use std::borrow::Cow;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// What a span is, in OTLP's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Internal,
    /// The request as the gateway serves it (the root span).
    Server,
    /// A call the gateway makes (an upstream attempt, a key fetch).
    Client,
}

/// An attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Str(Cow<'static, str>),
    Int(i64),
    Bool(bool),
}

impl From<&'static str> for Value {
    fn from(s: &'static str) -> Value {
        Value::Str(Cow::Borrowed(s))
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(Cow::Owned(s))
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}
impl From<u16> for Value {
    fn from(n: u16) -> Value {
        Value::Int(i64::from(n))
    }
}
impl From<u32> for Value {
    fn from(n: u32) -> Value {
        Value::Int(i64::from(n))
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

/// A span as recorded.
#[derive(Debug, Clone)]
pub(crate) struct SpanRecord {
    pub id: SpanId,
    /// `None`: a root with no remote parent.
    pub parent: Option<SpanId>,
    pub name: Cow<'static, str>,
    pub kind: Kind,
    /// Unix time, nanoseconds.
    pub start: u64,
    /// 0 while open.
    pub end: u64,
    pub attributes: Vec<(&'static str, Value)>,
    /// The span's work failed (OTLP status ERROR).
    pub error: bool,
}

/// A span started and not yet ended: its id, and where it is in the
/// request's list (0: not recorded).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    pub id: SpanId,
    pub index: usize,
}

/// One request's trace.
#[derive(Debug)]
pub(crate) struct RequestTrace {
    pub trace_id: TraceId,
    /// The gateway's span for the whole request.
    pub root: SpanId,
    pub sampled: bool,
    /// The caller's `tracestate`, passed on unchanged (bounded).
    pub tracestate: Option<HeaderValue>,
    /// Recorded spans (the root first) and the innermost open one; only
    /// touched when sampled.
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    spans: Vec<SpanRecord>,
    current: usize,
}

/// Unix time now, nanoseconds.
pub(crate) fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A fresh span id (never zero).
pub(crate) fn new_span_id() -> SpanId {
    fastrand::u64(1..).to_be_bytes()
}

/// A fresh trace id (never zero).
pub(crate) fn new_trace_id() -> TraceId {
    fastrand::u128(1..).to_be_bytes()
}

impl RequestTrace {
    /// A trace whose root span starts `start` (unix nanos), under the
    /// caller's span `remote_parent` if it sent one.
    pub(crate) fn new(
        trace_id: TraceId,
        remote_parent: Option<SpanId>,
        sampled: bool,
        tracestate: Option<HeaderValue>,
        start: u64,
    ) -> RequestTrace {
        let root = new_span_id();
        let spans = if sampled {
            let mut spans = Vec::with_capacity(16);
            spans.push(SpanRecord {
                id: root,
                parent: remote_parent,
                name: Cow::Borrowed("request"),
                kind: Kind::Server,
                start,
                end: 0,
                attributes: Vec::with_capacity(8),
                error: false,
            });
            spans
        } else {
            Vec::new()
        };
        RequestTrace {
            trace_id,
            root,
            sampled,
            tracestate,
            state: Mutex::new(State { spans, current: 0 }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a span under the innermost open one.
    pub(crate) fn start(&self, name: &'static str, kind: Kind) -> Mark {
        let id = new_span_id();
        if !self.sampled {
            return Mark { id, index: 0 };
        }
        let mut state = self.lock();
        let parent = state.spans.get(state.current).map(|s| s.id);
        let index = state.spans.len();
        state.spans.push(SpanRecord {
            id,
            parent: parent.or(Some(self.root)),
            name: Cow::Borrowed(name),
            kind,
            start: now_nanos(),
            end: 0,
            attributes: Vec::new(),
            error: false,
        });
        state.current = index;
        Mark { id, index }
    }

    /// Adds an attribute to a span.
    pub(crate) fn attribute(&self, index: usize, key: &'static str, value: impl Into<Value>) {
        if !self.sampled {
            return;
        }
        if let Some(span) = self.lock().spans.get_mut(index) {
            span.attributes.push((key, value.into()));
        }
    }

    /// Ends a span (`error`: its work failed); its parent is the innermost
    /// open span again. Ending a span twice keeps the first end.
    pub(crate) fn end(&self, index: usize, error: bool) {
        if !self.sampled || index == 0 {
            return;
        }
        let mut state = self.lock();
        let parent = match state.spans.get_mut(index) {
            Some(span) if span.end == 0 => {
                span.end = now_nanos();
                span.error = error;
                span.parent
            }
            _ => return,
        };
        if state.current == index {
            let back = state.spans.iter().rposition(|s| Some(s.id) == parent);
            state.current = back.unwrap_or(0);
        }
    }

    /// The root span's name and attributes (known at the end).
    pub(crate) fn describe_root(&self, name: String, attributes: Vec<(&'static str, Value)>) {
        if !self.sampled {
            return;
        }
        if let Some(root) = self.lock().spans.first_mut() {
            root.name = Cow::Owned(name);
            root.attributes.extend(attributes);
        }
    }

    /// Ends the request: the root and every span still open end now
    /// (`error`: the answer was a server error). The spans, when sampled.
    pub(crate) fn finish(&self, error: bool) -> Vec<SpanRecord> {
        if !self.sampled {
            return Vec::new();
        }
        let now = now_nanos();
        let mut spans = std::mem::take(&mut self.lock().spans);
        for span in &mut spans {
            if span.end == 0 {
                span.end = now;
            }
        }
        if let Some(root) = spans.first_mut() {
            root.error = error;
        }
        spans
    }

    /// The `traceparent` naming one of this trace's spans.
    pub(crate) fn traceparent(&self, span: &SpanId) -> HeaderValue {
        traceparent(&self.trace_id, span, self.sampled)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn spans_nest_in_the_order_they_are_started() {
        let t = RequestTrace::new(new_trace_id(), None, true, None, now_nanos());
        let auth = t.start("authenticate", Kind::Internal);
        let fetch = t.start("jwks fetch", Kind::Client);
        t.end(fetch.index, false);
        t.end(auth.index, true);
        let upstream = t.start("upstream", Kind::Internal);
        t.attribute(upstream.index, "scim_gateway.upstream", "backend");
        let spans = t.finish(false);
        assert_eq!(spans.len(), 4);
        let (root, auth, fetch, upstream) = (&spans[0], &spans[1], &spans[2], &spans[3]);
        assert_eq!(root.parent, None);
        assert_eq!(auth.parent, Some(root.id));
        assert_eq!(fetch.parent, Some(auth.id));
        assert_eq!(upstream.parent, Some(root.id));
        assert!(auth.error && !fetch.error);
        assert!(spans.iter().all(|s| s.end >= s.start && s.end > 0));
        assert_eq!(upstream.attributes.len(), 1);
    }

    #[test]
    fn an_unsampled_trace_records_nothing_but_still_names_spans() {
        let t = RequestTrace::new(new_trace_id(), None, false, None, now_nanos());
        let m = t.start("upstream attempt", Kind::Client);
        assert_ne!(m.id, [0; 8]);
        assert!(t.traceparent(&m.id).to_str().unwrap().ends_with("-00"));
        t.end(m.index, false);
        assert!(t.finish(false).is_empty());
    }
}
