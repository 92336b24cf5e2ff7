//! Raw `[telemetry]` sections: `[telemetry.traces]` (OpenTelemetry traces,
//! exported over OTLP/HTTP; off when absent).
use serde::Deserialize;

/// `[telemetry]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySection {
    /// Traces: spans of every stage, exported to an OTLP/HTTP endpoint.
    pub traces: Option<TracesSection>,
}

/// `[telemetry.traces]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TracesSection {
    /// Default true; `false` turns traces off and keeps the section.
    pub enabled: Option<bool>,
    /// The OTLP/HTTP traces endpoint (protobuf), e.g.
    /// `"http://127.0.0.1:4318/v1/traces"`. Required.
    pub endpoint: Option<String>,
    /// The share of new traces recorded, 0.0 to 1.0. Default 1.0.
    pub sampling_ratio: Option<f64>,
    /// A caller's `traceparent` decides whether its trace is recorded
    /// (its `sampled` flag); the ratio decides only for new traces.
    /// Default true.
    pub parent_based: Option<bool>,
    /// Spans waiting for export at most; beyond, new ones are dropped
    /// (counted). Default 4096.
    pub max_queue_spans: Option<usize>,
    /// Spans per export request at most. Default 512.
    pub max_export_batch_spans: Option<usize>,
    /// How long spans wait for a batch to fill. Default `"1s"`.
    pub export_interval: Option<String>,
    /// One export's time limit. Default `"10s"`.
    pub export_timeout: Option<String>,
    /// The `service.name` resource attribute. Default `"scim-gateway"`.
    pub service_name: Option<String>,
    /// PEM CA file trusted for an `https` endpoint (relative to this file;
    /// default: the public roots).
    pub ca_file: Option<String>,
}
