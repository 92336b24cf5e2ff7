//! The way in of a whole resource under a table of plain renames, on the
//! members' text: no `serde_json::Value` is built at all.
//!
//! Why: the member-wise path (`members.rs`) still parsed each touched
//! member into a `Value` (a complex attribute, an extension object) and
//! ran the general mapping over it: for the load benchmark's User that was
//! most of what a mapped POST cost over the default tenant's. Most tables
//! are renames (`title` to an extension's `jobTitle`, `name.middleName` to
//! `middle`): taking a member (or a member of an object) from one place
//! and writing it at another needs the members' boundaries, not their
//! values.
//!
//! A table qualifies when every rule has no transform and no default, and
//! neither side selects an element or names a multi-valued attribute, and
//! it has no constants and no `never_upstream` ([`qualifies`]). The steps
//! are those of [`ResourceMapping::map_in_parts`] and
//! [`ResourceMapping::merge_rest`], in the same order and with the same
//! case-blind lookups, over objects held as their members' text: the
//! output is the general path's member for member. What would need more
//! (an array where a rule or the pruning looks, two arrays or two objects
//! merged below the top level, an object whose member names clash
//! ignoring case or are escaped, text the strict scanner declines) is
//! [`Decline`]d, and the caller runs the `Value` path. `tests/members.rs`
//! holds the three paths to the same outputs.
use super::endpoint::Endpoint;
use super::members::RawMember;
use super::resource::ALWAYS;
use super::{ResourceMapping, Rule};
use crate::scim::json_scan::Scanner;

/// A value: the input's text, or an object held as its members.
#[derive(Debug, Clone)]
pub(super) enum Flat<'a> {
    Raw(&'a str),
    Obj(Members<'a>),
}

/// An object's members in order, names as written (or the rules').
pub(super) type Members<'a> = Vec<(&'a str, Flat<'a>)>;

/// This input needs the `Value` path.
#[derive(Debug)]
pub(super) struct Decline;

type Step<T> = Result<T, Decline>;

/// True when `rules` (and no constants, no `never_upstream`) are renames
/// the flat path reproduces.
pub(super) fn qualifies(m: &ResourceMapping) -> bool {
    let plain = |e: &Endpoint| e.select.is_empty() && !e.multi;
    m.constants.is_empty()
        && m.never_upstream.is_empty()
        && m.rules.iter().all(|r: &Rule| {
            r.transforms.is_empty() && r.default.is_none() && plain(&r.tenant) && plain(&r.upstream)
        })
}

// === impl Flat ===

impl<'a> Flat<'a> {
    pub(super) fn is_object(&self) -> bool {
        match self {
            Flat::Raw(t) => t.starts_with('{'),
            Flat::Obj(_) => true,
        }
    }

    fn is_array(&self) -> bool {
        matches!(self, Flat::Raw(t) if t.starts_with('['))
    }

    /// `{}` or `[]` (what the pruning drops).
    fn is_empty(&self) -> bool {
        match self {
            Flat::Obj(m) => m.is_empty(),
            Flat::Raw(t) => {
                let close = match t.as_bytes().first() {
                    Some(b'{') => "}",
                    Some(b'[') => "]",
                    _ => return false,
                };
                t[1..].trim_start_matches([' ', '\t', '\n', '\r']) == close
            }
        }
    }

    /// The members of an object (its text read once); `None` for any
    /// other value.
    fn members_mut(&mut self) -> Step<Option<&mut Members<'a>>> {
        if let Flat::Raw(text) = *self {
            if !text.starts_with('{') {
                return Ok(None);
            }
            *self = Flat::Obj(object_members(text).ok_or(Decline)?);
        }
        match self {
            Flat::Obj(m) => Ok(Some(m)),
            Flat::Raw(_) => Ok(None),
        }
    }
}

/// An object's members by the strict scanner: `None` for an escaped
/// name, names equal ignoring case (the `Value` path keeps the last
/// value at the first place), or text the scanner declines.
fn object_members(text: &str) -> Option<Members<'_>> {
    let mut s = Scanner::new(text);
    s.begin_object()?;
    let mut out: Members<'_> = Vec::with_capacity(8);
    let mut first = true;
    while let Some(key) = s.key(first)? {
        first = false;
        let key = key.plain()?;
        if position_ci(&out, key).is_some() {
            return None;
        }
        s.peek()?;
        let start = s.pos();
        s.skip()?;
        out.push((key, Flat::Raw(text.get(start..s.pos())?)));
    }
    s.end()?;
    Some(out)
}

fn position_ci(members: &Members<'_>, name: &str) -> Option<usize> {
    members
        .iter()
        .position(|(k, _)| k.eq_ignore_ascii_case(name))
}

// === impl ResourceMapping ===

