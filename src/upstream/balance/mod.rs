//! Several endpoints behind one `http` upstream (`urls = [...]`): which
//! endpoint takes the next request, which ones are out of rotation, and
//! why.
//!
//! - **Balancing: least outstanding requests**, ties broken round-robin,
//!   among endpoints that are healthy (active checks, [`health`]) and not
//!   ejected (passive outlier detection). A full scan, not the power of
//!   two choices: an upstream lists a handful of endpoints (at most
//!   [`MAX_ENDPOINTS`]), so reading every counter costs a few atomic loads
//!   (less than drawing two random numbers) and always finds the least
//!   loaded one. P2C pays off with hundreds of hosts or with counts that
//!   are stale between balancers; here the counts are live atomics shared
//!   by every request of the process. The scan starts at a rotating
//!   offset, which is what breaks ties round-robin.
//! - **Outlier ejection** (after Envoy's consecutive-5xx detector): `N`
//!   consecutive failures seen on real traffic (connect errors, upstream
//!   timeouts, broken connections, 5xx) take the endpoint out for
//!   `base_ejection_time × k`, where `k` counts its ejections (capped at
//!   `max_ejection_time`); `k` goes down by one for every
//!   `base_ejection_time` the endpoint then stays in. At most
//!   `max_ejected_percent` of the endpoints are ejected at once (at least
//!   one, never all).
//! - **Retries** ask for a different endpoint than the one that just
//!   failed ([`Balancer::pick`] with `avoid`), and get the same one only
//!   when no other is available.
//! - **Nothing available**: [`Balancer::pick`] says how long until one may
//!   be (the caller answers 503 with `Retry-After`, at once).
//!
//! Single-endpoint upstreams have no balancer at all: their hot path is
//! unchanged (no allocation, no lock, no atomic).
pub(crate) mod forward;
pub(crate) mod health;
mod outlier;

use super::endpoint::Endpoint;
use crate::telemetry::names::{
    UPSTREAM_ENDPOINT_EJECTIONS_TOTAL, UPSTREAM_ENDPOINT_HEALTHY, UPSTREAM_ENDPOINT_OUTSTANDING,
};
use metrics::{Counter, Gauge};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Most endpoints per upstream (the scan reads all of them).
pub(crate) const MAX_ENDPOINTS: usize = 16;

/// Active health checks of each endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSettings {
    /// Time between two checks of an endpoint.
    pub interval: Duration,
    /// Time a check may take.
    pub timeout: Duration,
    /// Path below the endpoint's base, e.g. `/ServiceProviderConfig`.
    pub path: String,
    /// Consecutive passed checks that make an unhealthy endpoint healthy.
    pub healthy_after: u32,
    /// Consecutive failed checks that make a healthy endpoint unhealthy.
    pub unhealthy_after: u32,
}

/// Passive outlier detection on real traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutlierSettings {
    /// Consecutive failures that eject an endpoint (0 = never).
    pub consecutive_failures: u32,
    pub base_ejection_time: Duration,
    pub max_ejection_time: Duration,
    /// Most endpoints ejected at once, in percent (at least one endpoint,
    /// never all of them).
    pub max_ejected_percent: u32,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
            path: "/ServiceProviderConfig".into(),
            healthy_after: 2,
            unhealthy_after: 2,
        }
    }
}

impl Default for OutlierSettings {
    fn default() -> Self {
        OutlierSettings {
            consecutive_failures: 5,
            base_ejection_time: Duration::from_secs(30),
            max_ejection_time: Duration::from_secs(300),
            max_ejected_percent: 50,
        }
    }
}

/// The endpoints of one upstream and their state (per process, built per
/// config; a reload carries the state over by URL, see
/// [`Balancer::carry_over`]).
pub struct Balancer {
    upstream: String,
    endpoints: Vec<Member>,
    pub health: HealthSettings,
    pub outlier: OutlierSettings,
    /// Where the next scan starts (round-robin among equals).
    next: AtomicUsize,
    /// The clock of the ejection deadlines.
    epoch: Instant,
    /// Serializes ejections (rare), so the cap is never overshot.
    ejecting: Mutex<()>,
    /// Whether the health-check task runs.
    checking: AtomicBool,
}

/// One endpoint in the rotation: the endpoint (its own base, `Host`,
/// locations and connection pool) and what the balancer knows of it.
pub struct Member {
    pub endpoint: Endpoint,
    /// `host:port` for logs and metric labels (never credentials or paths).
    pub label: String,
    outstanding: AtomicUsize,
    /// Set by the health checks.
    healthy: AtomicBool,
    checks_passed: AtomicU32,
    checks_failed: AtomicU32,
    failures: AtomicU32,
    /// Milliseconds since the balancer's epoch until which the endpoint is
    /// out; 0 = in.
    ejected_until_ms: AtomicU64,
    /// The ejection multiplier `k`, and when the last ejection ended.
    ejections: AtomicU32,
    metrics: OnceLock<EndpointMetrics>,
}

struct EndpointMetrics {
    outstanding: Gauge,
    healthy: Gauge,
    ejections: Counter,
}

/// A request in flight on an endpoint; counted until dropped.
pub struct InFlight<'b> {
    member: &'b Member,
}

// === impl Balancer ===

