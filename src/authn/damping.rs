//! Brute-force damping: failed authentications are counted per tenant and
//! client IP in fixed windows. Over the limit, a request from that client
//! is authenticated only as far as the gateway can check without a remote
//! call (`authn::Reach::Local`): a credential that verifies goes on (a
//! valid client behind the same NAT or load balancer address as an
//! attacker is not locked out), anything else gets 429 with `Retry-After`
//! until the window ends. One tenant's failures never limit another
//! tenant.
//!
//! In-process (per replica). The table is bounded: when it is full,
//! expired windows are dropped first, then the oldest ones.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Most (tenant, IP) pairs tracked at once.
const MAX_ENTRIES: usize = 100_000;

/// The limit: `max_failures` per `window` (0 = off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DampingSettings {
    pub max_failures: u32,
    pub window: Duration,
}

/// The failure counters.
#[derive(Debug, Default)]
pub(crate) struct FailureDamper {
    /// By client IP, then tenant (an IP rarely fails at many tenants).
    windows: Mutex<HashMap<IpAddr, Vec<(String, Window)>>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    failures: u32,
}

impl FailureDamper {
    pub(crate) fn new() -> FailureDamper {
        FailureDamper::default()
    }

    /// `Err(seconds to wait)` when this client is over the limit for this
    /// tenant (its failing requests are then answered 429).
    pub(crate) fn check(
        &self,
        settings: DampingSettings,
        tenant: &str,
        ip: IpAddr,
    ) -> Result<(), u64> {
        if settings.max_failures == 0 {
            return Ok(());
        }
        let windows = self.lock();
        if windows.is_empty() {
            return Ok(());
        }
        let Some(w) = windows
            .get(&ip)
            .and_then(|ts| ts.iter().find(|(t, _)| t == tenant))
            .map(|(_, w)| w)
        else {
            return Ok(());
        };
        let age = w.start.elapsed();
        if age < settings.window && w.failures >= settings.max_failures {
            let left = settings.window - age;
            return Err(left.as_secs() + u64::from(left.subsec_nanos() > 0));
        }
        Ok(())
    }

    /// Counts a failed authentication.
    pub(crate) fn failed(&self, settings: DampingSettings, tenant: &str, ip: IpAddr) {
        if settings.max_failures == 0 {
            return;
        }
        let now = Instant::now();
        let mut windows = self.lock();
        if windows.len() >= MAX_ENTRIES {
            let live = |w: &Window| now.duration_since(w.start) < settings.window;
            windows.retain(|_, ts| {
                ts.retain(|(_, w)| live(w));
                !ts.is_empty()
            });
            if windows.len() >= MAX_ENTRIES {
                // Still full: drop the oldest half.
                let mut starts: Vec<Instant> = windows
                    .values()
                    .filter_map(|ts| ts.iter().map(|(_, w)| w.start).max())
                    .collect();
                starts.sort_unstable();
                let cut = starts.get(starts.len() / 2).copied().unwrap_or(now);
                windows.retain(|_, ts| ts.iter().any(|(_, w)| w.start > cut));
            }
        }
        let tenants = windows.entry(ip).or_default();
        let at = match tenants.iter().position(|(t, _)| t == tenant) {
            Some(at) => at,
            None => {
                tenants.push((
                    tenant.to_string(),
                    Window {
                        start: now,
                        failures: 0,
                    },
                ));
                tenants.len() - 1
            }
        };
        let w = &mut tenants[at].1;
        if now.duration_since(w.start) >= settings.window {
            *w = Window {
                start: now,
                failures: 0,
            };
        }
        w.failures = w.failures.saturating_add(1);
    }

    /// Pairs tracked (for tests).
    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Vec<(String, Window)>>> {
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    #[test]
    fn over_the_limit_waits_for_the_window_and_tenants_are_separate() {
        let d = FailureDamper::new();
        let s = DampingSettings {
            max_failures: 3,
            window: Duration::from_millis(200),
        };
        for _ in 0..3 {
            assert_eq!(d.check(s, "acme", IP), Ok(()));
            d.failed(s, "acme", IP);
        }
        let wait = d.check(s, "acme", IP).unwrap_err();
        assert!((1..=1).contains(&wait), "{wait}");
        // Another tenant, another client: unaffected.
        assert_eq!(d.check(s, "globex", IP), Ok(()));
        assert_eq!(d.check(s, "acme", "192.0.2.2".parse().unwrap()), Ok(()));
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(d.check(s, "acme", IP), Ok(()));
        d.failed(s, "acme", IP);
        assert_eq!(d.check(s, "acme", IP), Ok(()));
    }

    #[test]
    fn zero_turns_it_off() {
        let d = FailureDamper::new();
        let s = DampingSettings {
            max_failures: 0,
            window: Duration::from_secs(60),
        };
        for _ in 0..100 {
            d.failed(s, "acme", IP);
        }
        assert_eq!(d.check(s, "acme", IP), Ok(()));
        assert_eq!(d.tracked(), 0);
    }
}
