//! The gateway's one connection to Redis, shared by every function that
//! keeps state across replicas (shared rate limits, write-order leases,
//! and whatever else needs the replicas to agree): one handle,
//! [`SharedRedis`], cloned by its users, made from [`RedisSettings`] and
//! [`RedisLink`] (see docs/redis.md).
//!
//! - **Single server**: `redis://` or `rediss://` (rustls; a private CA
//!   and a client certificate from [`RedisTls`]). The connection is made
//!   on first use and reconnected by the redis crate's manager.
//! - **Sentinel**: the master's address is asked of the sentinels (all at
//!   once, the first answer wins), checked with `ROLE` on the master, and
//!   asked again every `poll` (and at once when a user reports a failure
//!   with [`SharedRedis::suspect`]), so a promoted replica is followed
//!   within a poll of the sentinels' promotion.
//! - **Bounded**: [`SharedRedis::connection`] answers within the
//!   configured `timeout`, with a connection or an error; its users fall
//!   back on their own (see each user's policy), never wait longer.
//! - **One command, one call**: [`SharedRedis::run`] gives a command
//!   the connection, the timeout, the report of a failure, and one
//!   immediate second try when the connection turns out to be dead (Redis
//!   restarted, or something between dropped an idle connection): the
//!   manager only notices a dead connection when a command fails on it,
//!   and a restart must not cost each replica a hold-off.
//! - **Held off after a failure**: once a user reports a failure
//!   ([`SharedRedis::suspect`]), [`SharedRedis::connection`] answers with
//!   an error at once for [`HOLD_OFF`] (or until Sentinel names a new
//!   master), so that a blackholed Redis costs one request per second a
//!   `timeout`, not every request several.
//!
//! Ground layer: imports only `telemetry` (its metric names) and `secret`
//! of the crate, so every stage may use it.
mod sentinel;
mod settings;
#[cfg(test)]
mod tests;

pub use settings::{redact_url, RedisAuth, RedisLink, RedisSettings, RedisTls, SentinelSettings};

use arc_swap::ArcSwapOption;
use redis::aio::ConnectionManager;
use redis::{Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisError};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long after a reported failure Redis is not asked again.
pub const HOLD_OFF: Duration = Duration::from_secs(1);

/// The least time a connection attempt (TCP, TLS, `AUTH`, and with
/// Sentinel the sentinels and `ROLE`) may take in the background, when
/// the decision `timeout` is shorter.
pub const CONNECT_BOUND: Duration = Duration::from_secs(1);

/// Whether a command waits out the hold-off after someone's failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// A decision with a local fallback (a limit, a lease, a cache
    /// lookup): not asked while holding off.
    Decide,
    /// Giving back or catching up (a lease's release, a cache bump):
    /// asked even while holding off, since waiting hides nothing.
    Anyway,
}

/// Which try of a command this is (see [`SharedRedis::run`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Try {
    First,
    /// After the first failed on a dead connection. The first may or may
    /// not have reached Redis before the connection died: a command that
    /// is not idempotent checks what the first did.
    Again,
}

/// A cheap-to-clone handle on the shared connection.
#[derive(Clone)]
pub struct SharedRedis {
    inner: Arc<Inner>,
}

struct Inner {
    settings: RedisSettings,
    link: RedisLink,
    target: Target,
    /// The live connection and where it goes (`host:port`, for logs).
    current: ArcSwapOption<Current>,
    /// One connection attempt at a time.
    connecting: tokio::sync::Mutex<()>,
    /// Wakes the Sentinel watcher before its next poll.
    wake: Arc<tokio::sync::Notify>,
    watching: AtomicBool,
    /// When the last failure was reported: milliseconds since `epoch`,
    /// plus one (0: none since the last success).
    failed_at: AtomicU64,
    epoch: Instant,
    /// A connection attempt is running (see [`SharedRedis::start_attempt`]).
    attempting: AtomicBool,
    /// Woken when an attempt ends.
    attempted: tokio::sync::Notify,
    /// Why the last attempt failed (no credentials: a redis error's text).
    last_error: std::sync::Mutex<Option<String>>,
}

struct Current {
    addr: String,
    conn: ConnectionManager,
}

enum Target {
    Single(Client),
    Sentinel {
        /// The master's scheme, credentials and database.
        master: ConnectionInfo,
        sentinels: Vec<Client>,
    },
}

