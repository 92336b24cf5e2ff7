//! Every metric name, in one place (documented in docs/observability.md;
//! the journal's in docs/audit.md): the gateway's here, the audit
//! journal's in [`audit`], event delivery's in [`events`].
//!
//! Ground: imports only the `metrics` and `http` crates.
pub(crate) mod audit;
pub(crate) mod drift;
pub(crate) mod events;

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

/// Requests answered, by `tenant`, `upstream`, `method`, `resource_type`,
/// `status_class` (`2xx` ... `5xx`).
pub(crate) const REQUESTS_TOTAL: &str = "scim_gateway_requests_total";
/// Error answers (status 400 and above), by `tenant`, `status` (`400` to
/// `599`) and `scim_type` (`-` when none).
pub(crate) const ERRORS_TOTAL: &str = "scim_gateway_errors_total";
/// Time from request head to response head, by `tenant`, `method`.
pub(crate) const REQUEST_DURATION_SECONDS: &str = "scim_gateway_request_duration_seconds";
/// Time spent in the upstream call, by `upstream`.
pub(crate) const UPSTREAM_DURATION_SECONDS: &str = "scim_gateway_upstream_duration_seconds";
/// Upstream failures (connect, timeout, protocol, oversized), by
/// `upstream`, `reason`.
pub(crate) const UPSTREAM_ERRORS_TOTAL: &str = "scim_gateway_upstream_errors_total";
/// Upstream calls retried, by `upstream`, `reason` (`upstream_connect`,
/// `upstream_protocol`, `upstream_429`, `upstream_502`, `upstream_503`,
/// `upstream_504`).
pub(crate) const UPSTREAM_RETRIES_TOTAL: &str = "scim_gateway_upstream_retries_total";
/// Time to deprovision a User (delete, or `active` set to false).
pub(crate) const DEPROVISION_DURATION_SECONDS: &str = "scim_gateway_deprovision_duration_seconds";
/// Deprovisions the guardrail let through (counted in its window), by
/// `tenant`.
pub(crate) const GUARDRAIL_DEPROVISIONS_TOTAL: &str = "scim_gateway_guardrail_deprovisions_total";
/// Deprovisions the guardrail held for an operator, by `tenant`, `kind`.
pub(crate) const GUARDRAIL_HELD_TOTAL: &str = "scim_gateway_guardrail_held_total";
/// Held operations waiting for an operator, by `tenant`.
pub(crate) const GUARDRAIL_PENDING: &str = "scim_gateway_guardrail_pending";
/// Deprovisions a dry-run guardrail would have held, by `tenant`.
pub(crate) const GUARDRAIL_WOULD_HOLD_TOTAL: &str = "scim_gateway_guardrail_would_hold_total";
/// Requests mirrored to a tenant's shadow upstream, by `tenant`,
/// `outcome` (`match`, `differ`, `failed`, `dropped`, `skipped`).
pub(crate) const SHADOW_REQUESTS_TOTAL: &str = "scim_gateway_shadow_requests_total";
/// Attribute paths that differed between the primary's and the shadow's
/// answers, by `tenant`.
pub(crate) const SHADOW_DIFFERENCES_TOTAL: &str = "scim_gateway_shadow_differences_total";
/// Operations of Bulk requests, by outcome.
pub(crate) const BULK_OPERATIONS_TOTAL: &str = "scim_gateway_bulk_operations_total";
/// 429 answers received from upstreams (retried or passed on).
pub(crate) const UPSTREAM_THROTTLED_TOTAL: &str = "scim_gateway_upstream_throttled_total";
/// Whether an endpoint of an upstream with several `urls` passes its
/// health checks (1) or not (0), by `upstream`, `endpoint` (`host:port`).
pub(crate) const UPSTREAM_ENDPOINT_HEALTHY: &str = "scim_gateway_upstream_endpoint_healthy";
/// Requests in flight per endpoint, by `upstream`, `endpoint`.
pub(crate) const UPSTREAM_ENDPOINT_OUTSTANDING: &str = "scim_gateway_upstream_endpoint_outstanding";
/// Endpoints ejected by outlier detection, by `upstream`, `endpoint`.
pub(crate) const UPSTREAM_ENDPOINT_EJECTIONS_TOTAL: &str =
    "scim_gateway_upstream_endpoint_ejections_total";
