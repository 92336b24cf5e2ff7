//! One PATCH operation on one attribute (RFC 7644 §3.5.2.1-§3.5.2.3): the
//! whole attribute (`emails`, `name`), a sub-attribute (`name.givenName`),
//! or the elements a value filter selects (`emails[type eq "work"]`),
//! with the rules for multi-valued lists (no duplicate added, one
//! `primary`). Pure: the resource's JSON and the schema only.
use super::apply::Target;
use super::PatchOpKind;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::{EvalContext, Filter};
use crate::scim::json::{get_ci, get_ci_mut, insert_ci, key_ci, remove_ci};
use crate::scim::path::AttrPath;
use crate::scim::schema::{Attribute, Mutability};
use crate::scim::validate::check_value;
use serde_json::{Map, Value};

/// An operation on a whole attribute (`emails`, `displayName`, `name`).
pub(super) fn apply_attr(
    holder: &mut Map<String, Value>,
    kind: PatchOpKind,
    attr: &Attribute,
    value: Option<&Value>,
    display: &str,
    name: &str,
) -> ScimResult<()> {
    let current = get_ci(holder, name).filter(|v| !v.is_null());
    if attr.mutability == Mutability::Immutable
        && current.is_some()
        && !(kind == PatchOpKind::Add && attr.multi_valued)
    {
        return Err(ScimError::mutability(format!(
            "\"{display}\" is immutable and already set"
        )));
    }
    // RFC 7644 §3.5.2.2: removing (or unassigning) a required attribute
    // is a mutability error. A remove unassigns unless it names values of a
    // multi-valued attribute: a `value` on a remove of a single-valued
    // attribute is ignored, and the attribute goes.
    let lists_values = attr.multi_valued && value.is_some_and(|v| !v.is_null());
    let unassigns = kind == PatchOpKind::Remove && !lists_values
        || kind == PatchOpKind::Replace && value.is_some_and(Value::is_null);
    if attr.required && current.is_some() && unassigns {
        return Err(ScimError::mutability(format!(
            "\"{display}\" is required and cannot be removed"
        )));
    }
    match kind {
        PatchOpKind::Remove => {
            match (value, attr.multi_valued) {
                // `{"op":"remove","path":"members","value":[{"value":"id"}]}`
                // (Entra): remove the listed values.
                (Some(v), true) if !v.is_null() => {
                    let listed: Vec<&Value> = match v {
                        Value::Array(items) => items.iter().collect(),
                        other => vec![other],
                    };
                    if let Some(Value::Array(items)) = get_ci_mut(holder, name) {
                        items.retain(|item| !listed.iter().any(|l| same_value(item, l)));
                        if attr.required && items.is_empty() {
                            return Err(ScimError::mutability(format!(
                                "\"{display}\" is required and cannot lose its last value"
                            )));
                        }
                    }
                }
                _ => {
                    remove_ci(holder, name);
                }
            }
            Ok(())
        }
        PatchOpKind::Add | PatchOpKind::Replace => {
            let Some(value) = value else {
                return Err(ScimError::invalid_value(format!(
                    "\"{display}\" needs a value"
                )));
            };
            if value.is_null() {
                if kind == PatchOpKind::Replace {
                    remove_ci(holder, name);
                    return Ok(());
                }
                return Err(ScimError::invalid_value(format!(
                    "\"{display}\": null cannot be added"
                )));
            }
            if attr.multi_valued {
                // A single value is accepted where a list is expected.
                let list = match value {
                    Value::Array(_) => value.clone(),
                    other => Value::Array(vec![other.clone()]),
                };
                let checked = check_value(attr, &list, display)?;
                let new: Vec<Value> = match checked {
                    Some(Value::Array(items)) => items,
                    _ => Vec::new(),
                };
                let new_primary = new.iter().any(is_primary);
                let merged = if kind == PatchOpKind::Add {
                    // The list is taken out, not copied (this is the
                    // request's own copy of the resource): an add per
                    // operation costs the new values, not the whole list.
                    let mut items = match get_ci_mut(holder, name) {
                        Some(Value::Array(items)) => std::mem::take(items),
                        _ => Vec::new(),
                    };
                    if new_primary {
                        clear_primary(&mut items);
                    }
                    add_distinct(&mut items, new);
                    items
                } else {
                    new
                };
                insert_ci(holder, name, Value::Array(merged));
                return Ok(());
            }
            if attr.is_complex() {
                // RFC 7644 §3.5.2.1/§3.5.2.3: sub-attributes in the value
                // are set; the others are left unchanged.
                let Some(Value::Object(subs)) = check_value(attr, value, display)? else {
                    return Ok(());
                };
                let mut current = match get_ci_mut(holder, name) {
                    Some(Value::Object(m)) => std::mem::take(m),
                    _ => Map::new(),
                };
                for (k, v) in subs {
                    current.insert(k, v);
                }
                insert_ci(holder, name, Value::Object(current));
                return Ok(());
            }
            match check_value(attr, value, display)? {
                Some(v) => insert_ci(holder, name, v),
                None => {
                    remove_ci(holder, name);
                }
            }
            Ok(())
        }
    }
}

