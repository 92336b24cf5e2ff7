//! Named telemetry events: one struct per thing that happens, whose
//! `emit()` writes the log line and counts the metrics together.
//!
//! Called `emit` (not `events`) so that it does not share a name with the
//! change-event core (`src/events/`): these are log lines and metric
//! samples, not SCIM change events, and every one of them is used as
//! `Event { .. }.emit()`.
//!
//! Ground module: the events take plain values (names as `&str`, the
//! metric handles of [`super::handles`], bools, numbers, durations), never
//! the crate's domain types, so this file imports nothing above
//! `telemetry`. Callers pass `tenant.id.as_str()`, `&tenant.metrics`, ...
use super::handles::{
    duration_histogram, requests_counter, RequestLabels, TenantMetrics, UpstreamMetrics,
};
use super::names::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// One request answered: the access-log line and the request metrics.
#[derive(Debug)]
pub(crate) struct RequestCompleted<'a> {
    pub request_id: &'a str,
    /// The tenant's id, once resolved.
    pub tenant: Option<&'a str>,
    /// The tenant's cached metric handles (with `tenant`).
    pub tenant_metrics: Option<&'a TenantMetrics>,
    /// The credential name of the principal.
    pub principal: Option<&'a str>,
    /// How it authenticated (`static_token`, `jwt`, ...).
    pub auth_method: Option<&'static str>,
    /// Its subject (a token name, `sub` claim, certificate subject).
    pub subject: Option<&'a str>,
    pub method: &'a http::Method,
    /// The resource type addressed (first path segment), as sent.
    pub resource_type: Option<&'a str>,
    /// Its metric label (see [`resource_type_label`]).
    pub resource_label: &'static str,
    pub status: u16,
    /// The upstream's name, when it was called.
    pub upstream: Option<&'a str>,
    /// The upstream's metric handles (with `upstream`).
    pub upstream_metrics: Option<&'a UpstreamMetrics>,
    pub upstream_status: Option<u16>,
    pub latency: Duration,
    pub upstream_latency: Option<Duration>,
    pub error: Option<&'a str>,
    /// The internal cause, printed as its `Display` (an error's own
    /// text, as the access log has always shown it).
    pub cause: Option<&'a dyn std::error::Error>,
    /// The request's client (resolved behind balancers and proxies).
    pub peer: std::net::IpAddr,
    /// The TCP peer, when a balancer or proxy stood in front.
    pub via: Option<std::net::IpAddr>,
}

impl RequestCompleted<'_> {
    pub(crate) fn emit(&self) {
        let tenant = self.tenant.unwrap_or("-");
        let upstream = self.upstream;
        // Formatted only for a failed request: recorded as a string, like
        // every other field of the line.
        let cause = self.cause.map(ToString::to_string);
        tracing::info!(
            target: "access",
            request_id = self.request_id,
            tenant,
            principal = self.principal.unwrap_or("-"),
            auth_method = self.auth_method.unwrap_or("-"),
            subject = self.subject.unwrap_or("-"),
            method = %self.method,
            resource_type = self.resource_type.unwrap_or("-"),
            status = self.status,
            upstream = upstream.unwrap_or("-"),
            upstream_status = self.upstream_status.unwrap_or(0),
            latency_us = u64::try_from(self.latency.as_micros()).unwrap_or(u64::MAX),
            upstream_latency_us = self
                .upstream_latency
                .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
            error = self.error.unwrap_or("-"),
            cause = cause.as_deref().unwrap_or("-"),
            peer = %self.peer,
            via = self.via.map(tracing::field::display),
            "request"
        );
        let labels = RequestLabels {
            tenant,
            upstream,
            method: method_label(self.method),
            resource_type: self.resource_label,
            status_class: status_class(self.status),
        };
        let seconds = self.latency.as_secs_f64();
        match self.tenant_metrics {
            Some(metrics) => metrics.record(&labels, seconds),
            // No tenant (unknown host): uncached, and rare.
            None => {
                requests_counter(&labels).increment(1);
                duration_histogram(tenant, labels.method).record(seconds);
            }
        }
        if let (Some(upstream), Some(metrics), Some(latency)) =
            (self.upstream, self.upstream_metrics, self.upstream_latency)
        {
            metrics.record_latency(upstream, latency.as_secs_f64());
        }
    }
}