impl ResourceMapping {
    /// [`Self::map_in_parts`] (a whole resource) and [`Self::merge_rest`]
    /// over `input`, the touched members in the general path's order.
    /// Returns the output's members (`schemas` first, a placeholder) and
    /// how many of them the rules wrote (the rest came from the merge).
    pub(super) fn flat_in<'a>(&'a self, input: Members<'a>) -> Step<(Members<'a>, usize)> {
        let mut rest = input;
        let mut out: Members<'a> = Vec::with_capacity(rest.len() + 2);
        out.push(("schemas", Flat::Raw("[]")));
        if let Some(i) = position_ci(&rest, "id") {
            out.push(("id", rest[i].1.clone()));
        }
        for r in &self.rules {
            if let Some(v) = take(&mut rest, &r.tenant)? {
                put(&mut out, &r.upstream, v)?;
            }
        }
        for r in &self.rules {
            prune(&mut rest, &r.tenant)?;
        }
        let head = out.len();
        for (k, v) in rest {
            let always = ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(k));
            if k.eq_ignore_ascii_case("schemas") || !(always || self.passes()) {
                continue;
            }
            match position_ci(&out, k) {
                None => out.push((k, v)),
                Some(i) => merge(&mut out[i].1, v)?,
            }
        }
        Ok((out, head))
    }
}

/// [`Endpoint::take`] for a plain endpoint.
fn take<'a>(rest: &mut Members<'a>, ep: &Endpoint) -> Step<Option<Flat<'a>>> {
    let holder = match &ep.urn {
        Some(urn) => match position_ci(rest, urn) {
            None => return Ok(None),
            Some(i) => match rest[i].1.members_mut()? {
                None => return Ok(None),
                Some(h) => h,
            },
        },
        None => rest,
    };
    let Some(i) = position_ci(holder, &ep.attr) else {
        return Ok(None);
    };
    let Some(sub) = &ep.sub else {
        return Ok(Some(holder.remove(i).1));
    };
    let v = &mut holder[i].1;
    if v.is_array() {
        // The sub-attribute of every element: the `Value` path's.
        return Err(Decline);
    }
    Ok(v.members_mut()?
        .and_then(|o| position_ci(o, sub).map(|j| o.remove(j).1)))
}

/// [`Endpoint::put`] for a plain endpoint.
fn put<'a>(out: &mut Members<'a>, ep: &'a Endpoint, v: Flat<'a>) -> Step<()> {
    let holder = match &ep.urn {
        Some(urn) => match object_at(out, urn)? {
            Some(h) => h,
            None => return Ok(()),
        },
        None => out,
    };
    match &ep.sub {
        None => insert(holder, &ep.attr, v),
        Some(sub) => match object_at(holder, &ep.attr)? {
            Some(o) => insert(o, sub, v),
            None => Ok(()),
        },
    }
}

/// The object member `name` (any case), appended empty when missing;
/// `None` when it holds something else.
fn object_at<'a, 'm>(m: &'m mut Members<'a>, name: &'a str) -> Step<Option<&'m mut Members<'a>>> {
    let i = match position_ci(m, name) {
        Some(i) => i,
        None => {
            m.push((name, Flat::Obj(Vec::new())));
            m.len() - 1
        }
    };
    m[i].1.members_mut()
}

/// A map's `insert`: the value replaced in place under the same name,
/// else appended. A name equal only ignoring case would make a second
/// member there.
fn insert<'a>(m: &mut Members<'a>, key: &'a str, v: Flat<'a>) -> Step<()> {
    match position_ci(m, key) {
        Some(i) if m[i].0 == key => m[i].1 = v,
        Some(_) => return Err(Decline),
        None => m.push((key, v)),
    }
    Ok(())
}

/// [`super::endpoint::prune`] for a plain endpoint: its attribute dropped
/// when left empty, then its extension object.
fn prune(rest: &mut Members<'_>, ep: &Endpoint) -> Step<()> {
    let holder = match &ep.urn {
        Some(urn) => match position_ci(rest, urn) {
            Some(i) => rest[i].1.members_mut()?,
            None => None,
        },
        None => Some(&mut *rest),
    };
    if let Some(holder) = holder {
        if let Some(i) = position_ci(holder, &ep.attr) {
            if holder[i].1.is_array() {
                // Empty elements are dropped from arrays: the `Value` path's.
                return Err(Decline);
            }
            if holder[i].1.is_empty() {
                holder.remove(i);
            }
        }
    }
    if let Some(urn) = &ep.urn {
        if let Some(i) = position_ci(rest, urn) {
            if rest[i].1.is_empty() {
                rest.remove(i);
            }
        }
    }
    Ok(())
}

/// The general path's merge of what no rule took into a member the rules
/// wrote: objects member by member (the rule's value winning a clash);
/// arrays appended and deeper merges are left to the `Value` path.
fn merge<'a>(into: &mut Flat<'a>, v: Flat<'a>) -> Step<()> {
    let clash = |a: &Flat<'_>, b: &Flat<'_>| {
        (a.is_array() && b.is_array()) || (a.is_object() && b.is_object())
    };
    if into.is_array() && v.is_array() {
        return Err(Decline);
    }
    if !(into.is_object() && v.is_object()) {
        return Ok(());
    }
    let mut v = v;
    let from = std::mem::take(v.members_mut()?.ok_or(Decline)?);
    let to = into.members_mut()?.ok_or(Decline)?;
    for (k, x) in from {
        match position_ci(to, k) {
            None => to.push((k, x)),
            Some(j) if clash(&to[j].1, &x) => return Err(Decline),
            Some(_) => {}
        }
    }
    Ok(())
}

/// The touched members of the input, as the flat path's rest.
pub(super) fn input<'a>(members: &[RawMember<'a>], picked: &[usize]) -> Members<'a> {
    picked
        .iter()
        .map(|&i| (members[i].0, Flat::Raw(members[i].1)))
        .collect()
}
