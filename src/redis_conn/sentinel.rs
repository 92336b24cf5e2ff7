//! Redis Sentinel for the shared connection: where the master of the
//! service is (`SENTINEL get-master-addr-by-name`, asked of every
//! sentinel at once, the first answer taken), a check that it is one
//! (`ROLE` on the new connection, so a sentinel's stale answer never sends
//! writes to a replica), and the watcher that asks again every `poll` or
//! at once when a user suspects a failure, and moves the shared
//! connection to a promoted replica.
//!
//! Why our own loop rather than the redis crate's `Sentinel`: the crate
//! asks the sentinels one after another with no bound per sentinel (one
//! blackholed sentinel would stall every lookup) and its
//! `ConnectionManager` reconnects to a fixed address; this one bounds
//! every step by the configured timeout and swaps the manager.
use super::{client_for, is_tls, manager, timed_out, Current, Inner, Target};
use crate::telemetry::names::REDIS_MASTER_CHANGES_TOTAL;
use redis::{Client, ConnectionAddr, ErrorKind, RedisError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The least time between two checks, however often users report
/// failures (a storm of errors asks the sentinels a few times a second,
/// not once per request).
const MIN_GAP: Duration = Duration::from_millis(100);

/// The master now, connected and checked; bounded by the caller.
pub(super) async fn find_master(inner: &Inner) -> Result<Current, RedisError> {
    let (host, port) = ask(inner).await?;
    connect_master(inner, host, port).await
}

/// Asks every sentinel at once for the master's address; the first
/// answer wins. Each sentinel is bounded by the timeout.
async fn ask(inner: &Inner) -> Result<(String, u16), RedisError> {
    let (Target::Sentinel { sentinels, .. }, Some(settings)) =
        (&inner.target, &inner.link.sentinel)
    else {
        return Err(RedisError::from((
            ErrorKind::ClientError,
            "not a Sentinel setup",
        )));
    };
    // In the background (a first connection, or the watcher): as long as a
    // connection may take.
    let timeout = inner.connect_bound();
    let mut asking = tokio::task::JoinSet::new();
    for sentinel in sentinels {
        let (sentinel, name) = (sentinel.clone(), settings.master_name.clone());
        asking.spawn(async move {
            match tokio::time::timeout(timeout, ask_one(sentinel, &name, timeout)).await {
                Ok(answer) => answer,
                Err(_) => Err(timed_out(timeout)),
            }
        });
    }
    let mut last = None;
    while let Some(joined) = asking.join_next().await {
        match joined {
            Ok(Ok(addr)) => return Ok(addr),
            Ok(Err(e)) => last = Some(e),
            Err(_) => {}
        }
    }
    Err(last.unwrap_or_else(|| RedisError::from((ErrorKind::ClientError, "no sentinel answered"))))
}

async fn ask_one(
    sentinel: Client,
    name: &str,
    timeout: Duration,
) -> Result<(String, u16), RedisError> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(timeout)
        .set_response_timeout(timeout);
    let mut conn = sentinel
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let reply: Option<(String, u16)> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(name)
        .query_async(&mut conn)
        .await?;
    reply.ok_or_else(|| {
        RedisError::from((
            ErrorKind::MasterNameNotFoundBySentinel,
            "the sentinel does not monitor this master name",
            name.to_string(),
        ))
    })
}

/// A connection to `host:port` with the URL's scheme, credentials and
/// database, kept only if the server says it is a master.
async fn connect_master(inner: &Inner, host: String, port: u16) -> Result<Current, RedisError> {
    let Target::Sentinel { master, .. } = &inner.target else {
        return Err(RedisError::from((
            ErrorKind::ClientError,
            "not a Sentinel setup",
        )));
    };
    let mut info = master.clone();
    info.addr = if is_tls(master) {
        ConnectionAddr::TcpTls {
            host: host.clone(),
            port,
            insecure: false,
            tls_params: None,
        }
    } else {
        ConnectionAddr::Tcp(host.clone(), port)
    };
    let addr = format!("{host}:{port}");
    let client = client_for(info, inner.link.tls.as_ref())?;
    let mut conn = manager(client, inner).await?;
    let role: redis::Role = redis::cmd("ROLE").query_async(&mut conn).await?;
    if !matches!(role, redis::Role::Primary { .. }) {
        return Err(RedisError::from((
            ErrorKind::ReadOnly,
            "the sentinel named a server that is not a master",
            addr,
        )));
    }
    Ok(Current { addr, conn })
}

/// Runs while a handle lives: every `poll` (or on [`super::SharedRedis::suspect`]),
/// asks where the master is and moves the connection if it moved.
pub(super) async fn watch(inner: Weak<Inner>, wake: Arc<tokio::sync::Notify>, poll: Duration) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(poll) => {}
            () = wake.notified() => {}
        }
        // Only a weak reference while waiting, so the last handle's drop
        // (a reload with other settings) ends this task.
        let Some(inner) = inner.upgrade() else {
            return;
        };
        check(&inner).await;
        drop(inner);
        tokio::time::sleep(MIN_GAP).await;
    }
}

async fn check(inner: &Inner) {
    let (host, port) = match ask(inner).await {
        Ok(addr) => addr,
        Err(e) => {
            // Worth a warning (a failover would not be followed), at most
            // once a minute: the watcher asks every poll.
            static LAST: AtomicU64 = AtomicU64::new(0);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let last = LAST.load(Ordering::Relaxed);
            if now >= last + 60
                && LAST
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                tracing::warn!(error = %e, "no Redis sentinel answered: keeping the current master, a failover would not be followed");
            }
            return;
        }
    };
    let before = inner.current.load().as_ref().map(|c| c.addr.clone());
    if before.as_deref() == Some(format!("{host}:{port}").as_str()) {
        return;
    }
    // In the background, so a little longer than a decision's timeout
    // (a new TLS connection and ROLE) does not lose the switch.
    let bound = inner.connect_bound();
    let _one = inner.connecting.lock().await;
    match tokio::time::timeout(bound, connect_master(inner, host, port)).await {
        Ok(Ok(current)) => {
            tracing::warn!(
                from = before.as_deref().unwrap_or("none"),
                to = %current.addr,
                "Redis master moved (Sentinel): shared state now goes to the new master"
            );
            metrics::counter!(REDIS_MASTER_CHANGES_TOTAL).increment(1);
            inner.current.store(Some(Arc::new(current)));
            inner.clear_hold_off();
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the sentinels name a new Redis master that cannot be used yet")
        }
        Err(_) => {
            tracing::warn!("the new Redis master named by the sentinels did not answer in time")
        }
    }
}
