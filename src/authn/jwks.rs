//! An issuer's signing keys, fetched over HTTP(S) and cached: from a
//! `jwks_uri`, or found through OpenID Connect Discovery (§4) from the
//! issuer. Owns the network side of JWT verification; [`super::jwt`] stays
//! pure.
//!
//! - Keys are fresh for `ttl`; the first caller after that refreshes them.
//!   Meanwhile the others get the old keys, or, when there are none, wait
//!   for the same fetch (single flight).
//! - A token naming an unknown `kid` triggers a refresh (the issuer may have
//!   rotated), but at most one fetch per `min_refresh_interval`, whatever
//!   the callers send: made-up kids cannot cause a fetch storm.
//! - If a refresh fails, the old keys keep serving until `ttl +
//!   stale_grace`: an issuer outage does not lock every client out.
//! - Every fetch is bounded: a total timeout and a 1 MiB body cap.
use super::jwt::{self, Claims, JwtError, JwtPolicy, KeySet, KeySetError};
use crate::http_client::HttpClient;
use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http::header::ACCEPT;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Key sets and discovery documents larger than this are refused.
pub(crate) const MAX_BODY: usize = 1 << 20;

/// Where an issuer's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// The JWKS document's URL.
    JwksUri(Uri),
    /// The issuer (`iss`): its `jwks_uri` is read from
    /// `{issuer}/.well-known/openid-configuration`, whose `issuer` must
    /// equal this one exactly (OIDC Discovery §4.3).
    Issuer(String),
}

/// How keys are cached and fetched.
#[derive(Debug, Clone)]
pub struct JwksSettings {
    /// How long fetched keys are used without asking again (10 min).
    pub ttl: Duration,
    /// At most one fetch per this interval for unknown kids or after a
    /// failed fetch (30 s).
    pub min_refresh_interval: Duration,
    /// How long past `ttl` old keys still serve while refreshing fails (24 h).
    pub stale_grace: Duration,
    /// Total time for one HTTP exchange, body included (10 s).
    pub fetch_timeout: Duration,
    /// TCP connect timeout (5 s).
    pub connect_timeout: Duration,
    /// Trust only this CA bundle instead of the public roots.
    pub ca_file: Option<PathBuf>,
}

/// The cached keys of one issuer.
pub struct JwksCache {
    source: JwksSource,
    settings: JwksSettings,
    client: HttpClient,
    /// Read without locking on every request.
    current: ArcSwapOption<Cached>,
    /// Held for the whole of a refresh: concurrent callers share it.
    refresh: tokio::sync::Mutex<RefreshState>,
    fetches: AtomicU64,
    failures: AtomicU64,
}

struct Cached {
    keys: Arc<KeySet>,
    fetched_at: Instant,
}

#[derive(Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
    /// The last refresh caused by an unknown `kid` (rate-limited on its
    /// own: a routine fetch just before must not hide a key rotation).
    last_unknown_kid: Option<Instant>,
    last_failed: bool,
    /// The `jwks_uri` found by discovery; forgotten when a fetch fails, so
    /// that the next attempt discovers again.
    discovered: Option<Uri>,
}

