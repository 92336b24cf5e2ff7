//! Who may hold a connection: a cap per client IP, and a budget for
//! connections that have not yet carried an authenticated request, so
//! that anonymous clients cannot take every slot of `max_connections`.
//!
//! - A connection is anonymous from its accept until the pipeline marks it
//!   authenticated (`conn_info::ConnAuth::mark`, after a request's
//!   credentials were accepted; the [`AnonymousBudget`] this module
//!   implements is told). Anonymous connections past the budget are
//!   closed oldest first when a new one arrives: the new one may be a
//!   legitimate client about to authenticate, while the oldest had its
//!   chance. (Refusing the new one instead would lock every client out
//!   while the budget is held.) An anonymous connection is also closed `anonymous_timeout`
//!   after its accept. Both closes are immediate, not graceful: nothing an
//!   anonymous connection has in flight is worth finishing, and a graceful
//!   close would let it keep its slot.
//! - Connections from one client IP (IPv6: one /64, what one host usually
//!   gets) beyond `max_connections_per_ip` are closed at accept.
//!
//! The IP is the connection's client: the TCP peer's, or on a PROXY
//! listener the client the balancer's header names (admitted once the
//! header is read). A connection from a trusted proxy (`trusted_proxies`)
//! carries many clients' requests: it has no per-IP cap (the proxy's own
//! connection limit and `max_connections` bound it), but it is anonymous
//! until one of its requests authenticates, like any other, so a proxy
//! relaying unauthenticated floods cannot hold every slot. Behind NAT,
//! clients share its address: raise the per-IP cap there.
use crate::conn_info::{AnonymousBudget, ConnAuth};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::Poll;
use std::time::Duration;
use tokio::sync::Notify;

/// The connection caps of a listener (fixed when it starts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionCaps {
    /// Connections in all (new clients wait in the backlog beyond it).
    pub max_connections: usize,
    /// Connections from one client IP (IPv6: one /64).
    pub per_ip: usize,
    /// `None`: the listener has no authentication (admin, the store).
    pub anonymous: Option<AnonymousCaps>,
}

/// Connections not yet authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnonymousCaps {
    /// Most held at once; past it the oldest is closed.
    pub max: usize,
    /// Closed this long after the accept unless authenticated by then.
    pub timeout: Duration,
}

impl ConnectionCaps {
    /// Only the total cap: for listeners without authentication.
    pub fn total(max_connections: usize) -> ConnectionCaps {
        ConnectionCaps {
            max_connections,
            per_ip: max_connections,
            anonymous: None,
        }
    }
}

/// The listener's bookkeeping.
pub(super) struct Admission {
    caps: ConnectionCaps,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    anonymous: Mutex<Anonymous>,
}

#[derive(Default)]
struct Anonymous {
    next: u64,
    /// By accept order: the first is the oldest.
    open: BTreeMap<u64, Arc<Notify>>,
}

/// Why a connection was refused or closed (the metric's `reason`).
pub(super) const PER_IP: &str = "per_ip";
pub(super) const ANONYMOUS_BUDGET: &str = "anonymous_budget";
pub(super) const ANONYMOUS_TIMEOUT: &str = "anonymous_timeout";
/// A connection to a PROXY listener from outside its allow-list.
pub(super) const PROXY_NOT_ALLOWED: &str = "proxy_not_allowed";
/// No valid PROXY header in time on a PROXY listener.
pub(super) const PROXY_HEADER: &str = "proxy_header";

/// A connection's place; given back when dropped.
pub(super) struct Admitted {
    admission: Arc<Admission>,
    /// `None`: not counted per IP (a trusted proxy's connection).
    ip: Option<IpAddr>,
    auth: ConnAuth,
    /// Told when the connection is closed to make room (anonymous only).
    evict: Option<Arc<Notify>>,
}

impl Admission {
    pub(super) fn new(caps: ConnectionCaps) -> Arc<Admission> {
        Arc::new(Admission {
            caps,
            per_ip: Mutex::default(),
            anonymous: Mutex::default(),
        })
    }

    fn anonymous(&self) -> std::sync::MutexGuard<'_, Anonymous> {
        self.anonymous
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for a connection from `ip`, or `None` when that IP holds
    /// its cap (`ip` `None`: a trusted proxy's, not capped per IP). May
    /// close the oldest anonymous connection to make room.
    pub(super) fn admit(self: &Arc<Self>, ip: Option<IpAddr>) -> Option<Admitted> {
        let ip = ip.map(ip_key);
        if let Some(ip) = ip {
            let mut per_ip = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
            let held = per_ip.entry(ip).or_insert(0);
            if *held >= self.caps.per_ip {
                return None;
            }
            *held += 1;
        }
        let Some(caps) = self.caps.anonymous else {
            return Some(Admitted {
                admission: self.clone(),
                ip,
                auth: ConnAuth::default(),
                evict: None,
            });
        };
        let evict = Arc::new(Notify::new());
        let mut anonymous = self.anonymous();
        while anonymous.open.len() >= caps.max {
            match anonymous.open.pop_first() {
                // Stored as a permit: the connection sees it even if it
                // is not waiting yet.
                Some((_, oldest)) => oldest.notify_one(),
                None => break,
            }
        }
        let id = anonymous.next;
        anonymous.next += 1;
        anonymous.open.insert(id, evict.clone());
        drop(anonymous);
        let budget: Weak<Admission> = Arc::downgrade(self);
        Some(Admitted {
            admission: self.clone(),
            ip,
            auth: ConnAuth::counted(budget as Weak<dyn AnonymousBudget>, id),
            evict: Some(evict),
        })
    }
}

