//! Why a request failed, as a type: [`Reason`], one variant per label the
//! gateway writes in its metrics, access log and audit records
//! ([`Reason::as_str`]), the questions the pipeline asks of a failure
//! (retry it? count it against an endpoint, against the client's failure
//! budget?) as predicates, and the status an error the gateway originates
//! has, by who caused it and why ([`status_of`]).
//!
//! Imports nothing but its parent's [`ErrorSource`].
use super::ErrorSource;

/// Why a request failed: a short machine-readable label for metrics, the
/// access log and the audit record (e.g. `unknown_tenant`,
/// `upstream_timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    // --- The request itself (client errors with their own SCIM status) ---
    /// A SCIM error of the request (validation, a bad filter, ...).
    BadRequest,
    /// The host names no tenant.
    UnknownTenant,
    /// No endpoint at this path.
    NotFound,
    /// The path is not a SCIM path of the tenant.
    InvalidPath,
    /// The `Host` header is malformed or disagrees with the authority.
    BadHost,
    /// The request has no host.
    NoHost,
    /// The connection's TLS server name is not the request's host (421).
    Misdirected,
    /// `If-Match` did not match (an emulated ETag).
    PreconditionFailed,
    /// An emulated PATCH lost every race for the resource.
    EmulationConflict,
    /// An emulated filter would read too many pages.
    EmulationTooMany,
    /// The body does not fit the tenant's schema.
    Schema,
    /// The IdP dialect's translation refused the request.
    Dialect,
    /// The SCIM 1.1 translation refused the request.
    Scim11,
    /// The tenant has no such endpoint (the Okta event hook).
    UnknownEndpoint,
    /// The method is not one the endpoint accepts.
    MethodNotAllowed,
    /// The Okta event hook's shared secret is missing or wrong (401).
    OktaHookSecret,
    /// The request (408 from the client) or the upstream call (504 under
    /// the request's deadline) did not finish in time.
    RequestTimeout,
    /// The body is larger than allowed.
    PayloadTooLarge,
    /// The body could not be read.
    BodyRead,
    /// An operator dropped this deprovision, held by the tenant's
    /// guardrail (403: retrying will not help).
    GuardrailDropped,

    // --- Authentication: 401 (RFC 6750 §3.1) ---
    MissingToken,
    MalformedAuthorization,
    InvalidToken,
    /// A damped client's token that only a remote check could verify.
    NotChecked,
    TokenExpired,
    TokenWrongAudience,
    TokenSignature,
    TokenAlgorithm,

    // --- Client certificates: 403 ---
    ClientCertificateMissing,
    ClientCertificateUntrusted,
    ClientCertificateExpired,
    ClientCertificateRevoked,
    ClientCertificateCrlExpired,
    ClientCertificateNotPinned,
    ClientCertificateInvalid,

    // --- Authorization: 403 ---
    InsufficientScope,

    // --- Limits: 429 ---
    /// A client the failure damper holds failed again.
    TooManyFailures,
    RateLimited,

    // --- A service the gateway depends on: 503 ---
    JwksUnavailable,
    IntrospectionUnavailable,
    AuthTimeout,
    AuditUnavailable,
    /// A deprovision past the tenant's guardrail, held for an operator.
    GuardrailHeld,
    CircuitOpen,
    /// No endpoint of a balanced upstream is available.
    NoEndpoint,

    // --- The upstream: 502/504 ---
    UpstreamConnect,
    UpstreamProtocol,
    UpstreamTooLarge,
    UpstreamTimeout,
    /// The gateway's own credential for the upstream (an OAuth 2.0 token)
    /// was refused (502) or did not arrive in time (504).
    UpstreamCredential {
        timed_out: bool,
    },

    // --- The gateway: 500 ---
    Internal,
}

