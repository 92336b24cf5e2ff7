//! Idempotent creates (docs/safety.md, "Idempotent creates"): a tenant's
//! settings ([`CreateSettings`]), the fingerprint of a create
//! ([`fingerprint`]), the replay window that remembers which resource a
//! create made ([`window::ReplayWindow`]) and the filter that finds the
//! resource a refused create collided with ([`lookup_filter`]).
//!
//! The pipeline's stage (`stack::create_stage`) calls these around the
//! upstream call; this module holds no request, tenant or upstream.
//!
//! Imports: `tenant_id` (the window's keys), `sha2`, `serde_json`.
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::time::Duration;

pub(crate) mod window;

pub(crate) use window::{Claim, Fingerprint, ReplayWindow};

/// What a POST refused upstream with 409 `uniqueness` is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnConflict {
    /// The upstream's 409, unchanged (the default: today's behaviour).
    #[default]
    Error,
    /// The one existing resource with the request's identifying value,
    /// answered 200.
    Existing,
}

/// `[tenants.creates]`, compiled. The default (no section) changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateSettings {
    pub on_conflict: OnConflict,
    /// How long a create is remembered for replays; `None`: not at all.
    pub replay_window: Option<Duration>,
    /// The most creates remembered for the tenant (the oldest go first).
    pub replay_max_entries: usize,
}

/// `[tenants.creates] replay_max_entries` when not set.
pub(crate) const REPLAY_MAX_ENTRIES: usize = 10_000;

impl Default for CreateSettings {
    fn default() -> Self {
        CreateSettings {
            on_conflict: OnConflict::Error,
            replay_window: None,
            replay_max_entries: REPLAY_MAX_ENTRIES,
        }
    }
}

impl CreateSettings {
    /// Whether the stage has anything to do for the tenant's creates.
    pub fn is_on(&self) -> bool {
        self.on_conflict == OnConflict::Existing || self.replay_window.is_some()
    }
}

/// SHA-256 over the tenant, the resource type's endpoint and the body in
/// a canonical form: object members sorted by their lower-cased names
/// (SCIM attribute names ignore case, RFC 7643 §2.1), no whitespace, so
/// the same create sent twice in another layout has one fingerprint. The
/// parts are length-prefixed: no tenant and endpoint pair can be spelled
/// as another. `None` when the body is not JSON.
pub(crate) fn fingerprint(tenant: &str, endpoint: &str, body: &[u8]) -> Option<Fingerprint> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let mut hash = Sha256::new();
    for part in [tenant, endpoint] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    canonical(&value, &mut hash);
    Some(Fingerprint(hash.finalize().into()))
}

/// Feeds `value` in canonical form (see [`fingerprint`]).
fn canonical(value: &Value, hash: &mut Sha256) {
    match value {
        Value::Object(members) => {
            let mut sorted: Vec<(String, &Value)> = members
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            hash.update(b"{");
            for (key, v) in sorted {
                hash.update(json_string(&key).as_bytes());
                hash.update(b":");
                canonical(v, hash);
                hash.update(b",");
            }
            hash.update(b"}");
        }
        Value::Array(items) => {
            hash.update(b"[");
            for item in items {
                canonical(item, hash);
                hash.update(b",");
            }
            hash.update(b"]");
        }
        other => hash.update(other.to_string().as_bytes()),
    }
}

/// A SCIM filter string literal: JSON's escaping (RFC 7644 §3.4.2.2 takes
/// JSON strings), so quotes, backslashes and control characters in client
/// input stay inside the literal.
fn json_string(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// `attribute eq "value"` for the value of `attribute` in a create's body
/// (the tenant's view: the stage maps it like a client's filter), or
/// `None` when the body has no such string (names matched ignoring case).
pub(crate) fn lookup_filter(body: &Value, attribute: &str) -> Option<String> {
    let value = string_member(body, attribute)?;
    Some(format!("{attribute} eq {}", json_string(value)))
}

/// The string member `name` of a JSON object, its name matched ignoring
/// case; `None` for a missing, non-string or empty one.
pub(crate) fn string_member<'v>(body: &'v Value, name: &str) -> Option<&'v str> {
    body.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn the_same_create_in_another_layout_has_one_fingerprint() {
        let a = br#"{"userName":"ada","name":{"givenName":"Ada","familyName":"L"}}"#;
        let b =
            b"{ \"name\" : {\"familyName\":\"L\", \"givenName\":\"Ada\"},\n \"USERNAME\":\"ada\" }";
        let fa = fingerprint("acme", "Users", a).unwrap();
        assert_eq!(fa, fingerprint("acme", "Users", b).unwrap());
        // Another value, tenant or endpoint: another fingerprint.
        let c = br#"{"userName":"ada2","name":{"givenName":"Ada","familyName":"L"}}"#;
        assert_ne!(fa, fingerprint("acme", "Users", c).unwrap());
        assert_ne!(fa, fingerprint("globex", "Users", a).unwrap());
        assert_ne!(fa, fingerprint("acme", "Groups", a).unwrap());
        // The parts cannot run into each other.
        assert_ne!(
            fingerprint("ab", "c", b"{}").unwrap(),
            fingerprint("a", "bc", b"{}").unwrap()
        );
        // Values keep their case and their order in arrays.
        let d = br#"{"userName":"ADA","name":{"givenName":"Ada","familyName":"L"}}"#;
        assert_ne!(fa, fingerprint("acme", "Users", d).unwrap());
        assert_ne!(
            fingerprint("t", "Users", br#"{"a":[1,2]}"#),
            fingerprint("t", "Users", br#"{"a":[2,1]}"#)
        );
        assert!(fingerprint("t", "Users", b"not json").is_none());
    }

    #[test]
    fn a_lookup_filter_keeps_hostile_values_inside_its_literal() {
        let body = json!({"USERNAME": "a\"b\\c) or (userName pr", "externalId": ""});
        let filter = lookup_filter(&body, "userName").unwrap();
        assert_eq!(filter, r#"userName eq "a\"b\\c) or (userName pr""#);
        let parsed = crate::scim::filter::Filter::parse(&filter).unwrap();
        assert_eq!(parsed.to_string(), filter);
        // Empty or missing: no lookup.
        assert_eq!(lookup_filter(&body, "externalId"), None);
        assert_eq!(lookup_filter(&body, "displayName"), None);
        assert_eq!(lookup_filter(&json!({"userName": 5}), "userName"), None);
    }
}