/// Writes ordered in-process only because Redis did not grant or answer
/// for the resource's lease.
pub(crate) const WRITE_ORDER_FALLBACK_TOTAL: &str = "scim_gateway_write_order_fallback_total";
/// Change events whose `resourceversion` came from the replica's clock
/// because Redis did not answer, by `tenant`.
pub(crate) const EVENT_VERSION_FALLBACKS_TOTAL: &str = "scim_gateway_event_version_fallbacks_total";
/// Failed authentications, by `tenant`, `reason`.
pub(crate) const AUTH_FAILURES_TOTAL: &str = "scim_gateway_auth_failures_total";
/// Requests refused with 429 by a limit, by `tenant`, `kind`
/// (`tenant_rate`, `principal_rate`, `upstream_rate`, `tenant_concurrency`,
/// `upstream_concurrency`).
pub(crate) const LIMITED_TOTAL: &str = "scim_gateway_limited_total";
/// Limit decisions taken locally because the shared backend (Redis)
/// did not answer in time.
pub(crate) const LIMIT_FALLBACKS_TOTAL: &str = "scim_gateway_limit_fallbacks_total";
/// Times the shared Redis connection followed a new master (Sentinel).
pub(crate) const REDIS_MASTER_CHANGES_TOTAL: &str = "scim_gateway_redis_master_changes_total";
/// IdP dialect rules that fired, by `tenant`, `rule`, `mode` (`applied`,
/// `shadow`).
pub(crate) const DIALECT_RULES_TOTAL: &str = "scim_gateway_dialect_rules_total";
/// Response cache lookups, by `tenant`, `result` (`hit`, `miss`,
/// `bypass`: not cacheable, or the shared generations unreadable).
pub(crate) const CACHE_REQUESTS_TOTAL: &str = "scim_gateway_cache_requests_total";
/// Cached responses evicted for space.
pub(crate) const CACHE_EVICTIONS_TOTAL: &str = "scim_gateway_cache_evictions_total";
/// Writes whose cache invalidation never reached Redis (other replicas
/// may serve the old answer until its TTL), by `tenant`.
pub(crate) const CACHE_INVALIDATIONS_LOST_TOTAL: &str =
    "scim_gateway_cache_invalidations_lost_total";
/// Gauge: bytes held by a tenant's cached answers, by `tenant`.
pub(crate) const CACHE_BYTES: &str = "scim_gateway_cache_bytes";
/// Config reloads, by `outcome` (`ok`, `failed`).
pub(crate) const CONFIG_RELOADS_TOTAL: &str = "scim_gateway_config_reloads_total";
/// Open client connections.
pub(crate) const CONNECTIONS_OPEN: &str = "scim_gateway_connections_open";
/// Counter: client connections refused at accept or closed early, by
/// `reason` (`per_ip`, `anonymous_budget`, `anonymous_timeout`).
pub(crate) const CONNECTIONS_REFUSED_TOTAL: &str = "scim_gateway_connections_refused_total";
/// Counter: creates the upstream did not make (docs/safety.md), by
/// `tenant` and `outcome` (`existing`: a refused duplicate answered with the
/// resource that exists; `replayed`: the same create again within the
/// replay window).
pub(crate) const CREATES_IDEMPOTENT_TOTAL: &str = "scim_gateway_creates_idempotent_total";
/// Counter: requests (and Bulk operations) the gateway emulated for an
/// upstream that lacks a capability, by `upstream` and `capability`
/// (`patch`, `bulk`, `filter`, `etag`, `mapped_filter`, and
/// `filtered_upsert`: an Entra PATCH whose filtered adds were resolved into
/// creates).
pub(crate) const EMULATED_TOTAL: &str = "scim_gateway_emulated_total";
/// Counter: emulated PATCHes that found the resource changed between the
/// read and the write (412) and read it again, by `upstream`.
pub(crate) const EMULATION_CONFLICTS_TOTAL: &str = "scim_gateway_emulation_conflicts_total";
/// Counter: looks at an upstream's `/ServiceProviderConfig`, by `upstream`
/// and `outcome` (`read`, `unreadable`).
pub(crate) const CAPABILITY_DISCOVERIES_TOTAL: &str = "scim_gateway_capability_discoveries_total";
/// Counter: upkeeps of the metrics recorder run by its timer (histogram
/// samples drained into their distributions, every 5 s whether or not
/// `/metrics` is scraped).
pub(crate) const METRICS_UPKEEP_TOTAL: &str = "scim_gateway_metrics_upkeep_total";
/// Counter: spans sent to the OTLP endpoint (`[telemetry.traces]`).
pub(crate) const TRACE_SPANS_EXPORTED_TOTAL: &str = "scim_gateway_trace_spans_exported_total";
/// Counter: spans not exported, by `reason` (`queue_full`,
/// `export_failed`, `exporter_stopped`).
pub(crate) const TRACE_SPANS_DROPPED_TOTAL: &str = "scim_gateway_trace_spans_dropped_total";

