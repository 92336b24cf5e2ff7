//! Cache coherence across replicas: with `[limits] backend = "redis"`, the
//! invalidation generations that are part of every cache key live in
//! Redis instead of the process, so a write through any replica makes
//! every replica's cached answers of the type unreachable.
//!
//! - **One hash per tenant**, `{prefix}:cache:{tenant}`: the field `*` is
//!   the tenant-wide generation (Bulk, writes to types the tenant does
//!   not declare), `t:<type>` one per declared resource type, and `epoch`
//!   a random value set when the hash is created. The epoch is part of
//!   every key: if Redis loses the hash (a restart without persistence, a
//!   flush, a failover to a replica that had not caught up), the
//!   generations start again from zero under a new epoch, so an old entry
//!   can never match a restarted counter.
//! - **Lookups** read the tenant's epoch and the two generations in one
//!   round trip (a Lua script that also creates the epoch). When Redis
//!   does not answer within the `[limits] timeout`, the request is not
//!   served from the cache and its answer is not kept (a bypass): a
//!   replica that cannot see the generations cannot know its entries are
//!   current.
//! - **Writes** bump the generation in Redis after the upstream answered
//!   and before the client gets the answer. If Redis does not answer, the
//!   bump is retried in the background for up to the tenant's cache TTL
//!   (after that, every entry the bump had to hide has expired anyway);
//!   meanwhile other replicas may serve the old answer: the staleness is
//!   bounded by the tenant's TTL and by how long Redis is unreachable
//!   from the writer but reachable from the readers.
//! - Nothing here holds identity data: fields are type names, values are
//!   counters and a random epoch.
use crate::limit::redis::RedisRates;
use crate::redis_conn::Ask;
use redis::Script;
use std::sync::LazyLock;
use std::time::Duration;

/// `KEYS[1]`: the tenant's hash. `ARGV[1]`: the type's field, `ARGV[2]`: a
/// fresh epoch (kept only if the hash has none). Returns epoch, tenant-wide
/// and type generations.
const READ: &str = r"
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[2])
return redis.call('HMGET', KEYS[1], 'epoch', '*', ARGV[1])
";

/// `KEYS[1]`: the tenant's hash. `ARGV[1]`: the field to bump, `ARGV[2]`: a
/// fresh epoch (kept only if the hash has none).
const BUMP: &str = r"
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[2])
return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
";

static READ_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(READ));
static BUMP_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(BUMP));

/// The Redis hash field of a scope (see `cache::Scope`).
fn field(scope: &str) -> String {
    if scope.is_empty() {
        "*".to_string()
    } else {
        format!("t:{scope}")
    }
}

fn hash_key(redis: &RedisRates, tenant: &str) -> String {
    format!("{}:cache:{tenant}", redis.settings().prefix)
}

/// 16 random hex digits.
fn fresh_epoch() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    // A failed draw still gives a usable epoch: the clock's nanoseconds.
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        bytes = (now.as_nanos() as u64).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The generation token of a key for `scope` of `tenant`, read from
/// Redis; `None` when Redis did not answer in time (the caller bypasses
/// the cache).
pub(crate) async fn read(redis: &RedisRates, tenant: &str, scope: &str) -> Option<String> {
    let key = hash_key(redis, tenant);
    let read = redis
        .shared()
        .run(Ask::Decide, |mut conn, _| {
            let mut invocation = READ_SCRIPT.key(&key);
            invocation.arg(field(scope)).arg(fresh_epoch());
            async move {
                invocation
                    .invoke_async::<(Option<String>, Option<u64>, Option<u64>)>(&mut conn)
                    .await
            }
        })
        .await;
    match read {
        Ok((epoch, all, of_type)) => Some(format!(
            "r{}.{}.{}",
            epoch.unwrap_or_default(),
            all.unwrap_or(0),
            of_type.unwrap_or(0)
        )),
        Err(e) => {
            tracing::debug!(tenant, error = %e, "cache generations not read from redis in time; not using the cache for this request");
            None
        }
    }
}

/// Bumps `scope`'s generation of `tenant` once; whether Redis took it.
/// Tried even while the connection holds off after a failure (like a
/// lease's release): a bump that waits hides nothing.
pub(crate) async fn bump_once(redis: &RedisRates, tenant: &str, scope: &str) -> bool {
    let key = hash_key(redis, tenant);
    redis
        .shared()
        .run(Ask::Anyway, |mut conn, _| {
            let mut invocation = BUMP_SCRIPT.key(&key);
            invocation.arg(field(scope)).arg(fresh_epoch());
            async move { invocation.invoke_async::<i64>(&mut conn).await }
        })
        .await
        .is_ok()
}

/// Retries a bump that failed, with a backoff from 50 ms doubling to 2 s,
/// until it lands or `within` (the tenant's cache TTL) has passed.
pub(crate) async fn bump_until(
    redis: std::sync::Arc<RedisRates>,
    tenant: String,
    scope: String,
    within: Duration,
) -> bool {
    let give_up = tokio::time::Instant::now() + within;
    let mut backoff = Duration::from_millis(50);
    loop {
        if bump_once(&redis, &tenant, &scope).await {
            return true;
        }
        let now = tokio::time::Instant::now();
        if now + backoff >= give_up {
            return false;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_never_collide_with_the_epoch_or_each_other() {
        assert_eq!(field(""), "*");
        assert_eq!(field("users"), "t:users");
        // A type called "epoch" is "t:epoch", not the epoch field.
        assert_eq!(field("epoch"), "t:epoch");
    }

    #[test]
    fn epochs_are_fresh() {
        let (a, b) = (fresh_epoch(), fresh_epoch());
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
    }
}
