//! The canonical form of a resource, and its keyed digest.
//!
//! What the gateway answered the IdP and what a later listing shows must
//! digest alike when nothing changed, whatever the backend does on its
//! own: `meta` goes (lastModified and version move by themselves), so
//! does a User's `groups` (readOnly, kept by the backend from the Groups'
//! `members`: a write to a Group changes it, and the Group's own digest
//! covers the membership), every
//! `$ref` goes (it holds the base URL the request came in on), object keys
//! are lower-cased and sorted (SCIM names are case-insensitive), `null`
//! and empty arrays are dropped (RFC 7643 §2.5: unassigned), and the
//! elements of a multi-valued attribute are sorted by their own canonical
//! form (backends reorder `emails` and `members`; RFC 7643 gives arrays no
//! order). Values keep their case: whether one is caseExact is the
//! schema's business and a change of case is a change.
use ring::hmac;
use serde_json::Value;

/// The digest kept per resource: HMAC-SHA-256 of the canonical form under
/// the installation's key (a plain hash of a small attribute set could be
/// brute-forced back to the values).
pub(crate) type Digest = [u8; 32];

/// The digest of `resource` (a SCIM resource as the tenant sees it).
pub(crate) fn digest(key: &hmac::Key, resource: &Value) -> Digest {
    let mut out = Vec::with_capacity(256);
    write(resource, true, &mut out);
    let tag = hmac::sign(key, &out);
    let mut d = [0u8; 32];
    d.copy_from_slice(tag.as_ref());
    d
}

/// The canonical bytes of `value` (`top`: the resource itself, whose
/// `meta` is left out).
pub(crate) fn write(value: &Value, top: bool, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            // Sorted by the lower-cased name, compared without allocating.
            let mut keys: Vec<(&String, &Value)> = map
                .iter()
                .filter(|(k, v)| {
                    !(top && (k.eq_ignore_ascii_case("meta") || k.eq_ignore_ascii_case("groups")))
                        && !k.eq_ignore_ascii_case("$ref")
                        && !is_unassigned(v)
                })
                .collect();
            keys.sort_unstable_by(|a, b| lower(a.0).cmp(lower(b.0)));
            out.push(b'{');
            for (i, (k, v)) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let start = out.len();
                string(k, out);
                out[start..].make_ascii_lowercase();
                out.push(b':');
                write(v, false, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            let kept = items.iter().filter(|v| !is_unassigned(v));
            if items.len() == 1 {
                // One element: nothing to sort.
                for v in kept {
                    write(v, false, out);
                }
            } else {
                let mut parts: Vec<Vec<u8>> = kept
                    .map(|v| {
                        let mut b = Vec::new();
                        write(v, false, &mut b);
                        b
                    })
                    .collect();
                parts.sort_unstable();
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(p);
                }
            }
            out.push(b']');
        }
        Value::String(s) => string(s, out),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Null => out.extend_from_slice(b"null"),
    }
}

fn lower(s: &str) -> impl Iterator<Item = u8> + '_ {
    s.bytes().map(|c| c.to_ascii_lowercase())
}

fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn string(s: &str, out: &mut Vec<u8>) {
    // serde_json's escaping: one spelling per string (written in place).
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, b"test key")
    }

    #[test]
    fn meta_refs_order_and_case_of_names_do_not_count() {
        let user = json!({"id":"1","userName":"b"});
        let grouped = json!({"id":"1","userName":"b","groups":[{"value":"g1","display":"Ops"}]});
        assert_eq!(digest(&key(), &user), digest(&key(), &grouped));
        let a = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1",
            "displayName":"Ops","members":[{"value":"1","$ref":"https://a/Users/1"},{"value":"2"}],
            "meta":{"version":"W/\"1\"","location":"https://a/Groups/g1"}});
        let b = json!({"DisplayName":"Ops","id":"g1","members":[{"value":"2","$ref":"https://b/Users/2"},{"Value":"1"}],
            "schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"externalId":null,"emails":[],
            "meta":{"version":"W/\"9\""}});
        assert_eq!(digest(&key(), &a), digest(&key(), &b));
    }

    #[test]
    fn a_changed_value_or_case_changes_the_digest() {
        let a = json!({"id":"1","userName":"bjensen","active":true});
        for b in [
            json!({"id":"1","userName":"BJensen","active":true}),
            json!({"id":"1","userName":"bjensen","active":false}),
            json!({"id":"1","userName":"bjensen"}),
            json!({"id":"1","userName":"bjensen","active":true,"title":"x"}),
        ] {
            assert_ne!(digest(&key(), &a), digest(&key(), &b), "{b}");
        }
    }

    #[test]
    fn the_canonical_bytes() {
        let v = json!({"B":[{"v":2},{"v":1}],"a":"x\n","meta":{"version":"1"},"c":[3],"d":null});
        let mut out = Vec::new();
        write(&v, true, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":"x\n","b":[{"v":1},{"v":2}],"c":[3]}"#
        );
    }

    #[test]
    fn the_key_matters() {
        let v = json!({"id":"1","userName":"bjensen"});
        let other = hmac::Key::new(hmac::HMAC_SHA256, b"other key");
        assert_ne!(digest(&key(), &v), digest(&other, &v));
    }
}
