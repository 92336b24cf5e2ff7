//! The gateway's error: who caused it (client, upstream, gateway), why
//! ([`Reason`], the label of metrics, access log and audit), the SCIM
//! error the client sees (its status decided by who and why:
//! [`status_of`]), and the internal cause, kept as an error, which is
//! logged but never sent. One rescue point
//! ([`GatewayError::into_response`]) turns every failure into an RFC 7644
//! §3.12 response.
//!
//! Imports only `scim::error` (the SCIM error body).
use crate::scim::error::ScimError;
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use http_body_util::Full;
use std::fmt;
use std::sync::Arc;

mod reason;
pub(crate) use reason::{status_of, Reason};

/// The media type of every SCIM body (RFC 7644 §3.1).
pub(crate) const SCIM_MEDIA_TYPE: &str = "application/scim+json";

/// An internal cause, as any error converts (strings too).
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The internal cause of a failure, kept as the error it was (its
/// `source()` chain intact), shared by the clones of the error.
pub(crate) type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// Who caused a failure (pingora's `ErrorSource`): with the [`Reason`], it
/// decides the status ([`status_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSource {
    /// Bad request, bad credentials, unknown tenant: 4xx.
    Client,
    /// The upstream refused, timed out or misbehaved, or a service the
    /// gateway depends on is down: 502/503/504.
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
    cause: Option<Cause>,
    /// Why, for metrics, the access log and the audit record.
    reason: Reason,
}

/// Carried in the extensions of an error response so that the access log
/// can name the cause without the client ever seeing it.
#[derive(Debug, Clone)]
pub(crate) struct ErrorInfo {
    pub reason: Reason,
    pub cause: Option<Cause>,
    /// The `scimType` the client got, if any (for the admin API's recent
    /// errors).
    pub scim_type: Option<&'static str>,
}

/// A cause with what the gateway was doing when it happened: printed
/// `what: error`, the error kept as its source. (The text includes the
/// error's because the access log prints the cause's `Display` alone, as
/// the crate's own errors do, rather than walking the chain.)
#[derive(Debug)]
pub(crate) struct Context<E> {
    what: String,
    error: E,
}

impl<E> Context<E> {
    pub(crate) fn new(what: impl Into<String>, error: E) -> Self {
        Context {
            what: what.into(),
            error,
        }
    }
}

impl<E: fmt::Display> fmt::Display for Context<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.error)
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Context<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

// === impl GatewayError ===

impl GatewayError {
    /// An error whose status [`status_of`] decides, with `detail` for the
    /// client.
    fn decided(source: ErrorSource, reason: Reason, detail: &str) -> Self {
        let status = status_of(source, reason);
        debug_assert!(
            status.is_some(),
            "{reason} takes its status from a SCIM error"
        );
        GatewayError {
            source,
            scim: ScimError::new(status.unwrap_or(500), None, detail),
            challenge: None,
            retry_after: None,
            cause: None,
            reason,
        }
    }

    /// A client error with its SCIM body (validation, bad filter, ...).
    pub fn client(scim: ScimError) -> Self {
        GatewayError::client_reason(scim, Reason::BadRequest)
    }

    /// A client error with a reason; the status is the SCIM error's own.
    pub fn client_reason(scim: ScimError, reason: Reason) -> Self {
        debug_assert!(
            status_of(ErrorSource::Client, reason).is_none(),
            "{reason} has a status of its own"
        );
        GatewayError {
            source: ErrorSource::Client,
            scim,
            challenge: None,
            retry_after: None,
            cause: None,
            reason,
        }
    }

    /// 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3).
    pub fn unauthorized(detail: &str, reason: Reason, challenge: String) -> Self {
        GatewayError {
            challenge: Some(challenge),
            ..GatewayError::decided(ErrorSource::Client, reason, detail)
        }
    }

    /// 403 with a `WWW-Authenticate` challenge (`insufficient_scope`).
    pub fn forbidden(detail: &str, reason: Reason, challenge: String) -> Self {
        GatewayError {
            challenge: Some(challenge),
            ..GatewayError::decided(ErrorSource::Client, reason, detail)
        }
    }

    /// 403: the client certificate is not one the tenant accepts.
    pub fn certificate_refused(detail: &str, reason: Reason) -> Self {
        debug_assert!(reason.is_client_certificate(), "{reason}");
        GatewayError::decided(ErrorSource::Client, reason, detail)
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(detail: &str, reason: Reason, retry_after: u64) -> Self {
        GatewayError {
            retry_after: Some(retry_after.max(1)),
            ..GatewayError::decided(ErrorSource::Client, reason, detail)
        }
    }

    /// 503 with `Retry-After`: a service the gateway depends on (a key
    /// server, an introspection endpoint) is unavailable.
    pub fn unavailable(detail: &str, reason: Reason, retry_after: u64) -> Self {
        GatewayError {
            retry_after: Some(retry_after.max(1)),
            ..GatewayError::decided(ErrorSource::Upstream, reason, detail)
        }
    }

    /// An upstream failure (502 or 504, by the reason); `detail` is what
    /// the client may read; `cause` is logged.
    pub fn upstream(detail: &str, reason: Reason, cause: impl Into<BoxError>) -> Self {
        GatewayError::decided(ErrorSource::Upstream, reason, detail).with_cause(cause)
    }

    /// A fault of the gateway: 500 with a generic detail; `cause` is logged.
    pub fn internal(cause: impl Into<BoxError>) -> Self {
        GatewayError {
            source: ErrorSource::Gateway,
            scim: ScimError::internal("the gateway failed to process the request"),
            challenge: None,
            retry_after: None,
            cause: None,
            reason: Reason::Internal,
        }
        .with_cause(cause)
    }

    /// Adds an internal cause for the logs.
    pub fn with_cause(mut self, cause: impl Into<BoxError>) -> Self {
        self.cause = Some(Arc::from(cause.into()));
        self
    }

    /// Who caused the failure.
    pub fn error_source(&self) -> ErrorSource {
        self.source
    }

    pub fn status(&self) -> u16 {
        self.scim.status()
    }

    /// The internal cause (for the logs, and for an operator's own tools
    /// such as `probe`; never for a client).
    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.cause.as_deref()
    }

