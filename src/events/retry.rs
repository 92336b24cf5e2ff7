//! The retry schedule of a sink (pure): exponential backoff with jitter,
//! capped per wait, bounded by attempts and by total time.
//!
//! Standard Webhooks ("Deliverability and reliability") recommends an
//! exponential schedule spanning hours to days with random jitter so that
//! retries do not synchronise into load spikes.
use std::time::Duration;

/// When to try again and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure.
    pub initial_backoff: Duration,
    /// The longest wait between two tries.
    pub max_backoff: Duration,
    /// Tries in all (the first included) before the event is dead-lettered.
    pub max_attempts: u32,
    /// Time since the first try after which the event is dead-lettered.
    pub max_age: Duration,
}

// === impl RetryPolicy ===

impl Default for RetryPolicy {
    /// 5 s, doubling, capped at 1 h; gives up after 30 tries or 24 h,
    /// whichever comes first (about a day of retries at the cap).
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(3600),
            max_attempts: 30,
            max_age: Duration::from_secs(24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The wait after `attempts` failed tries (`attempts >= 1`), given a
    /// uniform random `jitter` in `[0, 1)`: half the exponential step plus
    /// a random share of the other half ("equal jitter"), so waits never
    /// collapse to zero and never exceed `max_backoff`.
    pub fn backoff(&self, attempts: u32, jitter: f64) -> Duration {
        let exp = attempts.saturating_sub(1).min(32);
        let step = self
            .initial_backoff
            .checked_mul(1u32 << exp.min(31))
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff);
        let half = step / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// The wait before the next try: the backoff, or the destination's
    /// `Retry-After` when longer, never beyond `max_backoff`.
    pub fn next_wait(&self, attempts: u32, jitter: f64, retry_after: Option<Duration>) -> Duration {
        let backoff = self.backoff(attempts, jitter);
        retry_after
            .map_or(backoff, |r| r.max(backoff))
            .min(self.max_backoff)
    }

    /// Whether to stop after `attempts` failed tries, the first of which
    /// was `elapsed` ago.
    pub fn exhausted(&self, attempts: u32, elapsed: Duration) -> bool {
        attempts >= self.max_attempts.max(1) || elapsed >= self.max_age
    }
}

/// A uniform random number in `[0, 1)` for jitter (not for secrets).
pub(crate) fn jitter() -> f64 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 4];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            max_attempts: 5,
            max_age: Duration::from_secs(600),
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let p = policy();
        assert_eq!(p.backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(
            p.backoff(1, 0.999_999),
            Duration::from_secs(2) - Duration::from_micros(1)
        );
        assert_eq!(p.backoff(2, 0.0), Duration::from_secs(2));
        assert_eq!(p.backoff(3, 0.5), Duration::from_secs(6));
        assert_eq!(p.backoff(10, 1.0), Duration::from_secs(60));
        assert_eq!(p.backoff(u32::MAX, 0.0), Duration::from_secs(30));
    }

    #[test]
    fn retry_after_lengthens_but_never_beyond_the_cap() {
        let p = policy();
        assert_eq!(
            p.next_wait(1, 0.0, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            p.next_wait(1, 0.0, Some(Duration::from_millis(1))),
            Duration::from_secs(1)
        );
        assert_eq!(
            p.next_wait(1, 0.0, Some(Duration::from_secs(9999))),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn gives_up_on_attempts_or_age() {
        let p = policy();
        assert!(!p.exhausted(4, Duration::from_secs(599)));
        assert!(p.exhausted(5, Duration::ZERO));
        assert!(p.exhausted(1, Duration::from_secs(600)));
    }

    #[test]
    fn jitter_is_in_range_and_varies() {
        let xs: Vec<f64> = (0..32).map(|_| jitter()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(xs.iter().any(|x| (x - xs[0]).abs() > f64::EPSILON));
    }
}
