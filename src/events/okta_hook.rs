//! Inbound Okta Event Hooks: turns Okta's lifecycle events into CloudEvents
//! for the outbox, so that changes made in Okta itself (an admin deactivating
//! a user in the Okta console) reach the same sinks as the writes proxied
//! through the gateway.
//!
//! Owns the request handling of the per-tenant hook endpoint, as pure
//! functions: [`precheck`] decides from the method and headers alone (the
//! secret), [`handle`] takes the method, headers and (already bounded) body
//! and returns the status, the JSON answer and the events to append. The
//! caller wires the route, checks the secret before anything else (damping
//! wrong ones), then rate limits, bounds the body read, and appends
//! [`HookOutcome::events`] to the outbox before answering.
//!
//! Okta's contract (developer.okta.com, "Event hooks"):
//! - one-time verification: `GET` with `x-okta-verification-challenge: <v>`,
//!   answered `200 {"verification": "<v>"}`;
//! - deliveries: `POST`, JSON `{"eventType": "com.okta.event_hook", ...,
//!   "data": {"events": [<System Log event>, ...]}}`, authenticated by the
//!   header the hook was registered with ("Authentication field" and
//!   "Authentication secret"); Okta expects a 2xx within 3 seconds and retries
//!   once otherwise, so a delivery may arrive twice: each event keeps Okta's
//!   `uuid` as its CloudEvents `id` for deduplication downstream.
//!
//! Event vocabulary (see [`cloud_event_type`]): `okta.*` types that mirror the
//! gateway's own `scim.*` names (`okta.user.deactivated` beside
//! `scim.user.deactivated`), with `source` = `/tenants/<tenant>/okta`. They are
//! not reused as `scim.*` because the data differ: a `scim.*` event carries the
//! SCIM resource, an Okta event only who did what to which Okta id.
//!
//! Depends on: http, serde_json, subtle, sha2, and the SCIM error type.
use http::{HeaderMap, HeaderName, Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::scim::error::ScimError;
use crate::secret::Secret;

#[cfg(test)]
#[path = "okta_hook_tests.rs"]
mod tests;

/// The header of Okta's one-time verification request.
pub(crate) const VERIFICATION_HEADER: &str = "x-okta-verification-challenge";
/// Default for [`OktaHookConfig::max_body_bytes`]: Okta batches up to a few
/// dozen events of a few KiB each into one delivery.
pub(crate) const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// `[tenants.okta_hook]` as written in the config file.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OktaHookConfig {
    /// The header Okta sends the secret in: the hook's "Authentication field"
    /// in the Okta admin console (default `authorization`).
    #[serde(default)]
    pub auth_header: Option<String>,
    /// Environment variable holding the "Authentication secret".
    #[serde(default)]
    pub secret_env: Option<String>,
    /// File holding the "Authentication secret" (trailing newline ignored).
    #[serde(default)]
    pub secret_file: Option<String>,
    /// Larger deliveries are refused with 413 (default 1 MiB).
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
}

/// The compiled hook settings of one tenant.
#[derive(Debug, Clone)]
pub struct OktaHookSettings {
    auth_header: HeaderName,
    /// SHA-256 of the secret: compared in constant time with the SHA-256 of
    /// what arrives, so neither the value nor its length leaks by timing.
    secret_digest: [u8; 32],
    max_body_bytes: usize,
}

/// What to answer and what to append to the outbox.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HookOutcome {
    pub status: StatusCode,
    /// The JSON answer (a SCIM error body when `status` is not 2xx).
    pub body: Value,
    /// CloudEvents 1.0 (JSON) to append to the outbox, in Okta's order.
    pub events: Vec<Value>,
    /// Okta events not turned into CloudEvents: unknown types, failed outcomes,
    /// no target, duplicates within the delivery. Counted, not errors.
    pub skipped: usize,
}

// === impl OktaHookSettings ===