impl SharedRedis {
    /// Checks the settings (no connection yet). The error names what is
    /// wrong without the URL's credentials.
    pub fn new(settings: RedisSettings, link: RedisLink) -> Result<SharedRedis, String> {
        let tls = link.tls.as_ref();
        let mut info = settings.url.as_str().into_connection_info().map_err(|e| {
            format!(
                "\"{}\" is not a usable Redis URL: {e}",
                redact_url(&settings.url)
            )
        })?;
        if let Some(auth) = &link.auth {
            if info.redis.password.is_some() {
                return Err(
                    "a password both in the URL and in [limits.redis_auth]: keep one".into(),
                );
            }
            info.redis.password = Some(auth.password.expose().to_string());
            if auth.username.is_some() {
                info.redis.username = auth.username.clone();
            }
        }
        if tls.is_some() && !is_tls(&info) {
            return Err("TLS files are set but the URL is not rediss://".into());
        }
        let target = match &link.sentinel {
            None => Target::Single(
                client_for(info, tls)
                    .map_err(|e| format!("\"{}\": {e}", redact_url(&settings.url)))?,
            ),
            Some(s) => {
                let mut sentinels = Vec::with_capacity(s.sentinels.len());
                for url in &s.sentinels {
                    let info = url.as_str().into_connection_info().map_err(|e| {
                        format!("\"{}\" is not a usable sentinel URL: {e}", redact_url(url))
                    })?;
                    sentinels.push(
                        client_for(info, tls)
                            .map_err(|e| format!("\"{}\": {e}", redact_url(url)))?,
                    );
                }
                if sentinels.is_empty() {
                    return Err("Sentinel needs at least one sentinel address".into());
                }
                Target::Sentinel {
                    master: info,
                    sentinels,
                }
            }
        };
        Ok(SharedRedis {
            inner: Arc::new(Inner {
                settings,
                link,
                target,
                current: ArcSwapOption::empty(),
                connecting: tokio::sync::Mutex::new(()),
                wake: Arc::new(tokio::sync::Notify::new()),
                watching: AtomicBool::new(false),
                failed_at: AtomicU64::new(0),
                epoch: Instant::now(),
                attempting: AtomicBool::new(false),
                attempted: tokio::sync::Notify::new(),
                last_error: std::sync::Mutex::new(None),
            }),
        })
    }

    pub fn settings(&self) -> &RedisSettings {
        &self.inner.settings
    }

    pub fn link(&self) -> &RedisLink {
        &self.inner.link
    }

    /// The shared connection, within the configured timeout: made on
    /// first use (through the sentinels with Sentinel), then reused; the
    /// manager reconnects by itself. An error is a timeout, a refused
    /// connection, a TLS or authentication failure.
    pub async fn connection(&self) -> Result<ConnectionManager, RedisError> {
        if self.inner.holding_off() {
            return Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "redis failed less than a second ago; not asked again yet",
            )));
        }
        self.connection_anyway().await
    }

    /// Runs `command` on the shared connection, all of it within the
    /// configured timeout, and reports a failure ([`SharedRedis::suspect`]).
    /// When the command fails because the connection is dead (a broken
    /// pipe, a reset, an end of stream: Redis restarted, or a firewall or
    /// balancer dropped the idle connection), or because the manager still
    /// holds the failed reconnection from while Redis was down, the
    /// manager starts a new connection at once, and the command is tried
    /// once more on it ([`Try::Again`]) instead of failing and holding off
    /// every user for [`HOLD_OFF`]: the first command after a restart is
    /// not a failure of Redis. A Redis still down refuses the second try
    /// at once too, and only then is the failure reported.
    pub async fn run<T, F, Fut>(&self, ask: Ask, mut command: F) -> Result<T, RedisError>
    where
        F: FnMut(ConnectionManager, Try) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let timeout = self.inner.settings.timeout;
        let attempt = async {
            let conn = match ask {
                Ask::Decide => self.connection().await?,
                Ask::Anyway => self.connection_anyway().await?,
            };
            match command(conn.clone(), Try::First).await {
                // The errors on which the manager replaces its connection:
                // this one was dead (a broken pipe, a reset), or it is the
                // failed attempt the manager kept from while Redis was down.
                Err(e) if e.is_unrecoverable_error() => {
                    tracing::debug!(error = %e, "redis connection found dead; once more on a new one");
                    command(conn, Try::Again).await
                }
                done => done,
            }
        };
        let result = match tokio::time::timeout(timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(timed_out(timeout)),
        };
        if let Err(e) = &result {
            tracing::debug!(error = %e, "redis command failed");
            self.suspect();
        }
        result
    }

    /// [`SharedRedis::connection`] even while holding off: for giving
    /// back what this process holds (a write-order lease), which must not
    /// wait for its TTL because another decision failed a moment ago.
    pub async fn connection_anyway(&self) -> Result<ConnectionManager, RedisError> {
        if let Some(current) = self.inner.current.load_full() {
            return Ok(current.conn.clone());
        }
        // Registered before the attempt starts, so its end is not missed.
        let attempted = self.inner.attempted.notified();
        tokio::pin!(attempted);
        attempted.as_mut().enable();
        self.start_attempt();
        let timeout = self.inner.settings.timeout;
        let ended = tokio::time::timeout(timeout, attempted).await.is_ok();
        if let Some(current) = self.inner.current.load_full() {
            return Ok(current.conn.clone());
        }
        let why = ended
            .then(|| lock(&self.inner.last_error).clone())
            .flatten();
        Err(why.map_or_else(
            || timed_out(timeout),
            |why| RedisError::from(std::io::Error::other(why)),
        ))
    }

    /// One connection attempt at a time, in a task of its own: a request
    /// waits for it at most `timeout`, but the attempt goes on for up to
    /// [`CONNECT_BOUND`], so a first connection slower than one decision
    /// (TLS through Sentinel on a loaded host) is made anyway, and used by
    /// the next request, instead of being cut short by every request.
    fn start_attempt(&self) {
        if self.inner.attempting.swap(true, Ordering::SeqCst) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let bound = this.inner.connect_bound();
            let result = match tokio::time::timeout(bound, this.connect()).await {
                Ok(result) => result.map(drop),
                Err(_) => Err(timed_out(bound)),
            };
            match result {
                // A new connection: whatever failed before is over.
                Ok(()) => this.inner.clear_hold_off(),
                Err(e) => {
                    *lock(&this.inner.last_error) = Some(e.to_string());
                    this.suspect();
                }
            }
            this.inner.attempting.store(false, Ordering::SeqCst);
            this.inner.attempted.notify_waiters();
        });
    }

    /// A user saw Redis fail (an error or a timeout): nobody asks it again
    /// for [`HOLD_OFF`], and with Sentinel the sentinels are asked now
    /// rather than at the next poll (the master may have moved).
    pub fn suspect(&self) {
        // Not again while holding off: the fallbacks of the hold-off would
        // otherwise keep it going for as long as traffic flows.
        if !self.inner.holding_off() {
            let now = self.inner.millis();
            self.inner
                .failed_at
                .store(now.saturating_add(1), Ordering::Relaxed);
        }
        self.inner.wake.notify_one();
    }

    /// Where the live connection goes (`host:port`), if one was made.
    pub fn master_addr(&self) -> Option<String> {
        self.inner.current.load().as_ref().map(|c| c.addr.clone())
    }

    async fn connect(&self) -> Result<ConnectionManager, RedisError> {
        let _one = self.inner.connecting.lock().await;
        if let Some(current) = self.inner.current.load_full() {
            return Ok(current.conn.clone());
        }
        let current = match &self.inner.target {
            Target::Single(client) => Current {
                addr: addr_label(client.get_connection_info()),
                conn: manager(client.clone(), &self.inner).await?,
            },
            Target::Sentinel { .. } => {
                let current = sentinel::find_master(&self.inner).await?;
                self.watch();
                current
            }
        };
        let conn = current.conn.clone();
        self.inner.current.store(Some(Arc::new(current)));
        Ok(conn)
    }

    /// Starts the Sentinel watcher once; it ends when the last handle goes.
    fn watch(&self) {
        let Some(settings) = &self.inner.link.sentinel else {
            return;
        };
        if !self.inner.watching.swap(true, Ordering::SeqCst) {
            tokio::spawn(sentinel::watch(
                Arc::downgrade(&self.inner),
                self.inner.wake.clone(),
                settings.poll,
            ));
        }
    }
}