/// A request was refused by a rate limit or concurrency cap.
#[derive(Debug)]
pub(crate) struct Limited<'a> {
    pub tenant: &'a str,
    /// `tenant_rate`, `principal_rate`, `upstream_rate`,
    /// `tenant_concurrency`, `upstream_concurrency`.
    pub kind: &'static str,
}

impl Limited<'_> {
    pub(crate) fn emit(&self) {
        tracing::debug!(tenant = self.tenant, kind = self.kind, "request limited");
        metrics::counter!(LIMITED_TOTAL, "tenant" => self.tenant.to_string(), "kind" => self.kind)
            .increment(1);
    }
}

/// The shared limit backend (Redis) could not decide: the replica uses
/// its local share of the limit. Logged at most every 10 s; every one is
/// counted.
#[derive(Debug)]
pub(crate) struct LimitFallback<'a> {
    pub error: &'a dyn std::error::Error,
}

impl LimitFallback<'_> {
    pub(crate) fn emit(&self) {
        static LAST_LOGGED: AtomicU64 = AtomicU64::new(0);
        if ten_seconds_since(&LAST_LOGGED) {
            tracing::warn!(error = %self.error, "shared limits unavailable: each replica enforces its share locally");
        }
        metrics::counter!(LIMIT_FALLBACKS_TOTAL).increment(1);
    }
}

/// Writes to a resource were ordered in this process only, because Redis
/// did not answer for the resource's lease. Logged at most every 10 s;
/// every one is counted.
#[derive(Debug)]
pub(crate) struct WriteOrderFallback<'a> {
    pub error: &'a dyn std::error::Error,
}

impl WriteOrderFallback<'_> {
    pub(crate) fn emit(&self) {
        static LAST_LOGGED: AtomicU64 = AtomicU64::new(0);
        if ten_seconds_since(&LAST_LOGGED) {
            tracing::warn!(error = %self.error, "write-order leases unavailable: writes are ordered per replica only");
        }
        metrics::counter!(WRITE_ORDER_FALLBACK_TOTAL).increment(1);
    }
}

/// Redis did not give a write's events their `resourceversion`: they got
/// the replica's clock instead. Logged at most every 10 s; every one is
/// counted.
#[derive(Debug)]
pub(crate) struct EventVersionFallback<'a> {
    pub tenant: &'a str,
    pub error: &'a str,
}

impl EventVersionFallback<'_> {
    pub(crate) fn emit(&self) {
        static LAST_LOGGED: AtomicU64 = AtomicU64::new(0);
        if ten_seconds_since(&LAST_LOGGED) {
            tracing::warn!(
                tenant = self.tenant,
                error = self.error,
                "event versions from this replica's clock: redis did not answer"
            );
        }
        metrics::counter!(EVENT_VERSION_FALLBACKS_TOTAL, "tenant" => self.tenant.to_string())
            .increment(1);
    }
}

/// True at most once every 10 s per `last` (a Unix time in seconds): the
/// caller logs then. Of several threads at once, only one wins.
fn ten_seconds_since(last: &AtomicU64) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let before = last.load(Ordering::Relaxed);
    now >= before + 10
        && last
            .compare_exchange(before, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// A dialect rule fired on a request (or would have, in shadow mode): one
/// event per rule.
#[derive(Debug)]
pub(crate) struct DialectApplied<'a> {
    pub tenant: &'a str,
    /// The rule's name (a fixed list).
    pub rule: &'static str,
    /// The rules only reported; the request is unchanged.
    pub shadow: bool,
}

impl DialectApplied<'_> {
    pub(crate) fn emit(&self) {
        let mode = if self.shadow { "shadow" } else { "applied" };
        tracing::debug!(tenant = self.tenant, rule = self.rule, mode, "dialect rule");
        metrics::counter!(
            DIALECT_RULES_TOTAL,
            "tenant" => self.tenant.to_string(),
            "rule" => self.rule,
            "mode" => mode
        )
        .increment(1);
    }
}