impl Reason {
    /// Every reason, once (one entry per label): what the tests walk to
    /// check labels, predicates and statuses; nothing else needs it.
    #[cfg(test)]
    pub(crate) const ALL: [Reason; 51] = {
        use Reason::*;
        [
            BadRequest,
            UnknownTenant,
            NotFound,
            InvalidPath,
            BadHost,
            NoHost,
            Misdirected,
            PreconditionFailed,
            EmulationConflict,
            EmulationTooMany,
            Schema,
            Dialect,
            Scim11,
            UnknownEndpoint,
            MethodNotAllowed,
            OktaHookSecret,
            RequestTimeout,
            PayloadTooLarge,
            BodyRead,
            GuardrailDropped,
            MissingToken,
            MalformedAuthorization,
            InvalidToken,
            NotChecked,
            TokenExpired,
            TokenWrongAudience,
            TokenSignature,
            TokenAlgorithm,
            ClientCertificateMissing,
            ClientCertificateUntrusted,
            ClientCertificateExpired,
            ClientCertificateRevoked,
            ClientCertificateCrlExpired,
            ClientCertificateNotPinned,
            ClientCertificateInvalid,
            InsufficientScope,
            TooManyFailures,
            RateLimited,
            JwksUnavailable,
            IntrospectionUnavailable,
            AuthTimeout,
            AuditUnavailable,
            GuardrailHeld,
            CircuitOpen,
            NoEndpoint,
            UpstreamConnect,
            UpstreamProtocol,
            UpstreamTooLarge,
            UpstreamTimeout,
            UpstreamCredential { timed_out: false },
            Internal,
        ]
    };

