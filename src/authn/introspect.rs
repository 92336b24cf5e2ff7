//! OAuth 2.0 token introspection (RFC 7662) for opaque inbound bearer
//! tokens: asks the authorization server whether a token is active and
//! what it grants, and remembers the answer for a while.
//!
//! Answers are cached under the SHA-256 of the token, never the token:
//! an active token until its `exp` or `cache_max_ttl`, whichever is
//! sooner; a rejected one for `negative_ttl`. Endpoint failures are not
//! cached. Concurrent requests with the same token make one call.
//!
//! Owns: [`IntrospectionSettings`], [`Introspector`], [`Introspection`],
//! [`IntrospectError`]. Depends on `crate::http_client` for the HTTP
//! client and the bounded form POST, and on `crate::secret` for the
//! redacting `Secret`.
mod cache;
mod error;
mod response;
#[cfg(test)]
mod tests;

use crate::http_client::{form, HttpClient};
use crate::secret::Secret;
use cache::{Cache, TokenKey};
pub(crate) use error::IntrospectError;
use error::{ErrorKind, Rejection};
use http::{HeaderValue, StatusCode, Uri};
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// No answer is kept longer than this, whatever the settings say (and an
/// `Instant` cannot overflow).
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// Settings of one introspection endpoint, already validated.
#[derive(Debug, Clone)]
pub struct IntrospectionSettings {
    /// The introspection endpoint (RFC 7662 §2).
    pub endpoint: Uri,
    /// The gateway's own client credentials, sent as HTTP Basic (§2.1).
    pub client_id: String,
    pub client_secret: Secret,
    /// Longest time an active token's answer is reused (default 5 min).
    pub cache_max_ttl: Duration,
    /// How long a rejected token's answer is reused (default 10 s).
    pub negative_ttl: Duration,
    /// Deadline of one whole introspection call (default 5 s).
    pub timeout: Duration,
    /// Trust only this CA bundle for an HTTPS endpoint.
    pub ca_file: Option<PathBuf>,
    /// When set, the response's `iss` must equal it.
    pub issuer: Option<String>,
    /// When not empty, the response's `aud` must name one of these.
    pub audiences: Vec<String>,
    /// Most answers kept (default 10 000).
    pub max_entries: usize,
}

/// Introspects tokens against one endpoint. Cheap to clone; clones share
/// the cache.
#[derive(Clone)]
pub struct Introspector {
    inner: Arc<Inner>,
}

/// What the server said of an active token that passed the checks
/// (RFC 7662 §2.2). Holds no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introspection {
    scope: Option<String>,
    client_id: Option<String>,
    username: Option<String>,
    token_type: Option<String>,
    sub: Option<String>,
    iss: Option<String>,
    aud: Vec<String>,
    exp: Option<u64>,
    iat: Option<u64>,
    nbf: Option<u64>,
}

type Verdict = Result<Introspection, Rejection>;
type Outcome = Result<Introspection, IntrospectError>;

struct Inner {
    settings: IntrospectionSettings,
    client: HttpClient,
    basic: HeaderValue,
    shared: Mutex<Shared>,
}

struct Shared {
    cache: Cache<Verdict>,
    /// One call per token key at a time; the others wait for its outcome.
    in_flight: HashMap<TokenKey, watch::Receiver<Option<Outcome>>>,
}

/// The one call under way for a key. Dropped (done or cancelled), it
/// leaves the in-flight table before its sender closes, so waiters that
/// wake on a cancelled call find the key free and one of them asks anew.
struct Flight<'a> {
    inner: &'a Inner,
    key: TokenKey,
    done: watch::Sender<Option<Outcome>>,
}

// === impl IntrospectionSettings ===

impl IntrospectionSettings {
    /// Settings with the defaults: 5 min positive and 10 s negative
    /// caching, 5 s timeout, public CA roots, no issuer or audience check.
    pub fn new(endpoint: Uri, client_id: impl Into<String>, client_secret: Secret) -> Self {
        IntrospectionSettings {
            endpoint,
            client_id: client_id.into(),
            client_secret,
            cache_max_ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            ca_file: None,
            issuer: None,
            audiences: Vec::new(),
            max_entries: 10_000,
        }
    }
}

// === impl Introspector ===

impl Introspector {
    /// An introspector for `settings`. Builds the HTTP client (reading any
    /// CA file) but makes no request yet.
    pub fn new(settings: IntrospectionSettings) -> Result<Introspector, IntrospectError> {
        let client =
            crate::http_client::build_http_client(settings.ca_file.as_deref(), settings.timeout, 2)
                .map_err(|e| IntrospectError::new(ErrorKind::Setup(e)))?;
        let basic = form::basic_credentials(&settings.client_id, &settings.client_secret);
        let cache = Cache::new(settings.max_entries);
        Ok(Introspector {
            inner: Arc::new(Inner {
                settings,
                client,
                basic,
                shared: Mutex::new(Shared {
                    cache,
                    in_flight: HashMap::new(),
                }),
            }),
        })
    }

    pub fn settings(&self) -> &IntrospectionSettings {
        &self.inner.settings
    }

