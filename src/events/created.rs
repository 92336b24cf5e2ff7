//! A created resource's answer that can be an event's `data` as it came:
//! the event then carries the upstream's bytes (`Event::created`) instead
//! of a tree parsed from them and serialized again.
//!
//! The same event either way: [`Created::read`] takes an answer only when
//! the tree path would keep it whole, i.e. a JSON object with exactly one
//! `id` (any case) whose value is a string, no `password` (any case; the
//! tree path takes it out), no member name twice (a tree keeps the last
//! value; the bytes would keep both), and no line break (the outbox holds
//! one event per line). Anything else takes the tree path.
use crate::scim::json_scan::{Kind, Scanner};
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::fmt;

/// A checked answer: its bytes and the `id` the upstream assigned.
#[derive(Debug)]
pub(crate) struct Created<'a> {
    /// The answer's JSON object, surrounding whitespace trimmed.
    pub data: &'a [u8],
    pub id: String,
}

impl<'a> Created<'a> {
    /// The answer, if it can be spliced in as it is (see the module docs).
    pub(crate) fn read(body: &'a [u8]) -> Option<Created<'a>> {
        let data = body.trim_ascii();
        if data.first() != Some(&b'{') || memchr::memchr2(b'\n', b'\r', data).is_some() {
            return None;
        }
        let id = match scanned(data) {
            Some(decided) => decided?,
            None => parsed(data)?,
        };
        Some(Created { data, id })
    }
}

/// The checks read with the strict scanner (`scim::json_scan`: no
/// allocation but the names' list, values skipped, not decoded):
/// `Some(Some(id))` spliceable, `Some(None)` not; `None` when the scanner
/// declines the document (a `\u` escape, an exponent, deep nesting, or
/// not JSON at all), which [`parsed`] then decides. Whatever the scanner
/// accepts, serde_json accepts too, and the names are compared decoded
/// as serde_json decodes them, so both readings agree (tested).
fn scanned(data: &[u8]) -> Option<Option<String>> {
    let text = std::str::from_utf8(data).ok()?;
    let mut s = Scanner::new(text);
    s.begin_object()?;
    let mut names: Vec<Cow<'_, str>> = Vec::with_capacity(32);
    let mut id: Option<Option<String>> = None;
    let mut spliceable = true;
    // The lengths (mod 64) of the names kept: a name of another length
    // repeats none of them (equal ignoring case means equally long).
    let mut lengths = 0u64;
    let mut first = true;
    while let Some(key) = s.key(first)? {
        first = false;
        let name = key.value();
        if name.eq_ignore_ascii_case("id") {
            // A second `id` (any case) is a repeat, caught below.
            id = Some(match s.peek()? {
                Kind::String => Some(s.string()?.value().into_owned()),
                _ => {
                    s.skip()?;
                    None
                }
            });
        } else {
            if name.eq_ignore_ascii_case("password") {
                spliceable = false;
            }
            s.skip()?;
        }
        let length = 1u64 << (name.len() % 64);
        if (lengths & length != 0 || names.len() >= MAX_NAMES) && repeated(&names, &name) {
            spliceable = false;
        } else {
            lengths |= length;
            names.push(name);
        }
    }
    s.end()?;
    Some(match id {
        Some(Some(id)) if spliceable => Some(id),
        _ => None,
    })
}

/// The checks read by serde_json, for what the scanner declines.
fn parsed(data: &[u8]) -> Option<String> {
    let mut de = serde_json::Deserializer::from_slice(data);
    let id = (&mut de).deserialize_map(Members).ok()??;
    de.end().ok()?;
    Some(id)
}

/// Whether `name` repeats one of `names`: exactly, or as a second `id` in
/// another case (past [`MAX_NAMES`], no check: the tree path takes it).
fn repeated(names: &[Cow<'_, str>], name: &str) -> bool {
    names.len() >= MAX_NAMES
        || names
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name) && (n == name || n.eq_ignore_ascii_case("id")))
}

/// The most members checked for repeats (a SCIM resource has a few
/// dozen at most).
const MAX_NAMES: usize = 128;

/// Reads the members; `Some(id)` when the object passes the checks.
struct Members;

/// A member's name, borrowed when it has no escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(NameVisitor)
    }
}

/// A member's value when it is a string (`None` for any other JSON).
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Text(Some(s)),
            _ => Text(None),
        })
    }
}

impl<'de> Visitor<'de> for Members {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
        let mut names: Vec<Cow<'de, str>> = Vec::with_capacity(32);
        let mut id: Option<Option<String>> = None;
        let mut spliceable = true;
        while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
            if name.eq_ignore_ascii_case("id") {
                // A second `id` (any case) is a repeat, caught below.
                id = Some(map.next_value::<Text>()?.0);
            } else {
                if name.eq_ignore_ascii_case("password") {
                    spliceable = false;
                }
                map.next_value::<IgnoredAny>()?;
            }
            if repeated(&names, &name) {
                spliceable = false;
            } else {
                names.push(name);
            }
        }
        Ok(match id {
            Some(Some(id)) if spliceable => Some(id),
            _ => None,
        })
    }
}

#[cfg(test)]
#[path = "created_tests.rs"]
mod tests;
