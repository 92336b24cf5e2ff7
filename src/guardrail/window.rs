//! The deprovisions a tenant made within its window: exact, not a bucket
//! estimate, so "at most N per window" holds at every instant.
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The deprovisions passed within the last `window`, oldest first.
#[derive(Debug, Default)]
pub(super) struct Window {
    passed: VecDeque<(Instant, u32)>,
    sum: u64,
}

impl Window {
    /// Forgets what left the window by `now`.
    fn expire(&mut self, now: Instant, window: Duration) {
        while let Some(&(at, weight)) = self.passed.front() {
            if now.saturating_duration_since(at) < window {
                break;
            }
            self.passed.pop_front();
            self.sum -= u64::from(weight);
        }
    }

    /// Deprovisions within the window at `now`.
    pub(super) fn count(&mut self, now: Instant, window: Duration) -> u64 {
        self.expire(now, window);
        self.sum
    }

    /// Whether `weight` more fits under `max` at `now`.
    pub(super) fn fits(&mut self, now: Instant, window: Duration, max: u32, weight: u32) -> bool {
        self.count(now, window) + u64::from(weight) <= u64::from(max)
    }

    /// Records `weight` deprovisions passed at `now`.
    pub(super) fn record(&mut self, now: Instant, weight: u32) {
        self.passed.push_back((now, weight));
        self.sum += u64::from(weight);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides_exactly() {
        let (t0, w) = (Instant::now(), Duration::from_secs(60));
        let mut win = Window::default();
        for i in 0..3 {
            assert!(win.fits(t0 + Duration::from_secs(i), w, 3, 1));
            win.record(t0 + Duration::from_secs(i), 1);
        }
        assert!(!win.fits(t0 + Duration::from_secs(59), w, 3, 1));
        // The first left the window at 60 s: one more fits, not two.
        assert!(win.fits(t0 + Duration::from_secs(60), w, 3, 1));
        assert!(!win.fits(t0 + Duration::from_secs(60), w, 3, 2));
        assert_eq!(win.count(t0 + Duration::from_secs(200), w), 0);
        // A weight above the limit never fits.
        assert!(!win.fits(t0, w, 3, 4));
    }
}
