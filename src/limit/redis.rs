//! Rates shared by replicas: the GCRA step of [`super::gcra`] as one
//! atomic Lua script in Redis, so that N gateway processes behind a load
//! balancer enforce one limit together. The clock is Redis's (`TIME`), so
//! replicas with skewed clocks still agree.
//!
//! If Redis cannot answer within the configured timeout, the step falls
//! back to the local limiter with the rate divided by the number of
//! replicas (each replica then enforces its share): requests are neither
//! let through unlimited nor held up, and the fallback is logged and
//! counted.
use super::gcra::Rate;
use redis::Script;
use std::time::Duration;

/// `KEYS[1]`: the key. `ARGV`: interval and tolerance in microseconds.
/// Returns `{1, 0}` when allowed, `{0, wait_us}` when not. The TAT is kept
/// in microseconds since the epoch (exact in a Lua double) and expires
/// when it no longer matters.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then
  return {0, allow_at - now}
end
local new = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new), 'PX', math.ceil((new - now) / 1000) + 1000)
return {1, 0}
";

pub(crate) use crate::redis_conn::RedisSettings;
use crate::redis_conn::{Ask, RedisLink, SharedRedis};

/// The limiter's use of the shared connection ([`SharedRedis`]: made on
/// first use, reconnected by the manager, moved by Sentinel).
pub struct RedisRates {
    redis: SharedRedis,
    script: Script,
}

/// Why Redis did not decide.
#[derive(Debug, thiserror::Error)]
pub enum RedisRateError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

impl RedisRates {
    /// A single server at `settings.url`, no TLS files, no Sentinel.
    pub fn new(settings: RedisSettings) -> Result<RedisRates, String> {
        RedisRates::with_link(settings, RedisLink::default())
    }

    /// With TLS material and/or Sentinel.
    pub(crate) fn with_link(
        settings: RedisSettings,
        link: RedisLink,
    ) -> Result<RedisRates, String> {
        Ok(RedisRates {
            redis: SharedRedis::new(settings, link)?,
            script: Script::new(GCRA),
        })
    }

    pub fn settings(&self) -> &RedisSettings {
        self.redis.settings()
    }

    /// The shared connection handle itself (for other users of Redis).
    pub(crate) fn shared(&self) -> &SharedRedis {
        &self.redis
    }

    /// One GCRA step for `key`: `Ok(Ok(()))` allowed, `Ok(Err(wait))`
    /// refused, `Err` when Redis could not decide in time.
    pub async fn step(
        &self,
        key: &str,
        rate: Rate,
    ) -> Result<Result<(), Duration>, RedisRateError> {
        let prefixed = format!("{}:{key}", self.settings().prefix);
        let (allowed, wait_us): (i64, i64) = self
            .redis
            .run(Ask::Decide, |mut conn, _| {
                let mut invocation = self.script.key(&prefixed);
                invocation
                    .arg(rate.interval_ns / 1000)
                    .arg(rate.tolerance_ns / 1000);
                async move { invocation.invoke_async(&mut conn).await }
            })
            .await?;
        Ok(if allowed == 1 {
            Ok(())
        } else {
            Err(Duration::from_micros(u64::try_from(wait_us).unwrap_or(0)))
        })
    }

    /// The rate each replica enforces alone while Redis is away: the
    /// steady rate and the burst divided by the number of replicas.
    pub fn local_share(&self, rate: Rate) -> Rate {
        let n = u64::from(self.settings().replicas.max(1));
        let burst = rate.tolerance_ns / rate.interval_ns.max(1) + 1;
        let share = burst.div_ceil(n).max(1);
        let interval_ns = rate.interval_ns.saturating_mul(n);
        Rate {
            interval_ns,
            tolerance_ns: interval_ns.saturating_mul(share - 1),
        }
    }
}

impl std::fmt::Debug for RedisRates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRates")
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}
