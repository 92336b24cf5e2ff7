//! The audit record: what one line of the audit log says about one request
//! that changed (or tried to change) identity data, or one failed
//! authentication. Field names are a stable format (docs/audit.md); add
//! fields, never rename them.
use super::AttributeNames;
use crate::authn::Principal;
use crate::scim::datetime::DateTime;
use crate::scim::json_scan::write_str;
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
    pub attributes: AttributeNames,
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
            client_ip: ip_text(client_ip),
            request_id: request_id.to_string(),
            method: method.to_string(),
            resource_type: None,
            resource_id: None,
            attributes: AttributeNames::new(),
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
        self.latency_ms = latency_ms(latency);
    }

    /// The record's JSON object, byte for byte what `serde_json::to_vec`
    /// writes for it (tested), written field by field ([`RecordRef`]).
    pub(crate) fn to_json(&self) -> Vec<u8> {
        self.borrowed().to_json()
    }

    /// The record's fields, borrowed.
    pub(crate) fn borrowed(&self) -> RecordRef<'_> {
        RecordRef {
            time: &self.time,
            kind: self.kind,
            tenant: self.tenant.as_deref(),
            principal: self.principal.as_ref().map(|p| {
                (
                    p.auth_method.as_str(),
                    p.credential.as_str(),
                    p.subject.as_str(),
                )
            }),
            client_ip: ClientIp::Text(&self.client_ip),
            request_id: &self.request_id,
            method: &self.method,
            resource_type: self.resource_type.as_deref(),
            resource_id: self.resource_id.as_deref(),
            attributes: &self.attributes,
            values: self.values.as_ref(),
            status: self.outcome.status,
            upstream_status: self.outcome.upstream_status,
            error: self.outcome.error.as_deref(),
            create: self.outcome.create.as_deref(),
            latency_ms: self.latency_ms,
            guardrail: self.guardrail.as_ref(),
        }
    }
}

/// A duration as a record's `latency_ms` (microsecond precision).
pub(crate) fn latency_ms(latency: Duration) -> f64 {
    (latency.as_micros() as f64) / 1000.0
}

/// A record's fields borrowed from wherever they are kept: what
/// [`AuditRecord::to_json`] writes, for a caller that has the parts (the
/// request path's own strings) and no use for an owned record (one
/// allocation for the JSON instead of one per field).
#[derive(Debug, Clone)]
pub(crate) struct RecordRef<'a> {
    pub time: &'a str,
    pub kind: AuditKind,
    pub tenant: Option<&'a str>,
    /// `auth_method`, `credential`, `subject`.
    pub principal: Option<(&'a str, &'a str, &'a str)>,
    pub client_ip: ClientIp<'a>,
    pub request_id: &'a str,
    pub method: &'a str,
    pub resource_type: Option<&'a str>,
    pub resource_id: Option<&'a str>,
    pub attributes: &'a AttributeNames,
    pub values: Option<&'a Map<String, Value>>,
    pub status: u16,
    pub upstream_status: Option<u16>,
    pub error: Option<&'a str>,
    pub create: Option<&'a str>,
    pub latency_ms: f64,
    pub guardrail: Option<&'a GuardrailNote>,
}

/// The client's address: as a record keeps it, or the address itself
/// (written as `Display` writes it, as [`AuditRecord::write`] keeps it).
#[derive(Debug, Clone, Copy)]
pub(crate) enum ClientIp<'a> {
    Text(&'a str),
    Addr(IpAddr),
}

