//! What an upstream is, as the compiled config describes it: the
//! [`Upstream`] (name, where it is, the credential the gateway presents,
//! timeouts, limits, resilience and emulation), its [`UpstreamTarget`]
//! (a remote server or the built-in store), its [`UpstreamAuth`] and the
//! SCIM version it speaks ([`UpstreamProtocol`]).
//!
//! The upstream stage owns these settings types: `config::compile` builds
//! them and the snapshot holds them, so this file imports nothing above
//! the stage (the store it may call in-process, limits, telemetry handles,
//! the ground `Secret`).
use super::endpoint::HttpTarget;
use crate::secret::Secret;
use crate::store::Store;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// One upstream SCIM service provider.
#[derive(Debug)]
pub struct Upstream {
    pub name: String,
    pub target: UpstreamTarget,
    /// The credential the gateway presents (the client's never is).
    pub auth: UpstreamAuth,
    /// `auth` as the `Authorization` value, made once (marked sensitive).
    pub authorization: Option<http::HeaderValue>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Limits protecting the upstream (over all its tenants).
    pub limits: crate::limit::Limits,
    /// Retries, retry budget and circuit breaker settings.
    pub resilience_settings: super::resilience::ResilienceSettings,
    /// Their state (per process; a reload starts afresh).
    pub resilience: super::resilience::Resilience,
    /// Latency histogram handle (filled on first use).
    pub metrics: crate::telemetry::handles::UpstreamMetrics,
    /// What it supports and how the gateway emulates the rest
    /// (`[upstreams.X.capabilities]`; discovered state per process).
    pub emulation: super::emulate::Emulation,
    /// The SCIM version the upstream speaks.
    pub protocol: UpstreamProtocol,
}

/// The SCIM version an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamProtocol {
    #[default]
    Scim2,
    /// SCIM 1.1, translated by the gateway (`stack/scim11_stage.rs`).
    Scim11,
}

/// Where an upstream is.
#[derive(Clone)]
pub enum UpstreamTarget {
    /// A remote SCIM server and the connection pool for it.
    Http(Arc<HttpTarget>),
    /// The built-in store, in-process. Kept across reloads by upstream name.
    Builtin(Arc<Store>),
}

/// The credential sent upstream.
#[derive(Clone)]
pub enum UpstreamAuth {
    None,
    Bearer(Secret),
    Basic {
        username: String,
        password: Secret,
    },
    /// OAuth 2.0 client credentials: a token fetched, cached and renewed.
    OAuth2(super::oauth::TokenSource),
}

// === impl Upstream ===

impl Upstream {
    pub fn new(
        name: impl Into<String>,
        target: UpstreamTarget,
        auth: UpstreamAuth,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Upstream {
        Upstream {
            name: name.into(),
            authorization: auth.header_value(),
            target,
            auth,
            connect_timeout,
            request_timeout,
            limits: Default::default(),
            resilience_settings: Default::default(),
            resilience: Default::default(),
            metrics: Default::default(),
            emulation: Default::default(),
            protocol: UpstreamProtocol::Scim2,
        }
    }
}

// === impl UpstreamTarget ===

impl fmt::Debug for UpstreamTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamTarget::Http(http) => write!(f, "Http({})", http.base()),
            UpstreamTarget::Builtin(_) => f.write_str("Builtin"),
        }
    }
}

// === impl UpstreamAuth ===

impl UpstreamAuth {
    /// The `Authorization` header value, marked sensitive (never logged
    /// by hyper or `Debug`).
    pub fn header_value(&self) -> Option<http::HeaderValue> {
        use base64::Engine;
        let text = match self {
            UpstreamAuth::None | UpstreamAuth::OAuth2(_) => return None,
            UpstreamAuth::Bearer(token) => format!("Bearer {}", token.expose()),
            UpstreamAuth::Basic { username, password } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{}", password.expose()))
            ),
        };
        let mut value = http::HeaderValue::from_str(&text).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

impl fmt::Debug for UpstreamAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamAuth::None => f.write_str("None"),
            UpstreamAuth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            UpstreamAuth::Basic { username, .. } => {
                write!(
                    f,
                    "Basic {{ username: {username:?}, password: <redacted> }}"
                )
            }
            UpstreamAuth::OAuth2(source) => write!(f, "OAuth2({source:?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        let auth = UpstreamAuth::Basic {
            username: "svc".into(),
            password: s.clone(),
        };
        let printed = format!("{s:?} {auth:?} {:?}", UpstreamAuth::Bearer(s.clone()));
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("svc"));
    }
}
