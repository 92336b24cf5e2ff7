//! Rate limits and concurrency caps, in-process: per tenant, per tenant
//! and principal, and per upstream (protecting a backend that several
//! tenants share). Over a rate: 429 with the exact `Retry-After`. Over a
//! concurrency cap: 429 at once, or a short bounded wait when a queue is
//! configured.
//!
//! The state (one GCRA timestamp per key, one semaphore per capped scope)
//! lives in the [`Limiter`], which outlives config reloads: a reload
//! changes the limits, not who has used them. Keys are config names
//! (tenant ids, upstream names) and credential names, never secrets.
pub(crate) mod gcra;
pub mod lease;
pub mod ordering;
pub(crate) mod redis;

use self::redis::RedisRates;
use gcra::{Decision, Rate};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Most keys kept per map before idle ones are dropped.
const MAX_KEYS: usize = 100_000;

/// The limits of one scope (a tenant, an upstream), compiled from config.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Limits {
    /// Requests per second with a burst.
    pub rate: Option<Rate>,
    /// The same per principal (tenants only).
    pub principal_rate: Option<Rate>,
    /// Requests in flight at once.
    pub max_concurrent: Option<usize>,
    /// Requests that may wait for a slot (0 = refuse at once).
    pub queue: usize,
    /// The longest wait for a slot.
    pub queue_timeout: Duration,
}

/// Why a request was turned away, and when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    pub kind: LimitKind,
    pub retry_after: Duration,
}

/// Which limit turned a request away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    TenantRate,
    PrincipalRate,
    UpstreamRate,
    TenantConcurrency,
    UpstreamConcurrency,
}

impl LimitKind {
    /// The label of the `kind` in metrics and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            LimitKind::TenantRate => "tenant_rate",
            LimitKind::PrincipalRate => "principal_rate",
            LimitKind::UpstreamRate => "upstream_rate",
            LimitKind::TenantConcurrency => "tenant_concurrency",
            LimitKind::UpstreamConcurrency => "upstream_concurrency",
        }
    }
}

/// The limiter state of the process.
#[derive(Debug)]
pub(crate) struct Limiter {
    epoch: Instant,
    tenants: Mutex<HashMap<String, u64>>,
    principals: Mutex<HashMap<String, HashMap<String, u64>>>,
    upstreams: Mutex<HashMap<String, u64>>,
    slots: Mutex<HashMap<String, Slots>>,
}

/// The concurrency of a tenant or upstream at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Usage {
    pub cap: usize,
    pub in_flight: usize,
    pub waiting: usize,
}

#[derive(Debug, Clone)]
struct Slots {
    cap: usize,
    semaphore: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
}

/// Holds the concurrency slots of a request until it is dropped.
#[derive(Debug, Default)]
pub(crate) struct Admitted(Vec<OwnedSemaphorePermit>);

impl Default for Limiter {
    fn default() -> Self {
        Limiter {
            epoch: Instant::now(),
            tenants: Mutex::default(),
            principals: Mutex::default(),
            upstreams: Mutex::default(),
            slots: Mutex::default(),
        }
    }
}

