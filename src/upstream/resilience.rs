//! Upstream resilience: retries where they are safe, bounded by a retry
//! budget, and a circuit breaker per upstream.
//!
//! - **Retries** only for idempotent methods (GET, HEAD, PUT, DELETE), on
//!   a failed connection, 502, 503, 504, or 429 whose `Retry-After` is
//!   within the cap; exponential backoff with full jitter; never past the
//!   request's deadline.
//! - **Budget**: every request earns `budget` of a retry (0.2 = retries at
//!   most a fifth of traffic), plus a small floor so that a quiet upstream
//!   can still be retried; a retry spends one. A failing upstream cannot
//!   multiply its load.
//! - **Circuit breaker**: after `failures` consecutive failures the
//!   circuit opens for `open_for`: requests get 503 with `Retry-After` at
//!   once, without touching the upstream. Then one probe request is let
//!   through (half-open); its success closes the circuit, its failure
//!   opens it again. The probe holds a [`Probe`] guard: a probe whose
//!   request ends without an outcome (the client hung up and its request
//!   future was dropped mid-call) gives the slot back, so the next request
//!   becomes the probe. Abandoned is not failed: a hang-up says nothing
//!   about the upstream, and an upstream that hangs fails its probe by the
//!   upstream timeout anyway. Without the guard the circuit stayed
//!   half-open with a probe "out" forever, and every request got 503.
use http::Method;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The settings of one upstream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResilienceSettings {
    /// Attempts in all (1 = no retries).
    pub attempts: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Retries earned per request.
    pub budget: f64,
    /// The longest upstream `Retry-After` waited for.
    pub retry_after_cap: Duration,
    /// Consecutive failures that open the circuit (0 = no breaker).
    pub failures: u32,
    pub open_for: Duration,
}

impl Default for ResilienceSettings {
    fn default() -> Self {
        ResilienceSettings {
            attempts: 3,
            backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            budget: 0.2,
            retry_after_cap: Duration::from_secs(2),
            failures: 5,
            open_for: Duration::from_secs(10),
        }
    }
}

/// The state of one upstream (per process; a reload starts it afresh).
#[derive(Debug, Default)]
pub struct Resilience {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Retries available.
    tokens: f64,
    consecutive_failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

impl Default for State {
    fn default() -> Self {
        // A full budget at start: the ratio bounds sustained retrying.
        State {
            tokens: MAX_TOKENS,
            consecutive_failures: 0,
            open_until: None,
            probing: false,
        }
    }
}

/// What the breaker says about sending a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Send,
    /// The one probe of a half-open circuit.
    Probe,
    /// Open: come back after this long.
    Open(Duration),
}

/// Most retries saved up.
const MAX_TOKENS: f64 = 10.0;
/// Retries a quiet upstream earns per request regardless of the ratio.
const FLOOR: f64 = 0.05;

impl Resilience {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Before a request: may it go?
    pub fn admit(&self, s: &ResilienceSettings) -> Admission {
        let mut st = self.lock();
        st.tokens = (st.tokens + s.budget.max(0.0) + FLOOR).min(MAX_TOKENS);
        match st.open_until {
            Some(until) if s.failures > 0 => {
                let now = Instant::now();
                if now < until {
                    Admission::Open(until - now)
                } else if st.probing {
                    // A probe is out; the others wait for its verdict.
                    Admission::Open(Duration::from_secs(1))
                } else {
                    st.probing = true;
                    Admission::Probe
                }
            }
            _ => Admission::Send,
        }
    }

    /// May this failed attempt be retried? Spends budget when yes.
    pub fn may_retry(&self, method: &Method, attempt: u32, s: &ResilienceSettings) -> bool {
        if attempt + 1 >= s.attempts || !idempotent(method) {
            return false;
        }
        let mut st = self.lock();
        if st.tokens >= 1.0 {
            st.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Holds the half-open probe slot of an [`Admission::Probe`] until
    /// [`Probe::record`]; `None` for other admissions.
    pub fn probe<'a>(&'a self, admission: Admission) -> Option<Probe<'a>> {
        (admission == Admission::Probe).then_some(Probe {
            state: self,
            pending: true,
        })
    }

    /// A probe ended without an outcome: the next request may probe.
    fn abandon_probe(&self) {
        self.lock().probing = false;
    }

    /// The outcome of a request (after its retries).
    pub fn record(&self, ok: bool, s: &ResilienceSettings) {
        let mut st = self.lock();
        st.probing = false;
        if ok {
            st.consecutive_failures = 0;
            st.open_until = None;
        } else {
            st.consecutive_failures = st.consecutive_failures.saturating_add(1);
            if s.failures > 0 && (st.consecutive_failures >= s.failures || st.open_until.is_some())
            {
                st.open_until = Some(Instant::now() + s.open_for);
            }
        }
    }