impl AnonymousBudget for Admission {
    fn release(&self, id: u64) {
        self.anonymous().open.remove(&id);
    }
}

impl Admitted {
    pub(super) fn auth(&self) -> ConnAuth {
        self.auth.clone()
    }

    /// Completes when the connection must close, with the reason: made
    /// room for a newer anonymous connection, or still anonymous at its
    /// timeout. Never completes for an authenticated connection or on a
    /// listener without an anonymous budget.
    pub(super) async fn closed(&self) -> &'static str {
        let (Some(evict), Some(caps)) = (&self.evict, self.admission.caps.anonymous) else {
            return std::future::pending().await;
        };
        // Polled on every wake of the connection's task (it runs beside
        // the connection, whose requests wake it many times each): once
        // the connection has authenticated, a poll is one atomic load and
        // registers nothing, since nothing can close it any more.
        let mut evicted = std::pin::pin!(evict.notified());
        let mut timeout = std::pin::pin!(tokio::time::sleep(caps.timeout));
        std::future::poll_fn(|cx| {
            if self.auth.is_authenticated() {
                return Poll::Pending;
            }
            if evicted.as_mut().poll(cx).is_ready() {
                return Poll::Ready(ANONYMOUS_BUDGET);
            }
            if timeout.as_mut().poll(cx).is_ready() {
                return Poll::Ready(ANONYMOUS_TIMEOUT);
            }
            Poll::Pending
        })
        .await
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some(ip) = self.ip {
            let mut per_ip = self
                .admission
                .per_ip
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(held) = per_ip.get_mut(&ip) {
                *held -= 1;
                if *held == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
        if let Some(id) = self.auth.budget_id() {
            self.admission.anonymous().open.remove(&id);
        }
    }
}

/// The address a cap counts: IPv4 as is (also when mapped into IPv6), an
/// IPv6 address's /64.
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn caps(per_ip: usize, anonymous: usize) -> ConnectionCaps {
        ConnectionCaps {
            max_connections: 100,
            per_ip,
            anonymous: Some(AnonymousCaps {
                max: anonymous,
                timeout: Duration::from_millis(200),
            }),
        }
    }

    #[test]
    fn one_ip_holds_at_most_its_cap() {
        let a = Admission::new(caps(2, 100));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let first = a.admit(Some(ip)).unwrap();
        let _second = a.admit(Some(ip)).unwrap();
        assert!(a.admit(Some(ip)).is_none());
        assert!(a.admit(Some("10.0.0.2".parse().unwrap())).is_some());
        drop(first);
        assert!(
            a.admit(Some(ip)).is_some(),
            "a place given back is free again"
        );
        // A trusted proxy's connections are not capped per IP.
        let proxied: Vec<_> = (0..5).map(|_| a.admit(None).unwrap()).collect();
        assert_eq!(proxied.len(), 5);
        // One /64 is one client; IPv4-mapped is IPv4.
        assert_eq!(
            ip_key("2001:db8::1".parse().unwrap()),
            ip_key("2001:db8::ffff:1".parse().unwrap())
        );
        assert_ne!(
            ip_key("2001:db8::1".parse().unwrap()),
            ip_key("2001:db8:0:1::1".parse().unwrap())
        );
        assert_eq!(ip_key("::ffff:10.0.0.1".parse().unwrap()), ip);
    }

    #[tokio::test]
    async fn the_oldest_anonymous_connection_makes_room_and_authenticated_ones_do_not_count() {
        let a = Admission::new(caps(100, 2));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let oldest = a.admit(Some(ip)).unwrap();
        let authed = a.admit(Some(ip)).unwrap();
        authed.auth().mark();
        let second = a.admit(Some(ip)).unwrap();
        // The authenticated one left the budget (2): `third` only makes
        // `oldest` go.
        let third = a.admit(Some(ip)).unwrap();
        let closed = tokio::time::timeout(Duration::from_millis(100), oldest.closed()).await;
        assert_eq!(closed, Ok(ANONYMOUS_BUDGET));
        for kept in [&authed, &second, &third] {
            let closed = tokio::time::timeout(Duration::from_millis(50), kept.closed()).await;
            assert!(closed.is_err(), "kept open");
        }
        assert_eq!(a.anonymous().open.len(), 2);
    }

    #[tokio::test]
    async fn an_anonymous_connection_times_out_unless_authenticated() {
        let a = Admission::new(caps(100, 10));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let anonymous = a.admit(Some(ip)).unwrap();
        let authed = a.admit(Some(ip)).unwrap();
        authed.auth().mark();
        let closed = tokio::time::timeout(Duration::from_secs(5), anonymous.closed()).await;
        assert_eq!(closed, Ok(ANONYMOUS_TIMEOUT));
        let closed = tokio::time::timeout(Duration::from_millis(500), authed.closed()).await;
        assert!(closed.is_err());
    }
}
