//! [`changed_attributes`](super::changed_attributes) of a POST or PUT read
//! straight from the body's bytes: the names of its members, and of an
//! extension object's members, with every value skipped rather than built
//! into a `serde_json::Value` tree. The same names in the same order
//! (tested against the tree-based reading).
use super::{is_urn, truncated, Names};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// The names `changed_attributes("POST", Some(&body))` gives for `body`
/// parsed; `None` when it is not a JSON object (no names either way).
pub(crate) fn resource_names_raw(body: &[u8]) -> Option<Vec<String>> {
    let Members(members) = serde_json::from_slice(body).ok()?;
    let mut names = Names::default();
    for (key, subs) in &members {
        if ["schemas", "id", "meta"]
            .iter()
            .any(|k| key.eq_ignore_ascii_case(k))
        {
            continue;
        }
        match subs {
            // RFC 7644 §3.3: an extension's attributes, named `urn:attr`.
            Some(subs) => {
                for sub in subs {
                    names.push(truncated(&format!("{key}:{sub}")));
                }
            }
            None => names.push(truncated(key)),
        }
    }
    Some(names.0)
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
}
