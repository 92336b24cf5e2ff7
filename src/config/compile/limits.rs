//! The compile step for limits and resilience: `[tenants.limits]` and
//! `[upstreams.NAME.limits]` (rates, concurrency, queue), the shared
//! `[limits]` backend (in-process or Redis), and
//! `[upstreams.NAME.resilience]` (retries, budget, breaker).
use super::{duration, duration_or_zero, Problems};
use crate::config::raw::{LimitsSection, ResilienceSection, SharedLimitsSection};
use crate::limit::gcra::Rate;
use crate::limit::redis::{RedisRates, RedisSettings};
use crate::limit::Limits;
use crate::snapshot::Snapshot;
use crate::upstream::resilience::ResilienceSettings;
use std::sync::Arc;

/// `[tenants.limits]` / `[upstreams.NAME.limits]`.
pub(super) fn limits(
    l: &LimitsSection,
    tenant: bool,
    p: &mut Problems,
    loc: &str,
) -> Option<Limits> {
    let mut ok = true;
    let mut rate = |name: &str, r: Option<f64>, burst: Option<u32>, p: &mut Problems| match r {
        None => {
            if burst.is_some() {
                p.add(
                    format!("{loc}.{name}_burst"),
                    format!("a burst needs {name}"),
                );
                ok = false;
            }
            None
        }
        Some(r) if r.is_finite() && r > 0.0 => {
            if burst == Some(0) {
                p.add(format!("{loc}.{name}_burst"), "must be at least 1");
                ok = false;
            }
            // Default burst: one second's worth.
            let burst = burst.unwrap_or_else(|| (r.ceil() as u32).max(1));
            Some(Rate::new(r, burst))
        }
        Some(r) => {
            p.add(
                format!("{loc}.{name}"),
                format!("{r} is not a positive number of requests per second"),
            );
            ok = false;
            None
        }
    };
    let main = rate("rate", l.rate, l.burst, p);
    let principal = rate("principal_rate", l.principal_rate, l.principal_burst, p);
    if !tenant && (l.principal_rate.is_some() || l.principal_burst.is_some()) {
        p.add(
            format!("{loc}.principal_rate"),
            "per-principal limits apply to tenants, not upstreams",
        );
        ok = false;
    }
    if l.max_concurrent == Some(0) {
        p.add(format!("{loc}.max_concurrent"), "must be at least 1");
        ok = false;
    }
    if l.queue.is_some_and(|q| q > 0) && l.max_concurrent.is_none() {
        p.add(format!("{loc}.queue"), "a queue needs max_concurrent");
        ok = false;
    }
    let queue_timeout = duration_or_zero(
        p,
        &format!("{loc}.queue_timeout"),
        l.queue_timeout.as_deref(),
        "1s",
    );
    (ok).then_some(())?;
    Some(Limits {
        rate: main,
        principal_rate: principal,
        max_concurrent: l.max_concurrent,
        queue: l.queue.unwrap_or(0),
        queue_timeout: queue_timeout?,
    })
}

/// `[limits]`: the shared backend, reused from the previous config when
/// its settings did not change (keeping its connection).
pub(super) fn shared_limits(
    l: &SharedLimitsSection,
    base_dir: &std::path::Path,
    previous: Option<&Snapshot>,
    p: &mut Problems,
) -> Option<Arc<RedisRates>> {
    match l.backend.as_str() {
        "local" => {
            for (key, set) in [
                ("redis_url", l.redis_url.is_some()),
                ("redis_tls", l.redis_tls.is_some()),
                ("redis_sentinel", l.redis_sentinel.is_some()),
                ("redis_auth", l.redis_auth.is_some()),
            ] {
                if set {
                    p.add(
                        format!("limits.{key}"),
                        "only applies to backend = \"redis\"",
                    );
                }
            }
            None
        }
        "redis" => {
            let Some(url) = l.redis_url.clone() else {
                p.add(
                    "limits.redis_url",
                    "backend = \"redis\" needs redis_url = \"redis://host:6379\"",
                );
                return None;
            };
            if l.replicas == Some(0) {
                p.add("limits.replicas", "must be at least 1");
            }
            let timeout = duration(p, "limits.timeout", l.timeout.as_deref(), "50ms")?;
            let link = super::shared_redis::redis_link(l, &url, base_dir, p)?;
            let settings = RedisSettings {
                url,
                replicas: l.replicas.unwrap_or(1).max(1),
                timeout,
                prefix: l.key_prefix.clone().unwrap_or_else(|| "scimgw".into()),
            };
            if let Some(old) = previous.and_then(|s| s.shared_limits.as_ref()) {
                if *old.settings() == settings && *old.shared().link() == link {
                    return Some(old.clone());
                }
            }
            RedisRates::with_link(settings, link)
                .map(Arc::new)
                .map_err(|e| p.add("limits.redis_url", e))
                .ok()
        }
        other => {
            p.add(
                "limits.backend",
                format!("\"{other}\" is not a limits backend; use \"local\" or \"redis\""),
            );
            None
        }
    }
}

/// `[upstreams.NAME.resilience]`.
pub(super) fn resilience(
    r: &ResilienceSection,
    p: &mut Problems,
    loc: &str,
) -> Option<ResilienceSettings> {
    let d = ResilienceSettings::default();
    if r.attempts == Some(0) {
        p.add(
            format!("{loc}.attempts"),
            "must be at least 1 (1 = no retries)",
        );
    }
    if r.retry_budget.is_some_and(|b| !(b.is_finite() && b >= 0.0)) {
        p.add(format!("{loc}.retry_budget"), "must be a number from 0 up");
    }
    let dur =
        |p: &mut Problems, key: &str, v: &Option<String>, default: std::time::Duration| match v {
            None => Some(default),
            Some(_) => duration(p, &format!("{loc}.{key}"), v.as_deref(), "0s"),
        };
    let backoff = dur(p, "backoff", &r.backoff, d.backoff);
    let max_backoff = dur(p, "max_backoff", &r.max_backoff, d.max_backoff);
    let retry_after_cap = dur(p, "retry_after_cap", &r.retry_after_cap, d.retry_after_cap);
    let open_for = dur(p, "breaker_open_for", &r.breaker_open_for, d.open_for);
    Some(ResilienceSettings {
        attempts: r.attempts.unwrap_or(d.attempts).max(1),
        backoff: backoff?,
        max_backoff: max_backoff?,
        budget: r.retry_budget.unwrap_or(d.budget),
        retry_after_cap: retry_after_cap?,
        failures: r.breaker_failures.unwrap_or(d.failures),
        open_for: open_for?,
    })
}
