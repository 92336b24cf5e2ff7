//! The compiled `[upstreams.X.capabilities]` table.
use super::Capability;
use std::time::Duration;

/// Whether an upstream supports a capability, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Support {
    /// `true`: it does; the gateway passes requests through.
    Yes,
    /// `false`: it does not; the gateway emulates.
    No,
    /// `"auto"`: as its `/ServiceProviderConfig` says.
    #[default]
    Auto,
}

/// What an upstream supports and the bounds of the emulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulationSettings {
    pub patch: Support,
    pub bulk: Support,
    pub filter: Support,
    pub etag: Support,
    /// Most operations in one emulated Bulk request (advertised as
    /// `bulk.maxOperations`).
    pub bulk_max_operations: usize,
    /// Most upstream pages read to answer one emulated filter.
    pub filter_max_pages: usize,
    /// Resources asked for per upstream page.
    pub filter_page_size: usize,
    /// Most resources in one emulated list response (advertised as
    /// `filter.maxResults`).
    pub filter_max_results: usize,
    /// Attempts of GET + apply + PUT for one emulated PATCH before the
    /// client gets 412.
    pub patch_attempts: u32,
    /// How long a discovered `/ServiceProviderConfig` is trusted.
    pub discovery_ttl: Duration,
}

impl Default for EmulationSettings {
    fn default() -> Self {
        EmulationSettings {
            patch: Support::Auto,
            bulk: Support::Auto,
            filter: Support::Auto,
            etag: Support::Auto,
            bulk_max_operations: 1000,
            filter_max_pages: 20,
            filter_page_size: 100,
            filter_max_results: 1000,
            patch_attempts: 3,
            discovery_ttl: Duration::from_secs(600),
        }
    }
}

impl EmulationSettings {
    pub fn get(&self, c: Capability) -> Support {
        match c {
            Capability::Patch => self.patch,
            Capability::Bulk => self.bulk,
            Capability::Filter => self.filter,
            Capability::Etag => self.etag,
        }
    }
}
