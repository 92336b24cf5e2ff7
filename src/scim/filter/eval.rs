//! Filter evaluation with the RFC 7644 §3.4.2.2 semantics.
//!
//! - Strings compare by the attribute's `caseExact` (default: ignoring
//!   case); `dateTime` attributes compare chronologically; numbers
//!   numerically; booleans with `eq`/`ne` only.
//! - A multi-valued attribute matches when any value does; a complex
//!   attribute named without a sub-attribute compares its `value`.
//! - `ne` is the negation of `eq` (on a multi-valued attribute: no value
//!   equals); `eq null` matches an absent attribute and `ne null` a present
//!   one.
//! - `pr`: present and not null, empty string, empty array or empty object.
//! - Attributes the schema does not define compare like case-insensitive
//!   strings.
use super::{CompValue, CompareOp, EvalContext, Filter};
use crate::scim::datetime::DateTime;
use crate::scim::json::get_ci;
use crate::scim::path::AttrPath;
use crate::scim::schema::{AttrType, Attribute};
use serde_json::Value;
use std::cmp::Ordering;

/// Where relative paths are looked up.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// A whole resource.
    Resource,
    /// One element of a multi-valued attribute defined by `parent`.
    Element(Option<&'a Attribute>),
}

pub(super) fn matches(f: &Filter, resource: &Value, ctx: &EvalContext<'_>) -> bool {
    eval(f, resource, ctx, Scope::Resource)
}

pub(super) fn matches_element(
    f: &Filter,
    element: &Value,
    parent: &AttrPath,
    ctx: &EvalContext<'_>,
) -> bool {
    let def = ctx
        .registry
        .resolve(ctx.resource_type, &parent.parent())
        .ok()
        .map(|r| r.attr);
    eval(f, element, ctx, Scope::Element(def))
}

fn eval(f: &Filter, v: &Value, ctx: &EvalContext<'_>, scope: Scope<'_>) -> bool {
    match f {
        Filter::And(a, b) => eval(a, v, ctx, scope) && eval(b, v, ctx, scope),
        Filter::Or(a, b) => eval(a, v, ctx, scope) || eval(b, v, ctx, scope),
        Filter::Not(a) => !eval(a, v, ctx, scope),
        Filter::Present(path) => {
            let mut any = false;
            for_each_leaf(v, path, ctx, scope, &mut |leaf, _| {
                any |= is_present(leaf);
                any
            });
            any
        }
        Filter::Compare { path, op, value } => {
            let (eq_like, negate) = match op {
                CompareOp::Ne => (CompareOp::Eq, true),
                other => (*other, false),
            };
            let mut any = false;
            if matches!(value, CompValue::Null) {
                // `eq null`: no value; `ne null`: some value.
                for_each_leaf(v, path, ctx, scope, &mut |leaf, _| {
                    any |= !leaf.is_null();
                    any
                });
                return any == negate;
            }
            for_each_leaf(v, path, ctx, scope, &mut |leaf, def| {
                any |= compare_leaf(leaf, eq_like, value, def);
                any
            });
            any != negate
        }
        Filter::ValuePath { path, filter } => {
            let (top, def) = lookup_top(v, path, ctx, scope);
            let element_scope = Scope::Element(def);
            match top {
                Some(Value::Array(items)) => {
                    items.iter().any(|e| eval(filter, e, ctx, element_scope))
                }
                Some(obj @ Value::Object(_)) => eval(filter, obj, ctx, element_scope),
                _ => false,
            }
        }
    }
}

/// The value of a path's attribute (before any sub-attribute) and its
/// definition.
fn lookup_top<'v, 'c>(
    v: &'v Value,
    path: &AttrPath,
    ctx: &EvalContext<'c>,
    scope: Scope<'c>,
) -> (Option<&'v Value>, Option<&'c Attribute>) {
    match scope {
        Scope::Element(parent) => {
            let def = parent.and_then(|p| p.sub_attribute(&path.attr));
            match v {
                Value::Object(o) => (get_ci(o, &path.attr), def),
                // A simple multi-valued attribute: its element is `value`.
                other if path.attr.eq_ignore_ascii_case("value") => (Some(other), parent),
                _ => (None, None),
            }
        }
        Scope::Resource => {
            let Some(obj) = v.as_object() else {
                return (None, None);
            };
            match ctx.registry.resolve(ctx.resource_type, path) {
                Ok(r) => {
                    let holder = match r.extension {
                        Some(urn) => get_ci(obj, urn).and_then(Value::as_object),
                        None => Some(obj),
                    };
                    (holder.and_then(|h| get_ci(h, &path.attr)), Some(r.attr))
                }
                Err(_) => {
                    // Not in the schema: best effort, by name.
                    let holder = match &path.urn {
                        Some(urn) => get_ci(obj, urn).and_then(Value::as_object).or(Some(obj)),
                        None => Some(obj),
                    };
                    (holder.and_then(|h| get_ci(h, &path.attr)), None)
                }
            }
        }
    }
}

