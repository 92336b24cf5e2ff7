//! [`changed_attributes`](super::changed_attributes) of a POST or PUT read
//! straight from the body's bytes: the names of its members, and of an
//! extension object's members, with every value skipped rather than built
//! into a `serde_json::Value` tree. The same names in the same order
//! (tested against the tree-based reading).
use super::{is_urn, AttributeNames, Names, MAX_NAMES, MAX_NAME_CHARS};
use crate::scim::json_scan::{Kind, Scanner};
use crate::scim::validate_raw::Scanned as ScannedBody;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// The names `changed_attributes("POST", Some(&body))` gives for `body`
/// parsed; `None` when it is not a JSON object (no names either way).
pub(crate) fn resource_names_raw(body: &[u8]) -> Option<AttributeNames> {
    let members = match scanned(body) {
        Some(members) => members,
        None => serde_json::from_slice::<Members<'_>>(body).ok()?.0,
    };
    Some(names_of(&members))
}

/// [`resource_names_raw`] of the body the schema stage's scan accepted,
/// from the keys that scan found (`validate_raw::Scanned::each_key`): no byte
/// of the body is read again. Its keys are plain and differ, and so do
/// an extension object's, so nothing here decodes or merges them: the
/// names go straight into the list, unless one is longer than a record
/// keeps (cut names could then repeat: [`Names`] decides). `None` (never
/// for what the scan accepted): read the body.
pub(crate) fn resource_names_scanned(scanned: &ScannedBody) -> Option<AttributeNames> {
    let (count, bytes) = scanned.key_sizes();
    let mut names = AttributeNames::with_capacity(count, bytes);
    let (mut long, mut urns) = (false, true);
    scanned.each_key(|key, sub| match sub {
        Some(sub) => {
            // An extension's object whose name is no URN: not what
            // `resource_names_raw` reads.
            urns &= is_urn(key);
            long |= key.len() + 1 + sub.len() > MAX_NAME_CHARS;
            names.push_parts(&[key, ":", sub]);
        }
        None if is_resource_meta(key) => {}
        None => {
            long |= key.len() > MAX_NAME_CHARS;
            names.push(key);
        }
    })?;
    if !urns {
        return None;
    }
    if long || names.len() > MAX_NAMES {
        // Cut to the longest name a record keeps, names may repeat.
        let mut kept = Names::with_capacity(names.len(), bytes);
        for name in &names {
            kept.push(name);
        }
        return Some(kept.list);
    }
    Some(names)
}

/// `schemas`, `id` and `meta`: a resource's, never an attribute a write
/// changes.
fn is_resource_meta(key: &str) -> bool {
    ["schemas", "id", "meta"]
        .iter()
        .any(|k| key.eq_ignore_ascii_case(k))
}

/// `urn:sub`, written into `full` (reused from name to name).
fn extension_name<'a>(full: &'a mut String, urn: &str, sub: &str) -> &'a str {
    full.clear();
    full.push_str(urn);
    full.push(':');
    full.push_str(sub);
    full
}

/// The names of a body's members (see [`resource_names_raw`]).
fn names_of(members: &[Member<'_>]) -> AttributeNames {
    let mut names = Names::with_capacity(members.len(), 0);
    let mut full = String::new();
    for (key, subs) in members {
        if is_resource_meta(key) {
            continue;
        }
        match subs {
            // RFC 7644 §3.3: an extension's attributes, named `urn:attr`.
            Some(subs) => {
                for sub in subs {
                    names.push(extension_name(&mut full, key, sub));
                }
            }
            None => names.push(key),
        }
    }
    names.list
}

/// The members as [`Members`] reads them, read with the strict scanner
/// (`scim::json_scan`: values skipped, not decoded); `None` when it
/// declines the body (a `\u` escape, an exponent, deep nesting, or not
/// JSON at all), which serde_json then reads. Whatever the scanner
/// accepts, serde_json accepts too, and keys are decoded as serde_json
/// decodes them, so both readings agree (tested).
fn scanned(body: &[u8]) -> Option<Vec<Member<'_>>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut s = Scanner::new(text);
    s.begin_object()?;
    let mut out: Vec<Member<'_>> = Vec::with_capacity(32);
    let mut first = true;
    while let Some(key) = s.key(first)? {
        first = false;
        let key = key.value();
        let subs = if is_urn(&key) && s.peek()? == Kind::Object {
            s.begin_object()?;
            let mut keys: Vec<Cow<'_, str>> = Vec::new();
            let mut first = true;
            while let Some(sub) = s.key(first)? {
                first = false;
                s.skip()?;
                let sub = sub.value();
                if !keys.contains(&sub) {
                    keys.push(sub);
                }
            }
            Some(keys)
        } else {
            s.skip()?;
            None
        };
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(earlier) => earlier.1 = subs,
            None => out.push((key, subs)),
        }
    }
    s.end()?;
    Some(out)
}

