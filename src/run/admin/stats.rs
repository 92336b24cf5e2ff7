//! `GET /admin/v1/stats`: the service level indicators per tenant and per
//! upstream, computed from the metrics the gateway already records (the
//! `/metrics` page, parsed), so that the console, the API and a Prometheus
//! scrape agree. Totals since the process started; latencies are
//! quantiles of the whole histogram, estimated as PromQL's
//! `histogram_quantile` does (linear within the bucket).
use super::prom_text::parse;
use crate::telemetry::names::events::{
    DEAD_LETTERED_TOTAL, DELIVERED_TOTAL, OLDEST_UNDELIVERED_AGE_SECONDS, OUTBOX_DEPTH,
};
use crate::telemetry::names::{
    AUTH_FAILURES_TOTAL, CACHE_REQUESTS_TOTAL, DEPROVISION_DURATION_SECONDS, DIALECT_RULES_TOTAL,
    ERRORS_TOTAL, LIMITED_TOTAL, REQUESTS_TOTAL, REQUEST_DURATION_SECONDS,
    UPSTREAM_DURATION_SECONDS, UPSTREAM_ERRORS_TOTAL, UPSTREAM_RETRIES_TOTAL,
    UPSTREAM_THROTTLED_TOTAL,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// p50, p95 and p99 in milliseconds; `None` without samples.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub(super) struct Latency {
    pub count: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// A tenant's indicators.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub(super) struct TenantStats {
    pub requests: u64,
    /// Answers that were not 5xx, of all (4xx are the client's mistakes
    /// and count as served, as in the documented SLI); `None`: no requests.
    pub success_rate: Option<f64>,
    pub latency: Latency,
    /// Error answers by status code.
    pub errors_by_status: BTreeMap<String, u64>,
    /// Answers with status 429 (the gateway's limits or the upstream's).
    pub status_429: u64,
    /// Of those, refused by the gateway's own limits.
    pub limited: u64,
    pub auth_failures: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// Hits of lookups that hit or missed; `None`: no lookup.
    pub cache_hit_ratio: Option<f64>,
    /// Users deprovisioned (DELETE, or `active` set to false).
    pub deprovision: Latency,
    /// Dialect rules that fired, by `rule` (applied or shadow: `rule/mode`).
    pub dialect_rules: BTreeMap<String, u64>,
}

/// An upstream's indicators.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub(super) struct UpstreamStats {
    pub latency: Latency,
    pub retries: u64,
    /// 429 answers it gave.
    pub throttled: u64,
    /// Calls that failed (connect, timeout, protocol, oversized).
    pub errors: u64,
}

/// One event sink's indicators.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub(super) struct SinkStats {
    pub delivered: u64,
    pub dead_lettered: u64,
    /// Age of the oldest event it has not delivered (0: caught up).
    pub oldest_undelivered_seconds: f64,
}

/// Everything the console shows that comes from the metrics.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub(super) struct Stats {
    pub tenants: BTreeMap<String, TenantStats>,
    pub upstreams: BTreeMap<String, UpstreamStats>,
    /// Events written and not yet delivered by the slowest sink.
    pub outbox_depth: Option<u64>,
    pub sinks: BTreeMap<String, SinkStats>,
}

