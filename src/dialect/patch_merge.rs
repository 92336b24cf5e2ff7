//! Merging Entra's operations on sub-attributes of one filtered element
//! into one operation, in one pass over the operations.
//!
//! Entra sends one operation per sub-attribute of a filtered element:
//! `addresses[type eq "work"].locality`, `addresses[type eq "work"].region`.
//! Applied one by one against an element that does not exist yet, servers
//! create one element per operation. Merged, they are one `add` of the
//! sub-attributes to the filtered element (RFC 7644 §3.5.2.1: an add to a
//! complex target sets the given sub-attributes and keeps the others, which
//! is what the separate adds and replaces did), carrying the filter's `eq`
//! terms so the value is a whole element for a server that upserts.
//!
//! Which operations merge: an add or replace of `attr[filter].sub` with a
//! value joins the earlier ones on the same `attr[filter]` unless an
//! operation in between may change `attr` (another filter on it, a path
//! on it, a path-less value naming it, or a path that does not parse):
//! merging across that would reorder. The merged operation takes the
//! place of the first of its group.
//!
//! Why one pass: a request may carry up to `max_patch_operations`
//! operations, and looking ahead from every operation (as a first version
//! did) cost seconds of CPU at a few thousand. An operation on `attr`
//! ends every open group on `attr`, so at most one group per attribute is
//! open at a time; indexes by group key, by attribute and by bare
//! attribute name find the groups an operation joins or ends, each
//! operation's path is parsed once, and a closed group is never looked at
//! again.
use super::patch::{op_kind, op_path};
use super::values::Fixer;
use super::Rule;
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::json::get_ci_mut;
use crate::scim::patch::{PatchOpKind, PatchPath};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Operations on sub-attributes of one filtered element, to be merged.
struct Group {
    /// `attr[filter]`, lower-cased.
    key: String,
    /// The attribute with its URN, lower-cased.
    attr: String,
    /// The first operation's path (the merged operation's, without the
    /// sub-attribute).
    first: PatchPath,
    /// (index of the operation, its sub-attribute), in order.
    members: Vec<(usize, String)>,
    open: bool,
}

/// What one operation means to the merge.
enum Role {
    /// An add/replace of `attr[filter].sub` with a value.
    Candidate { key: String, path: PatchPath },
    /// Another operation with a path on `attr` (lower-cased, with URN).
    Path { attr: String },
    /// A path that does not parse: it may touch anything.
    Unparsable,
    /// A path-less add/replace: the keys of its value, lower-cased.
    Pathless { keys: Vec<String> },
    /// Touches nothing (not an object, no path and no object value).
    Inert,
}

/// The open groups, by what finds them.
#[derive(Default)]
struct Open {
    groups: Vec<Group>,
    by_key: HashMap<String, usize>,
    by_attr: HashMap<String, usize>,
    /// By bare attribute name (lower-cased): path-less values name
    /// attributes without their URN. May hold closed groups (skipped).
    by_bare: HashMap<String, Vec<usize>>,
    /// Every group opened and not yet known closed (for a path that does
    /// not parse). May hold closed groups (skipped).
    all: Vec<usize>,
}