/// A JSON object's members in order: each key, and for a `urn:` key whose
/// value is an object, that object's keys. A repeated key keeps its first
/// place and its last value, as a `serde_json::Map` does.
struct Members<'a>(Vec<Member<'a>>);

/// A key, and the keys of its value when it is an extension object.
type Member<'a> = (Cow<'a, str>, Option<Vec<Cow<'a, str>>>);

impl<'de> serde::Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<Member<'de>> = Vec::new();
                while let Some(key) = map.next_key_seed(Key)? {
                    let subs = if is_urn(&key) {
                        map.next_value_seed(KeysIfObject)?
                    } else {
                        map.next_value::<IgnoredAny>()?;
                        None
                    };
                    match out.iter_mut().find(|(k, _)| *k == key) {
                        Some(earlier) => earlier.1 = subs,
                        None => out.push((key, subs)),
                    }
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(Object)
    }
}

/// A key, borrowed from the body unless it has escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// An object's keys (each once, first place kept), or `None` for any other
/// value (skipped).
struct KeysIfObject;

impl<'de> DeserializeSeed<'de> for KeysIfObject {
    type Value = Option<Vec<Cow<'de, str>>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeysIfObject {
    type Value = Option<Vec<Cow<'de, str>>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut keys: Vec<Cow<'de, str>> = Vec::new();
        while let Some(key) = map.next_key_seed(Key)? {
            map.next_value::<IgnoredAny>()?;
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        Ok(Some(keys))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::audit::changed_attributes;
    use proptest::prelude::*;
    use serde_json::Value;

    #[test]
    fn names_read_raw_are_the_names_read_from_the_tree() {
        let long = "x".repeat(300);
        let bodies = [
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1","meta":{"a":1},
               "userName":"ada","Username":"again","active":false,"password":"p",
               "name":{"givenName":"Ada","family\"Name":"L"},"emails":[{"value":"a@x"}],
               "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","Department":"x","manager":{"value":"2"}},
               "urn:x:plain":"not an object","urn:x:list":[1,{"a":2}],"urn:x:empty":{},
               "na\u006de":"escaped key","ID":"skipped too"}"#.to_string(),
            // A repeated key keeps its first place and its last value.
            r#"{"urn:x:ext":{"a":1},"b":1,"urn:x:ext":5}"#.to_string(),
            r#"{"urn:x:ext":5,"b":1,"urn:x:ext":{"a":1,"a":2,"A":3}}"#.to_string(),
            format!(r#"{{"{long}":1,"urn:y":{{"{long}":2}}}}"#),
            r#"{}"#.to_string(),
            r#"{"n":null,"t":true,"f":1.5,"i":-3,"u":7}"#.to_string(),
        ];
        for body in &bodies {
            let tree: Value = serde_json::from_str(body).unwrap();
            let raw = resource_names_raw(body.as_bytes()).unwrap();
            assert_eq!(raw, changed_attributes("POST", Some(&tree)), "{body}");
            assert_eq!(raw, changed_attributes("PUT", Some(&tree)), "{body}");
        }
        for bad in ["[1, 2]", "{\"a\": ", "\"text\"", "{\"a\":1} trailing", ""] {
            assert_eq!(resource_names_raw(bad.as_bytes()), None, "{bad}");
        }
    }

