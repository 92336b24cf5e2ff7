//! The recent error answers (status 400 and above), for the admin API: a
//! bounded ring of the last [`CAPACITY`], and the counter of error
//! answers by tenant, status and `scimType`.
//!
//! No PII: a record holds only values from fixed vocabularies or the
//! config (status, `scimType`, the error's reason label, the tenant id,
//! the method and resource-type label) plus the time and the request id.
//! Never the detail text, a path, a host or anything else the client sent
//! that could be echoed.
//!
//! Lock-free: a slot is claimed with one atomic add and filled with one
//! atomic pointer store, so a burst of errors never makes requests wait
//! on each other (a reader may miss a record being replaced, which is
//! fine for a view of recent errors).
use super::names::ERRORS_TOTAL;
use arc_swap::ArcSwapOption;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Records kept.
pub(crate) const CAPACITY: usize = 200;

/// One error answer.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ErrorRecord {
    /// Order of arrival (1, 2, ...), process-wide.
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    pub status: u16,
    #[serde(rename = "scimType")]
    pub scim_type: Option<&'static str>,
    /// The gateway's reason label (`invalid_token`, `upstream_timeout`,
    /// ...), `None` for an upstream's answer passed through.
    pub reason: Option<&'static str>,
    /// The tenant, once resolved (an unknown host is never shown).
    pub tenant: Option<String>,
    /// The route template: method and resource type (`GET /Users`).
    pub route: String,
    pub request_id: String,
}

struct Ring {
    next: AtomicU64,
    slots: Vec<ArcSwapOption<ErrorRecord>>,
}

fn ring() -> &'static Ring {
    static RING: OnceLock<Ring> = OnceLock::new();
    RING.get_or_init(|| Ring {
        next: AtomicU64::new(0),
        slots: (0..CAPACITY).map(|_| ArcSwapOption::empty()).collect(),
    })
}

/// The records kept, newest first.
pub(crate) fn recent() -> Vec<ErrorRecord> {
    let mut all: Vec<ErrorRecord> = ring()
        .slots
        .iter()
        .filter_map(|s| s.load_full().map(|r| (*r).clone()))
        .collect();
    all.sort_by_key(|r| std::cmp::Reverse(r.seq));
    all
}

/// An answer with status 400 or above was sent.
#[derive(Debug)]
pub(crate) struct ErrorAnswered<'a> {
    pub tenant: Option<&'a str>,
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub reason: Option<&'static str>,
    pub method: &'static str,
    pub resource_label: &'static str,
    pub request_id: &'a str,
}

impl ErrorAnswered<'_> {
    pub(crate) fn emit(&self) {
        super::metrics_handle();
        metrics::counter!(
            ERRORS_TOTAL,
            "tenant" => self.tenant.unwrap_or("-").to_string(),
            "status" => status_label(self.status),
            "scim_type" => self.scim_type.unwrap_or("-"),
        )
        .increment(1);
        let ring = ring();
        let seq = ring.next.fetch_add(1, Ordering::Relaxed) + 1;
        let time_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let record = ErrorRecord {
            seq,
            time_ms,
            status: self.status,
            scim_type: self.scim_type,
            reason: self.reason,
            tenant: self.tenant.map(str::to_string),
            route: format!("{} /{}", self.method, self.resource_label),
            request_id: self.request_id.to_string(),
        };
        let slot = usize::try_from(seq % CAPACITY as u64).unwrap_or(0);
        if let Some(s) = ring.slots.get(slot) {
            s.store(Some(Arc::new(record)));
        }
    }
}

/// The status as a label: its digits for 400 to 599 (a bounded set),
/// `other` otherwise.
fn status_label(status: u16) -> String {
    match status {
        400..=599 => status.to_string(),
        _ => "other".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest_and_no_more() {
        for i in 0..(CAPACITY + 5) {
            ErrorAnswered {
                tenant: Some("acme"),
                status: 404,
                scim_type: None,
                reason: Some("not_found"),
                method: "GET",
                resource_label: "Users",
                request_id: &format!("ring-{i}"),
            }
            .emit();
        }
        let kept = recent();
        assert_eq!(kept.len(), CAPACITY);
        assert!(kept.windows(2).all(|w| w[0].seq > w[1].seq));
        // Other tests may add records meanwhile; ours are the newest of ours.
        let ours: Vec<_> = kept
            .iter()
            .filter(|r| r.request_id.starts_with("ring-"))
            .collect();
        assert!(ours.iter().all(|r| r.route == "GET /Users"));
        assert!(ours
            .iter()
            .any(|r| r.request_id == format!("ring-{}", CAPACITY + 4)));
        assert!(!ours.iter().any(|r| r.request_id == "ring-0"));
    }

    #[test]
    fn status_labels_are_the_digits() {
        assert_eq!(status_label(400), "400");
        assert_eq!(status_label(429), "429");
        assert_eq!(status_label(599), "599");
        assert_eq!(status_label(200), "other");
    }
}
