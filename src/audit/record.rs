//! The audit record: what one line of the audit log says about one request
//! that changed (or tried to change) identity data, or one failed
//! authentication. Field names are a stable format (docs/audit.md); add
//! fields, never rename them.
use crate::authn::Principal;
use crate::scim::datetime::DateTime;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::net::IpAddr;
use std::time::Duration;

/// One audited event. The journal adds `seq` and `prev` in front of these
/// fields when it writes the line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When the request completed: RFC 3339, UTC, milliseconds
    /// (`2026-11-23T12:35:01.123Z`).
    pub time: String,
    /// `write` or `auth_failure`.
    pub kind: AuditKind,
    /// The tenant id, once resolved (`null` when the request named no
    /// known tenant).
    pub tenant: Option<String>,
    /// Who made the request; `null` when authentication failed before a
    /// credential was identified.
    pub principal: Option<AuditPrincipal>,
    /// The client's address as the gateway saw it.
    pub client_ip: String,
    /// The gateway's request id (also in the access log and the response).
    pub request_id: String,
    /// The HTTP method (`POST`, `PUT`, `PATCH`, `DELETE`).
    pub method: String,
    /// The SCIM resource type (`User`, `Group`, ...), or the endpoint
    /// segment (`Bulk`) when no single resource type applies.
    pub resource_type: Option<String>,
    /// The resource id: from the URL, or the id the upstream assigned on
    /// create.
    pub resource_id: Option<String>,
    /// The names of the attributes the request changed (see
    /// [`super::changed_attributes`]); never their values.
    pub attributes: Vec<String>,
    /// Values of changed attributes on the tenant's allow-list only (see
    /// [`super::allowed_values`]); absent when none are allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Map<String, Value>>,
    /// What the gateway answered, and what the upstream answered.
    pub outcome: AuditOutcome,
    /// Time from request head to response, in milliseconds (microsecond
    /// precision).
    pub latency_ms: f64,
    /// What the deprovisioning guardrail did (docs/safety.md); absent
    /// when it did nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrail: Option<GuardrailNote>,
}

/// The guardrail's part in a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardrailNote {
    /// `held` (not sent upstream), `would_hold` (dry run: sent),
    /// `released` or `dropped` (an operator's decision, in a record of
    /// kind `operator`), `replay` (the released operation sent upstream)
    /// or `after_release` (the IdP sending again an operation already
    /// released: sent, not counted).
    pub action: String,
    /// The held operation's id (`scim-gateway guardrail list`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The operator who decided (as they named themselves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// The kind of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A request that changed or tried to change identity data, whatever
    /// its outcome.
    Write,
    /// A failed authentication (any method).
    AuthFailure,
    /// An identity change the IdP reported through an event hook (one
    /// record per reported event; `request_id` is the hook delivery's).
    IdpEvent,
    /// An operator's decision on a held operation (`guardrail` says
    /// which); `principal` is null, `request_id` the admin call's.
    Operator,
}

/// The authenticated party. `credential` is the NAME of the credential
/// (a static token's name, an OAuth client id), never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPrincipal {
    /// `static_token`, `jwt`, `introspection`, `client_certificate`.
    pub auth_method: String,
    /// The credential's name.
    pub credential: String,
    /// The subject (token name, `sub` claim, certificate subject).
    pub subject: String,
}

/// The result of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditOutcome {
    /// The status the gateway sent to the client.
    pub status: u16,
    /// The upstream's status, when the upstream was called.
    pub upstream_status: Option<u16>,
    /// A stable error label (for example `invalid_token`), never a secret
    /// nor client input; `null` on success.
    #[serde(default)]
    pub error: Option<String>,
    /// A create the upstream did not make (docs/safety.md, "Idempotent
    /// creates"): `existing` (refused as a duplicate, answered with the
    /// resource that exists) or `replayed` (the same create again within
    /// the replay window, answered with the resource the first one made);
    /// absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<String>,
}

// === impl AuditRecord ===

impl AuditRecord {
    /// A `write` record timed now, with empty optional parts; fill in the
    /// rest with struct update syntax or field assignment.
    pub fn write(request_id: &str, method: &str, client_ip: IpAddr) -> AuditRecord {
        AuditRecord {
            time: DateTime::now().to_rfc3339(),
            kind: AuditKind::Write,
            tenant: None,
            principal: None,
            client_ip: client_ip.to_string(),
            request_id: request_id.to_string(),
            method: method.to_string(),
            resource_type: None,
            resource_id: None,
            attributes: Vec::new(),
            values: None,
            outcome: AuditOutcome {
                status: 0,
                upstream_status: None,
                error: None,
                create: None,
            },
            latency_ms: 0.0,
            guardrail: None,
        }
    }

    /// An `auth_failure` record timed now. `reason` is a stable label
    /// (the authenticator's reason), never the presented credential.
    pub fn auth_failure(
        request_id: &str,
        method: &str,
        client_ip: IpAddr,
        tenant: Option<&str>,
        status: u16,
        reason: &str,
    ) -> AuditRecord {
        let mut record = AuditRecord::write(request_id, method, client_ip);
        record.kind = AuditKind::AuthFailure;
        record.tenant = tenant.map(str::to_string);
        record.outcome.status = status;
        record.outcome.error = Some(reason.to_string());
        record
    }

    /// Sets `latency_ms` from a duration (microsecond precision).
    pub fn set_latency(&mut self, latency: Duration) {
        self.latency_ms = (latency.as_micros() as f64) / 1000.0;
    }
}

// === impl AuditPrincipal ===

impl From<&Principal> for AuditPrincipal {
    fn from(p: &Principal) -> Self {
        AuditPrincipal {
            auth_method: p.method.as_str().to_string(),
            credential: p.credential.clone(),
            subject: p.subject.clone(),
        }
    }
}