/// The indicators of the metrics page `text`. Tenants and upstreams are
/// those the metrics name (`-`, no tenant, is left out).
pub(super) fn compute(text: &str) -> Stats {
    let samples = parse(text);
    let mut stats = Stats::default();
    let mut request_buckets: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut deprovision_buckets: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut upstream_buckets: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut not_5xx: BTreeMap<String, u64> = BTreeMap::new();
    for s in &samples {
        let count = s.value.max(0.0) as u64;
        let tenant = s.label("tenant").filter(|t| *t != "-");
        let upstream = s.label("upstream").filter(|u| *u != "-");
        let sink = s.label("sink");
        let le = s.label("le").and_then(parse_le);
        match (s.name.as_str(), tenant, upstream, sink) {
            (REQUESTS_TOTAL, Some(t), _, _) => {
                stats.tenants.entry(t.into()).or_default().requests += count;
                if s.label("status_class") != Some("5xx") {
                    *not_5xx.entry(t.into()).or_default() += count;
                }
            }
            (n, Some(t), _, _) if n == bucket(REQUEST_DURATION_SECONDS) => {
                if let Some(le) = le {
                    add_bucket(request_buckets.entry(t.into()).or_default(), le, s.value);
                }
            }
            (ERRORS_TOTAL, Some(t), _, _) => {
                let status = s.label("status").unwrap_or("other");
                let entry = stats.tenants.entry(t.into()).or_default();
                *entry.errors_by_status.entry(status.into()).or_default() += count;
                if status == "429" {
                    entry.status_429 += count;
                }
            }
            (LIMITED_TOTAL, Some(t), _, _) => {
                stats.tenants.entry(t.into()).or_default().limited += count;
            }
            (AUTH_FAILURES_TOTAL, Some(t), _, _) => {
                stats.tenants.entry(t.into()).or_default().auth_failures += count;
            }
            (CACHE_REQUESTS_TOTAL, Some(t), _, _) => {
                let entry = stats.tenants.entry(t.into()).or_default();
                match s.label("result") {
                    Some("hit") => entry.cache_hits += count,
                    Some("miss") => entry.cache_misses += count,
                    _ => {}
                }
            }
            (n, Some(t), _, _) if n == bucket(DEPROVISION_DURATION_SECONDS) => {
                if let (Some(le), Some("success")) = (le, s.label("outcome")) {
                    add_bucket(
                        deprovision_buckets.entry(t.into()).or_default(),
                        le,
                        s.value,
                    );
                }
            }
            (DIALECT_RULES_TOTAL, Some(t), _, _) => {
                let rule = format!(
                    "{}/{}",
                    s.label("rule").unwrap_or("-"),
                    s.label("mode").unwrap_or("-")
                );
                let entry = stats.tenants.entry(t.into()).or_default();
                *entry.dialect_rules.entry(rule).or_default() += count;
            }
            (n, _, Some(u), _) if n == bucket(UPSTREAM_DURATION_SECONDS) => {
                if let Some(le) = le {
                    add_bucket(upstream_buckets.entry(u.into()).or_default(), le, s.value);
                }
            }
            (UPSTREAM_RETRIES_TOTAL, _, Some(u), _) => {
                stats.upstreams.entry(u.into()).or_default().retries += count;
            }
            (UPSTREAM_THROTTLED_TOTAL, _, Some(u), _) => {
                stats.upstreams.entry(u.into()).or_default().throttled += count;
            }
            (UPSTREAM_ERRORS_TOTAL, _, Some(u), _) => {
                stats.upstreams.entry(u.into()).or_default().errors += count;
            }
            (OUTBOX_DEPTH, _, _, _) => {
                stats.outbox_depth = Some(stats.outbox_depth.unwrap_or(0).max(count));
            }
            (DELIVERED_TOTAL, _, _, Some(k)) => {
                stats.sinks.entry(k.into()).or_default().delivered += count;
            }
            (DEAD_LETTERED_TOTAL, _, _, Some(k)) => {
                stats.sinks.entry(k.into()).or_default().dead_lettered += count;
            }
            (OLDEST_UNDELIVERED_AGE_SECONDS, _, _, Some(k)) => {
                stats
                    .sinks
                    .entry(k.into())
                    .or_default()
                    .oldest_undelivered_seconds = s.value;
            }
            _ => {}
        }
    }
    for (tenant, t) in &mut stats.tenants {
        t.success_rate = ratio(not_5xx.get(tenant).copied().unwrap_or(0), t.requests);
        t.cache_hit_ratio = ratio(t.cache_hits, t.cache_hits + t.cache_misses);
        if let Some(b) = request_buckets.get(tenant) {
            t.latency = latency(b);
        }
        if let Some(b) = deprovision_buckets.get(tenant) {
            t.deprovision = latency(b);
        }
    }
    for (upstream, b) in &upstream_buckets {
        stats.upstreams.entry(upstream.clone()).or_default().latency = latency(b);
    }
    stats
}

fn bucket(histogram: &str) -> String {
    format!("{histogram}_bucket")
}

fn parse_le(le: &str) -> Option<f64> {
    match le {
        "+Inf" => Some(f64::INFINITY),
        v => v.parse().ok(),
    }
}

