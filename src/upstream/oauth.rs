//! Outbound OAuth 2.0: the gateway's own access tokens for upstreams that
//! want one, from the client credentials grant (RFC 6749 §4.4).
//!
//! A [`TokenSource`] holds one client's settings and its current token. It
//! refreshes ahead of expiry, makes one request however many callers wait
//! (single flight), backs off briefly after a failure so that a down token
//! endpoint is not hammered, and drops a token the upstream rejected.
//!
//! Owns: [`ClientCredentials`] (validated settings), [`TokenSource`],
//! [`AccessToken`], [`OAuthError`]. Depends on `crate::http_client` for
//! the HTTP client and the bounded form POST, and on `crate::secret`.
mod error;
mod response;
#[cfg(test)]
pub(crate) mod test_server;
#[cfg(test)]
mod tests;

use crate::http_client::{form, HttpClient};
use crate::secret::Secret;
use error::ErrorKind;
pub(crate) use error::OAuthError;
use http::{HeaderValue, StatusCode, Uri};
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longer `expires_in` values are cut to this (and cannot overflow).
const MAX_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// Settings of one client credentials grant, already validated.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// The token endpoint (RFC 6749 §3.2).
    pub token_url: Uri,
    pub client_id: String,
    pub client_secret: Secret,
    /// Requested scopes, sent space-separated as `scope` (§3.3); none sent
    /// when empty.
    pub scopes: Vec<String>,
    /// Extra `audience` form parameter (Auth0, Okta and others).
    pub audience: Option<String>,
    /// Extra `resource` form parameter (RFC 8707).
    pub resource: Option<String>,
    pub auth_method: ClientAuthMethod,
    /// How long before expiry a token is replaced (default 60 s; at most
    /// half of the token's lifetime).
    pub refresh_before: Duration,
    /// Deadline of one whole token request (default 10 s).
    pub timeout: Duration,
    /// Trust only this CA bundle for an HTTPS token endpoint.
    pub ca_file: Option<PathBuf>,
    /// How long a failed fetch is answered from memory before the next try
    /// (default 1 s). Zero turns it off: callers that waited on a failed
    /// fetch then each try in turn.
    pub failure_backoff: Duration,
}

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuthMethod {
    /// HTTP Basic (`client_secret_basic`), which every server must support.
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

/// An access token for upstream requests. `Debug` never shows its value.
#[derive(Clone)]
pub struct AccessToken {
    value: Arc<str>,
    header: HeaderValue,
    expires_at: Instant,
    scope: Option<Arc<str>>,
}

/// Fetches and caches access tokens for one client. Cheap to clone; clones
/// share the cache.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    settings: ClientCredentials,
    client: HttpClient,
    /// The `Authorization` value for `client_secret_basic`.
    basic: Option<HeaderValue>,
    state: Mutex<State>,
    /// Held by the one caller fetching; the others wait on it, then find
    /// the new token (or the failure) in `state`.
    fetch: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    current: Option<Cached>,
    failure: Option<(Instant, OAuthError)>,
}

struct Cached {
    token: AccessToken,
    refresh_at: Instant,
}

// === impl ClientCredentials ===

impl ClientCredentials {
    /// Settings with the defaults: Basic auth, no scopes, refresh 60 s
    /// ahead, 10 s timeout, public CA roots, 1 s failure backoff.
    pub fn new(token_url: Uri, client_id: impl Into<String>, client_secret: Secret) -> Self {
        ClientCredentials {
            token_url,
            client_id: client_id.into(),
            client_secret,
            scopes: Vec::new(),
            audience: None,
            resource: None,
            auth_method: ClientAuthMethod::default(),
            refresh_before: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            ca_file: None,
            failure_backoff: Duration::from_secs(1),
        }
    }

    /// The form body of a §4.4.2 access token request.
    fn request_form(&self) -> String {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        if !self.scopes.is_empty() {
            form.append_pair("scope", &self.scopes.join(" "));
        }
        if let Some(audience) = &self.audience {
            form.append_pair("audience", audience);
        }
        if let Some(resource) = &self.resource {
            form.append_pair("resource", resource);
        }
        if self.auth_method == ClientAuthMethod::ClientSecretPost {
            form.append_pair("client_id", &self.client_id);
            form.append_pair("client_secret", self.client_secret.expose());
        }
        form.finish()
    }
}

// === impl ClientAuthMethod ===

impl ClientAuthMethod {
    /// The method named as in the OAuth registry (RFC 7591 §2,
    /// `token_endpoint_auth_method`).
    pub fn from_name(name: &str) -> Option<ClientAuthMethod> {
        match name {
            "client_secret_basic" => Some(ClientAuthMethod::ClientSecretBasic),
            "client_secret_post" => Some(ClientAuthMethod::ClientSecretPost),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
        }
    }
}

// === impl AccessToken ===

impl AccessToken {
    /// `Bearer <token>` for the upstream's `Authorization` header, marked
    /// sensitive (RFC 6750 §2.1).
    pub fn header_value(&self) -> HeaderValue {
        self.header.clone()
    }