    /// serde_json's reading of the members (the path the scanner's
    /// replaced, kept for what it declines).
    fn parsed(body: &[u8]) -> Option<Vec<Member<'_>>> {
        serde_json::from_slice::<Members<'_>>(body)
            .ok()
            .map(|m| m.0)
    }

    fn same_reading(body: &[u8]) -> bool {
        scanned(body).is_none_or(|members| Some(members) == parsed(body))
    }

    #[test]
    fn the_scanner_reads_the_members_as_serde_json_does() {
        let user = include_bytes!("../../../benches/load/user.json");
        assert!(scanned(user).is_some());
        assert_eq!(scanned(br#"{"na\u006de":1}"#), None, "declined: \\u");
        assert_eq!(scanned(br#"{"n":1e3}"#), None, "declined: exponent");
        for body in [
            &br#"{"urn:x":{"a":1,"a":2,"b\/c":[1]},"urn:x":{"c":true},"d":1,"d":{"e":1}}"#[..],
            br#"{"URN:y":{"a":{"b":{"c":null}}},"urn:z":"text","urn:w":[{"a":1}]}"#,
            br#"{"k\"ey":1,"urn:x":{}}"#,
            br#"{"a":1,}"#,
            br#"{"urn:x":{"a":1,}}"#,
            br#"{"a":1}}"#,
            br#"{"a" 1}"#,
            br#"[1]"#,
            b"",
        ] {
            assert!(same_reading(body), "{}", String::from_utf8_lossy(body));
        }
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            "[a-zA-Z0-9 \"\\\\/\u{e9}\t]{0,8}".prop_map(Value::from),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                prop::collection::vec((key(), inner), 0..4).prop_map(|m| {
                    let mut out = String::from("{");
                    for (i, (k, v)) in m.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(&format!("{}:{v}", Value::from(k.as_str())));
                    }
                    out.push('}');
                    // Written by hand, so that a key may repeat.
                    Value::String(out)
                }),
            ]
        })
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("schemas".to_string()),
            Just("ID".to_string()),
            Just("urn:x:ext".to_string()),
            Just("URN:y".to_string()),
            "[a-cA-C\"\\\\/]{1,4}",
        ]
    }

    /// An object written by hand (repeated keys kept); a value that
    /// [`value`] wrote as an object's text goes in as that text.
    fn render(members: &[(String, Value)]) -> String {
        let text = |v: &Value| match v {
            Value::String(s) if s.starts_with('{') => s.clone(),
            v => v.to_string(),
        };
        let inner: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), text(v)))
            .collect();
        format!("{{{}}}", inner.join(","))
    }

    proptest! {
        #[test]
        fn scanned_and_parsed_members_agree(
            members in prop::collection::vec((key(), value()), 0..8),
            cut in 0usize..300,
            flip in any::<prop::sample::Index>(),
        ) {
            let body = render(&members);
            prop_assert!(same_reading(body.as_bytes()), "{}", body);
            let bytes = body.as_bytes();
            prop_assert!(same_reading(&bytes[..cut.min(bytes.len())]));
            let mut changed = bytes.to_vec();
            let at = flip.index(changed.len());
            for b in [b'"', b'}', b',', b':', b'\\', b'x', b'{', b']'] {
                changed[at] = b;
                prop_assert!(same_reading(&changed), "{}", String::from_utf8_lossy(&changed));
            }
        }
    }

    /// The names from the schema stage's scan are the names read from the
    /// body, for bodies the scan accepts (and bodies edited around them).
    #[test]
    fn names_from_the_schema_scan_are_the_names_read_from_the_body() {
        use crate::scim::schema::SchemaRegistry;
        use crate::scim::validate_raw::verbatim_scanned;
        let registry = SchemaRegistry::builtin();
        let rt = registry.resource_type("User").unwrap();
        let user = include_str!("../../../benches/load/user.json");
        let full = include_str!("../../../tests/fixtures/user_full.json");
        let mut taken = 0;
        for body in [
            user.to_string(),
            full.to_string(),
            user.replace(r#""active":true,"#, r#""groups":[{"value":"g1"}],"active":true,"#),
            user.replace(r#""employeeNumber":"701984","#, ""),
            user.replace(r#"{"resourceType":"User","#, r#"{"#),
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}"#.to_string(),
            r#" { "userName" : "a" , "schemas" : [ "urn:ietf:params:scim:schemas:core:2.0:User" ] } "#.to_string(),
        ] {
            let bytes = bytes::Bytes::from(body.clone());
            let Some((_, scanned)) = verbatim_scanned(&registry, rt, &bytes) else {
                continue;
            };
            taken += 1;
            assert_eq!(
                resource_names_scanned(&scanned),
                resource_names_raw(body.as_bytes()),
                "{body}"
            );
        }
        assert!(taken >= 5, "{taken} bodies taken by the scan");
    }
}
