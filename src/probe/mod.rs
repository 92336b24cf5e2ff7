//! `scim-gateway probe URL`: a conformance scorecard of one upstream SCIM
//! server, and the `[upstreams.NAME.capabilities]` block that fits it.
//!
//! The probe creates a few resources of its own (named with a unique
//! prefix), exercises the protocol on them (RFC 7644 §3.3 to §3.14: CRUD,
//! each PATCH form, each filter operator, sorting, paging, ETags, Bulk,
//! errors), compares what it saw with what the upstream's
//! `/ServiceProviderConfig` claims (RFC 7643 §5), and deletes everything
//! it made, whatever happened on the way (a failure, the run's time
//! limit, Ctrl-C). Each check says what the gateway does about it: pass
//! the request through, emulate the capability (docs/emulation.md),
//! normalize (answer or translate itself), or refuse.
mod checks;
mod cleanup;
pub mod cli;
mod client;
mod report;
mod target;

pub use client::Client;
pub use report::{capabilities_block, render_table};
pub use target::{from_config, from_flags, FlagAuth};

use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::upstream::Upstream;

/// How one probe runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Bound of each request.
    pub timeout: Duration,
    /// Bound of the checks together (the cleanup has its own, `timeout`
    /// per request).
    pub max_time: Duration,
    /// List the requests without sending any.
    pub dry_run: bool,
    /// The name used in the capabilities block.
    pub name: String,
}

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    /// Not applicable, or not possible after an earlier failure.
    Skip,
}

/// What the gateway does about a check's subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Requests go to the upstream as they are.
    PassThrough,
    /// The gateway does it itself with simpler calls (docs/emulation.md).
    Emulate,
    /// The gateway answers or translates itself (discovery, SCIM 1.1).
    Normalize,
    /// The gateway refuses such requests.
    Refuse,
}

/// The group a check belongs to; it decides the check's [`Action`]. The
/// table lists the groups in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    Version,
    Discovery,
    Crud,
    Errors,
    Etag,
    Filter,
    Sort,
    Paging,
    Patch,
    Bulk,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub area: Area,
    pub name: String,
    pub outcome: Outcome,
    pub detail: String,
    pub action: Action,
}

/// `true`, `false` or `"auto"` for one capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Setting {
    True,
    False,
    Auto,
}

/// The recommended `[upstreams.NAME.capabilities]`.
#[derive(Debug, Clone, Serialize)]
pub struct Capabilities {
    pub patch: Setting,
    pub bulk: Setting,
    pub filter: Setting,
    pub etag: Setting,
}

/// What the upstream's `/ServiceProviderConfig` claims (`None`: not said).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Advertised {
    pub patch: Option<bool>,
    pub bulk: Option<bool>,
    pub filter: Option<bool>,
    pub etag: Option<bool>,
    pub sort: Option<bool>,
    pub cursor: Option<bool>,
}

/// The whole result of a probe.
#[derive(Debug, Clone, Serialize)]
pub struct Scorecard {
    pub upstream: String,
    pub url: String,
    /// `"2.0"`, `"1.1"` or `"unknown"`.
    pub scim_version: &'static str,
    pub advertised: Advertised,
    pub checks: Vec<Check>,
    pub capabilities: Capabilities,
    /// The prefix of every resource the probe made.
    pub prefix: String,
    /// Paths of resources the probe made and could not delete.
    pub left_behind: Vec<String>,
    /// The run stopped early: `"interrupted"` or `"time limit"`.
    pub stopped: Option<String>,
    pub dry_run: bool,
    /// Requests that got an HTTP answer (0: the upstream was never reached).
    pub answered: usize,
    /// Every request, in order (`METHOD /path?query`).
    pub requests: Vec<String>,
}

impl Scorecard {
    pub fn passed(&self) -> usize {
        self.count(Outcome::Pass)
    }
    pub fn failed(&self) -> usize {
        self.count(Outcome::Fail)
    }
    pub fn skipped(&self) -> usize {
        self.count(Outcome::Skip)
    }
    fn count(&self, o: Outcome) -> usize {
        self.checks.iter().filter(|c| c.outcome == o).count()
    }
}

/// Probes `upstream`. `interrupt` completing (Ctrl-C) stops the checks;
/// the cleanup runs in every case.
pub async fn run(
    upstream: Arc<Upstream>,
    url: String,
    options: &Options,
    interrupt: impl Future<Output = ()>,
) -> Scorecard {
    let client = Client::new(upstream, options.timeout, options.dry_run);
    let prefix = unique_prefix();
    let made = cleanup::Made::default();
    let mut ctx = checks::Ctx::new(&client, &made, prefix.clone());
    let stopped = {
        let all = checks::run_all(&mut ctx);
        tokio::select! {
            r = tokio::time::timeout(options.max_time, all) => match r {
                Ok(()) => None,
                Err(_) => Some("time limit".to_string()),
            },
            () = interrupt => Some("interrupted".to_string()),
        }
    };
    if let Some(why) = &stopped {
        ctx.record(
            Area::Crud,
            "run completed",
            Outcome::Fail,
            format!("stopped early ({why}); the checks not run are missing"),
        );
    }
    // Sweep by the prefix when the upstream's filter is known to work, and
    // after a run cut short too (a create in flight when it stopped may
    // have been made without its answer being seen, and the filter check
    // may not have run yet): the sweep deletes only resources whose own
    // name carries the prefix, so it is safe on any upstream.
    let sweep = ctx.facts.filter_eq_works || stopped.is_some();
    let left_behind = cleanup::run(&client, &made, &prefix, sweep).await;
    let (mut checks, facts) = ctx.finish();
    // Stable: the checks of a group keep the order they ran in.
    checks.sort_by_key(|c| c.area);
    let capabilities = report::recommend(&checks);
    let checks = report::with_actions(checks, &capabilities, facts.version);
    Scorecard {
        upstream: options.name.clone(),
        url,
        scim_version: facts.version,
        advertised: facts.advertised,
        checks,
        capabilities,
        prefix,
        left_behind,
        stopped,
        dry_run: options.dry_run,
        answered: client.answered(),
        requests: client.requests(),
    }
}

/// `scimprobe` and 8 random hex digits: unique per run, lower case (the
/// case checks upper-case it), safe in every attribute and filter.
fn unique_prefix() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 4];
    let rng = ring::rand::SystemRandom::new();
    if rng.fill(&mut bytes).is_err() {
        // The clock is unique enough for a name.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        bytes = nanos.to_be_bytes();
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("scimprobe{hex}")
}

#[cfg(test)]
mod tests;
