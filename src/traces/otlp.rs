//! The OTLP/HTTP request body (`ExportTraceServiceRequest`, protobuf) for
//! a batch of spans: the subset of opentelemetry-proto's `trace/v1` and
//! `common/v1` messages the gateway writes, declared with prost's derive
//! and the field numbers of the `.proto` files. Written out here rather
//! than taken from the `opentelemetry-proto` crate, whose generated types
//! bring tonic and the OpenTelemetry SDK into the build; the test suite's
//! receiver decodes with that crate, so a wrong number here fails a test.
use super::span::{Kind, SpanRecord, Value};

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ExportTraceServiceRequest {
    #[prost(message, repeated, tag = "1")]
    pub resource_spans: Vec<ResourceSpans>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ResourceSpans {
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    #[prost(message, repeated, tag = "2")]
    pub scope_spans: Vec<ScopeSpans>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Resource {
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ScopeSpans {
    #[prost(message, optional, tag = "1")]
    pub scope: Option<InstrumentationScope>,
    #[prost(message, repeated, tag = "2")]
    pub spans: Vec<Span>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct InstrumentationScope {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub version: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Span {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    #[prost(string, tag = "3")]
    pub trace_state: String,
    #[prost(bytes = "vec", tag = "4")]
    pub parent_span_id: Vec<u8>,
    #[prost(string, tag = "5")]
    pub name: String,
    /// `SpanKind`: 1 internal, 2 server, 3 client.
    #[prost(int32, tag = "6")]
    pub kind: i32,
    #[prost(fixed64, tag = "7")]
    pub start_time_unix_nano: u64,
    #[prost(fixed64, tag = "8")]
    pub end_time_unix_nano: u64,
    #[prost(message, repeated, tag = "9")]
    pub attributes: Vec<KeyValue>,
    #[prost(message, optional, tag = "15")]
    pub status: Option<Status>,
    /// `SpanFlags`: bit 0 sampled; bits 8 and 9 say whether the parent is
    /// remote.
    #[prost(fixed32, tag = "16")]
    pub flags: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Status {
    #[prost(string, tag = "2")]
    pub message: String,
    /// `StatusCode`: 0 unset, 1 ok, 2 error.
    #[prost(int32, tag = "3")]
    pub code: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AnyValue {
    #[prost(oneof = "any_value::Value", tags = "1, 2, 3")]
    pub value: Option<any_value::Value>,
}

pub(crate) mod any_value {
    // The names of the `.proto` file's oneof.
    #[allow(clippy::enum_variant_names)]
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Value {
        #[prost(string, tag = "1")]
        StringValue(String),
        #[prost(bool, tag = "2")]
        BoolValue(bool),
        #[prost(int64, tag = "3")]
        IntValue(i64),
    }
}

/// One trace's spans, as finished, with what OTLP needs beside them.
#[derive(Debug)]
pub(crate) struct FinishedTrace {
    pub trace_id: [u8; 16],
    pub tracestate: String,
    /// The root's parent is the caller's span (a remote parent).
    pub remote_parent: bool,
    pub spans: Vec<SpanRecord>,
}

/// The request body for a batch of traces.
pub(crate) fn encode(service_name: &str, traces: &[FinishedTrace]) -> Vec<u8> {
    let string = |key: &str, value: &str| KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
    };
    let spans = traces
        .iter()
        .flat_map(|t| t.spans.iter().map(move |s| span(t, s)))
        .collect();
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    string("service.name", service_name),
                    string("service.version", env!("CARGO_PKG_VERSION")),
                ],
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "scim-gateway".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                }),
                spans,
            }],
        }],
    };
    prost::Message::encode_to_vec(&request)
}

fn span(trace: &FinishedTrace, s: &SpanRecord) -> Span {
    // SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK (0x100), and
    // SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK (0x200) for the root under a caller.
    let is_root = s.kind == Kind::Server;
    let remote = if is_root && trace.remote_parent {
        0x200
    } else {
        0
    };
    Span {
        trace_id: trace.trace_id.to_vec(),
        span_id: s.id.to_vec(),
        trace_state: trace.tracestate.clone(),
        parent_span_id: s.parent.map(|p| p.to_vec()).unwrap_or_default(),
        name: s.name.to_string(),
        kind: match s.kind {
            Kind::Internal => 1,
            Kind::Server => 2,
            Kind::Client => 3,
        },
        start_time_unix_nano: s.start,
        end_time_unix_nano: s.end,
        attributes: s
            .attributes
            .iter()
            .map(|(key, value)| KeyValue {
                key: (*key).to_string(),
                value: Some(AnyValue {
                    value: Some(match value {
                        Value::Str(v) => any_value::Value::StringValue(v.to_string()),
                        Value::Int(n) => any_value::Value::IntValue(*n),
                        Value::Bool(b) => any_value::Value::BoolValue(*b),
                    }),
                }),
            })
            .collect(),
        status: Some(Status {
            message: String::new(),
            code: if s.error { 2 } else { 0 },
        }),
        flags: 0x1 | 0x100 | remote,
    }
}