impl OktaHookSettings {
    /// `auth_header` is a header name (`None`: `authorization`); the secret
    /// comes from the config compiler (`secret_env` / `secret_file`).
    pub fn new(
        auth_header: Option<&str>,
        secret: &Secret,
        max_body_bytes: Option<usize>,
    ) -> Result<OktaHookSettings, String> {
        let name = auth_header.unwrap_or("authorization");
        let auth_header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("auth_header: {name:?} is not a valid HTTP header name"))?;
        if secret.expose().is_empty() {
            return Err("the hook secret is empty".into());
        }
        let max_body_bytes = max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
        if max_body_bytes == 0 {
            return Err("max_body_bytes: must be at least 1".into());
        }
        Ok(OktaHookSettings {
            auth_header,
            secret_digest: Sha256::digest(secret.expose().as_bytes()).into(),
            max_body_bytes,
        })
    }

    /// The body limit the caller should apply while reading.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Whether `headers` carry exactly one copy of the secret header with the
    /// right value.
    fn authenticated(&self, headers: &HeaderMap) -> bool {
        let mut values = headers.get_all(&self.auth_header).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return false;
        };
        let got: [u8; 32] = Sha256::digest(value.as_bytes()).into();
        got.ct_eq(&self.secret_digest).into()
    }
}

// === impl HookOutcome ===

impl HookOutcome {
    fn error(e: ScimError) -> HookOutcome {
        HookOutcome {
            status: StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
            body: e.to_json(),
            events: Vec::new(),
            skipped: 0,
        }
    }
}

/// What the method and headers alone decide, before the body is read or
/// a rate-limit token spent: `Err` for a method the hook does not take
/// (405) and for a missing or wrong secret (401, the one failure the
/// caller damps and audits as a failed authentication). Reads no body.
///
/// The verification `GET` needs no secret (Okta's docs do not promise the
/// authentication header on it, and echoing the challenge discloses nothing),
/// but a wrong secret, when one is sent, is refused. Every `POST` must carry it.
pub(crate) fn precheck(
    settings: &OktaHookSettings,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(), ScimError> {
    let secret_needed = match *method {
        Method::GET => headers.contains_key(&settings.auth_header),
        Method::POST => true,
        _ => {
            return Err(ScimError::method_not_allowed(format!(
                "the Okta event hook accepts GET (verification) and POST (deliveries), not {method}"
            )))
        }
    };
    if secret_needed && !settings.authenticated(headers) {
        return Err(unauthorized(settings));
    }
    Ok(())
}

/// Handles one request to a tenant's Okta hook endpoint ([`precheck`]
/// first, then the verification or the delivery).
pub(crate) fn handle(
    settings: &OktaHookSettings,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
    tenant: &str,
) -> HookOutcome {
    if let Err(refused) = precheck(settings, method, headers) {
        return HookOutcome::error(refused);
    }
    if *method == Method::GET {
        return verify(headers);
    }
    if body.len() > settings.max_body_bytes {
        return HookOutcome::error(ScimError::payload_too_large(format!(
            "the Okta event hook delivery is {} bytes, more than the limit of {}",
            body.len(),
            settings.max_body_bytes
        )));
    }
    let delivery: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return HookOutcome::error(ScimError::invalid_syntax(format!(
                "the Okta event hook delivery is not JSON (line {}, column {})",
                e.line(),
                e.column()
            )))
        }
    };
    let Some(okta_events) = delivery
        .get("data")
        .and_then(|d| d.get("events"))
        .and_then(Value::as_array)
    else {
        return HookOutcome::error(ScimError::invalid_syntax(
            "the Okta event hook delivery has no data.events array",
        ));
    };
    let mut events = Vec::with_capacity(okta_events.len());
    let mut skipped = 0;
    for e in okta_events {
        match to_cloud_event(e, tenant) {
            Some(ce) if !events.iter().any(|seen: &Value| seen["id"] == ce["id"]) => {
                events.push(ce)
            }
            _ => skipped += 1,
        }
    }
    HookOutcome {
        status: StatusCode::OK,
        body: json!({
            "received": okta_events.len(),
            "accepted": events.len(),
            "skipped": skipped,
        }),
        events,
        skipped,
    }
}

fn verify(headers: &HeaderMap) -> HookOutcome {
    let Some(challenge) = headers
        .get(VERIFICATION_HEADER)
        .and_then(|v| v.to_str().ok())
    else {
        return HookOutcome::error(ScimError::bad_request(format!(
            "a GET to the Okta event hook must carry the {VERIFICATION_HEADER} header"
        )));
    };
    HookOutcome {
        status: StatusCode::OK,
        body: json!({ "verification": challenge }),
        events: Vec::new(),
        skipped: 0,
    }
}

fn unauthorized(settings: &OktaHookSettings) -> ScimError {
    ScimError::new(
        401,
        None,
        format!(
            "the Okta event hook delivery lacks the right secret in the {} header",
            settings.auth_header
        ),
    )
}

