//! One side of a rule, resolved: where a value sits in a resource, and
//! reading, taking and writing it in JSON.
//!
//! An endpoint is `[urn:]attr[.sub]` or `[urn:]attr[selector].sub`, where
//! the selector is a conjunction of `sub eq literal` conditions picking one
//! element of a multi-valued attribute (`emails[type eq "work"].value`).
//! Names are stored in their canonical (schema) spelling; resources are
//! read ignoring case (RFC 7643 §2.1) and written in canonical spelling.
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::json::{get_ci, get_ci_mut, key_ci, remove_ci};
use crate::scim::patch::PatchPath;
use crate::scim::path::AttrPath;
use serde_json::{Map, Value};
use std::fmt;

/// A resolved rule side.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Endpoint {
    /// The extension URN whose object holds the attribute; `None` at the top
    /// level.
    pub urn: Option<String>,
    pub attr: String,
    /// `sub eq value` conditions selecting one element; empty for none.
    pub select: Vec<(String, Value)>,
    pub sub: Option<String>,
    /// The attribute is multi-valued.
    pub multi: bool,
}

// === impl Endpoint ===

impl Endpoint {
    /// The same attribute (URN and name), ignoring case.
    pub(super) fn same_attr(&self, urn: Option<&str>, attr: &str) -> bool {
        self.attr.eq_ignore_ascii_case(attr) && opt_eq(self.urn.as_deref(), urn)
    }

    /// The path as a PATCH path (`emails[type eq "work"].value`).
    pub(super) fn patch_path(&self) -> PatchPath {
        let attr = AttrPath {
            urn: self.urn.clone(),
            attr: self.attr.clone(),
            sub_attr: None,
        };
        if self.select.is_empty() {
            PatchPath {
                attr: AttrPath {
                    sub_attr: self.sub.clone(),
                    ..attr
                },
                filter: None,
                sub_attr: None,
            }
        } else {
            PatchPath {
                attr,
                filter: select_filter(&self.select),
                sub_attr: self.sub.clone(),
            }
        }
    }

    /// The attribute path without the selector (`emails.value`).
    pub(super) fn attr_path(&self) -> AttrPath {
        AttrPath {
            urn: self.urn.clone(),
            attr: self.attr.clone(),
            sub_attr: self.sub.clone(),
        }
    }

    /// A copy of the value at this endpoint.
    pub(super) fn get(&self, resource: &Value) -> Option<Value> {
        let holder = self.holder(resource)?;
        let v = get_ci(holder, &self.attr)?;
        if !self.select.is_empty() {
            let el = v.as_array()?.iter().find(|e| matches(e, &self.select))?;
            return sub_of(el, self.sub.as_deref()).cloned();
        }
        match (&self.sub, v) {
            (None, v) => Some(v.clone()),
            (Some(sub), Value::Array(items)) => {
                let vals: Vec<Value> = items
                    .iter()
                    .filter_map(|e| sub_of(e, Some(sub)).cloned())
                    .collect();
                (!vals.is_empty()).then_some(Value::Array(vals))
            }
            (Some(sub), v) => sub_of(v, Some(sub)).cloned(),
        }
    }

    /// Removes and returns the value. A selected element keeps its selector
    /// keys; [`prune`] removes it once every rule has taken its part.
    pub(super) fn take(&self, resource: &mut Value) -> Option<Value> {
        let holder = self.holder_mut(resource)?;
        if self.select.is_empty() && self.sub.is_none() {
            return remove_ci(holder, &self.attr);
        }
        let v = get_ci_mut(holder, &self.attr)?;
        let sub = self.sub.as_deref()?;
        if !self.select.is_empty() {
            let el = v
                .as_array_mut()?
                .iter_mut()
                .find(|e| matches(e, &self.select))?;
            return remove_ci(el.as_object_mut()?, sub);
        }
        match v {
            Value::Array(items) => {
                let vals: Vec<Value> = items
                    .iter_mut()
                    .filter_map(|e| remove_ci(e.as_object_mut()?, sub))
                    .collect();
                (!vals.is_empty()).then_some(Value::Array(vals))
            }
            Value::Object(o) => remove_ci(o, sub),
            _ => None,
        }
    }

