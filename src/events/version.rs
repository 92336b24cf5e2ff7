//! The `resourceversion` of a change event: a number that grows with every
//! write of one resource, whichever replica made it, so that a receiver
//! keeping the highest `resourceversion` per resource applies the newest
//! state and ignores an older event that arrives late (docs/events.md).
//! The outbox `sequence` cannot do that: each replica has its own outbox
//! and counter.
//!
//! - **With Redis** (`[limits] backend = "redis"`): one Lua script per
//!   request gives each event `max(Redis TIME in µs, last + 1)` for its
//!   resource, where `last` is kept at
//!   `{prefix}:ver:{tenant}:{sha256(type, id)}` for a day (after that,
//!   Redis's clock has moved past it anyway). Writes to one resource are
//!   serialized across replicas by the write lease, and the version is
//!   taken while the lease is held (before the write's turn is given
//!   back), so versions follow the order in which the upstream applied
//!   the writes. One clock (Redis's) for all replicas: skewed replica
//!   clocks do not matter.
//! - **Without Redis**, or when it does not answer within its timeout:
//!   the process's clock, `max(now in µs, last + 1)` over every event of
//!   the process (a restart continues from the wall clock, which has moved
//!   on). Across replicas this orders writes only as well as their clocks
//!   agree; the fallback is logged and counted.
//! - The value is a string of 20 digits (CloudEvents integers are 32-bit;
//!   zero-padded it orders as a string and as a number).
use crate::events::Event;
use crate::limit::redis::RedisRates;
use crate::redis_conn::Ask;
use crate::telemetry::emit::EventVersionFallback;
use redis::Script;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The extension attribute.
pub(crate) const ATTRIBUTE: &str = "resourceversion";

/// How long Redis remembers a resource's last version.
const KEEP: Duration = Duration::from_secs(24 * 3600);

/// `KEYS`: one per event, in order. `ARGV[1]`: how long to keep each, in
/// ms. Returns one version per key, as strings.
const NEXT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i, key in ipairs(KEYS) do
  local last = tonumber(redis.call('GET', key) or '0')
  local v = now
  if v <= last then v = last + 1 end
  redis.call('SET', key, string.format('%d', v), 'PX', ARGV[1])
  out[i] = string.format('%d', v)
end
return out
";

static NEXT_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(NEXT));

/// The last version this process gave or saw.
static LAST: AtomicU64 = AtomicU64::new(0);

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The process's next version: above the clock and every earlier one.
fn local_next() -> u64 {
    let now = now_us();
    let mut next = 0;
    let _ = LAST.fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
        next = now.max(last + 1);
        Some(next)
    });
    next
}

/// A version Redis gave: later local ones stay above it.
fn observe(version: u64) {
    LAST.fetch_max(version, Ordering::AcqRel);
}

/// The Redis key of an event's resource: per tenant, the client-chosen id
/// hashed (no key can be forged or grow with it).
fn key(prefix: &str, tenant: &str, event: &Event) -> String {
    let mut h = Sha256::new();
    h.update(event.resource_type().unwrap_or("").as_bytes());
    h.update([0]);
    h.update(event.subject().unwrap_or("").as_bytes());
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}:ver:{tenant}:{hex}")
}

fn set(event: &mut Event, version: u64) {
    event.set_resource_version(&format!("{version:020}"));
}

/// Gives each of `events` (all of `tenant`, in the order of their writes)
/// its `resourceversion`: from Redis when there is one, else (or when it
/// does not answer in time) from the process's clock.
pub(crate) async fn stamp(redis: Option<&RedisRates>, tenant: &str, events: &mut [&mut Event]) {
    if events.is_empty() {
        return;
    }
    if let Some(redis) = redis {
        match shared(redis, tenant, events).await {
            Ok(versions) if versions.len() == events.len() => {
                for (event, version) in events.iter_mut().zip(versions) {
                    observe(version);
                    set(event, version);
                }
                return;
            }
            Ok(_) => EventVersionFallback {
                tenant,
                error: "redis answered with the wrong number of versions",
            }
            .emit(),
            Err(e) => {
                EventVersionFallback { tenant, error: &e }.emit();
            }
        }
    }
    for event in events.iter_mut() {
        set(event, local_next());
    }
}

async fn shared(
    redis: &RedisRates,
    tenant: &str,
    events: &[&mut Event],
) -> Result<Vec<u64>, String> {
    let settings = redis.settings();
    let mut invocation = NEXT_SCRIPT.prepare_invoke();
    for event in events {
        invocation.key(key(&settings.prefix, tenant, event));
    }
    invocation.arg(u64::try_from(KEEP.as_millis()).unwrap_or(u64::MAX));
    let versions: Vec<String> = redis
        .shared()
        .run(Ask::Decide, |mut conn, _| {
            let invocation = &invocation;
            async move { invocation.invoke_async(&mut conn).await }
        })
        .await
        .map_err(|e| format!("redis: {e}"))?;
    versions
        .iter()
        .map(|v| v.parse::<u64>().map_err(|_| format!("redis gave {v:?}")))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn local_versions_grow_past_the_clock_and_what_redis_gave() {
        let a = local_next();
        let b = local_next();
        assert!(b > a);
        assert!(a >= now_us() - 60_000_000, "close to the clock");
        observe(b + 1_000_000);
        assert!(local_next() > b + 1_000_000);
    }

    #[tokio::test]
    async fn without_redis_each_event_gets_a_padded_growing_version() {
        let mut one = Event::from(json!({"subject": "u1", "resourcetype": "User"}));
        let mut two = Event::from(json!({"subject": "u1", "resourcetype": "User"}));
        stamp(None, "acme", &mut [&mut one, &mut two]).await;
        let (one, two) = (one.to_value(), two.to_value());
        let (v1, v2) = (
            one[ATTRIBUTE].as_str().unwrap().to_string(),
            two[ATTRIBUTE].as_str().unwrap().to_string(),
        );
        assert_eq!(v1.len(), 20);
        assert!(v2 > v1, "string order is number order");
    }

    #[test]
    fn keys_are_per_tenant_and_resource_and_hide_the_id() {
        let e = Event::from(json!({"subject": "bjensen@example.com", "resourcetype": "User"}));
        let g = Event::from(json!({"subject": "bjensen@example.com", "resourcetype": "Group"}));
        let k = key("gw", "acme", &e);
        assert!(k.starts_with("gw:ver:acme:"));
        assert!(!k.contains("bjensen"));
        assert_ne!(k, key("gw", "globex", &e));
        assert_ne!(k, key("gw", "acme", &g));
    }
}
