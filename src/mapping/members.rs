//! Whole resources mapped member by member: only the top-level members a
//! table touches become `serde_json::Value`s; the others are copied from
//! the input text as written, never parsed nor serialized again.
//!
//! Why: a User's rules touch a few of its members (`title`, `name`, an
//! extension), yet parsing the whole resource into a `Value` tree (a
//! hashed, allocated key per member, all the way down), mapping it and
//! serializing it again was most of what a mapped tenant cost over the
//! default one, on the way in and on the way back.
//!
//! How, for one direction:
//! 1. the input's top-level members, as (key, value text) pairs: from the
//!    raw validator's scan on the way in
//!    ([`verbatim_members`](crate::scim::validate_raw::verbatim_members)),
//!    from [`scan_members`] on the way back;
//! 2. the touched ones ([`MemberPlan`], compiled with the table): `id`,
//!    the members a rule, `never_upstream`, `hidden` or a constant reads,
//!    the members the rules reading a present member write, and those
//!    defaults and constants always write; `schemas` is rebuilt;
//! 3. the touched members, parsed, go through the general mapping
//!    ([`ResourceMapping::map_in_parts`] or
//!    [`ResourceMapping::to_tenant_parts`], then `merge_rest`), or, on the
//!    way in under a table of plain renames, the same steps over their
//!    text (`flat.rs`, nothing parsed); when
//!    nothing but `id` is touched and nothing is always written (an answer
//!    holding none of the attributes the table reads), there is nothing to
//!    run: `id` is copied after `schemas`, as the general path puts it;
//! 4. the output: `schemas` (the side's core URN, then every extension
//!    object present, in output order), what the rules wrote, then what is
//!    left of the touched members and the untouched members, in input
//!    order; untouched members are dropped under `unmapped = "drop"`
//!    (except `meta`).
//!
//! An untouched member shares no name (in any case) with anything the
//! rules read or write, so the general path would only have moved it to
//! the same place: the output is the general path's, member for member
//! and in the same order (untouched values keep their whitespace and
//! number spelling). Inputs this cannot promise that for (two members
//! whose names differ only in case, an escaped name, text the strict
//! scanner declines) return `None`, and the caller takes the general path.
//! `tests/members.rs` holds both paths to the same outputs.
use super::endpoint::Endpoint;
use super::flat;
use super::output::{write, Text};
use super::resource::ALWAYS;
use super::ResourceMapping;
use crate::scim::error::ScimResult;
use crate::scim::json_scan::Scanner;
use serde_json::{Map, Value};

/// A top-level member as written: its key (without escapes) and its
/// value's text.
pub type RawMember<'a> = (&'a str, &'a str);

/// The top-level members each direction of a resource type's rules read
/// and write, compiled with the table.
#[derive(Debug, Clone, Default)]
pub(super) struct MemberPlan {
    way_in: WayPlan,
    way_out: WayPlan,
}

#[derive(Debug, Clone, Default)]
struct WayPlan {
    /// A member something reads, with the member it writes when it finds
    /// it (`None` for what is only dropped: `never_upstream`, `hidden`,
    /// constants on the way back).
    reads: Vec<(String, Option<String>)>,
    /// Members written whatever the input holds (defaults, constants).
    always: Vec<String>,
    /// The lengths of every name above (and `id`), as [`length_bit`]s: a
    /// member of another length is untouched without comparing names.
    lengths: u64,
    /// The rules are plain renames: the touched members are mapped on
    /// their text (`flat.rs`), without building values (way in only).
    flat: bool,
}

/// A name's length as one bit of a set (lengths from 64 up share one).
fn length_bit(name: &str) -> u64 {
    1 << name.len().min(63)
}

/// The top-level member an endpoint lives in: its extension, or itself.
fn top(e: &Endpoint) -> String {
    e.urn.clone().unwrap_or_else(|| e.attr.clone())
}

// === impl MemberPlan ===