/// A response cache lookup.
#[derive(Debug)]
pub(crate) struct CacheLookup<'a> {
    pub tenant: &'a str,
    pub hit: bool,
}

impl CacheLookup<'_> {
    pub(crate) fn emit(&self) {
        metrics::counter!(
            CACHE_REQUESTS_TOTAL,
            "tenant" => self.tenant.to_string(),
            "result" => if self.hit { "hit" } else { "miss" }
        )
        .increment(1);
    }
}

/// A write's cache invalidation never reached Redis within the tenant's
/// cache TTL: other replicas may have served the old answer meanwhile.
#[derive(Debug)]
pub(crate) struct CacheInvalidationLost<'a> {
    pub tenant: &'a str,
}

impl CacheInvalidationLost<'_> {
    pub(crate) fn emit(&self) {
        tracing::error!(
            tenant = self.tenant,
            "a write's cache invalidation never reached redis; other replicas may have served the old answer until its TTL"
        );
        metrics::counter!(CACHE_INVALIDATIONS_LOST_TOTAL, "tenant" => self.tenant.to_string())
            .increment(1);
    }
}

/// An upstream call failed.
#[derive(Debug)]
pub(crate) struct UpstreamFailed<'a> {
    pub upstream: &'a str,
    pub reason: &'static str,
    pub request_id: &'a str,
}

impl UpstreamFailed<'_> {
    pub(crate) fn emit(&self) {
        tracing::warn!(
            upstream = self.upstream,
            reason = self.reason,
            request_id = self.request_id,
            "upstream call failed"
        );
        metrics::counter!(UPSTREAM_ERRORS_TOTAL, "upstream" => self.upstream.to_string(), "reason" => self.reason)
            .increment(1);
    }
}

/// An upstream call is being retried.
#[derive(Debug)]
pub(crate) struct UpstreamRetried<'a> {
    pub upstream: &'a str,
    pub reason: &'static str,
}

impl UpstreamRetried<'_> {
    pub(crate) fn emit(&self) {
        tracing::debug!(
            upstream = self.upstream,
            reason = self.reason,
            "upstream call retried"
        );
        metrics::counter!(UPSTREAM_RETRIES_TOTAL, "upstream" => self.upstream.to_string(), "reason" => self.reason)
            .increment(1);
    }
}

/// A User deprovisioned (the deprovision-latency SLI).
#[derive(Debug)]
pub(crate) struct Deprovisioned<'a> {
    pub tenant: &'a str,
    pub ok: bool,
    pub latency: std::time::Duration,
}

impl Deprovisioned<'_> {
    pub(crate) fn emit(&self) {
        let outcome = if self.ok { "success" } else { "failure" };
        metrics::histogram!(DEPROVISION_DURATION_SECONDS, "tenant" => self.tenant.to_string(), "outcome" => outcome)
            .record(self.latency.as_secs_f64());
    }
}

/// The operations of one Bulk request (the bulk-failure-ratio SLI).
#[derive(Debug)]
pub(crate) struct BulkCounted<'a> {
    pub tenant: &'a str,
    pub ok: u64,
    pub failed: u64,
}

impl BulkCounted<'_> {
    pub(crate) fn emit(&self) {
        let tenant = self.tenant.to_string();
        metrics::counter!(BULK_OPERATIONS_TOTAL, "tenant" => tenant.clone(), "outcome" => "ok")
            .increment(self.ok);
        metrics::counter!(BULK_OPERATIONS_TOTAL, "tenant" => tenant, "outcome" => "failed")
            .increment(self.failed);
    }
}

/// An upstream answered 429.
#[derive(Debug)]
pub(crate) struct UpstreamThrottled<'a> {
    pub upstream: &'a str,
}

impl UpstreamThrottled<'_> {
    pub(crate) fn emit(&self) {
        metrics::counter!(UPSTREAM_THROTTLED_TOTAL, "upstream" => self.upstream.to_string())
            .increment(1);
    }
}

/// An authentication failed.
#[derive(Debug)]
pub(crate) struct AuthFailed<'a> {
    pub tenant: &'a str,
    pub reason: &'static str,
    pub request_id: &'a str,
    pub peer: std::net::IpAddr,
}