/// An operation on a sub-attribute without a filter (`name.givenName`).
pub(super) fn apply_sub(
    holder: &mut Map<String, Value>,
    kind: PatchOpKind,
    t: &Target<'_>,
    sub: &Attribute,
    value: Option<&Value>,
    display: &str,
) -> ScimResult<()> {
    let name = t.attr.name.as_str();
    if t.attr.multi_valued {
        // `emails.type` without a filter: every element.
        let Some(Value::Array(items)) = get_ci_mut(holder, name) else {
            return match kind {
                PatchOpKind::Remove => Ok(()),
                _ => Err(ScimError::no_target(format!(
                    "\"{display}\": {name} has no values"
                ))),
            };
        };
        for item in items.iter_mut() {
            if let Value::Object(element) = item {
                set_sub(element, kind, sub, value, display)?;
            }
        }
        return Ok(());
    }
    if get_ci(holder, name).is_none() {
        if kind == PatchOpKind::Remove {
            return Ok(());
        }
        insert_ci(holder, name, Value::Object(Map::new()));
    }
    match get_ci_mut(holder, name) {
        Some(Value::Object(m)) => set_sub(m, kind, sub, value, display),
        _ => Err(ScimError::invalid_value(format!(
            "\"{name}\" is not an object"
        ))),
    }
}

/// Sets or removes one sub-attribute of one element.
fn set_sub(
    element: &mut Map<String, Value>,
    kind: PatchOpKind,
    sub: &Attribute,
    value: Option<&Value>,
    display: &str,
) -> ScimResult<()> {
    let current = get_ci(element, &sub.name).filter(|v| !v.is_null());
    if sub.mutability == Mutability::Immutable && current.is_some() {
        return Err(ScimError::mutability(format!(
            "\"{display}\" is immutable and already set"
        )));
    }
    if kind == PatchOpKind::Remove {
        if sub.required && current.is_some() {
            return Err(ScimError::mutability(format!(
                "\"{display}\" is required and cannot be removed"
            )));
        }
        remove_ci(element, &sub.name);
        return Ok(());
    }
    let Some(value) = value else {
        return Err(ScimError::invalid_value(format!(
            "\"{display}\" needs a value"
        )));
    };
    match check_value(sub, value, display)? {
        Some(v) => insert_ci(element, &sub.name, v),
        None => {
            remove_ci(element, &sub.name);
        }
    }
    Ok(())
}

