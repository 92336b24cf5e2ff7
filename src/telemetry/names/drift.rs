//! The drift reports' metric names (documented in docs/observability.md
//! and docs/safety.md). Labels are bounded: `tenant` comes from the
//! config, `kind` is one of four.
//!
//! Ground: imports only the `metrics` crate.
use metrics::{describe_gauge, Unit};

/// Resources the tenant's last drift run found, by `tenant`, `kind`
/// (`changed`, `created_outside`, `missing`, `unverified`).
pub(crate) const DRIFT_RESOURCES: &str = "scim_gateway_drift_resources";
/// When the tenant's last drift run finished (Unix seconds), by `tenant`
/// and `outcome` (`done`, `failed`).
pub(crate) const DRIFT_LAST_RUN_TIMESTAMP_SECONDS: &str =
    "scim_gateway_drift_last_run_timestamp_seconds";

/// Registers descriptions and units (called once, by `names::describe`).
pub(crate) fn describe() {
    describe_gauge!(
        DRIFT_RESOURCES,
        "Resources the last drift run found changed, created outside the gateway, missing or unverified."
    );
    describe_gauge!(
        DRIFT_LAST_RUN_TIMESTAMP_SECONDS,
        Unit::Seconds,
        "When the tenant's last drift run finished (Unix time)."
    );
}