    /// What the endpoint says of `token`, from the cache when it can.
    pub async fn introspect(&self, token: &str) -> Result<Introspection, IntrospectError> {
        let key = TokenKey::of(token);
        loop {
            // Decide under the lock, act after it: no guard across an await.
            let step = {
                let mut shared = self.inner.shared();
                if let Some(verdict) = shared.cache.get(&key, Instant::now()) {
                    return verdict.map_err(|r| IntrospectError::new(ErrorKind::Rejected(r)));
                }
                match shared.in_flight.get(&key) {
                    Some(call) => Err(call.clone()),
                    None => {
                        let (done, waiting) = watch::channel(None);
                        shared.in_flight.insert(key, waiting);
                        Ok(done)
                    }
                }
            };
            let mut waiting = match step {
                Ok(done) => {
                    let flight = Flight {
                        inner: &self.inner,
                        key,
                        done,
                    };
                    return flight.run(token).await;
                }
                Err(waiting) => waiting,
            };
            let outcome = match waiting.wait_for(Option::is_some).await {
                Ok(outcome) => outcome.clone(),
                // The call was cancelled: try again, maybe as the caller.
                Err(_) => None,
            };
            if let Some(outcome) = outcome {
                return outcome;
            }
        }
    }

    /// What the cache says of `token`, never asking the endpoint: for a
    /// client the failure damper holds, which must not make the gateway
    /// call the authorization server. `None`: not cached (or expired).
    pub fn introspect_cached(&self, token: &str) -> Option<Result<Introspection, IntrospectError>> {
        let key = TokenKey::of(token);
        let verdict = self.inner.shared().cache.get(&key, Instant::now())?;
        Some(verdict.map_err(|r| IntrospectError::new(ErrorKind::Rejected(r))))
    }

    /// How many answers are cached.
    pub fn cached(&self) -> usize {
        self.inner.shared().cache.len()
    }
}

impl fmt::Debug for Introspector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspector")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

// === impl Inner ===

impl Inner {
    fn shared(&self) -> MutexGuard<'_, Shared> {
        // Every update leaves the cache consistent: a poisoned lock is safe.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One call to the endpoint (RFC 7662 §2.1), and its verdict with how
    /// long it may be reused.
    async fn ask(&self, token: &str) -> Result<(Verdict, Duration), IntrospectError> {
        let s = &self.settings;
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        // A span of the request that asks (traces on); never the token.
        let span = crate::traces::child("token introspection", crate::traces::Kind::Client);
        let posted = form::post_form(
            &self.client,
            &s.endpoint,
            Some(&self.basic),
            form,
            s.timeout,
        )
        .await;
        if let Some(span) = span {
            if let Ok(response) = &posted {
                span.attribute("http.response.status_code", response.status.as_u16());
            }
            span.end(posted.as_ref().map_or(true, |r| r.status != StatusCode::OK));
        }
        let response = posted.map_err(|e| IntrospectError::new(ErrorKind::Post(e)))?;
        if response.status != StatusCode::OK {
            return Err(IntrospectError::new(ErrorKind::Status(response.status)));
        }
        let parsed = response::parse(&response.body)
            .map_err(|what| IntrospectError::new(ErrorKind::InvalidResponse(what)))?;
        let Some(found) = parsed else {
            return Ok((Err(Rejection::Inactive), s.negative_ttl));
        };
        let now = unix_now();
        if let Some(rejection) = self.check(&found, now) {
            return Ok((Err(rejection), s.negative_ttl));
        }
        let ttl = match found.exp {
            Some(exp) => s
                .cache_max_ttl
                .min(Duration::from_secs(exp).saturating_sub(now)),
            None => s.cache_max_ttl,
        };
        Ok((Ok(found), ttl))
    }

    /// The checks the server's word must pass beyond `active`.
    fn check(&self, found: &Introspection, now: Duration) -> Option<Rejection> {
        if found.exp.is_some_and(|exp| Duration::from_secs(exp) <= now) {
            return Some(Rejection::Expired);
        }
        if found.nbf.is_some_and(|nbf| Duration::from_secs(nbf) > now) {
            return Some(Rejection::NotYetValid);
        }
        if let Some(issuer) = &self.settings.issuer {
            if found.iss.as_ref() != Some(issuer) {
                return Some(Rejection::IssuerMismatch);
            }
        }
        let audiences = &self.settings.audiences;
        if !audiences.is_empty() && !found.aud.iter().any(|a| audiences.contains(a)) {
            return Some(Rejection::AudienceMismatch);
        }
        None
    }
}

/// Time since the epoch, to the sub-second, so that a cached answer never
/// outlives `exp`.
fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

// === impl Flight ===

impl Flight<'_> {
    async fn run(self, token: &str) -> Outcome {
        let asked = self.inner.ask(token).await;
        let outcome = match asked {
            Ok((verdict, ttl)) => {
                let now = Instant::now();
                self.inner.shared().cache.insert(
                    self.key,
                    verdict.clone(),
                    now + ttl.min(MAX_TTL),
                    now,
                );
                verdict.map_err(|r| IntrospectError::new(ErrorKind::Rejected(r)))
            }
            Err(error) => Err(error),
        };
        self.done.send_replace(Some(outcome.clone()));
        outcome
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        self.inner.shared().in_flight.remove(&self.key);
    }
}

// === impl Introspection ===

impl Introspection {
    /// The subject (`sub`), usually the resource owner.
    pub fn sub(&self) -> Option<&str> {
        self.sub.as_deref()
    }

    /// The client the token was issued to.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// A human-readable name of the resource owner.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The granted scopes: `scope` split on spaces (RFC 6749 §3.3).
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    pub fn token_type(&self) -> Option<&str> {
        self.token_type.as_deref()
    }

    /// Expiry, seconds since the epoch.
    pub fn exp(&self) -> Option<u64> {
        self.exp
    }

    /// Issue time, seconds since the epoch.
    pub fn iat(&self) -> Option<u64> {
        self.iat
    }

    pub fn iss(&self) -> Option<&str> {
        self.iss.as_deref()
    }

    pub fn aud(&self) -> &[String] {
        &self.aud
    }
}
