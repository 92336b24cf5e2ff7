//! Validation without building values: the fast path of
//! [`validate_resource_owned`](crate::scim::validate::validate_resource_owned)
//! for bodies that go upstream as the client wrote them (tenants without a
//! mapping table).
//!
//! [`verbatim`] walks the request bytes once with the strict scanner of
//! [`json_scan`](crate::scim::json_scan), against the schema. When the body is valid and already in the normal form the
//! full validator produces — names in their schema spelling, no nulls, no
//! empty arrays or objects, no duplicate names, `schemas` naming the core
//! URN and exactly the extensions present — it returns the bytes to
//! forward: the body itself, or the body with its readOnly top-level
//! members (`id`, `meta`, `groups`, RFC 7643 §2.2) cut out. Anything else
//! returns `None` and the caller runs the full validator, which decides and
//! words the error (RFC 7644 §3.12). So this path never accepts what the
//! full one refuses and never forwards what the full one would change,
//! member order and whitespace aside; `tests.rs` checks that
//! against the full validator with generated bodies.
//!
//! Why: parsing into `serde_json::Value` (insertion-ordered maps, a
//! hashed key per member) and serializing again was most of the CPU a
//! validated POST cost at the gateway (architecture.md, performance notes):
//! 19.6 µs for a 1.7 KB User in criterion, against 1.9 µs here.
use crate::scim::datetime::DateTime;
use crate::scim::json_scan::{Kind, Num, Scanner};
use crate::scim::schema::{AttrType, Attribute, Mutability, ResourceType, Schema, SchemaRegistry};
use crate::scim::validate::is_base64;
use bytes::Bytes;

mod plan;
pub(crate) use plan::Plans;
use plan::{Names, TypePlan};

/// The bytes to forward for `body`, a POST or PUT of a resource of type
/// `rt`, when they need no normalization beyond cutting readOnly members;
/// `None` when the full validator must decide.
pub fn verbatim(registry: &SchemaRegistry, rt: &ResourceType, body: &Bytes) -> Option<Bytes> {
    let (_, members) = scan(registry, rt, body, None)?;
    if members.iter().all(|m| !m.cut) {
        return Some(body.clone());
    }
    cut(body, &members).map(Bytes::from)
}

/// [`verbatim`], and the body's top-level members as its scan found them
/// ([`Scanned`]): what the audit record names, read from this one scan
/// instead of the body read again.
pub fn verbatim_scanned(
    registry: &SchemaRegistry,
    rt: &ResourceType,
    body: &Bytes,
) -> Option<(Bytes, Scanned)> {
    // Room for the usual extension's members (the enterprise User's).
    let mut sub_keys = Vec::with_capacity(8);
    let (_, members) = scan(registry, rt, body, Some(&mut sub_keys))?;
    let forwarded = if members.iter().all(|m| !m.cut) {
        body.clone()
    } else {
        Bytes::from(cut(body, &members)?)
    };
    let scanned = Scanned {
        body: body.clone(),
        members,
        sub_keys,
    };
    Some((forwarded, scanned))
}

/// The top-level members of a body that [`verbatim_scanned`] accepted,
/// the cut ones too: where each key and value sits in the body (kept
/// with them, a reference count). Their keys are plain (no escapes) and
/// differ; the members of an extension's object are plain and differ
/// too.
#[derive(Debug, Clone)]
pub struct Scanned {
    body: Bytes,
    members: Vec<Member>,
    /// The keys of the extensions' members, each extension's in order
    /// (`Member::subs` says which are whose): where each starts in the
    /// body (after its quote) and its length.
    sub_keys: Vec<(usize, usize)>,
}

impl Scanned {
    /// Each member's key in the body's order, to `each`: `(key, None)`
    /// for an attribute, and `(urn, Some(name))` for each member of an
    /// extension's object, in its order. No value is read again: the
    /// keys are where the scan found them. `None` (never for a scanned
    /// body) when they are not.
    /// How many keys [`Self::each_key`] gives, and their bytes in all
    /// (an extension member's as `urn:name`), from the spans alone.
    pub fn key_sizes(&self) -> (usize, usize) {
        let (mut count, mut bytes) = (0, 0);
        for m in &self.members {
            let subs = self.sub_keys.get(m.subs.0..m.subs.1).unwrap_or_default();
            if subs.is_empty() {
                count += 1;
                bytes += m.key_len;
            }
            for &(_, len) in subs {
                count += 1;
                bytes += m.key_len + 1 + len;
            }
        }
        (count, bytes)
    }