/// Registers descriptions and units.
pub(crate) fn describe() {
    describe_counter!(REQUESTS_TOTAL, "Requests answered by the gateway.");
    describe_counter!(
        ERRORS_TOTAL,
        "Error answers (status 400 and above) by tenant, status and scimType."
    );
    describe_counter!(
        TRACE_SPANS_EXPORTED_TOTAL,
        "Spans sent to the OTLP endpoint."
    );
    describe_counter!(TRACE_SPANS_DROPPED_TOTAL, "Spans not exported.");
    describe_histogram!(
        REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Gateway latency per request, upstream call included."
    );
    describe_histogram!(
        UPSTREAM_DURATION_SECONDS,
        Unit::Seconds,
        "Latency of upstream calls."
    );
    describe_counter!(UPSTREAM_ERRORS_TOTAL, "Upstream calls that failed.");
    describe_counter!(UPSTREAM_RETRIES_TOTAL, "Upstream calls retried.");
    describe_histogram!(
        DEPROVISION_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Time to deprovision a User (DELETE, or active set to false), by outcome."
    );
    describe_counter!(
        GUARDRAIL_DEPROVISIONS_TOTAL,
        "Deprovisions the guardrail let through, counted in its window."
    );
    describe_counter!(
        GUARDRAIL_HELD_TOTAL,
        "Deprovisions the guardrail held for an operator."
    );
    describe_gauge!(
        GUARDRAIL_PENDING,
        "Held operations waiting for an operator's release or drop."
    );
    describe_counter!(
        GUARDRAIL_WOULD_HOLD_TOTAL,
        "Deprovisions a dry-run guardrail would have held."
    );
    describe_counter!(
        SHADOW_REQUESTS_TOTAL,
        "Requests mirrored to a shadow upstream, by outcome."
    );
    describe_counter!(
        SHADOW_DIFFERENCES_TOTAL,
        "Attribute paths that differed between primary and shadow answers."
    );
    describe_counter!(
        BULK_OPERATIONS_TOTAL,
        "Operations of Bulk requests answered, by outcome (ok, failed)."
    );
    describe_counter!(
        UPSTREAM_THROTTLED_TOTAL,
        "429 answers received from upstreams (retried or passed on)."
    );
    describe_gauge!(
        UPSTREAM_ENDPOINT_HEALTHY,
        "Whether an upstream endpoint passes its health checks."
    );
    describe_gauge!(
        UPSTREAM_ENDPOINT_OUTSTANDING,
        "Requests in flight per upstream endpoint."
    );
    describe_counter!(
        UPSTREAM_ENDPOINT_EJECTIONS_TOTAL,
        "Upstream endpoints ejected by outlier detection."
    );
    describe_counter!(
        WRITE_ORDER_FALLBACK_TOTAL,
        "Writes ordered in-process only because Redis was unreachable."
    );
    describe_counter!(AUTH_FAILURES_TOTAL, "Failed authentications by reason.");
    describe_counter!(
        LIMITED_TOTAL,
        "Requests refused by a rate limit or concurrency cap."
    );
    describe_counter!(
        LIMIT_FALLBACKS_TOTAL,
        "Limit decisions taken locally because Redis did not answer."
    );
    describe_counter!(
        REDIS_MASTER_CHANGES_TOTAL,
        "Times the shared Redis connection followed a new master (Sentinel)."
    );
    describe_counter!(
        DIALECT_RULES_TOTAL,
        "IdP dialect rules applied to requests."
    );
    describe_counter!(CACHE_REQUESTS_TOTAL, "Response cache lookups by result.");
    describe_counter!(CACHE_EVICTIONS_TOTAL, "Cached responses evicted for space.");
    describe_counter!(
        EVENT_VERSION_FALLBACKS_TOTAL,
        "Change events versioned by the replica's clock because Redis did not answer."
    );
    describe_counter!(
        CACHE_INVALIDATIONS_LOST_TOTAL,
        "Writes whose cache invalidation never reached Redis within the tenant's cache TTL."
    );
    describe_gauge!(CACHE_BYTES, "Bytes held by a tenant's cached responses.");
    describe_counter!(CONFIG_RELOADS_TOTAL, "Configuration reloads by outcome.");
    describe_gauge!(CONNECTIONS_OPEN, "Open client connections.");
    describe_counter!(
        CONNECTIONS_REFUSED_TOTAL,
        "Client connections refused or closed early by the connection caps, by reason."
    );
    describe_counter!(
        CREATES_IDEMPOTENT_TOTAL,
        "Creates answered with a resource the upstream already had (existing, replayed), by tenant."
    );
    describe_counter!(
        EMULATED_TOTAL,
        "Requests answered by emulating a capability the upstream lacks, by capability."
    );
    describe_counter!(
        EMULATION_CONFLICTS_TOTAL,
        "Emulated writes refused because the resource changed meanwhile."
    );
    describe_counter!(
        CAPABILITY_DISCOVERIES_TOTAL,
        "Reads of an upstream's /ServiceProviderConfig, by outcome."
    );
    describe_counter!(
        METRICS_UPKEEP_TOTAL,
        "Upkeeps of the metrics recorder run by its timer (histogram samples drained)."
    );
    events::describe();
    drift::describe();
}

/// A resource-type label from a SCIM path: a known endpoint or `other`.
pub(crate) fn resource_type_label(first_segment: Option<&str>) -> &'static str {
    const KNOWN: [&str; 9] = [
        "Users",
        "Groups",
        "Bulk",
        ".search",
        "Me",
        "ServiceProviderConfig",
        "Schemas",
        "ResourceTypes",
        "",
    ];
    match first_segment {
        None => "base",
        Some(s) => KNOWN
            .iter()
            .find(|k| k.eq_ignore_ascii_case(s))
            .map_or("other", |k| if k.is_empty() { "base" } else { k }),
    }
}

/// A method label: a standard method or `other`.
pub(crate) fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `2xx`, `4xx`, ...
pub(crate) fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}