    /// The token itself: only for putting it on the wire.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// When the authorization server said the token expires.
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    /// The granted scope, if the server named it (§5.1).
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    fn is_same(&self, other: &AccessToken) -> bool {
        Arc::ptr_eq(&self.value, &other.value) || self.value == other.value
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"***")
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

// === impl TokenSource ===

impl TokenSource {
    /// A source for `settings`. Builds the HTTP client (reading any CA
    /// file) but makes no request yet.
    pub fn new(settings: ClientCredentials) -> Result<TokenSource, OAuthError> {
        let client =
            crate::http_client::build_http_client(settings.ca_file.as_deref(), settings.timeout, 2)
                .map_err(|e| OAuthError::new(ErrorKind::Setup(e)))?;
        let basic = match settings.auth_method {
            ClientAuthMethod::ClientSecretBasic => Some(form::basic_credentials(
                &settings.client_id,
                &settings.client_secret,
            )),
            ClientAuthMethod::ClientSecretPost => None,
        };
        Ok(TokenSource {
            inner: Arc::new(Inner {
                settings,
                client,
                basic,
                state: Mutex::new(State::default()),
                fetch: tokio::sync::Mutex::new(()),
            }),
        })
    }

    pub fn settings(&self) -> &ClientCredentials {
        &self.inner.settings
    }

    /// A token to send upstream: the cached one until it is due for
    /// refresh, else a new one fetched once for all concurrent callers.
    /// Within `failure_backoff` of a failed fetch the same error is
    /// returned without a request, unless a not yet expired token is at
    /// hand, which is then used.
    pub async fn token(&self) -> Result<AccessToken, OAuthError> {
        if let Some(answer) = self.inner.answer_from_memory(Instant::now()) {
            return answer;
        }
        let _flight = self.inner.fetch.lock().await;
        // Whoever held the lock before may have just fetched (or failed).
        if let Some(answer) = self.inner.answer_from_memory(Instant::now()) {
            return answer;
        }
        let fetched = self.inner.fetch_token().await;
        let now = Instant::now();
        let mut state = self.inner.state();
        match fetched {
            Ok(cached) => {
                let token = cached.token.clone();
                state.current = Some(cached);
                state.failure = None;
                Ok(token)
            }
            Err(error) => {
                state.failure = Some((now, error.clone()));
                match &state.current {
                    Some(c) if now < c.token.expires_at => Ok(c.token.clone()),
                    _ => Err(error),
                }
            }
        }
    }

    /// Forgets `token` after the upstream answered 401 to it, so that the
    /// next [`token`](Self::token) fetches a new one. A no-op when the
    /// cache already holds another token: of many concurrent 401s for the
    /// same token, only the first causes a refresh.
    pub fn invalidate(&self, token: &AccessToken) {
        let mut state = self.inner.state();
        if state
            .current
            .as_ref()
            .is_some_and(|c| c.token.is_same(token))
        {
            state.current = None;
            // A rejected token is no reason to wait before asking again.
            state.failure = None;
        }
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

// === impl Inner ===

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        // The state is consistent after every statement: a panic elsewhere
        // cannot leave it half-written.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answer without a request: a fresh token, or the recent failure
    /// (with a still valid older token if there is one).
    fn answer_from_memory(&self, now: Instant) -> Option<Result<AccessToken, OAuthError>> {
        let state = self.state();
        if let Some(c) = &state.current {
            if now < c.refresh_at {
                return Some(Ok(c.token.clone()));
            }
        }
        let (failed_at, error) = state.failure.as_ref()?;
        if now.duration_since(*failed_at) >= self.settings.failure_backoff {
            return None;
        }
        Some(match &state.current {
            Some(c) if now < c.token.expires_at => Ok(c.token.clone()),
            _ => Err(error.clone()),
        })
    }

    async fn fetch_token(&self) -> Result<Cached, OAuthError> {
        let s = &self.settings;
        let started = Instant::now();
        let response = form::post_form(
            &self.client,
            &s.token_url,
            self.basic.as_ref(),
            s.request_form(),
            s.timeout,
        )
        .await
        .map_err(|e| OAuthError::new(ErrorKind::Post(e)))?;
        if response.status != StatusCode::OK {
            // §5.2: errors come as 400 (401 for invalid_client) with JSON.
            return Err(OAuthError::new(
                match response::parse_refusal(&response.body) {
                    Some(r) => ErrorKind::Refused {
                        status: response.status,
                        code: r.code,
                        description: r.description,
                    },
                    None => ErrorKind::Status(response.status),
                },
            ));
        }
        let issued = response::parse_success(&response.body)
            .map_err(|what| OAuthError::new(ErrorKind::InvalidResponse(what)))?;
        let mut header = HeaderValue::from_str(&format!("Bearer {}", issued.access_token))
            .map_err(|_| {
                OAuthError::new(ErrorKind::InvalidResponse("access_token is not printable"))
            })?;
        header.set_sensitive(true);
        // Lifetimes count from when we asked: the safe side of the clock.
        let lifetime = issued.lifetime.min(MAX_LIFETIME);
        let expires_at = started + lifetime;
        let margin = s.refresh_before.min(lifetime / 2);
        Ok(Cached {
            refresh_at: expires_at - margin,
            token: AccessToken {
                value: Arc::from(issued.access_token),
                header,
                expires_at,
                scope: issued.scope.map(Arc::from),
            },
        })
    }
}