impl Limiter {
    pub(crate) fn new() -> Limiter {
        Limiter::default()
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// One request of `tenant` (and its `principal`) against the tenant's
    /// limits.
    pub(crate) async fn admit_tenant(
        &self,
        shared: Option<&RedisRates>,
        tenant: &str,
        principal: &str,
        limits: &Limits,
        admitted: &mut Admitted,
    ) -> Result<(), Refused> {
        if let Some(rate) = limits.rate {
            match self
                .shared_step(
                    shared,
                    || format!("t:{tenant}"),
                    rate,
                    LimitKind::TenantRate,
                )
                .await
            {
                Some(decided) => decided?,
                None => {
                    let rate = shared.map_or(rate, |s| s.local_share(rate));
                    step(
                        &self.tenants,
                        tenant,
                        rate,
                        self.now_ns(),
                        LimitKind::TenantRate,
                    )?;
                }
            }
        }
        if let Some(rate) = limits.principal_rate {
            let key = || format!("p:{tenant}:{principal}");
            match self
                .shared_step(shared, key, rate, LimitKind::PrincipalRate)
                .await
            {
                Some(decided) => decided?,
                None => {
                    let rate = shared.map_or(rate, |s| s.local_share(rate));
                    let now = self.now_ns();
                    let mut all = lock(&self.principals);
                    // No allocation once the tenant is known.
                    if let Some(per) = all.get_mut(tenant) {
                        step_in(per, principal, rate, now, LimitKind::PrincipalRate)?;
                    } else {
                        let per = all.entry(tenant.to_string()).or_default();
                        step_in(per, principal, rate, now, LimitKind::PrincipalRate)?;
                    }
                }
            }
        }
        if let Some(cap) = limits.max_concurrent {
            let key = format!("t:{tenant}");
            admitted.0.push(
                self.slot(&key, cap, limits, LimitKind::TenantConcurrency)
                    .await?,
            );
        }
        Ok(())
    }

    /// One request to `upstream` against the upstream's limits.
    pub(crate) async fn admit_upstream(
        &self,
        shared: Option<&RedisRates>,
        upstream: &str,
        limits: &Limits,
        admitted: &mut Admitted,
    ) -> Result<(), Refused> {
        if let Some(rate) = limits.rate {
            let key = || format!("u:{upstream}");
            match self
                .shared_step(shared, key, rate, LimitKind::UpstreamRate)
                .await
            {
                Some(decided) => decided?,
                None => {
                    let rate = shared.map_or(rate, |s| s.local_share(rate));
                    step(
                        &self.upstreams,
                        upstream,
                        rate,
                        self.now_ns(),
                        LimitKind::UpstreamRate,
                    )?;
                }
            }
        }
        if let Some(cap) = limits.max_concurrent {
            let key = format!("u:{upstream}");
            admitted.0.push(
                self.slot(&key, cap, limits, LimitKind::UpstreamConcurrency)
                    .await?,
            );
        }
        Ok(())
    }

    /// The shared (Redis) decision, or `None` when there is no shared
    /// backend or it could not decide (then the caller falls back to its
    /// local share).
    async fn shared_step(
        &self,
        shared: Option<&RedisRates>,
        key: impl FnOnce() -> String,
        rate: Rate,
        kind: LimitKind,
    ) -> Option<Result<(), Refused>> {
        let redis = shared?;
        // Boxed: the Redis round trip's state would otherwise make every
        // request's future kilobytes larger, shared limits or not.
        match Box::pin(redis.step(&key(), rate)).await {
            Ok(Ok(())) => Some(Ok(())),
            Ok(Err(retry_after)) => Some(Err(Refused { kind, retry_after })),
            Err(e) => {
                crate::telemetry::emit::LimitFallback { error: &e }.emit();
                None
            }
        }
    }

    /// A slot of a capped scope: at once, or after a bounded wait.
    /// A tenant's (`t:<id>`) or upstream's (`u:<name>`) concurrency now,
    /// for the admin API: `None` before its first capped request.
    pub(crate) fn usage(&self, key: &str) -> Option<Usage> {
        let all = lock(&self.slots);
        all.get(key).map(|s| Usage {
            cap: s.cap,
            in_flight: s.cap.saturating_sub(s.semaphore.available_permits()),
            waiting: s.waiting.load(Ordering::Acquire),
        })
    }

    async fn slot(
        &self,
        key: &str,
        cap: usize,
        limits: &Limits,
        kind: LimitKind,
    ) -> Result<OwnedSemaphorePermit, Refused> {
        let slots = {
            let mut all = lock(&self.slots);
            // Look up before inserting: no key copy per request.
            if !all.contains_key(key) {
                all.insert(key.to_string(), Slots::new(cap));
            }
            let Some(entry) = all.get_mut(key) else {
                return Err(Refused {
                    kind,
                    retry_after: Duration::from_secs(1),
                });
            };
            if entry.cap != cap {
                // The cap changed (reload): new slots; requests holding
                // old ones finish on those.
                *entry = Slots::new(cap);
            }
            entry.clone()
        };
        let refused = Refused {
            kind,
            retry_after: Duration::from_secs(1),
        };
        if let Ok(permit) = slots.semaphore.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if limits.queue == 0 {
            return Err(refused);
        }
        if slots.waiting.fetch_add(1, Ordering::AcqRel) >= limits.queue {
            slots.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(refused);
        }
        let waited = tokio::time::timeout(
            limits.queue_timeout,
            slots.semaphore.clone().acquire_owned(),
        )
        .await;
        slots.waiting.fetch_sub(1, Ordering::AcqRel);
        match waited {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(refused),
        }
    }
}

impl Slots {
    fn new(cap: usize) -> Slots {
        Slots {
            cap,
            semaphore: Arc::new(Semaphore::new(cap)),
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn step(
    map: &Mutex<HashMap<String, u64>>,
    key: &str,
    rate: Rate,
    now: u64,
    kind: LimitKind,
) -> Result<(), Refused> {
    step_in(&mut lock(map), key, rate, now, kind)
}

fn step_in(
    map: &mut HashMap<String, u64>,
    key: &str,
    rate: Rate,
    now: u64,
    kind: LimitKind,
) -> Result<(), Refused> {
    let tat = map.get(key).copied().unwrap_or(0);
    match rate.step(tat, now) {
        Decision::Allow { tat } => {
            if let Some(slot) = map.get_mut(key) {
                *slot = tat;
            } else {
                if map.len() >= MAX_KEYS {
                    map.retain(|_, t| !rate.expired(*t, now));
                }
                map.insert(key.to_string(), tat);
            }
            Ok(())
        }
        Decision::Deny { retry_after_ns } => Err(Refused {
            kind,
            retry_after: Duration::from_nanos(retry_after_ns),
        }),
    }
}

impl Refused {
    /// `Retry-After` in whole seconds, rounded up (at least 1).
    pub(crate) fn retry_after_secs(&self) -> u64 {
        let d = self.retry_after;
        (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