    pub fn reason(&self) -> Reason {
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
            reason: self.reason,
            cause: self.cause,
            scim_type: self.scim.scim_type().map(|t| t.as_str()),
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

impl std::error::Error for GatewayError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

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
            "the upstream refused the connection",
            Reason::UpstreamConnect,
            "connect to 10.0.0.7:443: refused",
        );
        let resp = e.into_response();
        assert_eq!(resp.status(), 502);
        assert_eq!(resp.headers()[CONTENT_TYPE], SCIM_MEDIA_TYPE);
        let info = resp.extensions().get::<ErrorInfo>().cloned().unwrap();
        assert_eq!(info.reason.as_str(), "upstream_connect");
        assert_eq!(
            info.cause.map(|c| c.to_string()).as_deref(),
            Some("connect to 10.0.0.7:443: refused")
        );
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(!text.contains("10.0.0.7"), "{text}");
        assert!(text.contains("\"status\":\"502\""), "{text}");
    }

    #[test]
    fn unauthorized_carries_the_challenge() {
        let resp = GatewayError::unauthorized(
            "a bearer token is required",
            Reason::MissingToken,
            "Bearer realm=\"acme\"".into(),
        )
        .into_response();
        assert_eq!(resp.status(), 401);
        assert_eq!(resp.headers()[WWW_AUTHENTICATE], "Bearer realm=\"acme\"");
    }

    #[test]
    fn each_constructor_answers_the_status_its_reason_decides() {
        use std::error::Error as _;
        let ch = || "Bearer realm=\"t\"".to_string();
        let cases = [
            (
                GatewayError::unauthorized("d", Reason::TokenExpired, ch()),
                401,
            ),
            (
                GatewayError::forbidden("d", Reason::InsufficientScope, ch()),
                403,
            ),
            (
                GatewayError::certificate_refused("d", Reason::ClientCertificateRevoked),
                403,
            ),
            (
                GatewayError::too_many_requests("d", Reason::RateLimited, 3),
                429,
            ),
            (GatewayError::unavailable("d", Reason::CircuitOpen, 3), 503),
            (
                GatewayError::upstream("d", Reason::UpstreamProtocol, "x"),
                502,
            ),
            (
                GatewayError::upstream("d", Reason::RequestTimeout, "x"),
                504,
            ),
            (
                GatewayError::upstream("d", Reason::UpstreamCredential { timed_out: true }, "x"),
                504,
            ),
            (
                GatewayError::upstream("d", Reason::UpstreamCredential { timed_out: false }, "x"),
                502,
            ),
            (GatewayError::internal("x"), 500),
        ];
        for (e, status) in cases {
            assert_eq!(e.status(), status, "{e}");
            assert_eq!(status_of(e.error_source(), e.reason()), Some(status), "{e}");
        }
        // A client error keeps its SCIM error's status (RFC 7644 §3.12).
        let timeout = ScimError::new(408, None, "the request did not arrive in time");
        let e = GatewayError::client_reason(timeout, Reason::RequestTimeout);
        assert_eq!((e.status(), e.error_source()), (408, ErrorSource::Client));
        let sensitive = ScimError::typed(crate::scim::error::ScimType::Sensitive, "d");
        let e = GatewayError::from(sensitive);
        assert_eq!((e.status(), e.reason()), (403, Reason::BadRequest));
        assert!(e.source().is_none());
    }

    #[test]
    fn the_cause_is_kept_as_an_error_with_its_context() {
        use std::error::Error as _;
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = GatewayError::upstream(
            "the upstream could not be reached",
            Reason::UpstreamConnect,
            Context::new("crm", io),
        );
        // Printed as the access log always showed it.
        assert_eq!(
            e.cause().map(|c| c.to_string()).as_deref(),
            Some("crm: refused")
        );
        let context = e.source().unwrap();
        let io = context.source().unwrap();
        assert_eq!(
            io.downcast_ref::<std::io::Error>().unwrap().kind(),
            std::io::ErrorKind::ConnectionRefused
        );
        assert_eq!(
            e.to_string(),
            "502 upstream_connect: the upstream could not be reached"
        );
    }
}
