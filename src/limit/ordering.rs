//! Write ordering: writes to the same resource of one tenant (PUT, PATCH,
//! DELETE of `/Type/id`) are serialized, so that two concurrent PATCHes
//! of one group's members reach the upstream one after the other and
//! neither is lost to a read-modify-write race behind it. Writes to other
//! resources, and all reads, run concurrently.
//!
//! In-process with [`WriteOrder::turn`]; across replicas with
//! [`WriteOrder::turn_shared`] when `[limits] backend = "redis"`: the
//! local turn first (so one process sends at most one waiter per resource
//! to Redis), then a lease in Redis ([`super::lease`]). Redis unreachable:
//! the local order only, logged and counted, never a failed request.
use super::lease::{self, Lease, Taken, LEASE_MARGIN};
use super::redis::RedisRates;
use crate::scim::route::{Route, RouteKind};
use crate::telemetry::emit::WriteOrderFallback;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::OwnedMutexGuard;

type Locks = Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

/// The per-resource locks of the process.
#[derive(Debug, Default)]
pub struct WriteOrder {
    locks: Arc<Locks>,
}

/// Held while a write is in flight; the next write to the resource waits
/// for it. The last turn out forgets the resource.
#[derive(Debug)]
pub struct Turn {
    key: String,
    locks: Arc<Locks>,
    guard: Option<OwnedMutexGuard<()>>,
    /// The resource's lease in Redis, when shared ordering holds one.
    lease: Option<Lease>,
}

impl WriteOrder {
    pub fn new() -> WriteOrder {
        WriteOrder::default()
    }

    /// The key of a write that needs a turn: `Some` for PUT, PATCH and
    /// DELETE of a single resource (`/Users/123`), from the request's one
    /// parsed route (canonical type and id: two spellings of a resource
    /// share its turn).
    pub fn key(tenant: &str, method: &http::Method, route: &Route) -> Option<String> {
        if !matches!(
            *method,
            http::Method::PUT | http::Method::PATCH | http::Method::DELETE
        ) || route.kind() != RouteKind::Resource
        {
            return None;
        }
        let (kind, id) = (route.resource()?, route.id()?);
        Some(format!(
            "{tenant}\u{0}{}\u{0}{id}",
            kind.to_ascii_lowercase()
        ))
    }

    /// Waits for the resource's turn (the caller bounds the wait).
    pub async fn turn(&self, key: String) -> Turn {
        let lock = lock(&self.locks).entry(key.clone()).or_default().clone();
        let guard = lock.lock_owned().await;
        Turn {
            key,
            locks: self.locks.clone(),
            guard: Some(guard),
            lease: None,
        }
    }

    /// [`WriteOrder::turn`], then, with a shared backend (`[limits]
    /// backend = "redis"`), the resource's lease in Redis, retried with a
    /// short backoff while another replica holds it. The caller bounds the
    /// wait (by the request deadline, at most `request_timeout`).
    pub async fn turn_shared(
        &self,
        key: String,
        shared: Option<&Arc<RedisRates>>,
        request_timeout: Duration,
    ) -> Turn {
        // No holder keeps its lease past its own request deadline; the TTL
        // adds a margin and bounds how long a crashed holder blocks.
        let ttl = request_timeout + LEASE_MARGIN;
        self.turn_leased(key, shared, ttl).await
    }

    /// The local turn, then a lease of `ttl` from `shared` (if any).
    pub async fn turn_leased(
        &self,
        key: String,
        shared: Option<&Arc<RedisRates>>,
        ttl: Duration,
    ) -> Turn {
        let mut turn = self.turn(key).await;
        let Some(redis) = shared else {
            return turn;
        };
        let mut n = 0u32;
        loop {
            match Box::pin(lease::try_take(redis, &turn.key, ttl)).await {
                Ok(Taken::Held(lease)) => {
                    turn.lease = Some(lease);
                    return turn;
                }
                Ok(Taken::Busy) => {
                    tokio::time::sleep(lease::retry_wait(n)).await;
                    n = n.saturating_add(1);
                }
                Err(e) => {
                    WriteOrderFallback { error: &e }.emit();
                    return turn;
                }
            }
        }
    }