impl MemberPlan {
    /// The plan of `m`'s rules (called once its rules are compiled).
    pub(super) fn new(m: &ResourceMapping) -> MemberPlan {
        let mut plan = MemberPlan::default();
        for r in &m.rules {
            let (tenant, upstream) = (top(&r.tenant), top(&r.upstream));
            if r.default.is_some() {
                plan.way_in.always.push(upstream.clone());
            }
            plan.way_in
                .reads
                .push((tenant.clone(), Some(upstream.clone())));
            plan.way_out.reads.push((upstream, Some(tenant)));
        }
        for e in &m.never_upstream {
            plan.way_in.reads.push((top(e), None));
        }
        for e in &m.hidden {
            plan.way_out.reads.push((top(e), None));
        }
        for (e, _) in &m.constants {
            plan.way_in.always.push(top(e));
            plan.way_out.reads.push((top(e), None));
        }
        plan.way_in.flat = flat::qualifies(m);
        for way in [&mut plan.way_in, &mut plan.way_out] {
            let names = way
                .reads
                .iter()
                .flat_map(|(r, w)| std::iter::once(r).chain(w));
            way.lengths = names
                .chain(&way.always)
                .fold(length_bit("id"), |set, n| set | length_bit(n));
        }
        plan
    }
}

// === impl ResourceMapping ===

impl ResourceMapping {
    /// [`Self::into_upstream`] of a whole resource given as its members
    /// (a POST or PUT body), as the upstream's JSON text. `validated`:
    /// the members are a body the raw validator passed, which the full
    /// validator would have reordered with the extension objects last (so
    /// the general path's output order is kept). `None` when the caller
    /// must take the general path.
    pub fn members_to_upstream(
        &self,
        members: &[RawMember<'_>],
        validated: bool,
    ) -> Option<ScimResult<Vec<u8>>> {
        let ext_last = |i: usize, key: &str| {
            let ext = validated && self.tenant_extensions.iter().any(|e| e == key);
            i + if ext { members.len() } else { 0 }
        };
        self.map_members(
            members,
            &self.members.way_in,
            ext_last,
            |t| self.map_in_parts(t, true),
            &self.upstream_schema,
        )
    }

    /// [`Self::into_tenant`] of an upstream resource's JSON text, as the
    /// tenant's JSON text; `None` when the caller must take the general
    /// path.
    pub fn bytes_to_tenant(&self, body: &[u8]) -> Option<Vec<u8>> {
        let members = scan_members(body)?;
        let out = self.map_members(
            &members,
            &self.members.way_out,
            |i, _| i,
            |t| Ok(self.to_tenant_parts(t)),
            &self.tenant_schema,
        )?;
        out.ok()
    }

    /// The steps of the module's documentation. `order` gives each input
    /// member its place in the general path's input; `run` is the general
    /// mapping up to the merge; `core` the output's core schema.
    fn map_members(
        &self,
        members: &[RawMember<'_>],
        way: &WayPlan,
        order: impl Fn(usize, &str) -> usize,
        run: impl FnOnce(Value) -> ScimResult<(Value, Value)>,
        core: &str,
    ) -> Option<ScimResult<Vec<u8>>> {
        if !distinct(members) {
            return None;
        }
        let touched = touched(members, way);
        if way.always.is_empty()
            && !touched
                .iter()
                .zip(members)
                .any(|(&t, (k, _))| t && *k != "id")
        {
            // Nothing for the rules to read or write: the general path
            // would only put `id` (copied) after `schemas`.
            let mut entries = Vec::with_capacity(members.len());
            if let Some((_, id)) = members.iter().find(|(k, _)| *k == "id") {
                entries.push((0, "id", Text::Raw(id)));
            }
            self.untouched(&mut entries, members, &touched, &order);
            entries.sort_by_key(|e| e.0);
            return Some(Ok(write(core, &entries)?));
        }
        let mut picked: Vec<usize> = (0..members.len()).filter(|&i| touched[i]).collect();
        picked.sort_by_key(|&i| order(i, members[i].0));
        if way.flat {
            if let Ok((out, head)) = self.flat_in(flat::input(members, &picked)) {
                // As below, over the members' text.
                let mut entries = Vec::with_capacity(members.len() + head);
                for (k, v) in out.iter().take(head).skip(1) {
                    entries.push((0, *k, Text::Flat(v)));
                }
                for (k, v) in out.iter().skip(head) {
                    let i = picked.iter().find(|&&i| members[i].0 == *k)?;
                    entries.push((1 + order(*i, k), *k, Text::Flat(v)));
                }
                self.untouched(&mut entries, members, &touched, &order);
                entries.sort_by_key(|e| e.0);
                #[cfg(test)]
                FLAT_TAKEN.with(|n| n.set(n.get() + 1));
                return Some(Ok(write(core, &entries)?));
            }
        }
        let mut input = Map::with_capacity(picked.len());
        for &i in &picked {
            let (key, text) = members[i];
            input.insert(key.to_string(), serde_json::from_str(text).ok()?);
        }
        let (mut out, rest) = match run(Value::Object(input)) {
            Ok(parts) => parts,
            Err(e) => return Some(Err(e)),
        };
        let head = out.as_object()?.len();
        self.merge_rest(&mut out, rest);
        let out = out.as_object()?;
        // Index 0 is `schemas` (rebuilt below); what the rules wrote
        // follows, then the touched members left over, by input place.
        if out.keys().next().map(String::as_str) != Some("schemas") {
            return None;
        }
        let mut entries: Vec<(usize, &str, Text<'_>)> = Vec::with_capacity(members.len() + head);
        for (k, v) in out.iter().take(head).skip(1) {
            entries.push((0, k, Text::Value(v)));
        }
        for (k, v) in out.iter().skip(head) {
            let i = picked.iter().find(|&&i| members[i].0 == k)?;
            entries.push((1 + order(*i, k), k, Text::Value(v)));
        }
        self.untouched(&mut entries, members, &touched, &order);
        entries.sort_by_key(|e| e.0);
        Some(Ok(write(core, &entries)?))
    }

    /// The untouched members the output keeps (all of them when unmapped
    /// attributes pass, else `meta`), as they are written, by input place.
    fn untouched<'a>(
        &self,
        entries: &mut Vec<(usize, &'a str, Text<'a>)>,
        members: &'a [RawMember<'a>],
        touched: &[bool],
        order: &impl Fn(usize, &str) -> usize,
    ) {
        for (i, (k, text)) in members.iter().enumerate() {
            let keep = self.passes() || ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(k));
            if !touched[i] && keep && !k.eq_ignore_ascii_case("schemas") {
                entries.push((1 + order(i, k), k, Text::Raw(text)));
            }
        }
    }
}

