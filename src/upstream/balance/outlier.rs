//! The state that takes endpoints out of rotation and brings them back:
//! outlier ejection on real traffic (consecutive failures, growing
//! ejection times, the `max_ejected_percent` cap), the results of the
//! active health checks, and what a reload carries over.
use super::{Balancer, Member};
use std::sync::atomic::Ordering;
use std::sync::PoisonError;
use std::time::Duration;

impl Balancer {
    /// The outcome of one attempt on endpoint `i` (a failure: connect
    /// error, upstream timeout, broken connection, 5xx). `true` when this
    /// failure ejected the endpoint.
    pub fn record(&self, i: usize, ok: bool) -> bool {
        self.record_at(i, ok, self.now_ms())
    }

    pub(super) fn record_at(&self, i: usize, ok: bool, now: u64) -> bool {
        let Some(e) = self.endpoints.get(i) else {
            return false;
        };
        if ok {
            e.failures.store(0, Ordering::Relaxed);
            return false;
        }
        let failures = e.failures.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        let threshold = self.outlier.consecutive_failures;
        threshold > 0 && failures >= threshold && self.eject(i, now)
    }

    /// Takes endpoint `i` out, unless the cap on ejected endpoints is
    /// reached.
    pub(super) fn eject(&self, i: usize, now: u64) -> bool {
        let _one_at_a_time = self.ejecting.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(e) = self.endpoints.get(i) else {
            return false;
        };
        if e.ejected_until_ms.load(Ordering::Relaxed) > now {
            return false;
        }
        let ejected = self
            .endpoints
            .iter()
            .filter(|e| e.ejected_until_ms.load(Ordering::Relaxed) > now)
            .count();
        if ejected >= self.max_ejected() {
            return false;
        }
        let k = self.decayed_multiplier(e, now).saturating_add(1);
        e.ejections.store(k, Ordering::Relaxed);
        let base = u64::try_from(self.outlier.base_ejection_time.as_millis()).unwrap_or(u64::MAX);
        let cap = u64::try_from(self.outlier.max_ejection_time.as_millis()).unwrap_or(u64::MAX);
        let out_for = base.saturating_mul(u64::from(k)).min(cap.max(base));
        e.ejected_until_ms
            .store(now.saturating_add(out_for).max(1), Ordering::Relaxed);
        e.failures.store(0, Ordering::Relaxed);
        e.metrics(&self.upstream).ejections.increment(1);
        tracing::warn!(
            upstream = %self.upstream,
            endpoint = %e.label,
            ejected_for = %humantime::format_duration(Duration::from_millis(out_for)),
            "upstream endpoint ejected after consecutive failures"
        );
        true
    }

    /// The multiplier before a new ejection: one less for every base
    /// ejection time the endpoint stayed in since its last ejection ended.
    pub(super) fn decayed_multiplier(&self, e: &Member, now: u64) -> u32 {
        let k = e.ejections.load(Ordering::Relaxed);
        let ended = e.ejected_until_ms.load(Ordering::Relaxed);
        if k == 0 || ended == 0 {
            return k;
        }
        let base = u64::try_from(self.outlier.base_ejection_time.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let periods = now.saturating_sub(ended) / base;
        k.saturating_sub(u32::try_from(periods).unwrap_or(u32::MAX))
    }

    /// Most endpoints out at once: `max_ejected_percent` of them, at
    /// least one, never all.
    pub fn max_ejected(&self) -> usize {
        let n = self.endpoints.len();
        let pct = usize::try_from(self.outlier.max_ejected_percent).unwrap_or(100);
        (n.saturating_mul(pct) / 100)
            .max(1)
            .min(n.saturating_sub(1))
    }

    /// The result of one health check of endpoint `i`; the health flips
    /// after `healthy_after` / `unhealthy_after` results in a row. A
    /// return to health also ends an ejection (Envoy's default: the active
    /// check vouches for the endpoint).
    pub fn checked(&self, i: usize, passed: bool) {
        let Some(e) = self.endpoints.get(i) else {
            return;
        };
        let healthy = e.healthy.load(Ordering::Relaxed);
        if passed {
            e.checks_failed.store(0, Ordering::Relaxed);
            let n = e
                .checks_passed
                .fetch_add(1, Ordering::Relaxed)
                .saturating_add(1);
            if !healthy && n >= self.health.healthy_after {
                e.healthy.store(true, Ordering::Relaxed);
                e.failures.store(0, Ordering::Relaxed);
                if e.ejected_until_ms.load(Ordering::Relaxed) > self.now_ms() {
                    e.ejected_until_ms.store(self.now_ms(), Ordering::Relaxed);
                }
                e.metrics(&self.upstream).healthy.set(1.0);
                tracing::info!(upstream = %self.upstream, endpoint = %e.label, "upstream endpoint healthy again");
            }
        } else {
            e.checks_passed.store(0, Ordering::Relaxed);
            let n = e
                .checks_failed
                .fetch_add(1, Ordering::Relaxed)
                .saturating_add(1);
            if healthy && n >= self.health.unhealthy_after {
                e.healthy.store(false, Ordering::Relaxed);
                e.metrics(&self.upstream).healthy.set(0.0);
                tracing::warn!(upstream = %self.upstream, endpoint = %e.label, "upstream endpoint failed its health checks");
            }
        }
    }

    /// Keeps what the previous config's balancer learned about endpoints
    /// with the same base URL (health, ejection, its multiplier), so a
    /// reload does not send traffic back to a dead endpoint.
    pub fn carry_over(&self, previous: &Balancer) {
        let shift = |ms: u64| -> u64 {
            if ms == 0 {
                return 0;
            }
            // Re-express the deadline on this balancer's clock.
            let at = previous.epoch + Duration::from_millis(ms - 1);
            let on_ours = at.saturating_duration_since(self.epoch);
            u64::try_from(on_ours.as_millis())
                .unwrap_or(u64::MAX)
                .saturating_add(1)
        };
        for e in &self.endpoints {
            let Some(old) = previous
                .endpoints
                .iter()
                .find(|o| o.endpoint.base == e.endpoint.base)
            else {
                continue;
            };
            let healthy = old.healthy.load(Ordering::Relaxed);
            e.healthy.store(healthy, Ordering::Relaxed);
            e.ejections
                .store(old.ejections.load(Ordering::Relaxed), Ordering::Relaxed);
            e.ejected_until_ms.store(
                shift(old.ejected_until_ms.load(Ordering::Relaxed)),
                Ordering::Relaxed,
            );
            e.metrics(&self.upstream)
                .healthy
                .set(if healthy { 1.0 } else { 0.0 });
        }
    }

    /// Marks the health-check task as started; `true` for the one caller
    /// that should start it.
    pub(crate) fn claim_health_checks(&self) -> bool {
        !self.checking.swap(true, Ordering::AcqRel)
    }

    /// Whether the health-check task was started (a plain load: asked on
    /// every request).
    pub(crate) fn health_checks_started(&self) -> bool {
        self.checking.load(Ordering::Acquire)
    }
}
