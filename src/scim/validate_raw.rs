//! Validation without building values: the fast path of
//! [`validate_resource_owned`](crate::scim::validate::validate_resource_owned)
//! for bodies that go upstream as the client wrote them (tenants without a
//! mapping table).
//!
//! [`verbatim`] walks the request bytes once with serde visitors that carry
//! the schema. When the body is valid and already in the normal form the
//! full validator produces — names in their schema spelling, no nulls, no
//! empty arrays or objects, no duplicate names, `schemas` naming the core
//! URN and exactly the extensions present — it returns the bytes to
//! forward: the body itself, or the body with its readOnly top-level
//! members (`id`, `meta`, `groups`, RFC 7643 §2.2) cut out. Anything else
//! returns `None` and the caller runs the full validator, which decides and
//! words the error (RFC 7644 §3.12). So this path never accepts what the
//! full one refuses and never forwards what the full one would change,
//! member order and whitespace aside; `validate_raw_tests.rs` checks that
//! against the full validator with generated bodies.
//!
//! Why: parsing into `serde_json::Value` (insertion-ordered maps, a
//! hashed key per member) and serializing again was most of the CPU a
//! validated POST cost at the gateway (architecture.md, performance notes).
use crate::scim::datetime::DateTime;
use crate::scim::schema::{AttrType, Attribute, Mutability, ResourceType, Schema, SchemaRegistry};
use crate::scim::validate::is_base64;
use bytes::Bytes;
use serde::de::{self, Deserialize, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The bytes to forward for `body`, a POST or PUT of a resource of type
/// `rt`, when they need no normalization beyond cutting readOnly members;
/// `None` when the full validator must decide.
pub fn verbatim(registry: &SchemaRegistry, rt: &ResourceType, body: &Bytes) -> Option<Bytes> {
    let core = loaded(registry, &rt.schema)?;
    // Presence is tracked in bit sets; wider schemas take the full path.
    if core.attributes.len() > 64
        || registry.common_attributes().len() > 8
        || rt.extensions.len() > 32
    {
        return None;
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let members = Top {
        registry,
        rt,
        core,
        body,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    if members.iter().all(|m| !m.cut) {
        return Some(body.clone());
    }
    cut(body, &members).map(Bytes::from)
}

/// The schema `urn` names, found by comparing (the registry's own lookup
/// lowercases and hashes the URN: a cost per request here).
fn loaded<'r>(registry: &'r SchemaRegistry, urn: &str) -> Option<&'r Schema> {
    registry
        .schemas()
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(urn))
}

/// One top-level member: where its key starts (the opening quote) and
/// whether it is cut.
struct Member {
    key_start: usize,
    cut: bool,
}

