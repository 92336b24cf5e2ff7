//! The OTLP/HTTP request body (`ExportTraceServiceRequest`, protobuf) for
//! a batch of spans, written by hand: the few messages the gateway sends
//! (`collector/trace/v1`, `trace/v1`, `common/v1`, `resource/v1` of
//! opentelemetry-proto), with the `.proto` files' field numbers below.
//!
//! By hand rather than through prost's generated or derived types: those
//! compute every nested message's length again at each level of nesting
//! and want owned strings and byte vectors for every field, which made
//! encoding the largest cost of a traced request. Here each span is
//! written once into a scratch buffer from the recorded values, and its
//! length prefix taken from it. The test suite's receiver decodes with the
//! `opentelemetry-proto` crate's generated types, so a wrong field number
//! or wire type fails the tests (`tests/it/traces.rs`).
use super::span::{Kind, SpanRecord, Value};

/// One trace's spans, as finished, with what OTLP needs beside them.
#[derive(Debug)]
pub(crate) struct FinishedTrace {
    pub trace_id: [u8; 16],
    pub tracestate: String,
    /// The root's parent is the caller's span (a remote parent).
    pub remote_parent: bool,
    pub spans: Vec<SpanRecord>,
}

// Wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// The request body for a batch of traces.
pub(crate) fn encode(service_name: &str, traces: &[FinishedTrace]) -> Vec<u8> {
    let version = env!("CARGO_PKG_VERSION");
    // ScopeSpans: 1 scope (InstrumentationScope: 1 name, 2 version),
    // 2 spans.
    let mut scope_spans = Vec::with_capacity(256 * traces.len() * 16);
    let mut scope = Vec::with_capacity(64);
    string_field(&mut scope, 1, "scim-gateway");
    string_field(&mut scope, 2, version);
    bytes_field(&mut scope_spans, 1, &scope);
    let mut scratch = Vec::with_capacity(512);
    for trace in traces {
        for span in &trace.spans {
            scratch.clear();
            write_span(&mut scratch, trace, span);
            bytes_field(&mut scope_spans, 2, &scratch);
        }
    }
    // ResourceSpans: 1 resource (Resource: 1 attributes), 2 scope_spans.
    let mut resource = Vec::with_capacity(96);
    key_value(
        &mut resource,
        1,
        "service.name",
        &Value::Str(service_name.to_string().into()),
    );
    key_value(
        &mut resource,
        1,
        "service.version",
        &Value::Str(version.into()),
    );
    let mut resource_spans = Vec::with_capacity(scope_spans.len() + resource.len() + 16);
    bytes_field(&mut resource_spans, 1, &resource);
    bytes_field(&mut resource_spans, 2, &scope_spans);
    // ExportTraceServiceRequest: 1 resource_spans.
    let mut request = Vec::with_capacity(resource_spans.len() + 8);
    bytes_field(&mut request, 1, &resource_spans);
    request
}

/// A `Span`.
fn write_span(out: &mut Vec<u8>, trace: &FinishedTrace, s: &SpanRecord) {
    bytes_field(out, 1, &trace.trace_id);
    bytes_field(out, 2, &s.id);
    if !trace.tracestate.is_empty() {
        string_field(out, 3, &trace.tracestate);
    }
    if let Some(parent) = &s.parent {
        bytes_field(out, 4, parent);
    }
    string_field(out, 5, &s.name);
    // SpanKind: 1 internal, 2 server, 3 client.
    let kind = match s.kind {
        Kind::Internal => 1,
        Kind::Server => 2,
        Kind::Client => 3,
    };
    tag(out, 6, VARINT);
    varint(out, kind);
    tag(out, 7, FIXED64);
    out.extend_from_slice(&s.start.to_le_bytes());
    tag(out, 8, FIXED64);
    out.extend_from_slice(&s.end.to_le_bytes());
    for (key, value) in &s.attributes {
        key_value(out, 9, key, value);
    }
    // Status: 3 code (2 = error); unset stays absent.
    if s.error {
        tag(out, 15, LEN);
        varint(out, 2);
        tag(out, 3, VARINT);
        varint(out, 2);
    }
    // SpanFlags: bit 0 sampled; 0x100 "is the parent remote" is known,
    // 0x200 it is (the root under a caller's span).
    let remote = if s.kind == Kind::Server && trace.remote_parent {
        0x200
    } else {
        0
    };
    tag(out, 16, FIXED32);
    out.extend_from_slice(&(0x1u32 | 0x100 | remote).to_le_bytes());
}

/// A `KeyValue` (1 key, 2 value: `AnyValue` with 1 string, 2 bool or
/// 3 int) as field `field` of the enclosing message.
fn key_value(out: &mut Vec<u8>, field: u32, key: &str, value: &Value) {
    let any_len = match value {
        Value::Str(s) => 1 + varint_len(s.len() as u64) + s.len(),
        Value::Bool(_) => 2,
        // int64: negative numbers take ten bytes, as two's complement.
        Value::Int(n) => 1 + varint_len(*n as u64),
    };
    let kv_len =
        1 + varint_len(key.len() as u64) + key.len() + 1 + varint_len(any_len as u64) + any_len;
    tag(out, field, LEN);
    varint(out, kv_len as u64);
    string_field(out, 1, key);
    tag(out, 2, LEN);
    varint(out, any_len as u64);
    match value {
        Value::Str(s) => string_field(out, 1, s),
        Value::Bool(b) => {
            tag(out, 2, VARINT);
            varint(out, u64::from(*b));
        }
        Value::Int(n) => {
            tag(out, 3, VARINT);
            varint(out, *n as u64);
        }
    }
}

fn tag(out: &mut Vec<u8>, field: u32, wire: u32) {
    varint(out, u64::from(field << 3 | wire));
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(v: u64) -> usize {
    // Seven bits a byte; zero takes one.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    tag(out, field, LEN);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn string_field(out: &mut Vec<u8>, field: u32, s: &str) {
    bytes_field(out, field, s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_protobufs() {
        for (v, bytes) in [
            (0u64, vec![0u8]),
            (1, vec![1]),
            (127, vec![127]),
            (128, vec![0x80, 1]),
            (300, vec![0xac, 0x02]),
            (
                u64::MAX,
                vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1],
            ),
        ] {
            let mut out = Vec::new();
            varint(&mut out, v);
            assert_eq!(out, bytes, "{v}");
            assert_eq!(varint_len(v), bytes.len(), "{v}");
        }
        let mut out = Vec::new();
        tag(&mut out, 16, FIXED32);
        assert_eq!(out, [0x85, 0x01]);
    }

    #[test]
    fn a_key_values_length_prefixes_are_its_own() {
        for value in [
            Value::Str("acme".into()),
            Value::Int(-1),
            Value::Int(201),
            Value::Bool(true),
        ] {
            let mut out = Vec::new();
            key_value(&mut out, 9, "k", &value);
            // tag, length, then exactly that many bytes.
            assert_eq!(usize::from(out[1]), out.len() - 2, "{value:?}");
            // key: tag, length 1, "k"; value: tag, length, the rest.
            assert_eq!(&out[2..5], [0x0a, 1, b'k']);
            assert_eq!(usize::from(out[6]), out.len() - 7, "{value:?}");
        }
    }
}
