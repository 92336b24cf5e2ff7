//! The gateway's error: who caused it (client, upstream, gateway), the
//! SCIM error the client sees, and the internal cause, which is logged but
//! never sent. One rescue point ([`GatewayError::into_response`]) turns
//! every failure into an RFC 7644 §3.12 response.
use crate::scim::error::ScimError;
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use http_body_util::Full;
use std::fmt;
use std::sync::Arc;

/// The media type of every SCIM body (RFC 7644 §3.1).
pub const SCIM_MEDIA_TYPE: &str = "application/scim+json";

/// Who caused a failure (pingora's `ErrorSource`): decides the status
/// class, whether a retry may help, and how it is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSource {
    /// Bad request, bad credentials, unknown tenant: 4xx.
    Client,
    /// The upstream refused, timed out or misbehaved: 502/504.
    Upstream,
    /// A fault of the gateway itself: 500.
    Gateway,
}

/// A failure on the request path.
#[derive(Debug, Clone)]
pub struct GatewayError {
    source: ErrorSource,
    /// What the client sees: status, `scimType`, a safe `detail`.
    scim: ScimError,
    /// `WWW-Authenticate` challenge for 401/403 (RFC 6750 §3).
    challenge: Option<String>,
    /// `Retry-After` seconds for 429/503.
    retry_after: Option<u64>,
    /// The internal cause, for logs only (may name addresses; never secrets).
    cause: Option<Arc<str>>,
    /// A short machine-readable reason for metrics and the access log,
    /// e.g. `unknown_tenant`, `upstream_timeout`.
    reason: &'static str,
}

/// Carried in the extensions of an error response so that the access log
/// can name the cause without the client ever seeing it.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub source: ErrorSource,
    pub reason: &'static str,
    pub cause: Option<Arc<str>>,
}

// === impl GatewayError ===

impl GatewayError {
    /// A client error with its SCIM body (validation, bad filter, ...).
    pub fn client(scim: ScimError) -> Self {
        GatewayError {
            source: ErrorSource::Client,
            scim,
            challenge: None,
            retry_after: None,
            cause: None,
            reason: "bad_request",
        }
    }

    /// A client error with a reason label.
    pub fn client_reason(scim: ScimError, reason: &'static str) -> Self {
        GatewayError {
            reason,
            ..GatewayError::client(scim)
        }
    }

    /// 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3).
    pub fn unauthorized(detail: &str, reason: &'static str, challenge: String) -> Self {
        GatewayError {
            source: ErrorSource::Client,
            scim: ScimError::new(401, None, detail),
            challenge: Some(challenge),
            retry_after: None,
            cause: None,
            reason,
        }
    }

    /// 403 with a `WWW-Authenticate` challenge (`insufficient_scope`).
    pub fn forbidden(detail: &str, reason: &'static str, challenge: String) -> Self {
        GatewayError {
            source: ErrorSource::Client,
            scim: ScimError::new(403, None, detail),
            challenge: Some(challenge),
            retry_after: None,
            cause: None,
            reason,
        }
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(detail: &str, reason: &'static str, retry_after: u64) -> Self {
        GatewayError {
            source: ErrorSource::Client,
            scim: ScimError::new(429, None, detail),
            challenge: None,
            retry_after: Some(retry_after.max(1)),
            cause: None,
            reason,
        }
    }

    /// 503 with `Retry-After`: a service the gateway depends on (a key
    /// server, an introspection endpoint) is unavailable.
    pub fn unavailable(detail: &str, reason: &'static str, retry_after: u64) -> Self {
        GatewayError {
            source: ErrorSource::Upstream,
            scim: ScimError::new(503, None, detail),
            challenge: None,
            retry_after: Some(retry_after.max(1)),
            cause: None,
            reason,
        }
    }

    /// An upstream failure: `status` is 502 or 504; `detail` is what the
    /// client may read; `cause` is logged.
    pub fn upstream(
        status: u16,
        detail: &str,
        reason: &'static str,
        cause: impl fmt::Display,
    ) -> Self {
        GatewayError {
            source: ErrorSource::Upstream,
            scim: ScimError::new(status, None, detail),
            challenge: None,
            retry_after: None,
            cause: Some(Arc::from(cause.to_string())),
            reason,
        }
    }

    /// A fault of the gateway: 500 with a generic detail; `cause` is logged.
    pub fn internal(cause: impl fmt::Display) -> Self {
        GatewayError {
            source: ErrorSource::Gateway,
            scim: ScimError::internal("the gateway failed to process the request"),
            challenge: None,
            retry_after: None,
            cause: Some(Arc::from(cause.to_string())),
            reason: "internal",
        }
    }

    /// Adds an internal cause for the logs.
    pub fn with_cause(mut self, cause: impl fmt::Display) -> Self {
        self.cause = Some(Arc::from(cause.to_string()));
        self
    }

    pub fn source(&self) -> ErrorSource {
        self.source
    }

    pub fn status(&self) -> u16 {
        self.scim.status()
    }

    /// The internal cause (for the logs, and for an operator's own tools
    /// such as `probe`; never for a client).
    pub fn cause(&self) -> Option<&str> {
        self.cause.as_deref()
    }

    pub fn reason(&self) -> &'static str {
        self.reason
    }

    pub fn scim(&self) -> &ScimError {
        &self.scim
    }

    /// The rescue: the SCIM error response, with [`ErrorInfo`] in its
    /// extensions. No side effects.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let status =
            StatusCode::from_u16(self.scim.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.scim.to_json()).unwrap_or_default();
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_MEDIA_TYPE));
        if let Some(challenge) = self
            .challenge
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(ErrorInfo {
            source: self.source,
            reason: self.reason,
            cause: self.cause,
        });
        response
    }
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.scim.status(),
            self.reason,
            self.scim.detail()
        )
    }
}

impl std::error::Error for GatewayError {}

impl From<ScimError> for GatewayError {
    fn from(e: ScimError) -> Self {
        GatewayError::client(e)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn the_cause_stays_inside() {
        let e = GatewayError::upstream(
            502,
            "the upstream refused the connection",
            "upstream_connect",
            "connect to 10.0.0.7:443: refused",
        );
        let resp = e.into_response();
        assert_eq!(resp.status(), 502);
        assert_eq!(resp.headers()[CONTENT_TYPE], SCIM_MEDIA_TYPE);
        let info = resp.extensions().get::<ErrorInfo>().cloned().unwrap();
        assert_eq!(info.reason, "upstream_connect");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(!text.contains("10.0.0.7"), "{text}");
        assert!(text.contains("\"status\":\"502\""), "{text}");
    }

    #[test]
    fn unauthorized_carries_the_challenge() {
        let resp = GatewayError::unauthorized(
            "a bearer token is required",
            "missing_token",
            "Bearer realm=\"acme\"".into(),
        )
        .into_response();
        assert_eq!(resp.status(), 401);
        assert_eq!(resp.headers()[WWW_AUTHENTICATE], "Bearer realm=\"acme\"");
    }
}
