//! Write-ordering leases in Redis: one lease per resource of a tenant, so
//! that replicas behind a load balancer send writes to one resource one
//! at a time (issue 7, item 6), the in-process turn of [`super::ordering`]
//! extended across processes.
//!
//! - **Take**: `SET key token NX PX ttl`; when another replica holds it,
//!   again after a short jittered backoff (5 ms doubling to 100 ms). The
//!   caller bounds the whole wait by the request deadline.
//! - **Release**: a Lua compare-and-delete with the token, so a holder
//!   whose lease already expired never deletes its successor's.
//! - **TTL** (what bounds a crashed holder): the server's
//!   `request_timeout` plus [`LEASE_MARGIN`]. A live holder cannot need
//!   longer, since everything it does with the lease (the upstream call
//!   and its retries, PATCH emulation included) ends by its request
//!   deadline; a crashed one blocks the resource no longer than that.
//! - **Keys**: `{prefix}:wo:{tenant}:{sha256(type, id)}`, per tenant and
//!   never shared across tenants; the client-chosen resource id is hashed,
//!   so no key can be forged or grow with it.
//! - **Redis unreachable**: the caller keeps the in-process order only,
//!   logs and counts it; the request never fails for it.
use super::redis::{RedisRateError, RedisRates};
use crate::redis_conn::{Ask, Try};
use redis::Script;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// Added to the holder's remaining request time to make the lease's TTL.
pub(crate) const LEASE_MARGIN: Duration = Duration::from_secs(2);

/// Deletes the key only if it still holds our token.
static RELEASE_SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

/// A lease held in Redis: released (compare-and-delete) by its holder.
pub(crate) struct Lease {
    redis: Arc<RedisRates>,
    key: String,
    token: String,
}

/// Whether a lease was taken.
#[derive(Debug)]
pub(crate) enum Taken {
    Held(Lease),
    /// Another holder has it now.
    Busy,
}

/// The Redis key of the lease for a write-order key
/// (`tenant \0 type \0 id`, see [`super::ordering::WriteOrder::key`]).
pub fn lease_key(prefix: &str, order_key: &str) -> String {
    let (tenant, resource) = order_key.split_once('\u{0}').unwrap_or(("", order_key));
    let digest = Sha256::digest(resource.as_bytes());
    let mut key = String::with_capacity(prefix.len() + tenant.len() + 40);
    key.push_str(prefix);
    key.push_str(":wo:");
    key.push_str(tenant);
    key.push(':');
    for b in digest.iter().take(16) {
        key.push_str(&format!("{b:02x}"));
    }
    key
}

/// 128 random bits as hex: who holds the lease.
fn new_token() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        // Only uniqueness matters: fall back to time and a counter.
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        return format!("{nanos:x}-{}-{n}", std::process::id());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One attempt to take the lease of `order_key` for `ttl`.
pub(crate) async fn try_take(
    redis: &Arc<RedisRates>,
    order_key: &str,
    ttl: Duration,
) -> Result<Taken, RedisRateError> {
    let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
    // Until Redis has answered, the lease may or may not be ours: if this
    // ends any other way (an error, a timeout, the caller giving up), what
    // may be ours is given back, so other replicas do not wait for the TTL
    // (compare-and-delete: never someone else's lease).
    let key = lease_key(&redis.settings().prefix, order_key);
    let token = new_token();
    let mut unsure = Unsure(Some(Lease {
        redis: redis.clone(),
        key: key.clone(),
        token: token.clone(),
    }));
    let taken = redis
        .shared()
        .run(Ask::Decide, |mut conn, again| {
            let (key, token) = (&key, &token);
            async move {
                let reply: Option<String> = redis::cmd("SET")
                    .arg(key)
                    .arg(token)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async(&mut conn)
                    .await?;
                if reply.is_some() || again == Try::First {
                    return Ok(reply.is_some());
                }
                // The first SET may have taken it before its connection
                // died: then the holder is this very token.
                let holder: Option<String> =
                    redis::cmd("GET").arg(key).query_async(&mut conn).await?;
                Ok(holder.as_deref() == Some(token.as_str()))
            }
        })
        .await?;
    if !taken {
        unsure.0 = None;
        return Ok(Taken::Busy);
    }
    Ok(Taken::Held(unsure.0.take().unwrap_or_else(|| Lease {
        redis: redis.clone(),
        key,
        token,
    })))
}

/// A lease whose `SET` had no answer yet: released on drop.
struct Unsure(Option<Lease>);

impl Drop for Unsure {
    fn drop(&mut self) {
        if let (Some(lease), Ok(runtime)) = (self.0.take(), tokio::runtime::Handle::try_current()) {
            runtime.spawn(lease.release());
        }
    }
}

/// The wait before attempt `n` (from 0) to take a busy lease: 5 ms
/// doubling to 100 ms, with jitter (replicas waiting for one resource do
/// not retry in lockstep).
pub(crate) fn retry_wait(n: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let base = Duration::from_millis(5)
        .saturating_mul(1 << n.min(5))
        .min(Duration::from_millis(100));
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(n);
    let jitter = u32::try_from(h.finish() % 500).unwrap_or(0);
    // Between half and the whole of the step.
    base / 2 + base * jitter / 1000
}

impl Lease {
    /// Gives the lease back (if it is still ours); bounded by the Redis
    /// timeout. A failure only means the lease runs out at its TTL.
    pub(crate) async fn release(self) {
        // Even while holding off after someone's failure: a lease left
        // behind would hold the resource up for its whole TTL.
        let released = self
            .redis
            .shared()
            .run(Ask::Anyway, |mut conn, _| {
                let mut invocation = RELEASE_SCRIPT.key(&self.key);
                invocation.arg(&self.token);
                async move { invocation.invoke_async::<i64>(&mut conn).await }
            })
            .await;
        if let Err(e) = released {
            tracing::debug!(error = %e, "write-order lease not released; it expires by itself");
        }
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn keys_are_per_tenant_and_hash_the_resource() {
        let key = |t: &str, id: &str| {
            let order = crate::limit::ordering::WriteOrder::key(
                t,
                &http::Method::PATCH,
                &crate::limit::ordering::tests::route(&format!("/Groups/{id}")),
            )
            .unwrap();
            lease_key("scimgw", &order)
        };
        let a = key("acme", "g1");
        assert!(a.starts_with("scimgw:wo:acme:"), "{a}");
        assert_eq!(a.len(), "scimgw:wo:acme:".len() + 32);
        assert_ne!(a, key("globex", "g1"), "never shared across tenants");
        assert_ne!(a, key("acme", "g2"));
        assert_eq!(a, key("acme", "g1"));
        let odd = key("acme", "x y:*\"{}");
        assert!(!odd.contains(' ') && !odd.contains('*'), "{odd}");
    }

    #[test]
    fn tokens_differ_and_waits_grow_bounded() {
        assert_ne!(new_token(), new_token());
        for n in 0..20 {
            let w = retry_wait(n);
            assert!(w <= Duration::from_millis(100), "{w:?}");
            assert!(w >= Duration::from_micros(2500), "{w:?}");
        }
        assert!(retry_wait(0) <= Duration::from_millis(5));
        assert!(retry_wait(6) >= Duration::from_millis(50));
    }
}