/// Calls `f` with every leaf value a path designates and the leaf's
/// definition, until `f` returns true.
fn for_each_leaf<'v>(
    v: &'v Value,
    path: &AttrPath,
    ctx: &EvalContext<'_>,
    scope: Scope<'_>,
    f: &mut dyn FnMut(&'v Value, Option<&Attribute>) -> bool,
) {
    let (top, def) = lookup_top(v, path, ctx, scope);
    let Some(top) = top else {
        return;
    };
    // With a sub-attribute, or for a complex attribute named alone (its
    // `value`), look one level down.
    let sub_name = match &path.sub_attr {
        Some(s) => Some(s.as_str()),
        None if def.is_some_and(Attribute::is_complex) || is_complex_value(top) => Some("value"),
        None => None,
    };
    let leaf_def = match sub_name {
        Some(s) => def.and_then(|d| d.sub_attribute(s)),
        None => def,
    };
    let mut visit = |item: &'v Value| -> bool {
        match sub_name {
            Some(s) => match item.as_object().and_then(|o| get_ci(o, s)) {
                Some(Value::Array(xs)) => xs.iter().any(|x| f(x, leaf_def)),
                Some(x) => f(x, leaf_def),
                None => false,
            },
            None => f(item, leaf_def),
        }
    };
    match top {
        Value::Array(items) => {
            for item in items {
                if visit(item) {
                    return;
                }
            }
        }
        other => {
            visit(other);
        }
    }
}

fn is_complex_value(v: &Value) -> bool {
    match v {
        Value::Object(_) => true,
        Value::Array(items) => items.first().is_some_and(Value::is_object),
        _ => false,
    }
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// One leaf against the literal (`op` is never `Ne` here).
fn compare_leaf(leaf: &Value, op: CompareOp, lit: &CompValue, def: Option<&Attribute>) -> bool {
    match (leaf, lit) {
        (Value::String(s), CompValue::String(l)) => {
            if def.is_some_and(|d| d.attr_type == AttrType::DateTime) {
                if let (Some(a), Some(b)) = (DateTime::parse(s), DateTime::parse(l)) {
                    return match op {
                        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => string_op(s, op, l, true),
                        _ => ordering_op(a.cmp(&b), op),
                    };
                }
                if matches!(
                    op,
                    CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
                ) {
                    return false;
                }
            }
            let case_exact = def.is_some_and(|d| d.case_exact);
            string_op(s, op, l, case_exact)
        }
        (Value::Number(n), CompValue::Number(l)) => {
            let ord = match (n.as_i64(), l.as_i64()) {
                (Some(a), Some(b)) => Some(a.cmp(&b)),
                _ => n
                    .as_f64()
                    .zip(l.as_f64())
                    .and_then(|(a, b)| a.partial_cmp(&b)),
            };
            match (ord, op) {
                (
                    Some(o),
                    CompareOp::Eq | CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le,
                ) => ordering_op(o, op),
                _ => false,
            }
        }
        (Value::Bool(b), CompValue::Bool(l)) => op == CompareOp::Eq && b == l,
        _ => false,
    }
}

fn ordering_op(o: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn string_op(s: &str, op: CompareOp, l: &str, case_exact: bool) -> bool {
    if case_exact {
        return match op {
            CompareOp::Eq => s == l,
            CompareOp::Ne => s != l,
            CompareOp::Co => s.contains(l),
            CompareOp::Sw => s.starts_with(l),
            CompareOp::Ew => s.ends_with(l),
            _ => ordering_op(s.cmp(l), op),
        };
    }
    if s.is_ascii() && l.is_ascii() {
        let (h, n) = (s.as_bytes(), l.as_bytes());
        return match op {
            CompareOp::Eq => s.eq_ignore_ascii_case(l),
            CompareOp::Ne => !s.eq_ignore_ascii_case(l),
            CompareOp::Co => n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n)),
            CompareOp::Sw => h.len() >= n.len() && h[..n.len()].eq_ignore_ascii_case(n),
            CompareOp::Ew => h.len() >= n.len() && h[h.len() - n.len()..].eq_ignore_ascii_case(n),
            _ => ordering_op(
                h.iter()
                    .map(u8::to_ascii_lowercase)
                    .cmp(n.iter().map(u8::to_ascii_lowercase)),
                op,
            ),
        };
    }
    // Non-ASCII: full Unicode lower-casing (rare, allocates).
    let (a, b) = (s.to_lowercase(), l.to_lowercase());
    string_op(&a, op, &b, true)
}
