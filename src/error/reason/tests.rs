//! The labels, the predicates and the status match of [`super::Reason`].
use super::*;
use std::collections::HashSet;

/// Today's labels, as metrics, access logs and audit records carry
/// them: a rename is a breaking change for dashboards and alerts.
const LABELS: [&str; 51] = [
    "bad_request",
    "unknown_tenant",
    "not_found",
    "invalid_path",
    "bad_host",
    "no_host",
    "misdirected",
    "precondition_failed",
    "emulation_conflict",
    "emulation_too_many",
    "schema",
    "dialect",
    "scim11",
    "unknown_endpoint",
    "method_not_allowed",
    "okta_hook_secret",
    "request_timeout",
    "payload_too_large",
    "body_read",
    "guardrail_dropped",
    "missing_token",
    "malformed_authorization",
    "invalid_token",
    "not_checked",
    "token_expired",
    "token_wrong_audience",
    "token_signature",
    "token_algorithm",
    "client_certificate_missing",
    "client_certificate_untrusted",
    "client_certificate_expired",
    "client_certificate_revoked",
    "client_certificate_crl_expired",
    "client_certificate_not_pinned",
    "client_certificate_invalid",
    "insufficient_scope",
    "too_many_failures",
    "rate_limited",
    "jwks_unavailable",
    "introspection_unavailable",
    "auth_timeout",
    "audit_unavailable",
    "guardrail_held",
    "circuit_open",
    "no_endpoint",
    "upstream_connect",
    "upstream_protocol",
    "upstream_too_large",
    "upstream_timeout",
    "upstream_credential",
    "internal",
];

#[test]
fn every_reason_has_its_label_and_no_two_share_one() {
    let labels: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(labels, LABELS);
    assert_eq!(labels.iter().collect::<HashSet<_>>().len(), labels.len());
    let timed_out = Reason::UpstreamCredential { timed_out: true };
    assert_eq!(timed_out.as_str(), "upstream_credential");
    assert_eq!(timed_out.to_string(), "upstream_credential");
    for label in labels {
        assert!(
            label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{label}"
        );
    }
}

#[test]
fn only_a_broken_exchange_is_retried() {
    let retried: Vec<_> = Reason::ALL.into_iter().filter(|r| r.retryable()).collect();
    assert_eq!(retried, [Reason::UpstreamConnect, Reason::UpstreamProtocol]);
    let against: Vec<_> = Reason::ALL
        .into_iter()
        .filter(|r| r.counts_against_endpoint())
        .collect();
    assert_eq!(
        against,
        [
            Reason::UpstreamConnect,
            Reason::UpstreamProtocol,
            Reason::UpstreamTimeout
        ]
    );
    assert!(!Reason::RequestTimeout.counts_against_endpoint());
    assert!(!Reason::UpstreamCredential { timed_out: true }.counts_against_endpoint());
}

#[test]
fn auth_failures_are_the_refused_credentials() {
    for r in Reason::ALL {
        assert_eq!(
            r.is_client_certificate(),
            r.as_str().starts_with("client_certificate"),
            "{r}"
        );
        // A refused credential is a 401, or a refused certificate's
        // 403; the Okta hook's secret is refused with its SCIM 401.
        let refused = status_of(ErrorSource::Client, r) == Some(401)
            || r.is_client_certificate()
            || r == Reason::OktaHookSecret;
        assert_eq!(r.is_auth_failure(), refused, "{r}");
    }
    assert!(!Reason::TooManyFailures.is_auth_failure());
    assert!(!Reason::InsufficientScope.is_auth_failure());
}

#[test]
fn the_status_is_decided_by_who_and_why() {
    use ErrorSource::{Client, Gateway, Upstream};
    let cases = [
        (Client, Reason::BadRequest, None),
        (Client, Reason::RequestTimeout, None),
        (Client, Reason::OktaHookSecret, None),
        (Client, Reason::MissingToken, Some(401)),
        (Client, Reason::TokenSignature, Some(401)),
        (Client, Reason::ClientCertificateRevoked, Some(403)),
        (Client, Reason::InsufficientScope, Some(403)),
        (Client, Reason::TooManyFailures, Some(429)),
        (Client, Reason::RateLimited, Some(429)),
        (Upstream, Reason::CircuitOpen, Some(503)),
        (Upstream, Reason::AuditUnavailable, Some(503)),
        (Upstream, Reason::GuardrailHeld, Some(503)),
        (Client, Reason::GuardrailDropped, None),
        (Upstream, Reason::NoEndpoint, Some(503)),
        (Upstream, Reason::UpstreamConnect, Some(502)),
        (Upstream, Reason::UpstreamTooLarge, Some(502)),
        (
            Upstream,
            Reason::UpstreamCredential { timed_out: false },
            Some(502),
        ),
        (
            Upstream,
            Reason::UpstreamCredential { timed_out: true },
            Some(504),
        ),
        (Upstream, Reason::UpstreamTimeout, Some(504)),
        (Upstream, Reason::RequestTimeout, Some(504)),
        (Gateway, Reason::Internal, Some(500)),
        // Pairs no constructor makes.
        (Gateway, Reason::MissingToken, Some(500)),
        (Client, Reason::UpstreamConnect, Some(500)),
    ];
    for (source, reason, status) in cases {
        assert_eq!(status_of(source, reason), status, "{source:?} {reason}");
    }
}