/// Sums a series' cumulative bucket into the tenant's (several methods or
/// outcomes share the bounds).
fn add_bucket(buckets: &mut Vec<(f64, f64)>, le: f64, count: f64) {
    match buckets.iter_mut().find(|(b, _)| *b == le) {
        Some((_, c)) => *c += count,
        None => buckets.push((le, count)),
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn latency(buckets: &[(f64, f64)]) -> Latency {
    let mut sorted = buckets.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = sorted.last().map_or(0.0, |(_, c)| *c);
    let ms = |q| quantile(q, &sorted).map(|s| s * 1000.0);
    Latency {
        count: total.max(0.0) as u64,
        p50_ms: ms(0.5),
        p95_ms: ms(0.95),
        p99_ms: ms(0.99),
    }
}

/// `histogram_quantile` over cumulative buckets sorted by bound: linear
/// within the bucket the rank falls in; the highest finite bound when it
/// falls in `+Inf`.
fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(lower.0);
            }
            let within = count - lower.1;
            let fraction = if within > 0.0 {
                (rank - lower.1) / within
            } else {
                1.0
            };
            return Some(lower.0 + (le - lower.0) * fraction);
        }
        lower = (le, count);
    }
    Some(lower.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"# TYPE scim_gateway_requests_total counter
scim_gateway_requests_total{tenant="acme",upstream="store",method="GET",resource_type="Users",status_class="2xx"} 8
scim_gateway_requests_total{tenant="acme",upstream="-",method="GET",resource_type="Users",status_class="4xx"} 1
scim_gateway_requests_total{tenant="acme",upstream="store",method="POST",resource_type="Users",status_class="5xx"} 1
scim_gateway_requests_total{tenant="-",upstream="-",method="GET",resource_type="base",status_class="4xx"} 3
scim_gateway_errors_total{tenant="acme",status="404",scim_type="-"} 1
scim_gateway_errors_total{tenant="acme",status="429",scim_type="-"} 2
scim_gateway_limited_total{tenant="acme",kind="tenant_rate"} 2
scim_gateway_cache_requests_total{tenant="acme",result="hit"} 3
scim_gateway_cache_requests_total{tenant="acme",result="miss"} 1
scim_gateway_request_duration_seconds_bucket{tenant="acme",method="GET",le="0.001"} 4
scim_gateway_request_duration_seconds_bucket{tenant="acme",method="GET",le="0.01"} 9
scim_gateway_request_duration_seconds_bucket{tenant="acme",method="GET",le="+Inf"} 9
scim_gateway_request_duration_seconds_bucket{tenant="acme",method="POST",le="0.001"} 0
scim_gateway_request_duration_seconds_bucket{tenant="acme",method="POST",le="0.01"} 1
scim_gateway_request_duration_seconds_bucket{tenant="acme",method="POST",le="+Inf"} 1
scim_gateway_upstream_retries_total{upstream="store",reason="upstream_503"} 4
scim_gateway_dialect_rules_total{tenant="acme",rule="bearer_bearer",mode="applied"} 5
scim_gateway_events_outbox_depth 7
"#;

    #[test]
    fn indicators_from_a_metrics_page() {
        let s = compute(PAGE);
        assert_eq!(s.tenants.len(), 1, "no tenant is not a tenant");
        let t = &s.tenants["acme"];
        assert_eq!(t.requests, 10);
        assert_eq!(t.success_rate, Some(0.9));
        assert_eq!(t.errors_by_status["404"], 1);
        assert_eq!((t.status_429, t.limited), (2, 2));
        assert_eq!(t.cache_hit_ratio, Some(0.75));
        assert_eq!(t.dialect_rules["bearer_bearer/applied"], 5);
        // 10 samples: 4 at or under 1 ms, all 10 under 10 ms. The median
        // (rank 5) is the first of the 6 in (1, 10] ms: 1 + 9 * 1/6 ms.
        assert_eq!(t.latency.count, 10);
        let p50 = t.latency.p50_ms.unwrap_or_default();
        assert!((p50 - 2.5).abs() < 1e-9, "{p50}");
        assert_eq!(s.upstreams["store"].retries, 4);
        assert_eq!(s.outbox_depth, Some(7));
    }

    #[test]
    fn quantiles_like_promql() {
        let b = [(0.1, 0.0), (0.2, 10.0), (f64::INFINITY, 10.0)];
        assert_eq!(quantile(0.5, &b), Some(0.15000000000000002));
        assert_eq!(quantile(0.5, &[(f64::INFINITY, 0.0)]), None);
        // Everything above the last finite bound: that bound.
        assert_eq!(
            quantile(0.99, &[(0.1, 0.0), (f64::INFINITY, 3.0)]),
            Some(0.1)
        );
    }
}
