//! Why introspection accepted no token: the token is bad (the client's
//! fault) or the endpoint gave no usable answer. Opaque, with predicates
//! and a stable `reason()`; `Display` never shows the token.
use crate::http_client::form::PostError;
use http::StatusCode;
use std::fmt;

/// Why a token was not accepted: either the token is not good (a 401 for
/// the client) or the endpoint could not say (a 503). `Display` never
/// shows the token.
#[derive(Debug, Clone)]
pub struct IntrospectError {
    kind: ErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rejection {
    Inactive,
    Expired,
    NotYetValid,
    IssuerMismatch,
    AudienceMismatch,
}

#[derive(Debug, Clone)]
pub(super) enum ErrorKind {
    Rejected(Rejection),
    Setup(String),
    Status(StatusCode),
    InvalidResponse(&'static str),
    Post(PostError),
}

// === impl IntrospectError ===

impl IntrospectError {
    pub(super) fn new(kind: ErrorKind) -> IntrospectError {
        IntrospectError { kind }
    }

    /// The token is not good: inactive, expired, or for another issuer or
    /// audience. The client's fault: answer 401 `invalid_token`.
    pub fn is_invalid_token(&self) -> bool {
        matches!(self.kind, ErrorKind::Rejected(_))
    }

    /// The endpoint gave no usable answer (unreachable, timeout, non-200,
    /// malformed); nothing is known of the token.
    pub fn is_endpoint_failure(&self) -> bool {
        !self.is_invalid_token()
    }

    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, ErrorKind::Post(PostError::Timeout))
    }

    /// A stable label for logs, metrics and audit records.
    pub fn reason(&self) -> &'static str {
        match &self.kind {
            ErrorKind::Rejected(Rejection::Inactive) => "inactive",
            ErrorKind::Rejected(Rejection::Expired) => "expired",
            ErrorKind::Rejected(Rejection::NotYetValid) => "not_yet_valid",
            ErrorKind::Rejected(Rejection::IssuerMismatch) => "issuer_mismatch",
            ErrorKind::Rejected(Rejection::AudienceMismatch) => "audience_mismatch",
            ErrorKind::Setup(_) => "setup",
            ErrorKind::Status(_) => "endpoint_status",
            ErrorKind::InvalidResponse(_) => "invalid_response",
            ErrorKind::Post(PostError::Timeout) => "endpoint_timeout",
            ErrorKind::Post(PostError::Transport(_)) => "endpoint_unreachable",
            ErrorKind::Post(PostError::Body(_)) => "broken_body",
            ErrorKind::Post(PostError::TooLarge) => "body_too_large",
        }
    }
}

impl fmt::Display for IntrospectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Rejected(_) => write!(f, "token rejected: {}", self.reason()),
            ErrorKind::Setup(e) => write!(f, "introspection setup failed: {e}"),
            ErrorKind::Status(status) => {
                write!(f, "introspection endpoint answered HTTP {status}")
            }
            ErrorKind::InvalidResponse(what) => {
                write!(f, "introspection response unusable: {what}")
            }
            ErrorKind::Post(e) => write!(f, "introspection request: {e}"),
        }
    }
}

impl std::error::Error for IntrospectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Post(e) => Some(e),
            _ => None,
        }
    }
}