/// The body without its cut members: `{` + the kept members' text joined
/// by `,` + `}`. A member's text runs from its key to the last byte before
/// the `,` that precedes the next key (or the closing `}`).
fn cut(body: &[u8], members: &[Member]) -> Option<Vec<u8>> {
    let close = body.iter().rposition(|b| !b.is_ascii_whitespace())?;
    if body[close] != b'}' {
        return None;
    }
    let mut out = Vec::with_capacity(body.len());
    out.push(b'{');
    let mut first = true;
    for (i, m) in members.iter().enumerate() {
        if body.get(m.key_start) != Some(&b'"') {
            return None;
        }
        let end = match members.get(i + 1) {
            Some(next) => {
                let comma = before_whitespace(body, next.key_start)?;
                if body[comma] != b',' {
                    return None;
                }
                before_whitespace(body, comma)? + 1
            }
            None => before_whitespace(body, close)? + 1,
        };
        if m.cut {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(body.get(m.key_start..end)?);
    }
    out.push(b'}');
    Some(out)
}

/// The index of the last non-whitespace byte before `at`.
fn before_whitespace(body: &[u8], at: usize) -> Option<usize> {
    body.get(..at)?
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
}

/// "Take the full path": the error carries no message anyone reads.
fn full<E: de::Error>() -> E {
    E::custom("needs the full validator")
}

/// Sets bit `i` of `set`; false when it was already set (a duplicate).
fn first_time(set: &mut u64, i: usize) -> bool {
    let bit = 1u64 << i;
    let fresh = *set & bit == 0;
    *set |= bit;
    fresh
}

/// The resource object.
struct Top<'a> {
    registry: &'a SchemaRegistry,
    rt: &'a ResourceType,
    core: &'a Schema,
    body: &'a [u8],
}

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = Vec<Member>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = Vec<Member>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a SCIM resource object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Top {
            registry,
            rt,
            core,
            body,
        } = self;
        let common = registry.common_attributes();
        let mut members = Vec::with_capacity(24);
        // Core attributes seen, common ones (`id`, ...), extensions.
        let (mut seen_core, mut seen_common, mut seen_ext) = (0u64, 0u64, 0u64);
        let mut listed: Option<u64> = None;
        // Keys must be borrowed (no escapes): their position is known and
        // their text is the schema spelling.
        while let Some(key) = map.next_key::<&'de str>()? {
            let key_start = (key.as_ptr() as usize)
                .checked_sub(body.as_ptr() as usize)
                .and_then(|p| p.checked_sub(1))
                .ok_or_else(full)?;
            let mut cut = false;
            if key == "schemas" {
                if listed.is_some() {
                    return Err(full());
                }
                listed = Some(map.next_value_seed(Schemas { registry, rt })?);
            } else if let Some(i) = rt
                .extensions
                .iter()
                .position(|e| e.schema.eq_ignore_ascii_case(key))
            {
                let urn = &rt.extensions[i].schema;
                let schema = loaded(registry, urn).ok_or_else(full)?;
                if *urn != key || !first_time(&mut seen_ext, i) {
                    return Err(full());
                }
                map.next_value_seed(Extension { schema })?;
            } else {
                // `urn:...:User:userName` is re-spelled by the full path.
                if key.contains(':') {
                    return Err(full());
                }
                let (attr, fresh) = match common.iter().position(|a| a.name == key) {
                    Some(i) => (&common[i], first_time(&mut seen_common, i)),
                    None => match core.attributes.iter().position(|a| a.name == key) {
                        Some(i) => (&core.attributes[i], first_time(&mut seen_core, i)),
                        None => return Err(full()),
                    },
                };
                // A common attribute spelled as a core one, or the reverse,
                // would be found first by the case-blind lookup.
                let canonical = common
                    .iter()
                    .find(|a| a.name.eq_ignore_ascii_case(key))
                    .or_else(|| core.attribute(key));
                if !fresh || !canonical.is_some_and(|c| std::ptr::eq(c, attr)) {
                    return Err(full());
                }
                if attr.mutability == Mutability::ReadOnly {
                    // Dropped whatever it holds (RFC 7643 §2.2: the
                    // service provider sets it).
                    map.next_value::<Skip>()?;
                    cut = true;
                } else {
                    map.next_value_seed(Check { attr, whole: true })?;
                }
            }
            members.push(Member { key_start, cut });
        }
        if listed != Some(seen_ext) {
            return Err(full());
        }
        let missing = core.attributes.iter().enumerate().any(|(i, a)| {
            a.required && a.mutability != Mutability::ReadOnly && seen_core & (1 << i) == 0
        });
        let missing_ext = rt
            .extensions
            .iter()
            .enumerate()
            .any(|(i, e)| e.required && seen_ext & (1 << i) == 0);
        if missing || missing_ext {
            return Err(full());
        }
        Ok(members)
    }
}

/// Any JSON value, read and dropped. Unlike `IgnoredAny`, strings are
/// decoded, so invalid UTF-8 or a lone surrogate is refused here as it is
/// when the full path parses the body.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Skip, D::Error> {
        d.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// `schemas`: the core URN once, then extension URNs, each once and in
/// its schema spelling. The value is the set of extensions listed.
struct Schemas<'a> {
    registry: &'a SchemaRegistry,
    rt: &'a ResourceType,
}

impl<'de> DeserializeSeed<'de> for Schemas<'_> {
    type Value = u64;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Schemas<'_> {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of schema URNs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let (mut core, mut exts) = (false, 0u64);
        while let Some(urn) = seq.next_element::<&'de str>()? {
            if urn == self.rt.schema && !core {
                core = true;
                continue;
            }
            let i = self
                .rt
                .extensions
                .iter()
                .position(|e| e.schema == urn)
                .ok_or_else(full)?;
            if loaded(self.registry, urn).is_none() || !first_time(&mut exts, i) {
                return Err(full());
            }
        }
        if core {
            Ok(exts)
        } else {
            Err(full())
        }
    }
}