    /// The label in metrics, the access log and the audit record.
    pub const fn as_str(self) -> &'static str {
        use Reason::*;
        match self {
            BadRequest => "bad_request",
            UnknownTenant => "unknown_tenant",
            NotFound => "not_found",
            InvalidPath => "invalid_path",
            BadHost => "bad_host",
            NoHost => "no_host",
            Misdirected => "misdirected",
            PreconditionFailed => "precondition_failed",
            EmulationConflict => "emulation_conflict",
            EmulationTooMany => "emulation_too_many",
            Schema => "schema",
            Dialect => "dialect",
            Scim11 => "scim11",
            UnknownEndpoint => "unknown_endpoint",
            MethodNotAllowed => "method_not_allowed",
            OktaHookSecret => "okta_hook_secret",
            RequestTimeout => "request_timeout",
            PayloadTooLarge => "payload_too_large",
            BodyRead => "body_read",
            GuardrailDropped => "guardrail_dropped",
            MissingToken => "missing_token",
            MalformedAuthorization => "malformed_authorization",
            InvalidToken => "invalid_token",
            NotChecked => "not_checked",
            TokenExpired => "token_expired",
            TokenWrongAudience => "token_wrong_audience",
            TokenSignature => "token_signature",
            TokenAlgorithm => "token_algorithm",
            ClientCertificateMissing => "client_certificate_missing",
            ClientCertificateUntrusted => "client_certificate_untrusted",
            ClientCertificateExpired => "client_certificate_expired",
            ClientCertificateRevoked => "client_certificate_revoked",
            ClientCertificateCrlExpired => "client_certificate_crl_expired",
            ClientCertificateNotPinned => "client_certificate_not_pinned",
            ClientCertificateInvalid => "client_certificate_invalid",
            InsufficientScope => "insufficient_scope",
            TooManyFailures => "too_many_failures",
            RateLimited => "rate_limited",
            JwksUnavailable => "jwks_unavailable",
            IntrospectionUnavailable => "introspection_unavailable",
            AuthTimeout => "auth_timeout",
            AuditUnavailable => "audit_unavailable",
            GuardrailHeld => "guardrail_held",
            CircuitOpen => "circuit_open",
            NoEndpoint => "no_endpoint",
            UpstreamConnect => "upstream_connect",
            UpstreamProtocol => "upstream_protocol",
            UpstreamTooLarge => "upstream_too_large",
            UpstreamTimeout => "upstream_timeout",
            UpstreamCredential { .. } => "upstream_credential",
            Internal => "internal",
        }
    }

    /// Whether the upstream retry loop may try the request again (an
    /// idempotent one, within its budget and deadline: see
    /// `upstream::resilience`): the connection failed, or the exchange on
    /// it broke. A timeout is not retried.
    pub const fn retryable(self) -> bool {
        matches!(self, Reason::UpstreamConnect | Reason::UpstreamProtocol)
    }

    /// Whether the failure counts against a balanced upstream's endpoint:
    /// it could not be reached, broke the connection or did not answer
    /// within the upstream's timeout. (The request's own deadline, a
    /// credential problem or an oversized answer are not the endpoint's
    /// health.)
    pub const fn counts_against_endpoint(self) -> bool {
        matches!(
            self,
            Reason::UpstreamConnect | Reason::UpstreamProtocol | Reason::UpstreamTimeout
        )
    }

    /// Whether a client certificate was refused.
    pub const fn is_client_certificate(self) -> bool {
        use Reason::*;
        matches!(
            self,
            ClientCertificateMissing
                | ClientCertificateUntrusted
                | ClientCertificateExpired
                | ClientCertificateRevoked
                | ClientCertificateCrlExpired
                | ClientCertificateNotPinned
                | ClientCertificateInvalid
        )
    }

    /// Whether a credential the client sent (or had to send) was refused:
    /// a bearer token, the Okta hook's secret or a client certificate.
    /// These count against the client's failure budget (brute-force
    /// damping); the damper's own 429 ([`Reason::TooManyFailures`]) does
    /// not.
    pub const fn is_auth_failure(self) -> bool {
        use Reason::*;
        self.is_client_certificate()
            || matches!(
                self,
                MissingToken
                    | MalformedAuthorization
                    | InvalidToken
                    | NotChecked
                    | TokenExpired
                    | TokenWrongAudience
                    | TokenSignature
                    | TokenAlgorithm
                    | OktaHookSecret
            )
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The HTTP status of an error, by who caused it and why; `None` where
/// the status is the SCIM error's own: a client error built from a
/// [`crate::scim::error::ScimError`] keeps the status RFC 7644 §3.12 gives
/// its `scimType` (or the one its maker chose: 404, 408, 413, 421, ...).
///
/// The one place that says which reason answers which status; the
/// constructors of [`super::GatewayError`] build their SCIM error with it.
/// Every reason sits in one of the client arms, so a new reason must be
/// placed here before it compiles.
pub(crate) const fn status_of(source: ErrorSource, reason: Reason) -> Option<u16> {
    use ErrorSource::{Client, Gateway, Upstream};
    use Reason::*;
    match (source, reason) {
        // The request's own mistakes: the SCIM error says.
        (
            Client,
            BadRequest | UnknownTenant | NotFound | InvalidPath | BadHost | NoHost | Misdirected
            | PreconditionFailed | EmulationConflict | EmulationTooMany | Schema | Dialect | Scim11
            | UnknownEndpoint | MethodNotAllowed | OktaHookSecret | RequestTimeout
            | PayloadTooLarge | BodyRead | GuardrailDropped,
        ) => None,
        // RFC 6750 §3.1: no (valid) credential.
        (
            Client,
            MissingToken
            | MalformedAuthorization
            | InvalidToken
            | NotChecked
            | TokenExpired
            | TokenWrongAudience
            | TokenSignature
            | TokenAlgorithm,
        ) => Some(401),
        // A credential that is not enough: a refused client certificate,
        // or a token whose grants do not cover the request.
        (
            Client,
            ClientCertificateMissing
            | ClientCertificateUntrusted
            | ClientCertificateExpired
            | ClientCertificateRevoked
            | ClientCertificateCrlExpired
            | ClientCertificateNotPinned
            | ClientCertificateInvalid
            | InsufficientScope,
        ) => Some(403),
        (Client, TooManyFailures | RateLimited) => Some(429),
        // What the gateway depends on is down: try again later.
        (
            Upstream,
            JwksUnavailable
            | IntrospectionUnavailable
            | AuthTimeout
            | AuditUnavailable
            | CircuitOpen
            | NoEndpoint
            // Held, not failed: 503 with Retry-After is what Entra ID and
            // Okta retry later (a 4xx they would record as a failure).
            | GuardrailHeld,
        ) => Some(503),
        (
            Upstream,
            UpstreamConnect
            | UpstreamProtocol
            | UpstreamTooLarge
            | UpstreamCredential { timed_out: false },
        ) => Some(502),
        (Upstream, UpstreamTimeout | RequestTimeout | UpstreamCredential { timed_out: true }) => {
            Some(504)
        }
        (Gateway, Internal) => Some(500),
        // No constructor pairs these: were one made, it is the gateway's
        // fault.
        (
            Client,
            JwksUnavailable
            | IntrospectionUnavailable
            | AuthTimeout
            | AuditUnavailable
            | GuardrailHeld
            | CircuitOpen
            | NoEndpoint
            | UpstreamConnect
            | UpstreamProtocol
            | UpstreamTooLarge
            | UpstreamTimeout
            | UpstreamCredential { .. }
            | Internal,
        )
        | (Upstream | Gateway, _) => Some(500),
    }
}

#[cfg(test)]
mod tests;