impl RecordRef<'_> {
    /// The JSON object, byte for byte what `serde_json::to_vec` writes for
    /// the same [`AuditRecord`] (tested), written field by field: the
    /// journal hashes and stores these bytes, and most of serde's cost
    /// here was escaping strings that need no escapes, one byte at a time.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let names = self.attributes.text_len() + 3 * self.attributes.len();
        let mut out = Vec::with_capacity(448 + names);
        out.extend_from_slice(b"{\"time\":");
        write_str(&mut out, self.time);
        out.extend_from_slice(b",\"kind\":\"");
        out.extend_from_slice(self.kind.as_str().as_bytes());
        out.extend_from_slice(b"\",\"tenant\":");
        write_opt_str(&mut out, self.tenant);
        out.extend_from_slice(b",\"principal\":");
        match self.principal {
            None => out.extend_from_slice(b"null"),
            Some((auth_method, credential, subject)) => {
                out.extend_from_slice(b"{\"auth_method\":");
                write_str(&mut out, auth_method);
                out.extend_from_slice(b",\"credential\":");
                write_str(&mut out, credential);
                out.extend_from_slice(b",\"subject\":");
                write_str(&mut out, subject);
                out.push(b'}');
            }
        }
        out.extend_from_slice(b",\"client_ip\":");
        match self.client_ip {
            ClientIp::Text(ip) => write_str(&mut out, ip),
            ClientIp::Addr(IpAddr::V4(v4)) => {
                out.push(b'"');
                push_v4(&mut out, v4);
                out.push(b'"');
            }
            ClientIp::Addr(ip) => write_str(&mut out, &ip_text(ip)),
        }
        out.extend_from_slice(b",\"request_id\":");
        write_str(&mut out, self.request_id);
        out.extend_from_slice(b",\"method\":");
        write_str(&mut out, self.method);
        out.extend_from_slice(b",\"resource_type\":");
        write_opt_str(&mut out, self.resource_type);
        out.extend_from_slice(b",\"resource_id\":");
        write_opt_str(&mut out, self.resource_id);
        out.extend_from_slice(b",\"attributes\":[");
        for (i, name) in self.attributes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(&mut out, name);
        }
        out.push(b']');
        if let Some(values) = self.values {
            out.extend_from_slice(b",\"values\":");
            write_json(&mut out, values);
        }
        out.extend_from_slice(b",\"outcome\":{\"status\":");
        write_u64(&mut out, u64::from(self.status));
        out.extend_from_slice(b",\"upstream_status\":");
        match self.upstream_status {
            Some(status) => write_u64(&mut out, u64::from(status)),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"error\":");
        write_opt_str(&mut out, self.error);
        if let Some(create) = self.create {
            out.extend_from_slice(b",\"create\":");
            write_str(&mut out, create);
        }
        out.extend_from_slice(b"},\"latency_ms\":");
        write_json(&mut out, &self.latency_ms);
        if let Some(g) = self.guardrail {
            out.extend_from_slice(b",\"guardrail\":{\"action\":");
            write_str(&mut out, &g.action);
            if let Some(id) = &g.id {
                out.extend_from_slice(b",\"id\":");
                write_str(&mut out, id);
            }
            if let Some(by) = &g.by {
                out.extend_from_slice(b",\"by\":");
                write_str(&mut out, by);
            }
            out.push(b'}');
        }
        out.push(b'}');
        out
    }
}

// === impl AuditKind ===

impl AuditKind {
    /// Its name in a record (serde's `snake_case`).
    fn as_str(self) -> &'static str {
        match self {
            AuditKind::Write => "write",
            AuditKind::AuthFailure => "auth_failure",
            AuditKind::IdpEvent => "idp_event",
            AuditKind::Operator => "operator",
        }
    }
}

/// An address as `Display` writes it; an IPv4 one digit by digit (a
/// record per write carries one; the formatter cost ten times as much).
fn ip_text(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut out = Vec::with_capacity(15);
    push_v4(&mut out, v4);
    String::from_utf8(out).unwrap_or_default()
}

/// An IPv4 address as `Display` writes it, digit by digit.
fn push_v4(out: &mut Vec<u8>, v4: std::net::Ipv4Addr) {
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        if octet >= 100 {
            out.push(b'0' + octet / 100);
        }
        if octet >= 10 {
            out.push(b'0' + octet / 10 % 10);
        }
        out.push(b'0' + octet % 10);
    }
}

/// A string, or `null`.
fn write_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// A value as serde_json writes it (numbers, the allow-listed values).
fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing into a Vec cannot fail, nor can these values' serialization
    // (string keys, finite or not floats).
    let _ = serde_json::to_writer(&mut *out, value);
}

