//! Every metric name, in one place (documented in docs/observability.md).
use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

/// Requests answered, by `tenant`, `upstream`, `method`, `resource_type`,
/// `status_class` (`2xx` ... `5xx`).
pub const REQUESTS_TOTAL: &str = "scim_gateway_requests_total";
/// Time from request head to response head, by `tenant`, `method`.
pub const REQUEST_DURATION_SECONDS: &str = "scim_gateway_request_duration_seconds";
/// Time spent in the upstream call, by `upstream`.
pub const UPSTREAM_DURATION_SECONDS: &str = "scim_gateway_upstream_duration_seconds";
/// Upstream failures (connect, timeout, protocol, oversized), by
/// `upstream`, `reason`.
pub const UPSTREAM_ERRORS_TOTAL: &str = "scim_gateway_upstream_errors_total";
/// Upstream calls retried, by `upstream`, `reason` (`upstream_connect`,
/// `upstream_protocol`, `upstream_429`, `upstream_502`, `upstream_503`,
/// `upstream_504`).
pub const UPSTREAM_RETRIES_TOTAL: &str = "scim_gateway_upstream_retries_total";
/// Failed authentications, by `tenant`, `reason`.
pub const AUTH_FAILURES_TOTAL: &str = "scim_gateway_auth_failures_total";
/// Requests refused with 429 by a limit, by `tenant`, `kind`
/// (`tenant_rate`, `principal_rate`, `upstream_rate`, `tenant_concurrency`,
/// `upstream_concurrency`).
pub const LIMITED_TOTAL: &str = "scim_gateway_limited_total";
/// Limit decisions taken locally because the shared backend (Redis)
/// did not answer in time.
pub const LIMIT_FALLBACKS_TOTAL: &str = "scim_gateway_limit_fallbacks_total";
/// IdP dialect rules that fired, by `tenant`, `rule`, `mode` (`applied`,
/// `shadow`).
pub const DIALECT_RULES_TOTAL: &str = "scim_gateway_dialect_rules_total";
/// Response cache lookups, by `tenant`, `result` (`hit`, `miss`).
pub const CACHE_REQUESTS_TOTAL: &str = "scim_gateway_cache_requests_total";
/// Cached responses evicted for space.
pub const CACHE_EVICTIONS_TOTAL: &str = "scim_gateway_cache_evictions_total";
/// Config reloads, by `outcome` (`ok`, `failed`).
pub const CONFIG_RELOADS_TOTAL: &str = "scim_gateway_config_reloads_total";
/// Open client connections.
pub const CONNECTIONS_OPEN: &str = "scim_gateway_connections_open";
/// Counter: requests (and Bulk operations) the gateway emulated for an
/// upstream that lacks a capability, by `upstream` and `capability`
/// (`patch`, `bulk`, `filter`, `etag`).
pub const EMULATED_TOTAL: &str = "scim_gateway_emulated_total";
/// Counter: emulated PATCHes that found the resource changed between the
/// read and the write (412) and read it again, by `upstream`.
pub const EMULATION_CONFLICTS_TOTAL: &str = "scim_gateway_emulation_conflicts_total";
/// Counter: looks at an upstream's `/ServiceProviderConfig`, by `upstream`
/// and `outcome` (`read`, `unreadable`).
pub const CAPABILITY_DISCOVERIES_TOTAL: &str = "scim_gateway_capability_discoveries_total";

/// Registers descriptions and units.
pub fn describe() {
    describe_counter!(REQUESTS_TOTAL, "Requests answered by the gateway.");
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
        DIALECT_RULES_TOTAL,
        "IdP dialect rules applied to requests."
    );
    describe_counter!(CACHE_REQUESTS_TOTAL, "Response cache lookups by result.");
    describe_counter!(CACHE_EVICTIONS_TOTAL, "Cached responses evicted for space.");
    describe_counter!(CONFIG_RELOADS_TOTAL, "Configuration reloads by outcome.");
    describe_gauge!(CONNECTIONS_OPEN, "Open client connections.");
}

/// A resource-type label from a SCIM path: a known endpoint or `other`.
pub fn resource_type_label(first_segment: Option<&str>) -> &'static str {
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
pub fn method_label(method: &http::Method) -> &'static str {
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
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}