impl Inner {
    /// How long a connection attempt may take (in the background).
    fn connect_bound(&self) -> Duration {
        self.settings.timeout.max(CONNECT_BOUND)
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn holding_off(&self) -> bool {
        let failed = self.failed_at.load(Ordering::Relaxed);
        let hold = u64::try_from(HOLD_OFF.as_millis()).unwrap_or(u64::MAX);
        failed != 0 && self.millis() < (failed - 1).saturating_add(hold)
    }

    /// A new connection or master: the hold-off of the old one is over.
    fn clear_hold_off(&self) {
        self.failed_at.store(0, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for SharedRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRedis")
            .field("settings", &self.inner.settings)
            .field("link", &self.inner.link)
            .finish_non_exhaustive()
    }
}

/// A connection manager: each connection attempt bounded by
/// [`Inner::connect_bound`], each command by the timeout. No retries of
/// its own: the crate's backoff waits a second or more before a retry,
/// which would end in the caller's timeout and hide why the connection
/// failed (a TLS error read as "did not answer"); the hold-off paces the
/// attempts instead, and each failure is reported as it is.
async fn manager(client: Client, inner: &Inner) -> Result<ConnectionManager, RedisError> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(inner.connect_bound())
        .set_response_timeout(inner.settings.timeout)
        .set_number_of_retries(0);
    ConnectionManager::new_with_config(client, config).await
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn is_tls(info: &ConnectionInfo) -> bool {
    matches!(info.addr, ConnectionAddr::TcpTls { .. })
}

/// A client for `info`, with the configured TLS material when it is a
/// `rediss://` address (without it, the system's roots).
fn client_for(info: ConnectionInfo, tls: Option<&RedisTls>) -> Result<Client, RedisError> {
    match tls {
        Some(tls) if is_tls(&info) => Client::build_with_tls(info, tls.certificates()),
        _ => Client::open(info),
    }
}

/// `host:port` of an address, never its credentials.
fn addr_label(info: &ConnectionInfo) -> String {
    match &info.addr {
        ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
            format!("{host}:{port}")
        }
        _ => "a local socket".into(),
    }
}

fn timed_out(timeout: Duration) -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("redis did not answer within {timeout:?}"),
    ))
}