    /// Writes `value` here, creating the holder, the element or the
    /// complex value as needed.
    pub(super) fn put(&self, resource: &mut Value, value: Value, primary: bool) {
        let Some(root) = resource.as_object_mut() else {
            return;
        };
        let holder = match &self.urn {
            Some(urn) => match object_at(root, urn) {
                Some(h) => h,
                None => return,
            },
            None => root,
        };
        let Some(sub) = &self.sub else {
            holder.insert(self.attr.clone(), value);
            return;
        };
        if !self.select.is_empty() {
            let Some(items) = array_at(holder, &self.attr) else {
                return;
            };
            let at = match items.iter().position(|e| matches(e, &self.select)) {
                Some(i) => i,
                None => {
                    let el: Map<String, Value> = self.select.iter().cloned().collect();
                    items.push(Value::Object(el));
                    items.len() - 1
                }
            };
            if let Some(el) = items.get_mut(at).and_then(Value::as_object_mut) {
                el.insert(sub.clone(), value);
                if primary {
                    el.insert("primary".into(), Value::Bool(true));
                }
            }
            return;
        }
        if self.multi {
            let Some(items) = array_at(holder, &self.attr) else {
                return;
            };
            let values = match value {
                Value::Array(vs) => vs,
                v => vec![v],
            };
            for (i, v) in values.into_iter().enumerate() {
                if items.len() <= i {
                    items.push(Value::Object(Map::new()));
                }
                if let Some(el) = items.get_mut(i).and_then(Value::as_object_mut) {
                    el.insert(sub.clone(), v);
                }
            }
            return;
        }
        if let Some(o) = object_at(holder, &self.attr) {
            o.insert(sub.clone(), value);
        }
    }

    fn holder<'v>(&self, resource: &'v Value) -> Option<&'v Map<String, Value>> {
        let root = resource.as_object()?;
        match &self.urn {
            Some(urn) => get_ci(root, urn)?.as_object(),
            None => Some(root),
        }
    }

    fn holder_mut<'v>(&self, resource: &'v mut Value) -> Option<&'v mut Map<String, Value>> {
        let root = resource.as_object_mut()?;
        match &self.urn {
            Some(urn) => get_ci_mut(root, urn)?.as_object_mut(),
            None => Some(root),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.patch_path())
    }
}

/// After rules took their values: drops selected elements left with only
/// selector keys (and `primary`), then empty complex values, arrays and
/// extension objects of the attributes the endpoints touched.
pub(crate) fn prune(resource: &mut Value, endpoints: &[&Endpoint]) {
    for ep in endpoints {
        let Some(holder) = ep.holder_mut(resource) else {
            continue;
        };
        if let Some(v) = get_ci_mut(holder, &ep.attr) {
            if let (false, Value::Array(items)) = (ep.select.is_empty(), &mut *v) {
                items.retain(|e| !only_selector(e, &ep.select));
            }
            if let Value::Array(items) = &mut *v {
                items.retain(|e| !is_empty(e));
            }
            if is_empty(v) {
                remove_ci(holder, &ep.attr);
            }
        }
        if let (Some(urn), Some(root)) = (&ep.urn, resource.as_object_mut()) {
            if get_ci(root, urn).is_some_and(is_empty) {
                remove_ci(root, urn);
            }
        }
    }
}

/// The selector as a value filter: `type eq "work" and ...`.
pub(crate) fn select_filter(select: &[(String, Value)]) -> Option<Filter> {
    select
        .iter()
        .map(|(k, v)| Filter::Compare {
            path: AttrPath::simple(k),
            op: CompareOp::Eq,
            value: comp_value(v),
        })
        .reduce(|a, b| Filter::And(Box::new(a), Box::new(b)))
}

