//! GCRA (the generic cell rate algorithm), the rate limiter of ATM
//! networks and of `governor`: one timestamp per key, the theoretical
//! arrival time (TAT) of the next request. A request at `now` is allowed
//! when `now >= tat - burst_tolerance`; it then moves the TAT one
//! emission interval later. Pure arithmetic over nanoseconds, so the same
//! step runs in-process here and as one atomic Lua script in Redis.

/// A rate: `per_second` requests per second, `burst` of them at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Nanoseconds between requests at the steady rate.
    pub interval_ns: u64,
    /// How far the TAT may run ahead of now: `(burst - 1) * interval`.
    pub tolerance_ns: u64,
}

/// The outcome of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed; the new TAT to store.
    Allow { tat: u64 },
    /// Refused; how long until a request would be allowed.
    Deny { retry_after_ns: u64 },
}

impl Rate {
    /// `per_second` > 0 (fractions allowed, e.g. 0.5), `burst` ≥ 1.
    pub fn new(per_second: f64, burst: u32) -> Rate {
        let interval_ns = (1e9 / per_second.max(1e-9)).round().min(u64::MAX as f64) as u64;
        let interval_ns = interval_ns.max(1);
        Rate {
            interval_ns,
            tolerance_ns: interval_ns.saturating_mul(u64::from(burst.max(1)) - 1),
        }
    }

    /// One request at `now` against the stored `tat` (0 = never seen).
    pub fn step(&self, tat: u64, now: u64) -> Decision {
        let tat = tat.max(now);
        let allow_at = tat.saturating_sub(self.tolerance_ns);
        if now >= allow_at {
            Decision::Allow {
                tat: tat.saturating_add(self.interval_ns),
            }
        } else {
            Decision::Deny {
                retry_after_ns: allow_at - now,
            }
        }
    }

    /// When a stored TAT no longer matters (the key can be forgotten).
    pub fn expired(&self, tat: u64, now: u64) -> bool {
        tat <= now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn run(rate: &Rate, times: &[u64]) -> Vec<bool> {
        let mut tat = 0;
        times
            .iter()
            .map(|&now| match rate.step(tat, now) {
                Decision::Allow { tat: t } => {
                    tat = t;
                    true
                }
                Decision::Deny { .. } => false,
            })
            .collect()
    }

    #[test]
    fn a_burst_then_the_steady_rate() {
        // 10/s with a burst of 3: three at once, then one per 100 ms.
        let rate = Rate::new(10.0, 3);
        let t0 = 100 * S;
        let got = run(&rate, &[t0, t0, t0, t0, t0 + S / 10, t0 + S / 10]);
        assert_eq!(got, [true, true, true, false, true, false]);
    }

    #[test]
    fn retry_after_is_exact() {
        let rate = Rate::new(2.0, 1);
        let t0 = 10 * S;
        let Decision::Allow { tat } = rate.step(0, t0) else {
            panic!()
        };
        assert_eq!(
            rate.step(tat, t0 + S / 4),
            Decision::Deny {
                retry_after_ns: S / 4
            }
        );
        assert!(matches!(rate.step(tat, t0 + S / 2), Decision::Allow { .. }));
    }

    #[test]
    fn idle_keys_refill_and_expire() {
        let rate = Rate::new(1.0, 5);
        let t0 = 50 * S;
        let mut tat = 0;
        for _ in 0..5 {
            let Decision::Allow { tat: t } = rate.step(tat, t0) else {
                panic!()
            };
            tat = t;
        }
        assert!(matches!(rate.step(tat, t0), Decision::Deny { .. }));
        assert!(!rate.expired(tat, t0));
        // After five quiet seconds the whole burst is back.
        assert!(rate.expired(tat, t0 + 5 * S));
        assert_eq!(
            run(&rate, &[t0 + 5 * S; 6]),
            [true, true, true, true, true, false]
        );
    }

    #[test]
    fn fractional_rates() {
        let rate = Rate::new(0.5, 1);
        assert_eq!(rate.interval_ns, 2 * S);
        assert_eq!(run(&rate, &[S, S + S, 3 * S]), [true, false, true]);
    }
}