/// Merges in place (see the module doc).
pub(super) fn merge_filtered(fixer: &mut Fixer<'_>, ops: &mut Vec<Value>) {
    if !fixer.rules.is_on(Rule::MergeFilteredSubAttrs) {
        return;
    }
    let mut open = Open::default();
    for (j, op) in ops.iter().enumerate() {
        match role(op) {
            Role::Candidate { key, path } => {
                if let Some(&g) = open.by_key.get(&key) {
                    if let Some(sub) = path.sub_attr {
                        open.groups[g].members.push((j, sub));
                    }
                    continue;
                }
                let attr = path.attr.to_string().to_ascii_lowercase();
                if let Some(&g) = open.by_attr.get(&attr) {
                    open.close(g);
                }
                open.start(key, attr, j, path);
            }
            Role::Path { attr } => {
                if let Some(&g) = open.by_attr.get(&attr) {
                    open.close(g);
                }
            }
            Role::Unparsable => {
                for g in std::mem::take(&mut open.all) {
                    open.close(g);
                }
            }
            Role::Pathless { keys } => {
                for k in &keys {
                    // `k == a`, `k` starts with `a.`, or ends with `:a`
                    // (an attribute name has neither dots nor colons).
                    let first = k.split('.').next().unwrap_or(k);
                    let last = k.rsplit(':').next().unwrap_or(k);
                    for name in [k.as_str(), first, last] {
                        for g in open.by_bare.remove(name).unwrap_or_default() {
                            open.close(g);
                        }
                    }
                }
            }
            Role::Inert => {}
        }
    }
    let mut dropped = vec![false; ops.len()];
    for group in open.groups.into_iter().filter(|g| g.members.len() > 1) {
        let mut element = Map::new();
        if let Some(filter) = &group.first.filter {
            eq_terms(filter, &mut element);
        }
        for (j, sub) in &group.members {
            let value = ops[*j]
                .as_object_mut()
                .and_then(|o| get_ci_mut(o, "value"))
                .map(Value::take);
            if let Some(value) = value {
                element.insert(sub.clone(), value);
            }
        }
        let target = PatchPath {
            sub_attr: None,
            ..group.first
        };
        let mut merged = Map::new();
        merged.insert("op".into(), Value::String(PatchOpKind::Add.as_str().into()));
        merged.insert("path".into(), Value::String(target.to_string()));
        merged.insert("value".into(), Value::Object(element));
        let leader = group.members[0].0;
        ops[leader] = Value::Object(merged);
        for (j, _) in group.members.iter().skip(1) {
            dropped[*j] = true;
        }
        fixer.applied.record(Rule::MergeFilteredSubAttrs);
    }
    let mut index = 0;
    ops.retain(|_| {
        let keep = !dropped[index];
        index += 1;
        keep
    });
}

// === impl Open ===

impl Open {
    fn start(&mut self, key: String, attr: String, leader: usize, first: PatchPath) {
        let g = self.groups.len();
        let bare = first.attr.attr.to_ascii_lowercase();
        let members = match &first.sub_attr {
            Some(sub) => vec![(leader, sub.clone())],
            None => Vec::new(),
        };
        self.by_key.insert(key.clone(), g);
        self.by_attr.insert(attr.clone(), g);
        self.by_bare.entry(bare).or_default().push(g);
        self.all.push(g);
        self.groups.push(Group {
            key,
            attr,
            first,
            members,
            open: true,
        });
    }

    /// Ends group `g` (no later operation joins it); idempotent.
    fn close(&mut self, g: usize) {
        let group = &mut self.groups[g];
        if !group.open {
            return;
        }
        group.open = false;
        if self.by_key.get(&group.key) == Some(&g) {
            self.by_key.remove(&group.key);
        }
        if self.by_attr.get(&group.attr) == Some(&g) {
            self.by_attr.remove(&group.attr);
        }
    }
}

/// What `op` means to the merge, from one parse of its path.
fn role(op: &Value) -> Role {
    let Some(op) = op.as_object() else {
        return Role::Inert;
    };
    let Some(text) = op_path(op) else {
        return match crate::scim::json::get_ci(op, "value") {
            Some(Value::Object(v)) => Role::Pathless {
                keys: v.keys().map(|k| k.to_ascii_lowercase()).collect(),
            },
            _ => Role::Inert,
        };
    };
    let Ok(path) = PatchPath::parse(text) else {
        return Role::Unparsable;
    };
    let sets = matches!(op_kind(op), Some(PatchOpKind::Add | PatchOpKind::Replace))
        && matches!(crate::scim::json::get_ci(op, "value"), Some(v) if !v.is_null());
    match (&path.filter, &path.sub_attr) {
        (Some(filter), Some(_)) if sets => Role::Candidate {
            key: format!("{}[{filter}]", path.attr).to_ascii_lowercase(),
            path,
        },
        _ => Role::Path {
            attr: path.attr.parent().to_string().to_ascii_lowercase(),
        },
    }
}

/// The `sub eq literal` terms of an `and` chain, as members of `out`.
fn eq_terms(filter: &Filter, out: &mut Map<String, Value>) {
    match filter {
        Filter::And(a, b) => {
            eq_terms(a, out);
            eq_terms(b, out);
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub_attr.is_none() => {
            let v = match value {
                CompValue::String(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Null => return,
            };
            out.insert(path.attr.clone(), v);
        }
        _ => {}
    }
}