/// The `sub eq literal` conditions of a value filter made only of them.
pub(crate) fn filter_conditions(filter: &Filter) -> Option<Vec<(String, Value)>> {
    match filter {
        Filter::And(a, b) => {
            let mut out = filter_conditions(a)?;
            out.extend(filter_conditions(b)?);
            Some(out)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub_attr.is_none() => {
            Some(vec![(path.attr.clone(), json_value(value))])
        }
        _ => None,
    }
}

/// Two selectors with the same conditions, in any order.
pub(crate) fn same_select(a: &[(String, Value)], b: &[(String, Value)]) -> bool {
    a.len() == b.len() && a.iter().all(|c| b.iter().any(|d| same_condition(c, d)))
}

/// True when no element can satisfy both selectors: they test one key
/// against different values.
pub(crate) fn disjoint(a: &[(String, Value)], b: &[(String, Value)]) -> bool {
    a.iter().any(|(k, v)| {
        b.iter()
            .any(|(l, w)| k.eq_ignore_ascii_case(l) && !values_match(v, w))
    })
}

fn same_condition(a: &(String, Value), b: &(String, Value)) -> bool {
    a.0.eq_ignore_ascii_case(&b.0) && values_match(&a.1, &b.1)
}

/// Selector values compare ignoring case (`type` is caseExact=false).
fn values_match(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

/// True when `element` satisfies every condition.
fn matches(element: &Value, select: &[(String, Value)]) -> bool {
    let Some(o) = element.as_object() else {
        return false;
    };
    select
        .iter()
        .all(|(k, v)| get_ci(o, k).is_some_and(|x| values_match(x, v)))
}

fn only_selector(element: &Value, select: &[(String, Value)]) -> bool {
    matches(element, select)
        && element.as_object().is_some_and(|o| {
            o.keys().all(|k| {
                k.eq_ignore_ascii_case("primary")
                    || select.iter().any(|(s, _)| s.eq_ignore_ascii_case(k))
            })
        })
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn sub_of<'v>(v: &'v Value, sub: Option<&str>) -> Option<&'v Value> {
    match sub {
        None => Some(v),
        Some(s) => get_ci(v.as_object()?, s),
    }
}

/// The object member `name` (any case), created when missing; `None` when
/// it holds something else.
fn object_at<'m>(m: &'m mut Map<String, Value>, name: &str) -> Option<&'m mut Map<String, Value>> {
    member_at(m, name, || Value::Object(Map::new()))?.as_object_mut()
}

fn array_at<'m>(m: &'m mut Map<String, Value>, name: &str) -> Option<&'m mut Vec<Value>> {
    member_at(m, name, || Value::Array(Vec::new()))?.as_array_mut()
}

/// The member `name` (any case), inserted from `new` when missing; found
/// without hashing or copying its name when present (`get_ci_mut`).
fn member_at<'m>(
    m: &'m mut Map<String, Value>,
    name: &str,
    new: impl FnOnce() -> Value,
) -> Option<&'m mut Value> {
    if key_ci(m, name).is_none() {
        return Some(m.entry(name.to_string()).or_insert_with(new));
    }
    get_ci_mut(m, name)
}

fn opt_eq(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (None, None) => true,
        _ => false,
    }
}

/// A filter literal as JSON.
pub(crate) fn json_value(v: &CompValue) -> Value {
    match v {
        CompValue::Null => Value::Null,
        CompValue::Bool(b) => Value::Bool(*b),
        CompValue::Number(n) => Value::Number(n.clone()),
        CompValue::String(s) => Value::String(s.clone()),
    }
}

/// JSON as a filter literal; `None` for arrays and objects.
pub(crate) fn try_comp_value(v: &Value) -> Option<CompValue> {
    Some(match v {
        Value::Null => CompValue::Null,
        Value::Bool(b) => CompValue::Bool(*b),
        Value::Number(n) => CompValue::Number(n.clone()),
        Value::String(s) => CompValue::String(s.clone()),
        Value::Array(_) | Value::Object(_) => return None,
    })
}

fn comp_value(v: &Value) -> CompValue {
    try_comp_value(v).unwrap_or(CompValue::Null)
}
