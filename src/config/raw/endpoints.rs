//! Raw sections of an upstream with several endpoints (`urls = [...]`):
//! `[upstreams.NAME.health]` and `[upstreams.NAME.outlier]`.
use serde::Deserialize;

/// `[upstreams.NAME.health]`: active checks of every endpoint.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthSection {
    /// Time between two checks. Default `"10s"`.
    pub interval: Option<String>,
    /// Time a check may take. Default `"2s"` (at most `interval`).
    pub timeout: Option<String>,
    /// Path below each endpoint's base. Default `"/ServiceProviderConfig"`.
    pub path: Option<String>,
    /// Passed checks in a row that bring an endpoint back. Default 2.
    pub healthy_after: Option<u32>,
    /// Failed checks in a row that take an endpoint out. Default 2.
    pub unhealthy_after: Option<u32>,
}

/// `[upstreams.NAME.outlier]`: ejection on failures seen on real traffic.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutlierSection {
    /// Consecutive failures (connect errors, timeouts, broken connections,
    /// 5xx) that eject an endpoint; 0 = never. Default 5.
    pub consecutive_failures: Option<u32>,
    /// The first ejection's length; the k-th lasts k times as long.
    /// Default `"30s"`.
    pub base_ejection_time: Option<String>,
    /// The longest ejection. Default `"300s"`.
    pub max_ejection_time: Option<String>,
    /// Most endpoints ejected at once, in percent (at least one, never
    /// all). Default 50.
    pub max_ejected_percent: Option<u32>,
}
