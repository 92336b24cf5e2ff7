//! Why a token source gave no token: an opaque error with predicates
//! (after hyper's), its `Display` naming the cause but never a credential.
use crate::http_client::form::PostError;
use http::StatusCode;
use std::fmt;

/// Why no token could be had. `Display` names the cause (for a refusal the
/// §5.2 `error` code), never a credential.
#[derive(Debug, Clone)]
pub struct OAuthError {
    kind: ErrorKind,
}

#[derive(Debug, Clone)]
pub(super) enum ErrorKind {
    /// The HTTP client could not be built (bad CA file).
    Setup(String),
    /// A §5.2 error response.
    Refused {
        status: StatusCode,
        code: String,
        description: Option<String>,
    },
    /// A non-200 response that is not a §5.2 error.
    Status(StatusCode),
    /// A 200 response that is not a usable §5.1 token response.
    InvalidResponse(&'static str),
    Post(PostError),
}

// === impl OAuthError ===

impl OAuthError {
    pub(super) fn new(kind: ErrorKind) -> OAuthError {
        OAuthError { kind }
    }

    /// The §5.2 `error` code of a refusal (`invalid_client`, …).
    pub fn error_code(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The §5.2 `error_description` of a refusal, if printable.
    pub fn error_description(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::Refused { description, .. } => description.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status of the token endpoint's answer, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match &self.kind {
            ErrorKind::Refused { status, .. } | ErrorKind::Status(status) => Some(*status),
            _ => None,
        }
    }

    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, ErrorKind::Post(PostError::Timeout))
    }

    /// A stable label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match &self.kind {
            ErrorKind::Setup(_) => "setup",
            ErrorKind::Refused { .. } => "refused",
            ErrorKind::Status(_) => "unexpected_status",
            ErrorKind::InvalidResponse(_) => "invalid_response",
            ErrorKind::Post(PostError::Timeout) => "timeout",
            ErrorKind::Post(PostError::Transport(_)) => "unreachable",
            ErrorKind::Post(PostError::Body(_)) => "broken_body",
            ErrorKind::Post(PostError::TooLarge) => "body_too_large",
        }
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Setup(e) => write!(f, "OAuth client setup failed: {e}"),
            ErrorKind::Refused { status, code, .. } => {
                write!(
                    f,
                    "token endpoint refused the request: {code} (HTTP {status})"
                )
            }
            ErrorKind::Status(status) => write!(f, "token endpoint answered HTTP {status}"),
            ErrorKind::InvalidResponse(what) => {
                write!(f, "token endpoint response unusable: {what}")
            }
            ErrorKind::Post(e) => write!(f, "token request: {e}"),
        }
    }
}

impl std::error::Error for OAuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Post(e) => Some(e),
            _ => None,
        }
    }
}