/// An operation on the elements a value filter selects.
#[allow(clippy::too_many_arguments)]
pub(super) fn apply_filtered(
    ctx: &EvalContext<'_>,
    holder: &mut Map<String, Value>,
    kind: PatchOpKind,
    t: &Target<'_>,
    parent: &AttrPath,
    filter: &Filter,
    sub: Option<&Attribute>,
    value: Option<&Value>,
    display: &str,
) -> ScimResult<()> {
    let name = t.attr.name.as_str();
    let no_target = || ScimError::no_target(format!("\"{display}\" matches no value"));
    // Worked on in place (the request's own copy of the resource): an
    // operation costs one pass over the list, not a copy of it.
    let Some(Value::Array(items)) = get_ci_mut(holder, name) else {
        return Err(no_target());
    };
    let selected: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, e)| filter.matches_element(e, parent, ctx))
        .map(|(i, _)| i)
        .collect();
    if selected.is_empty() {
        return Err(no_target());
    }
    match (kind, sub) {
        (PatchOpKind::Remove, None) => {
            let mut drop = vec![false; items.len()];
            for &i in &selected {
                drop[i] = true;
            }
            let mut i = 0;
            items.retain(|_| {
                let keep = !drop[i];
                i += 1;
                keep
            });
        }
        (_, Some(sub)) => {
            let sets_primary = sub.name == "primary" && value == Some(&Value::Bool(true));
            if sets_primary {
                one_primary(selected.len(), display)?;
                clear_primary(items);
            }
            for &i in &selected {
                if let Some(Value::Object(element)) = items.get_mut(i) {
                    set_sub(element, kind, sub, value, display)?;
                }
            }
        }
        (PatchOpKind::Add | PatchOpKind::Replace, None) => {
            let Some(value) = value else {
                return Err(ScimError::invalid_value(format!(
                    "\"{display}\" needs a value"
                )));
            };
            let Some(checked) = check_value_single(t.attr, value, display)? else {
                return Ok(());
            };
            if is_primary(&checked) {
                one_primary(selected.len(), display)?;
                clear_primary(items);
            }
            for &i in &selected {
                let Some(slot) = items.get_mut(i) else {
                    continue;
                };
                if kind == PatchOpKind::Replace {
                    *slot = checked.clone();
                } else if let (Value::Object(element), Value::Object(subs)) = (slot, &checked) {
                    for (k, v) in subs {
                        element.insert(k.clone(), v.clone());
                    }
                }
            }
        }
    }
    canonical_key(holder, name);
    Ok(())
}

/// The member `name` under its canonical spelling (what `insert_ci` of a
/// changed value does), moved rather than copied.
pub(super) fn canonical_key(holder: &mut Map<String, Value>, name: &str) {
    if let Some(old) = key_ci(holder, name).filter(|k| *k != name).cloned() {
        if let Some(v) = holder.shift_remove(&old) {
            holder.insert(name.to_string(), v);
        }
    }
}

/// Appends the values not already in `items` (RFC 7644 §3.5.2.1: an add
/// to a multi-valued attribute adds what is not there). Comparing each
/// new value with the whole list costs the list's length per value, so a
/// long list is indexed by a hash of its values first.
fn add_distinct(items: &mut Vec<Value>, new: Vec<Value>) {
    if new.len() < 4 || items.len() < 64 {
        for v in new {
            if !items.contains(&v) {
                items.push(v);
            }
        }
        return;
    }
    let mut index = super::value_hash::ValueIndex::of(items);
    for v in new {
        if !index.contains(items, &v) {
            index.insert(items.len(), &v);
            items.push(v);
        }
    }
}

/// Checks one element value of a multi-valued attribute.
fn check_value_single(attr: &Attribute, value: &Value, display: &str) -> ScimResult<Option<Value>> {
    let list = Value::Array(vec![value.clone()]);
    Ok(match check_value(attr, &list, display)? {
        Some(Value::Array(mut items)) => items.pop(),
        _ => None,
    })
}

/// RFC 7643 §2.4: a filter that selects several values cannot make them
/// all primary.
fn one_primary(selected: usize, display: &str) -> ScimResult<()> {
    if selected > 1 {
        return Err(ScimError::invalid_value(format!(
            "\"{display}\" selects {selected} values; at most one may be primary"
        )));
    }
    Ok(())
}

pub(super) fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

/// RFC 7643 §2.4: at most one value is primary; a new primary wins.
fn clear_primary(items: &mut [Value]) {
    for item in items {
        if let Value::Object(o) = item {
            if o.get("primary") == Some(&Value::Bool(true)) {
                o.insert("primary".into(), Value::Bool(false));
            }
        }
    }
}

/// Equal values, or equal `value` sub-attributes of complex values.
fn same_value(a: &Value, b: &Value) -> bool {
    a == b || matches!((a.get("value"), b.get("value")), (Some(x), Some(y)) if x == y)
}