#[cfg(test)]
thread_local! {
    /// How often this thread's mappings took the flat path (tests hold the
    /// path to being taken where it should be).
    pub(super) static FLAT_TAKEN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// No two members whose names are equal ignoring case (the general path
/// reads them by case-blind lookups, the first found winning).
fn distinct(members: &[RawMember<'_>]) -> bool {
    // Names are compared only with earlier ones of the same length.
    let mut lengths = 0u64;
    members.iter().enumerate().all(|(i, (a, _))| {
        let bit = length_bit(a);
        let seen = lengths & bit != 0;
        lengths |= bit;
        !seen || members[..i].iter().all(|(b, _)| !a.eq_ignore_ascii_case(b))
    })
}

/// Which members go through the general mapping (step 2).
fn touched(members: &[RawMember<'_>], way: &WayPlan) -> Vec<bool> {
    let mut touched = vec![false; members.len()];
    let mut written: Vec<&str> = way.always.iter().map(String::as_str).collect();
    for (i, (k, _)) in members.iter().enumerate() {
        if way.lengths & length_bit(k) == 0 {
            continue;
        }
        if k.eq_ignore_ascii_case("id") {
            touched[i] = true;
        }
        for (read, write) in &way.reads {
            if read.eq_ignore_ascii_case(k) {
                touched[i] = true;
                written.extend(write.as_deref());
            }
        }
    }
    for (i, (k, _)) in members.iter().enumerate() {
        if !touched[i] && way.lengths & length_bit(k) != 0 {
            touched[i] = written.iter().any(|w| w.eq_ignore_ascii_case(k));
        }
    }
    touched
}

/// The top-level members of a JSON object, by the strict scanner; `None`
/// for anything else, an escaped name, or text the scanner declines.
pub fn scan_members(body: &[u8]) -> Option<Vec<RawMember<'_>>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut s = Scanner::new(text);
    s.begin_object()?;
    let mut out = Vec::with_capacity(24);
    let mut first = true;
    while let Some(key) = s.key(first)? {
        first = false;
        s.peek()?;
        let start = s.pos();
        s.skip()?;
        out.push((key.plain()?, text.get(start..s.pos())?));
    }
    s.end()?;
    Some(out)
}