    /// The breaker as the admin API shows it: `closed`, `open` or
    /// `half_open` (the open time is over; the next request probes).
    pub fn state_label(&self) -> &'static str {
        let st = self.lock();
        match st.open_until {
            None => "closed",
            Some(until) if until > Instant::now() && !st.probing => "open",
            Some(_) => "half_open",
        }
    }

    /// Whether the circuit is open now (for tests and metrics).
    pub fn is_open(&self) -> bool {
        self.lock().open_until.is_some_and(|u| Instant::now() < u)
    }
}

/// The half-open probe's slot, given back when dropped without an
/// outcome (see the module doc).
#[derive(Debug)]
pub struct Probe<'a> {
    state: &'a Resilience,
    pending: bool,
}

impl Probe<'_> {
    /// The probe's outcome (instead of [`Resilience::record`]).
    pub fn record(mut self, ok: bool, s: &ResilienceSettings) {
        self.pending = false;
        self.state.record(ok, s);
    }
}

impl Drop for Probe<'_> {
    fn drop(&mut self) {
        if self.pending {
            self.state.abandon_probe();
        }
    }
}

/// The wait before retry `attempt` (1 = the first retry): exponential,
/// with full jitter.
pub(crate) fn backoff(attempt: u32, s: &ResilienceSettings) -> Duration {
    let exp = s
        .backoff
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(s.max_backoff);
    // Full jitter from a cheap per-call random source.
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(attempt);
    let r = (h.finish() % 1000) as u32;
    exp * r / 1000
}

/// GET, HEAD, PUT, DELETE: repeating them is harmless.
pub(crate) fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE
    )
}

/// An upstream status worth a retry.
pub(crate) fn retriable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// `Retry-After` as seconds (the HTTP-date form is not honoured: treated as
/// absent).
pub(crate) fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ResilienceSettings {
        ResilienceSettings {
            failures: 3,
            open_for: Duration::from_millis(100),
            ..ResilienceSettings::default()
        }
    }

    #[test]
    fn the_circuit_opens_probes_and_closes() {
        let r = Resilience::default();
        let s = settings();
        for _ in 0..3 {
            assert_eq!(r.admit(&s), Admission::Send);
            r.record(false, &s);
        }
        assert!(matches!(r.admit(&s), Admission::Open(_)));
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(r.admit(&s), Admission::Probe);
        // While the probe is out, the others are turned away.
        assert!(matches!(r.admit(&s), Admission::Open(_)));
        r.record(false, &s);
        assert!(
            matches!(r.admit(&s), Admission::Open(_)),
            "a failed probe reopens"
        );
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(r.admit(&s), Admission::Probe);
        r.record(true, &s);
        assert_eq!(r.admit(&s), Admission::Send);
        assert!(!r.is_open());
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_request_probe() {
        let r = Resilience::default();
        let s = settings();
        for _ in 0..3 {
            r.admit(&s);
            r.record(false, &s);
        }
        std::thread::sleep(Duration::from_millis(120));
        let admission = r.admit(&s);
        assert_eq!(admission, Admission::Probe);
        let probe = r.probe(admission);
        assert!(matches!(r.admit(&s), Admission::Open(_)));
        // The request carrying the probe is dropped mid-call.
        drop(probe);
        let admission = r.admit(&s);
        assert_eq!(admission, Admission::Probe, "the slot was given back");
        match r.probe(admission) {
            Some(probe) => probe.record(true, &s),
            None => panic!("a probe admission holds the slot"),
        }
        assert_eq!(r.admit(&s), Admission::Send);
    }

    #[test]
    fn retries_are_for_idempotent_methods_within_budget() {
        let r = Resilience::default();
        let s = settings();
        for _ in 0..10 {
            r.admit(&s);
        }
        assert!(r.may_retry(&Method::GET, 0, &s));
        assert!(!r.may_retry(&Method::POST, 0, &s));
        assert!(!r.may_retry(&Method::PATCH, 0, &s));
        assert!(!r.may_retry(&Method::GET, 2, &s), "attempts are capped");
        // The budget runs out: a full start (10) plus what 10 requests
        // earned (2.5), capped at 10.
        let mut granted = 1;
        while r.may_retry(&Method::PUT, 0, &s) {
            granted += 1;
        }
        assert_eq!(granted, 10);
        // From empty, 10 more requests earn two retries.
        for _ in 0..10 {
            r.admit(&s);
        }
        let mut earned = 0;
        while r.may_retry(&Method::GET, 0, &s) {
            earned += 1;
        }
        assert_eq!(earned, 2);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let s = settings();
        for attempt in 1..10 {
            let d = backoff(attempt, &s);
            assert!(d <= s.max_backoff);
            assert!(d <= s.backoff * (1 << (attempt - 1)));
        }
    }
}