impl AuthFailed<'_> {
    pub(crate) fn emit(&self) {
        tracing::warn!(tenant = self.tenant, reason = self.reason, request_id = self.request_id, peer = %self.peer, "authentication failed");
        metrics::counter!(AUTH_FAILURES_TOTAL, "tenant" => self.tenant.to_string(), "reason" => self.reason)
            .increment(1);
    }
}

/// A configuration reload finished.
#[derive(Debug)]
pub(crate) struct ConfigReloaded<'a> {
    pub ok: bool,
    pub problems: &'a [String],
}

impl ConfigReloaded<'_> {
    pub(crate) fn emit(&self) {
        if self.ok {
            tracing::info!("config reloaded");
        } else {
            tracing::error!(problems = ?self.problems, "config reload refused; the previous config stays in effect");
        }
        metrics::counter!(CONFIG_RELOADS_TOTAL, "outcome" => if self.ok { "ok" } else { "failed" })
            .increment(1);
    }
}

/// A request (or Bulk operation) emulated for an upstream that lacks a
/// capability.
#[derive(Debug)]
pub(crate) struct Emulated<'a> {
    pub upstream: &'a str,
    pub capability: &'static str,
}

impl Emulated<'_> {
    pub(crate) fn emit(&self) {
        tracing::debug!(
            upstream = self.upstream,
            capability = self.capability,
            "capability emulated"
        );
        metrics::counter!(EMULATED_TOTAL, "upstream" => self.upstream.to_string(), "capability" => self.capability)
            .increment(1);
    }
}

/// A create answered with a resource the upstream already had
/// (`existing` or `replayed`: docs/safety.md).
#[derive(Debug)]
pub(crate) struct IdempotentCreate<'a> {
    pub tenant: &'a str,
    pub outcome: &'static str,
}

impl IdempotentCreate<'_> {
    pub(crate) fn emit(&self) {
        tracing::debug!(
            tenant = self.tenant,
            outcome = self.outcome,
            "create answered with an existing resource"
        );
        metrics::counter!(CREATES_IDEMPOTENT_TOTAL, "tenant" => self.tenant.to_string(), "outcome" => self.outcome)
            .increment(1);
    }
}

/// An emulated PATCH found the resource changed under it and reads again.
#[derive(Debug)]
pub(crate) struct EmulationConflict<'a> {
    pub upstream: &'a str,
    /// The attempt that failed (1-based).
    pub attempt: u32,
}

impl EmulationConflict<'_> {
    pub(crate) fn emit(&self) {
        tracing::debug!(
            upstream = self.upstream,
            attempt = self.attempt,
            "emulated PATCH: the resource changed; reading it again"
        );
        metrics::counter!(EMULATION_CONFLICTS_TOTAL, "upstream" => self.upstream.to_string())
            .increment(1);
    }
}

/// An upstream's `/ServiceProviderConfig` was read for `"auto"`
/// capabilities (`found` is `None` when it could not be read).
#[derive(Debug)]
pub(crate) struct CapabilitiesDiscovered<'a> {
    pub upstream: &'a str,
    pub found: Option<Capabilities>,
}

/// What an upstream says it supports, as logged.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Capabilities {
    pub patch: bool,
    pub bulk: bool,
    pub filter: bool,
    pub etag: bool,
}

impl CapabilitiesDiscovered<'_> {
    pub(crate) fn emit(&self) {
        match self.found {
            Some(s) => tracing::info!(
                upstream = self.upstream,
                patch = s.patch,
                bulk = s.bulk,
                filter = s.filter,
                etag = s.etag,
                "upstream capabilities discovered"
            ),
            None => tracing::warn!(
                upstream = self.upstream,
                "the upstream's /ServiceProviderConfig could not be read; assuming it supports \
                 PATCH, Bulk, filtering and ETags"
            ),
        }
        let outcome = if self.found.is_some() {
            "read"
        } else {
            "unreadable"
        };
        metrics::counter!(CAPABILITY_DISCOVERIES_TOTAL, "upstream" => self.upstream.to_string(), "outcome" => outcome)
            .increment(1);
    }
}