    /// Resources with a write in flight or waiting (for tests).
    pub fn in_use(&self) -> usize {
        lock(&self.locks).len()
    }
}

fn lock(locks: &Locks) -> std::sync::MutexGuard<'_, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
    locks.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Drop for Turn {
    fn drop(&mut self) {
        let guard = self.guard.take();
        let key = std::mem::take(&mut self.key);
        let locks = self.locks.clone();
        // The Redis lease goes back before the local turn, so the next
        // local waiter finds it free; in the background, since a drop
        // cannot wait.
        let runtime = tokio::runtime::Handle::try_current();
        match (self.lease.take(), runtime) {
            (Some(lease), Ok(runtime)) => {
                runtime.spawn(async move {
                    lease.release().await;
                    release(guard, &key, &locks);
                });
            }
            _ => release(guard, &key, &locks),
        }
    }
}

/// Releases the local turn, then forgets the lock if nobody holds or
/// awaits it (the map's own reference is the only one left).
fn release(guard: Option<OwnedMutexGuard<()>>, key: &str, locks: &Locks) {
    drop(guard);
    let mut locks = lock(locks);
    if locks.get(key).is_some_and(|l| Arc::strong_count(l) == 1) {
        locks.remove(key);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn only_single_resource_writes_take_turns() {
        let k = |m: http::Method, p: &str| WriteOrder::key("acme", &m, &route(p));
        assert!(k(http::Method::PATCH, "/Groups/g1").is_some());
        assert!(k(http::Method::PUT, "/Users/u1").is_some());
        assert!(k(http::Method::DELETE, "/Users/u1").is_some());
        assert!(k(http::Method::GET, "/Users/u1").is_none());
        assert!(k(http::Method::POST, "/Users").is_none());
        assert!(k(http::Method::PATCH, "/Users").is_none());
        assert_ne!(
            WriteOrder::key("acme", &http::Method::PATCH, &route("/Groups/g1")),
            WriteOrder::key("globex", &http::Method::PATCH, &route("/Groups/g1"))
        );
        // Two spellings of one resource take one turn.
        assert_eq!(
            k(http::Method::PATCH, "/groups/%67%31"),
            k(http::Method::DELETE, "/Groups/g1")
        );
        assert!(k(http::Method::PATCH, "/Users/.search").is_none());
    }

    pub(crate) fn route(p: &str) -> Route {
        Route::parse(p, &crate::scim::schema::SchemaRegistry::builtin()).unwrap()
    }

    #[tokio::test]
    async fn writes_to_one_resource_run_one_at_a_time() {
        let order = Arc::new(WriteOrder::new());
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (order, now, most) = (order.clone(), now.clone(), most.clone());
                tokio::spawn(async move {
                    let key =
                        WriteOrder::key("acme", &http::Method::PATCH, &route("/Groups/g")).unwrap();
                    let _turn = order.turn(key).await;
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
        assert_eq!(order.in_use(), 0, "forgotten when done");
    }

    #[tokio::test]
    async fn unreachable_redis_falls_back_to_the_local_order_at_once() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let redis = Arc::new(
            RedisRates::new(crate::limit::redis::RedisSettings {
                url: format!("redis://127.0.0.1:{port}"),
                replicas: 2,
                timeout: Duration::from_millis(50),
                prefix: "t".into(),
            })
            .unwrap(),
        );
        let order = WriteOrder::new();
        let key = WriteOrder::key("acme", &http::Method::PATCH, &route("/Groups/g")).unwrap();
        let started = std::time::Instant::now();
        let ttl = Duration::from_secs(5);
        let turn = order.turn_leased(key.clone(), Some(&redis), ttl).await;
        assert!(turn.lease.is_none());
        assert!(started.elapsed() < Duration::from_secs(1), "no hang");
        // The local order still holds.
        let second = tokio::time::timeout(
            Duration::from_millis(50),
            order.turn_leased(key, Some(&redis), ttl),
        )
        .await;
        assert!(second.is_err(), "the second waits for the first");
        drop(turn);
        assert_eq!(order.in_use(), 0);
    }
}