/// What an Okta event type becomes, and which target is its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mapping {
    cloud_type: &'static str,
    subject: TargetKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TargetKind {
    User,
    Group,
}

/// The Okta event types the hook understands (System Log event types that Okta
/// lets event hooks subscribe to), and the CloudEvents type each becomes.
#[cfg(test)]
pub(crate) fn cloud_event_type(okta_type: &str) -> Option<&'static str> {
    mapping(okta_type).map(|m| m.cloud_type)
}

fn mapping(okta_type: &str) -> Option<Mapping> {
    use TargetKind::{Group, User};
    let (cloud_type, subject) = match okta_type {
        "user.lifecycle.create" => ("okta.user.created", User),
        "user.lifecycle.activate" | "user.lifecycle.reactivate" => ("okta.user.activated", User),
        "user.lifecycle.deactivate" => ("okta.user.deactivated", User),
        "user.lifecycle.suspend" => ("okta.user.suspended", User),
        "user.lifecycle.unsuspend" => ("okta.user.unsuspended", User),
        "user.lifecycle.delete.initiated" => ("okta.user.deleted", User),
        "user.account.update_profile" => ("okta.user.updated", User),
        "user.account.lock" => ("okta.user.locked", User),
        "user.account.unlock" => ("okta.user.unlocked", User),
        "group.user_membership.add" => ("okta.group.membership.added", Group),
        "group.user_membership.remove" => ("okta.group.membership.removed", Group),
        "group.lifecycle.create" => ("okta.group.created", Group),
        "group.lifecycle.delete" => ("okta.group.deleted", Group),
        "group.profile.update" => ("okta.group.updated", Group),
        _ => return None,
    };
    Some(Mapping {
        cloud_type,
        subject,
    })
}

/// One Okta System Log event → one CloudEvent, or `None` to skip it.
fn to_cloud_event(e: &Value, tenant: &str) -> Option<Value> {
    let okta_type = e.get("eventType")?.as_str()?;
    let m = mapping(okta_type)?;
    let id = e.get("uuid")?.as_str().filter(|s| !s.is_empty())?;
    // A failed attempt (e.g. a deactivation Okta refused) changed nothing.
    let result = e.pointer("/outcome/result").and_then(Value::as_str);
    if result.is_some_and(|r| !r.eq_ignore_ascii_case("SUCCESS")) {
        return None;
    }
    let targets = e.get("target").and_then(Value::as_array)?;
    let subject = find_target(targets, m.subject)?;
    let subject_id = subject.get("id")?.as_str()?;

    let mut data = Map::new();
    data.insert("eventType".into(), okta_type.into());
    copy(
        e,
        &mut data,
        &["displayMessage", "published", "actor", "outcome"],
    );
    data.insert("target".into(), Value::Array(targets.clone()));
    if m.subject == TargetKind::Group {
        if let Some(user) = find_target(targets, TargetKind::User) {
            data.insert(
                "userId".into(),
                user.get("id").cloned().unwrap_or(Value::Null),
            );
        }
    }
    let mut ce = Map::new();
    ce.insert("specversion".into(), "1.0".into());
    ce.insert("id".into(), id.into());
    ce.insert("source".into(), format!("/tenants/{tenant}/okta").into());
    ce.insert("type".into(), m.cloud_type.into());
    ce.insert("subject".into(), subject_id.into());
    if let Some(t) = e.get("published").and_then(Value::as_str) {
        ce.insert("time".into(), t.into());
    }
    ce.insert("datacontenttype".into(), "application/json".into());
    // The extension attribute the dispatcher routes by, as on `scim.*` events.
    ce.insert("tenant".into(), tenant.into());
    ce.insert("oktaeventtype".into(), okta_type.into());
    ce.insert("data".into(), Value::Object(data));
    Some(Value::Object(ce))
}

/// The first target of the kind (`User`, or `UserGroup` for groups).
fn find_target(targets: &[Value], kind: TargetKind) -> Option<&Value> {
    let want = match kind {
        TargetKind::User => "User",
        TargetKind::Group => "UserGroup",
    };
    targets.iter().find(|t| {
        t.get("type")
            .and_then(Value::as_str)
            .is_some_and(|ty| ty.eq_ignore_ascii_case(want))
    })
}

fn copy(from: &Value, to: &mut Map<String, Value>, keys: &[&str]) {
    for k in keys {
        if let Some(v) = from.get(*k) {
            to.insert((*k).to_string(), v.clone());
        }
    }
}