/// An extension's object: its attributes, as at the top level, none
/// readOnly, at least one, the required ones present.
struct Extension<'a> {
    schema: &'a Schema,
}

impl<'de> DeserializeSeed<'de> for Extension<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Extension<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an extension object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        check_object(&self.schema.attributes, map).map(|_| ())
    }
}

/// The members of an object against `attrs` (an extension's attributes or
/// a complex attribute's sub-attributes). Returns whether `primary` is
/// true in it.
fn check_object<'de, A: MapAccess<'de>>(attrs: &[Attribute], mut map: A) -> Result<bool, A::Error> {
    if attrs.len() > 64 {
        return Err(full());
    }
    let (mut seen, mut primary) = (0u64, false);
    while let Some(key) = map.next_key::<&'de str>()? {
        let i = attrs
            .iter()
            .position(|a| a.name.eq_ignore_ascii_case(key))
            .ok_or_else(full)?;
        let attr = &attrs[i];
        if attr.name != key || attr.mutability == Mutability::ReadOnly || !first_time(&mut seen, i)
        {
            return Err(full());
        }
        let truth = map.next_value_seed(Check { attr, whole: true })?;
        primary |= truth && attr.name == "primary";
    }
    let missing = attrs
        .iter()
        .enumerate()
        .any(|(i, a)| a.required && a.mutability != Mutability::ReadOnly && seen & (1 << i) == 0);
    if seen == 0 || missing {
        return Err(full());
    }
    Ok(primary)
}

/// One attribute's value (`whole`: the attribute's whole value, an array
/// when it is multi-valued) or one element of a multi-valued one. The
/// value is true for a boolean `true` and for a complex value whose
/// `primary` is true (RFC 7643 §2.4: at most one per attribute).
struct Check<'a> {
    attr: &'a Attribute,
    whole: bool,
}

impl Check<'_> {
    /// A scalar or object is fine here only as a single value.
    fn single<E: de::Error>(&self, ty: AttrType, fits: bool) -> Result<(), E> {
        let array_expected = self.whole && self.attr.multi_valued;
        if array_expected || self.attr.attr_type != ty || !fits {
            Err(full())
        } else {
            Ok(())
        }
    }

    fn text<E: de::Error>(&self, s: &str) -> Result<bool, E> {
        let fits = match self.attr.attr_type {
            AttrType::String | AttrType::Reference => true,
            AttrType::DateTime => DateTime::parse(s).is_some(),
            AttrType::Binary => is_base64(s),
            _ => false,
        };
        self.single(self.attr.attr_type, fits).map(|()| false)
    }
}

impl<'de> DeserializeSeed<'de> for Check<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a value of {}", self.attr.name)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.single(AttrType::Boolean, true).map(|()| v)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        let ty = self.attr.attr_type;
        let integral = matches!(ty, AttrType::Integer | AttrType::Decimal);
        self.single(ty, integral).map(|()| false)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.visit_i64(v as i64)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        self.single(AttrType::Decimal, true).map(|()| false)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        self.text(v)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        // Null means unassigned: the full path drops it.
        Err(full())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        self.single::<A::Error>(AttrType::Complex, true)?;
        check_object(&self.attr.sub_attributes, map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        if !(self.whole && self.attr.multi_valued) {
            return Err(full());
        }
        let (mut count, mut primaries) = (0usize, 0usize);
        let element = || Check {
            attr: self.attr,
            whole: false,
        };
        while let Some(primary) = seq.next_element_seed(element())? {
            count += 1;
            // Only a complex element's `primary` counts, as in the full
            // path (a multi-valued boolean has no primary).
            primaries += usize::from(primary && self.attr.attr_type == AttrType::Complex);
        }
        if count == 0 || primaries > 1 {
            return Err(full());
        }
        Ok(false)
    }
}

#[cfg(test)]
#[path = "validate_raw_tests.rs"]
mod tests;