    pub fn each_key(&self, mut each: impl FnMut(&str, Option<&str>)) -> Option<()> {
        // Checked whole once (the scan did too): every key sits between
        // quotes, so slicing it cannot split a character.
        let text = std::str::from_utf8(&self.body).ok()?;
        for m in &self.members {
            let key = text.get(m.key_start + 1..m.key_start + 1 + m.key_len)?;
            if m.subs.0 == m.subs.1 {
                each(key, None);
                continue;
            }
            for &(start, len) in self.sub_keys.get(m.subs.0..m.subs.1)? {
                each(key, Some(text.get(start..start + len)?));
            }
        }
        Some(())
    }

    /// Each member's key and its value's bytes (the JSON text), in the
    /// body's order: what the tests check a scan against (the audit
    /// stage reads [`Self::each_key`]).
    #[cfg(test)]
    pub fn members(&self) -> Option<Vec<(&str, &[u8])>> {
        let body: &[u8] = &self.body;
        let close = body.iter().rposition(|b| !b.is_ascii_whitespace())?;
        let mut out = Vec::with_capacity(self.members.len());
        for (i, m) in self.members.iter().enumerate() {
            let (_, end) = member_span(body, &self.members, i, close)?;
            let key = body.get(m.key_start + 1..m.key_start + 1 + m.key_len)?;
            out.push((
                std::str::from_utf8(key).ok()?,
                body.get(m.value_start..end)?,
            ));
        }
        Some(out)
    }
}

/// What [`verbatim`] would forward, as its top-level members in the
/// body's order, each as its key and its value's text (both borrowed from
/// `body`; keys are written without escapes): for a mapped tenant, whose
/// table rewrites the members (`mapping::members`) from this one scan
/// instead of parsing the body again. `None` when the full validator must
/// decide.
pub fn verbatim_members<'b>(
    registry: &SchemaRegistry,
    rt: &ResourceType,
    body: &'b [u8],
) -> Option<Vec<(&'b str, &'b str)>> {
    let (text, members) = scan(registry, rt, body, None)?;
    let close = body.iter().rposition(|b| !b.is_ascii_whitespace())?;
    let mut out = Vec::with_capacity(members.len());
    for (i, m) in members.iter().enumerate() {
        if m.cut {
            continue;
        }
        let (_, end) = member_span(body, &members, i, close)?;
        let key = text.get(m.key_start + 1..m.key_start + 1 + m.key_len)?;
        out.push((key, text.get(m.value_start..end)?));
    }
    Some(out)
}

/// The body checked against the schema: its text and top-level members
/// (and, with `sub_keys`, where the keys of the extensions' members are).
fn scan<'b>(
    registry: &SchemaRegistry,
    rt: &ResourceType,
    body: &'b [u8],
    sub_keys: Option<&mut Vec<(usize, usize)>>,
) -> Option<(&'b str, Vec<Member>)> {
    let plan = registry.raw_plans().for_type(registry, rt)?;
    let core = &registry.schemas()[plan.core];
    // serde_json checks UTF-8 inside strings; outside them any non-ASCII
    // byte is a syntax error anyway. One pass over the whole body is
    // cheaper than one per string.
    let text = std::str::from_utf8(body).ok()?;
    let mut s = Scanner::new(text);
    let members = top(&mut s, registry, rt, core, plan, sub_keys)?;
    s.end()?;
    Some((text, members))
}

/// One top-level member: where its key starts (the opening quote), the
/// key's length (it has no escapes), where its value starts, whether it
/// is cut, and for an extension's object, which of the scan's sub-keys
/// are its members' (a range; empty for any other member, or when the
/// sub-keys were not kept).
#[derive(Debug, Clone)]
struct Member {
    key_start: usize,
    key_len: usize,
    value_start: usize,
    cut: bool,
    subs: (usize, usize),
}