/// An unsigned integer in decimal.
fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9:._-]{0,12}",
            any::<String>(),
            Just("a\"b\\c\n\u{1}\u{7f}é".to_string()),
        ]
    }

    fn kind() -> impl Strategy<Value = AuditKind> {
        prop_oneof![
            Just(AuditKind::Write),
            Just(AuditKind::AuthFailure),
            Just(AuditKind::IdpEvent),
            Just(AuditKind::Operator),
        ]
    }

    fn values() -> impl Strategy<Value = Option<Map<String, Value>>> {
        prop::option::of(
            prop::collection::vec((text(), text()), 0..3).prop_map(|kv| {
                kv.into_iter()
                    .map(|(k, v)| (k, serde_json::json!({ "v": v, "n": [1, 2.5, null] })))
                    .collect()
            }),
        )
    }

    prop_compose! {
        fn record()(
            kind in kind(),
            strings in prop::collection::vec(text(), 6),
            tenant in prop::option::of(text()),
            principal in prop::option::of((text(), text(), text())),
            resource in (prop::option::of(text()), prop::option::of(text())),
            attributes in prop::collection::vec(text(), 0..20),
            values in values(),
            outcome in (any::<u16>(), prop::option::of(any::<u16>()), prop::option::of(text()), prop::option::of(text())),
            latency in prop_oneof![any::<f64>(), Just(0.306), Just(f64::NAN), Just(1e300)],
            guardrail in prop::option::of((text(), prop::option::of(text()), prop::option::of(text()))),
        ) -> AuditRecord {
            AuditRecord {
                time: strings[0].clone(),
                kind,
                tenant,
                principal: principal.map(|(auth_method, credential, subject)| AuditPrincipal {
                    auth_method,
                    credential,
                    subject,
                }),
                client_ip: strings[1].clone(),
                request_id: strings[2].clone(),
                method: strings[3].clone(),
                resource_type: resource.0,
                resource_id: resource.1,
                attributes: attributes.into(),
                values,
                outcome: AuditOutcome {
                    status: outcome.0,
                    upstream_status: outcome.1,
                    error: outcome.2,
                    create: outcome.3,
                },
                latency_ms: latency,
                guardrail: guardrail.map(|(action, id, by)| GuardrailNote { action, id, by }),
            }
        }
    }

    #[test]
    fn a_usual_record_is_written_as_serde_json_writes_it() {
        let mut record = AuditRecord::write("a62d3bf6", "POST", [127, 0, 0, 1].into());
        record.tenant = Some("audited".into());
        record.attributes = vec!["userName", "urn:x:User:department"].into();
        record.set_latency(Duration::from_micros(306));
        assert_eq!(record.to_json(), serde_json::to_vec(&record).unwrap());
    }

    proptest! {
        #[test]
        fn addresses_are_written_as_display_writes_them(v4 in any::<[u8; 4]>(), v6 in any::<[u8; 16]>()) {
            for ip in [IpAddr::from(v4), IpAddr::from(v6)] {
                prop_assert_eq!(ip_text(ip), ip.to_string());
            }
        }

        #[test]
        fn records_are_written_as_serde_json_writes_them(record in record()) {
            prop_assert_eq!(
                String::from_utf8(record.to_json()).unwrap(),
                String::from_utf8(serde_json::to_vec(&record).unwrap()).unwrap()
            );
        }

        /// A record borrowed with the client's address itself (as the
        /// request path writes one) is the record that keeps its text.
        #[test]
        fn an_address_is_written_as_the_record_keeps_it(v4 in any::<[u8; 4]>(), v6 in any::<[u8; 16]>()) {
            for ip in [IpAddr::from(v4), IpAddr::from(v6)] {
                let record = AuditRecord::write("r", "PUT", ip);
                let mut borrowed = record.borrowed();
                borrowed.client_ip = ClientIp::Addr(ip);
                prop_assert_eq!(borrowed.to_json(), record.to_json());
            }
        }
    }
}