/// Why keys could not be fetched. For logs: the Display names no secret
/// (key sets hold none), but it is not meant for clients.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("the key set client could not be built: {0}")]
    Client(String),
    #[error("the {0} is not a valid URI")]
    BadUri(&'static str),
    #[error("the key set request failed")]
    Request(#[source] hyper_util::client::legacy::Error),
    #[error("the key set server answered {0}")]
    Status(StatusCode),
    #[error("the key set server's response exceeds {MAX_BODY} bytes")]
    TooLarge,
    #[error("the key set server's response could not be read")]
    Body(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the key set server did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the discovery document is invalid: {0}")]
    Discovery(&'static str),
    #[error("the discovery document names another issuer")]
    IssuerMismatch,
    #[error("the key set is invalid")]
    KeySet(#[source] KeySetError),
    /// No usable keys, and the last fetch failed less than
    /// `min_refresh_interval` ago.
    #[error("no keys: the last fetch failed and the next is not due yet")]
    Unavailable,
}

// === impl JwksSettings ===

impl Default for JwksSettings {
    fn default() -> JwksSettings {
        JwksSettings {
            ttl: Duration::from_secs(600),
            min_refresh_interval: Duration::from_secs(30),
            stale_grace: Duration::from_secs(24 * 3600),
            fetch_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            ca_file: None,
        }
    }
}

// === impl JwksCache ===

impl JwksCache {
    /// A cache that has fetched nothing yet.
    pub fn new(source: JwksSource, settings: JwksSettings) -> Result<JwksCache, JwksError> {
        let client = crate::http_client::build_http_client(
            settings.ca_file.as_deref(),
            settings.connect_timeout,
            4,
        )
        .map_err(JwksError::Client)?;
        Ok(JwksCache {
            source,
            settings,
            client,
            current: ArcSwapOption::empty(),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
            fetches: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        })
    }

    /// The current keys: cached while fresh, else refreshed (or stale
    /// within the grace period when refreshing fails).
    pub async fn keys(&self) -> Result<Arc<KeySet>, JwksError> {
        if let Some(keys) = self.fresh(Instant::now()) {
            return Ok(keys);
        }
        // While another caller refreshes, usable stale keys answer at once
        // rather than every request waiting for the issuer.
        let mut state = match self.refresh.try_lock() {
            Ok(state) => state,
            Err(_) => match self.usable(Instant::now()) {
                Some(keys) => return Ok(keys),
                None => self.refresh.lock().await,
            },
        };
        let now = Instant::now();
        // Another caller may have refreshed while this one waited.
        if let Some(keys) = self.fresh(now) {
            return Ok(keys);
        }
        // After a failure, wait before asking the issuer again.
        if state.last_failed && state.attempted_within(now, self.settings.min_refresh_interval) {
            return self.usable(now).ok_or(JwksError::Unavailable);
        }
        self.refresh_locked(&mut state).await
    }

    /// Keys for a token whose `kid` the current keys lack: refreshed if the
    /// last refresh for an unknown `kid` (or the last failed fetch) is at
    /// least `min_refresh_interval` old, else the current ones.
    pub async fn keys_after_unknown_kid(&self) -> Result<Arc<KeySet>, JwksError> {
        let seen = self.current.load_full();
        let mut state = self.refresh.lock().await;
        let now = Instant::now();
        let current = self.current.load_full();
        let refreshed_meanwhile = match (&seen, &current) {
            (Some(seen), Some(current)) => !Arc::ptr_eq(seen, current),
            (None, Some(_)) => true,
            _ => false,
        };
        let interval = self.settings.min_refresh_interval;
        let recent_unknown = state
            .last_unknown_kid
            .is_some_and(|t| now.saturating_duration_since(t) < interval);
        let recent_failure = state.last_failed && state.attempted_within(now, interval);
        if refreshed_meanwhile || recent_unknown || recent_failure {
            return self.usable(now).ok_or(JwksError::Unavailable);
        }
        state.last_unknown_kid = Some(now);
        self.refresh_locked(&mut state).await
    }

    /// Verifies `token` with the issuer's keys; on an unknown `kid`, once
    /// more after a (rate-limited) refresh.
    pub async fn verify(
        &self,
        token: &str,
        policy: &JwtPolicy,
        now: SystemTime,
    ) -> Result<Claims, JwtError> {
        match self.verify_known_keys(token, policy, now).await {
            Err(JwtError::UnknownKid) => {
                let keys = self
                    .keys_after_unknown_kid()
                    .await
                    .map_err(keys_unavailable)?;
                jwt::verify(token, policy, &keys, now)
            }
            other => other,
        }
    }

    /// Verifies `token` like [`verify`](Self::verify), but an unknown
    /// `kid` is refused rather than a reason to refresh: for a client the
    /// failure damper holds, whose guesses must not make the gateway call
    /// the issuer. (The keys are still refreshed when their `ttl` ends, as
    /// for any caller: one fetch per `ttl`, whoever asks.)
    pub async fn verify_known_keys(
        &self,
        token: &str,
        policy: &JwtPolicy,
        now: SystemTime,
    ) -> Result<Claims, JwtError> {
        let keys = self.keys().await.map_err(keys_unavailable)?;
        jwt::verify(token, policy, &keys, now)
    }

    /// Fetches attempted so far (successful or not).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Fetches that failed so far.
    pub fn failure_count(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    pub fn source(&self) -> &JwksSource {
        &self.source
    }

    fn fresh(&self, now: Instant) -> Option<Arc<KeySet>> {
        self.keys_younger_than(now, self.settings.ttl)
    }

    /// Fresh keys, or stale ones still within the grace period.
    fn usable(&self, now: Instant) -> Option<Arc<KeySet>> {
        let limit = self.settings.ttl.saturating_add(self.settings.stale_grace);
        self.keys_younger_than(now, limit)
    }

    fn keys_younger_than(&self, now: Instant, age: Duration) -> Option<Arc<KeySet>> {
        let cached = self.current.load();
        let cached = cached.as_ref()?;
        (now.saturating_duration_since(cached.fetched_at) < age).then(|| cached.keys.clone())
    }

    /// Fetches now (the caller holds the refresh lock); on failure falls
    /// back to usable stale keys.
    async fn refresh_locked(&self, state: &mut RefreshState) -> Result<Arc<KeySet>, JwksError> {
        state.last_attempt = Some(Instant::now());
        self.fetches.fetch_add(1, Ordering::Relaxed);
        match self.fetch(state).await {
            Ok(keys) => {
                state.last_failed = false;
                if !keys.skipped().is_empty() {
                    tracing::debug!(source = ?self.source, skipped = ?keys.skipped(), "jwks keys skipped");
                }
                let keys = Arc::new(keys);
                self.current.store(Some(Arc::new(Cached {
                    keys: keys.clone(),
                    fetched_at: Instant::now(),
                })));
                Ok(keys)
            }
            Err(err) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                state.last_failed = true;
                state.discovered = None;
                let stale = self.usable(Instant::now());
                tracing::warn!(source = ?self.source, error = %err, serving_stale = stale.is_some(), "jwks refresh failed");
                stale.ok_or(err)
            }
        }
    }

    async fn fetch(&self, state: &mut RefreshState) -> Result<KeySet, JwksError> {
        let uri = match (&self.source, &state.discovered) {
            (JwksSource::JwksUri(uri), _) => uri.clone(),
            (JwksSource::Issuer(_), Some(uri)) => uri.clone(),
            (JwksSource::Issuer(issuer), None) => {
                let uri = self.discover(issuer).await?;
                state.discovered = Some(uri.clone());
                uri
            }
        };
        let body = self.get(uri).await?;
        KeySet::from_json(&body).map_err(JwksError::KeySet)
    }

    /// The `jwks_uri` of `issuer`'s discovery document (OIDC Discovery §4).
    async fn discover(&self, issuer: &str) -> Result<Uri, JwksError> {
        // §4.1: a terminating "/" of the issuer is removed before appending.
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let uri: Uri = url.parse().map_err(|_| JwksError::BadUri("issuer"))?;
        let body = self.get(uri.clone()).await?;
        let doc: Value =
            serde_json::from_slice(&body).map_err(|_| JwksError::Discovery("not JSON"))?;
        // §4.3: the document must be the issuer's own.
        if doc.get("issuer").and_then(Value::as_str) != Some(issuer) {
            return Err(JwksError::IssuerMismatch);
        }
        let jwks_uri: Uri = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or(JwksError::Discovery("no jwks_uri"))?
            .parse()
            .map_err(|_| JwksError::BadUri("jwks_uri"))?;
        // An https issuer does not hand its keys over plain http.
        if uri.scheme_str() == Some("https") && jwks_uri.scheme_str() != Some("https") {
            return Err(JwksError::Discovery("jwks_uri is not https"));
        }
        Ok(jwks_uri)
    }

    /// GET `uri`: 200 only, body capped, all within `fetch_timeout`.
    async fn get(&self, uri: Uri) -> Result<Bytes, JwksError> {
        let request = Request::get(uri)
            .header(ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|_| JwksError::BadUri("key set URL"))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(JwksError::Request)?;
            if response.status() != StatusCode::OK {
                return Err(JwksError::Status(response.status()));
            }
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        JwksError::TooLarge
                    } else {
                        JwksError::Body(e)
                    }
                })?;
            Ok(body.to_bytes())
        };
        let limit = self.settings.fetch_timeout;
        // A span of the request that waits for the keys (traces on).
        let span = crate::traces::child("jwks fetch", crate::traces::Kind::Client);
        let fetched = tokio::time::timeout(limit, exchange)
            .await
            .map_err(|_| JwksError::Timeout(limit))?;
        if let Some(span) = span {
            span.end(fetched.is_err());
        }
        fetched
    }
}

impl fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksCache")
            .field("source", &self.source)
            .field("settings", &self.settings)
            .field("fetches", &self.fetch_count())
            .finish()
    }
}

// === impl RefreshState ===

impl RefreshState {
    fn attempted_within(&self, now: Instant, interval: Duration) -> bool {
        self.last_attempt
            .is_some_and(|t| now.saturating_duration_since(t) < interval)
    }
}

fn keys_unavailable(err: JwksError) -> JwtError {
    JwtError::KeysUnavailable(Box::new(err))
}

#[cfg(test)]
#[path = "jwks_tests.rs"]
mod tests;