/// The body without its cut members: `{` + the kept members' text joined
/// by `,` + `}`. A member's text runs from its key to the last byte before
/// the `,` that precedes the next key (or the closing `}`).
///
/// The kept spans are measured first so that the output is allocated at
/// its exact length (`Bytes::from` then allocates nothing more).
fn cut(body: &[u8], members: &[Member]) -> Option<Vec<u8>> {
    let close = body.iter().rposition(|b| !b.is_ascii_whitespace())?;
    if body.get(close) != Some(&b'}') {
        return None;
    }
    // Every member's span is checked, the kept ones' lengths summed.
    let mut len = 2; // the braces
    let mut first = true;
    for (i, m) in members.iter().enumerate() {
        let (start, end) = member_span(body, members, i, close)?;
        if !m.cut {
            len += usize::from(!first) + (end - start);
            first = false;
        }
    }
    let mut out = Vec::with_capacity(len);
    out.push(b'{');
    let mut first = true;
    for (i, m) in members.iter().enumerate() {
        if m.cut {
            continue;
        }
        let (start, end) = member_span(body, members, i, close)?;
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(body.get(start..end)?);
    }
    out.push(b'}');
    Some(out)
}

/// Member `i`'s text, from its key's quote to its last byte: `None` when
/// the members do not sit in the body as the scanner reported (never for
/// a scanned body).
fn member_span(body: &[u8], members: &[Member], i: usize, close: usize) -> Option<(usize, usize)> {
    let m = members.get(i)?;
    if body.get(m.key_start) != Some(&b'"') {
        return None;
    }
    let end = match members.get(i + 1) {
        Some(next) => {
            let comma = before_whitespace(body, next.key_start)?;
            if body.get(comma) != Some(&b',') {
                return None;
            }
            before_whitespace(body, comma)? + 1
        }
        None => before_whitespace(body, close)? + 1,
    };
    (end >= m.key_start).then_some((m.key_start, end))
}

/// The index of the last non-whitespace byte before `at`.
fn before_whitespace(body: &[u8], at: usize) -> Option<usize> {
    body.get(..at)?
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
}

/// Sets bit `i` of `set`; false when it was already set (a duplicate).
fn first_time(set: &mut u64, i: usize) -> bool {
    let bit = 1u64 << i;
    let fresh = *set & bit == 0;
    *set |= bit;
    fresh
}

/// The resource object: its members, in order.
fn top(
    s: &mut Scanner<'_>,
    registry: &SchemaRegistry,
    rt: &ResourceType,
    core: &Schema,
    plan: &TypePlan,
    mut sub_keys: Option<&mut Vec<(usize, usize)>>,
) -> Option<Vec<Member>> {
    s.begin_object()?;
    let common = registry.common_attributes();
    let mut members = Vec::with_capacity(24);
    // Attributes seen (common ones, then core ones), extensions.
    let (mut seen, mut seen_ext) = (0u128, 0u64);
    let mut listed: Option<u64> = None;
    let mut first = true;
    while let Some(key) = s.key(first)? {
        first = false;
        // An escaped key is re-spelled by the full path.
        let name = key.plain()?;
        s.peek()?;
        let value_start = s.pos();
        let mut cut = false;
        let mut subs = (0, 0);
        if name == "schemas" {
            if listed.is_some() {
                return None;
            }
            listed = Some(schemas(s, rt)?);
        } else if let Some(i) = plan.top.find(name) {
            // Spelled as in the schema, and nothing the full path's
            // case-blind lookup (common attributes, then core ones) would
            // find first (such names are not in the index). Attribute names
            // hold no `:`, so no extension URN is found here.
            let attr = match i.checked_sub(plan.common) {
                None => &common[i],
                Some(c) => &core.attributes[c],
            };
            let bit = 1u128 << i;
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            if attr.mutability == Mutability::ReadOnly {
                // Dropped whatever it holds (RFC 7643 §2.2: the service
                // provider sets it).
                s.skip()?;
                cut = true;
            } else {
                check(s, attr, &plan.top.subs[i], true)?;
            }
        } else {
            // An extension's object, spelled as declared. Anything else
            // (an unknown name, another spelling, `urn:...:User:userName`)
            // is for the full path to re-spell or refuse.
            let i = rt
                .extensions
                .iter()
                .position(|e| e.schema.eq_ignore_ascii_case(name))?;
            let (at, names) = plan.extensions.get(i)?.as_ref()?;
            if rt.extensions[i].schema != name
                || !first_time(&mut seen_ext, i)
                || s.peek()? != Kind::Object
            {
                return None;
            }
            let keys = sub_keys.as_deref_mut();
            let from = keys.as_ref().map_or(0, |k| k.len());
            check_object(s, &registry.schemas()[*at].attributes, names, keys)?;
            subs = (from, sub_keys.as_ref().map_or(0, |k| k.len()));
        }
        members.push(Member {
            key_start: key.start,
            key_len: name.len(),
            value_start,
            cut,
            subs,
        });
    }
    if listed != Some(seen_ext) {
        return None;
    }
    let seen_core = (seen >> plan.common) as u64;
    let missing = plan.required & !seen_core != 0;
    let missing_ext = rt
        .extensions
        .iter()
        .enumerate()
        .any(|(i, e)| e.required && seen_ext & (1 << i) == 0);
    if missing || missing_ext {
        return None;
    }
    Some(members)
}

