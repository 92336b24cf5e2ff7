//! Metric handles kept per tenant and per upstream, so that a request
//! records its metrics without building label sets or looking them up in
//! the registry (one small map lookup per metric instead). Filled on first
//! use; a reload builds fresh tenants, whose handles point at the same
//! series.
use super::names::{REQUESTS_TOTAL, REQUEST_DURATION_SECONDS, UPSTREAM_DURATION_SECONDS};
use metrics::{Counter, Histogram};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, OnceLock, PoisonError};

/// `(upstream called, method, resource type, status class)`.
type RequestKey = (bool, &'static str, &'static str, &'static str);

/// A tenant's request metrics.
#[derive(Default)]
pub struct TenantMetrics {
    requests: Mutex<HashMap<RequestKey, Counter, Labels>>,
    durations: Mutex<HashMap<&'static str, Histogram, Labels>>,
}

/// The maps' hasher: their keys are the gateway's own label strings (a
/// few dozen, never a client's bytes), so the keyed SipHash a map guards
/// against flooding with buys nothing here and costs more than the rest
/// of the record. A multiply-rotate hash over eight bytes at a time.
type Labels = BuildHasherDefault<LabelHasher>;

#[derive(Default)]
struct LabelHasher(u64);

impl Hasher for LabelHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl LabelHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// One answered request of a tenant, by label values.
pub struct RequestLabels<'a> {
    pub tenant: &'a str,
    /// The upstream, when it was called.
    pub upstream: Option<&'a str>,
    pub method: &'static str,
    pub resource_type: &'static str,
    pub status_class: &'static str,
}

impl TenantMetrics {
    /// Counts the request and records its latency.
    pub fn record(&self, labels: &RequestLabels<'_>, seconds: f64) {
        let key = (
            labels.upstream.is_some(),
            labels.method,
            labels.resource_type,
            labels.status_class,
        );
        {
            let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
            requests
                .entry(key)
                .or_insert_with(|| requests_counter(labels))
                .increment(1);
        }
        let mut durations = self
            .durations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        durations
            .entry(labels.method)
            .or_insert_with(|| duration_histogram(labels.tenant, labels.method))
            .record(seconds);
    }
}

/// The counter of requests with these labels (a registry lookup).
pub(crate) fn requests_counter(labels: &RequestLabels<'_>) -> Counter {
    super::metrics_handle();
    metrics::counter!(
        REQUESTS_TOTAL,
        "tenant" => labels.tenant.to_string(),
        "upstream" => labels.upstream.unwrap_or("-").to_string(),
        "method" => labels.method,
        "resource_type" => labels.resource_type,
        "status_class" => labels.status_class,
    )
}

/// The request latency histogram of a tenant and method.
pub(crate) fn duration_histogram(tenant: &str, method: &'static str) -> Histogram {
    super::metrics_handle();
    metrics::histogram!(REQUEST_DURATION_SECONDS, "tenant" => tenant.to_string(), "method" => method)
}

/// An upstream's call latency histogram.
#[derive(Default)]
pub struct UpstreamMetrics {
    latency: OnceLock<Histogram>,
}

impl UpstreamMetrics {
    pub fn record_latency(&self, upstream: &str, seconds: f64) {
        self.latency
            .get_or_init(|| {
                super::metrics_handle();
                metrics::histogram!(UPSTREAM_DURATION_SECONDS, "upstream" => upstream.to_string())
            })
            .record(seconds);
    }
}

impl fmt::Debug for TenantMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TenantMetrics")
    }
}

impl fmt::Debug for UpstreamMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UpstreamMetrics")
    }
}