impl Balancer {
    /// `endpoints` in config order (the first is the upstream's primary
    /// base, into which the others' locations are rewritten).
    pub fn new(
        upstream: &str,
        endpoints: Vec<Endpoint>,
        health: HealthSettings,
        outlier: OutlierSettings,
    ) -> Balancer {
        let endpoints = endpoints
            .into_iter()
            .map(|endpoint| Member {
                label: endpoint_label(&endpoint.base),
                endpoint,
                outstanding: AtomicUsize::new(0),
                healthy: AtomicBool::new(true),
                checks_passed: AtomicU32::new(0),
                checks_failed: AtomicU32::new(0),
                failures: AtomicU32::new(0),
                ejected_until_ms: AtomicU64::new(0),
                ejections: AtomicU32::new(0),
                metrics: OnceLock::new(),
            })
            .collect();
        Balancer {
            upstream: upstream.to_string(),
            endpoints,
            health,
            outlier,
            next: AtomicUsize::new(0),
            epoch: Instant::now(),
            ejecting: Mutex::new(()),
            checking: AtomicBool::new(false),
        }
    }

    pub fn endpoints(&self) -> &[Member] {
        &self.endpoints
    }

    pub fn endpoint(&self, i: usize) -> Option<&Member> {
        self.endpoints.get(i)
    }

    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// Milliseconds since the epoch, from 1 (0 marks "not ejected").
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }

    /// Whether endpoint `i` may take requests now.
    pub fn is_available(&self, i: usize) -> bool {
        let now = self.now_ms();
        self.endpoints.get(i).is_some_and(|e| e.available(now))
    }

    /// The endpoint for the next attempt: the least outstanding requests
    /// among the available ones other than `avoid` (the one that just
    /// failed), ties round-robin; `avoid` itself when it is the only one
    /// left. `Err(wait)`: none is available; one may be after `wait`.
    pub fn pick(&self, avoid: Option<usize>) -> Result<usize, Duration> {
        self.pick_at(avoid, self.now_ms())
    }

    fn pick_at(&self, avoid: Option<usize>, now: u64) -> Result<usize, Duration> {
        let n = self.endpoints.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut best: Option<(usize, usize)> = None;
        let mut avoided = None;
        for k in 0..n {
            let i = start.wrapping_add(k) % n;
            let Some(e) = self.endpoints.get(i) else {
                continue;
            };
            if !e.available(now) {
                continue;
            }
            if Some(i) == avoid {
                avoided = Some(i);
                continue;
            }
            let load = e.outstanding.load(Ordering::Relaxed);
            if best.is_none_or(|(_, least)| load < least) {
                best = Some((i, load));
            }
        }
        match best.map(|(i, _)| i).or(avoided) {
            Some(i) => Ok(i),
            None => Err(self.next_available_in(now)),
        }
    }

    /// How long until an endpoint may be back: the end of the earliest
    /// ejection of a healthy endpoint, else the next health check.
    fn next_available_in(&self, now: u64) -> Duration {
        self.endpoints
            .iter()
            .filter(|e| e.healthy.load(Ordering::Relaxed))
            .map(|e| {
                e.ejected_until_ms
                    .load(Ordering::Relaxed)
                    .saturating_sub(now)
            })
            .min()
            .map_or(self.health.interval, Duration::from_millis)
            .max(Duration::from_secs(1))
    }

    /// Registers every endpoint's metrics (the health gauge at its
    /// current value), so they show before the first request.
    pub(crate) fn register_metrics(&self) {
        for e in &self.endpoints {
            e.metrics(&self.upstream);
        }
    }

    /// Counts a request in flight on endpoint `i` until the guard drops.
    pub fn begin(&self, i: usize) -> Option<InFlight<'_>> {
        let member = self.endpoints.get(i)?;
        member.outstanding.fetch_add(1, Ordering::Relaxed);
        member.metrics(&self.upstream).outstanding.increment(1.0);
        Some(InFlight { member })
    }
}

impl std::fmt::Debug for Balancer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let labels: Vec<&str> = self.endpoints.iter().map(|e| e.label.as_str()).collect();
        f.debug_struct("Balancer")
            .field("upstream", &self.upstream)
            .field("endpoints", &labels)
            .finish_non_exhaustive()
    }
}

// === impl Member ===

impl Member {
    fn available(&self, now_ms: u64) -> bool {
        self.healthy.load(Ordering::Relaxed)
            && self.ejected_until_ms.load(Ordering::Relaxed) <= now_ms
    }

    /// Requests in flight on the endpoint.
    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed)
    }

    /// The result of the active health checks.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    fn metrics(&self, upstream: &str) -> &EndpointMetrics {
        self.metrics.get_or_init(|| {
            // Handles made before the recorder exists would count nowhere
            // (the health task may start before the server installs it).
            crate::telemetry::metrics_handle();
            let labels = [
                ("upstream", upstream.to_string()),
                ("endpoint", self.label.clone()),
            ];
            let healthy = metrics::gauge!(UPSTREAM_ENDPOINT_HEALTHY, &labels);
            healthy.set(if self.is_healthy() { 1.0 } else { 0.0 });
            EndpointMetrics {
                outstanding: metrics::gauge!(UPSTREAM_ENDPOINT_OUTSTANDING, &labels),
                healthy,
                ejections: metrics::counter!(UPSTREAM_ENDPOINT_EJECTIONS_TOTAL, &labels),
            }
        })
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.member.outstanding.fetch_sub(1, Ordering::Relaxed);
        if let Some(m) = self.member.metrics.get() {
            m.outstanding.decrement(1.0);
        }
    }
}

/// `host:port` of a base URL (the port explicit, default or not); no
/// user information, no path.
pub(crate) fn endpoint_label(base: &http::Uri) -> String {
    let host = base.host().unwrap_or("unknown");
    let port = base
        .port_u16()
        .unwrap_or(if base.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    format!("{host}:{port}")
}

#[cfg(test)]
mod tests;