/// `schemas`: the core URN once, then extension URNs, each once and in
/// its schema spelling. The value is the set of extensions listed.
fn schemas(s: &mut Scanner<'_>, rt: &ResourceType) -> Option<u64> {
    if s.peek()? != Kind::Array {
        return None;
    }
    s.begin_array()?;
    let (mut core, mut exts) = (false, 0u64);
    let mut first = true;
    while s.element(first)? {
        first = false;
        if s.peek()? != Kind::String {
            return None;
        }
        let urn = s.string()?.plain()?;
        if urn == rt.schema && !core {
            core = true;
            continue;
        }
        let i = rt.extensions.iter().position(|e| e.schema == urn)?;
        if !first_time(&mut exts, i) {
            return None;
        }
    }
    core.then_some(exts)
}

/// The members of an object against `attrs` (an extension's attributes or
/// a complex attribute's sub-attributes, indexed by `names`): none
/// readOnly, at least one, the required ones present. Returns whether its
/// `primary` is true. With `keys`, where each member's key is (after
/// its quote, and its length) is appended to it.
fn check_object(
    s: &mut Scanner<'_>,
    attrs: &[Attribute],
    names: &Names,
    mut keys: Option<&mut Vec<(usize, usize)>>,
) -> Option<bool> {
    if attrs.len() > 64 {
        return None;
    }
    s.begin_object()?;
    let (mut seen, mut primary) = (0u64, false);
    let mut first = true;
    while let Some(key) = s.key(first)? {
        first = false;
        // Spelled as in the schema, and no earlier attribute that the full
        // path's case-blind lookup would find first.
        let plain = key.plain()?;
        let i = names.find(plain)?;
        if let Some(keys) = keys.as_deref_mut() {
            keys.push((key.start + 1, plain.len()));
        }
        let attr = &attrs[i];
        if attr.mutability == Mutability::ReadOnly || !first_time(&mut seen, i) {
            return None;
        }
        let truth = check(s, attr, &names.subs[i], true)?;
        primary |= truth && attr.name == "primary";
    }
    let missing = names.required & !seen != 0;
    (seen != 0 && !missing).then_some(primary)
}

/// One attribute's value (`whole`: the attribute's whole value, an array
/// when it is multi-valued) or one element of a multi-valued one. Returns
/// true for a boolean `true` and for a complex value whose `primary` is
/// true (RFC 7643 §2.4: at most one per attribute). Null is `None`: the
/// full path drops it (unassigned, RFC 7643 §2.5).
fn check(s: &mut Scanner<'_>, attr: &Attribute, subs: &Names, whole: bool) -> Option<bool> {
    let kind = s.peek()?;
    if kind == Kind::Array {
        if !(whole && attr.multi_valued) {
            return None;
        }
        s.begin_array()?;
        let (mut count, mut primaries) = (0usize, 0usize);
        let mut first = true;
        while s.element(first)? {
            first = false;
            let primary = check(s, attr, subs, false)?;
            count += 1;
            // Only a complex element's `primary` counts, as in the full
            // path (a multi-valued boolean has no primary).
            primaries += usize::from(primary && attr.attr_type == AttrType::Complex);
        }
        return (count > 0 && primaries <= 1).then_some(false);
    }
    if whole && attr.multi_valued {
        return None;
    }
    match (kind, attr.attr_type) {
        (Kind::Object, AttrType::Complex) => check_object(s, &attr.sub_attributes, subs, None),
        (Kind::String, AttrType::String | AttrType::Reference) => s.string().map(|_| false),
        (Kind::String, AttrType::DateTime) => DateTime::parse(s.string()?.plain()?).map(|_| false),
        (Kind::String, AttrType::Binary) => is_base64(s.string()?.plain()?).then_some(false),
        (Kind::True, AttrType::Boolean) => s.literal("true").map(|()| true),
        (Kind::False, AttrType::Boolean) => s.literal("false").map(|()| false),
        (Kind::Number, AttrType::Decimal) => s.number().map(|_| false),
        (Kind::Number, AttrType::Integer) => (s.number()? == Num::Integer).then_some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
