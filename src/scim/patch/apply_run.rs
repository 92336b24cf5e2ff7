//! Consecutive removes of single elements by one sub-attribute's value,
//! `members[value eq "2819c223"]`, applied in one pass over the list; and
//! consecutive adds to one multi-valued attribute, deduplicated against
//! the list through one index.
//!
//! That is what Entra ID's member removal becomes (the dialect turns its
//! remove with a value list into one filtered remove per member). Applied
//! one at a time, every remove evaluates its filter on every member: a
//! thousand removes from a group of ten thousand were ten million filter
//! evaluations. Here the list is indexed once by the sub-attribute's value
//! (compared as the filter would: RFC 7644 §3.4.2.2 `eq`, case-insensitive
//! unless the sub-attribute is `caseExact`), and each remove is a lookup.
//!
//! The outcome is the sequential one, errors included: a remove whose
//! value is not in the list, or was removed by an earlier remove of the
//! run, is 400 `noTarget` naming that operation. Lists the index cannot
//! judge exactly (an element whose sub-attribute is itself a list or an
//! object, a `dateTime` sub-attribute) are left to the sequential path.
//!
//! Adds (RFC 7644 §3.5.2.1: a value already in the list is not added
//! again) each compared every new value with the whole list. Their checks
//! do not depend on the list, so they run first, in order (the first
//! failure is the sequential one); then one hash index of the list
//! (`value_hash`) answers "already there" for every new value. A new
//! primary value clears the others' `primary`, which changes them: such a
//! run goes the sequential way.
use super::apply::{apply_op, holder_mut, target_of};
use super::apply_attr::{canonical_key, is_primary};
use super::value_hash::ValueIndex;
use super::{PatchOpKind, PatchOperation};
use crate::scim::error::ScimError;
use crate::scim::filter::{CompValue, CompareOp, EvalContext, Filter};
use crate::scim::json::{get_ci_mut, insert_ci};
use crate::scim::path::AttrPath;
use crate::scim::schema::{AttrType, Attribute};
use crate::scim::validate::check_value;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// A failed operation of a run: its index in the run, and the error.
pub(super) type RunError = (usize, ScimError);

/// `attr[sub eq "literal"]` removed: (attr, sub, literal).
fn simple_removal(op: &PatchOperation) -> Option<(&AttrPath, &str, &str)> {
    if op.op != PatchOpKind::Remove {
        return None;
    }
    let path = op.path.as_ref()?;
    if path.sub_attr.is_some() {
        return None;
    }
    match path.filter.as_ref()? {
        Filter::Compare {
            path: by,
            op: CompareOp::Eq,
            value: CompValue::String(literal),
        } if by.urn.is_none() && by.sub_attr.is_none() => {
            Some((&path.attr, by.attr.as_str(), literal.as_str()))
        }
        _ => None,
    }
}

/// How many of the first operations form a run (removes by the same
/// sub-attribute of the same attribute); 0 when the first is not one.
pub(super) fn removal_run(ops: &[PatchOperation]) -> usize {
    let Some((attr, sub, _)) = ops.first().and_then(simple_removal) else {
        return 0;
    };
    ops.iter()
        .take_while(|op| simple_removal(op).is_some_and(|(a, s, _)| a == attr && s == sub))
        .count()
}

/// Applies a run found by [`removal_run`].
pub(super) fn remove_run(
    ctx: &EvalContext<'_>,
    obj: &mut Map<String, Value>,
    ops: &[PatchOperation],
) -> Result<(), RunError> {
    let sequentially = |obj: &mut Map<String, Value>| {
        for (k, op) in ops.iter().enumerate() {
            apply_op(ctx, obj, op).map_err(|e| (k, e))?;
        }
        Ok(())
    };
    let Some((path, (_, sub, _))) = ops
        .first()
        .and_then(|op| Some((op.path.as_ref()?, simple_removal(op)?)))
    else {
        return sequentially(obj);
    };
    // Every operation of the run names the same attribute: the checks of
    // the first are the checks of all.
    let target = target_of(ctx, path).map_err(|e| (0, e))?;
    let sub_def = target.attr.sub_attribute(sub);
    let indexable = target.attr.is_complex()
        && !sub_def.is_some_and(|d| d.is_complex() || d.attr_type == AttrType::DateTime);
    if !indexable {
        return sequentially(obj);
    }
    let case_exact = sub_def.is_some_and(|d| d.case_exact);
    let key = |s: &str| {
        if case_exact {
            s.to_string()
        } else {
            s.to_ascii_lowercase()
        }
    };
    let Some(holder) =
        holder_mut(obj, target.extension, PatchOpKind::Remove).map_err(|e| (0, e))?
    else {
        // No extension object: nothing to remove, for every operation.
        return Ok(());
    };
    let name = target.attr.name.as_str();
    let Some(Value::Array(items)) = get_ci_mut(holder, name) else {
        return sequentially(obj);
    };
    // Where each value is; an element the filter would look into deeper
    // (a list or object under `sub`) sends the run the sequential way.
    let mut at: HashMap<String, Vec<usize>> = HashMap::with_capacity(items.len());
    for (i, element) in items.iter().enumerate() {
        let Value::Object(element) = element else {
            continue;
        };
        match crate::scim::json::get_ci(element, sub) {
            Some(Value::String(s)) => at.entry(key(s)).or_default().push(i),
            Some(Value::Array(_) | Value::Object(_)) => return sequentially(obj),
            _ => {}
        }
    }
    let mut drop = vec![false; items.len()];
    let mut removed = HashSet::with_capacity(ops.len());
    for (k, op) in ops.iter().enumerate() {
        let literal = simple_removal(op).map_or("", |(_, _, l)| l);
        let value = key(literal);
        let found = at.get(&value).filter(|_| !removed.contains(&value));
        let Some(found) = found else {
            let display = op
                .path
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            return Err((
                k,
                ScimError::no_target(format!("\"{display}\" matches no value")),
            ));
        };
        for &i in found {
            drop[i] = true;
        }
        removed.insert(value);
    }
    let mut i = 0;
    items.retain(|_| {
        let keep = !drop[i];
        i += 1;
        keep
    });
    canonical_key(holder, name);
    Ok(())
}

/// An add to a whole attribute (no filter, no sub-attribute): the
/// attribute.
fn simple_addition(op: &PatchOperation) -> Option<&AttrPath> {
    let path = op.path.as_ref()?;
    let whole = path.filter.is_none() && path.sub_attr.is_none() && path.attr.sub_attr.is_none();
    (op.op == PatchOpKind::Add && whole).then_some(&path.attr)
}

/// How many of the first operations are adds to the same attribute; 0
/// when the first is not one.
pub(super) fn addition_run(ops: &[PatchOperation]) -> usize {
    let Some(attr) = ops.first().and_then(simple_addition) else {
        return 0;
    };
    ops.iter()
        .take_while(|op| simple_addition(op) == Some(attr))
        .count()
}

/// Applies a run found by [`addition_run`].
pub(super) fn add_run(
    ctx: &EvalContext<'_>,
    obj: &mut Map<String, Value>,
    ops: &[PatchOperation],
) -> Result<(), RunError> {
    let sequentially = |obj: &mut Map<String, Value>| {
        for (k, op) in ops.iter().enumerate() {
            apply_op(ctx, obj, op).map_err(|e| (k, e))?;
        }
        Ok(())
    };
    let Some(path) = ops.first().and_then(|op| op.path.as_ref()) else {
        return sequentially(obj);
    };
    // A whole extension (`urn:...:User` as the path) is not a list.
    if let Some(urn) = &path.attr.urn {
        let full = format!("{urn}:{}", path.attr.attr);
        if ctx.resource_type.extension(&full).is_some() {
            return sequentially(obj);
        }
    }
    let target = target_of(ctx, path).map_err(|e| (0, e))?;
    if !target.attr.multi_valued || target.sub.is_some() {
        return sequentially(obj);
    }
    let Some(holder) = holder_mut(obj, target.extension, PatchOpKind::Add).map_err(|e| (0, e))?
    else {
        return sequentially(obj);
    };
    let mut additions = Vec::with_capacity(ops.len());
    for (k, op) in ops.iter().enumerate() {
        let display = op
            .path
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let new =
            checked_additions(target.attr, op.value.as_ref(), &display).map_err(|e| (k, e))?;
        if new.iter().any(is_primary) {
            return sequentially(obj);
        }
        additions.push(new);
    }
    let name = target.attr.name.as_str();
    let mut items = match get_ci_mut(holder, name) {
        Some(Value::Array(items)) => std::mem::take(items),
        _ => Vec::new(),
    };
    let mut index = ValueIndex::of(&items);
    for v in additions.into_iter().flatten() {
        if !index.contains(&items, &v) {
            index.insert(items.len(), &v);
            items.push(v);
        }
    }
    insert_ci(holder, name, Value::Array(items));
    Ok(())
}

/// The values an add brings, checked against the attribute (as
/// `apply::apply_attr` checks them).
fn checked_additions(
    attr: &Attribute,
    value: Option<&Value>,
    display: &str,
) -> Result<Vec<Value>, ScimError> {
    let Some(value) = value else {
        return Err(ScimError::invalid_value(format!(
            "\"{display}\" needs a value"
        )));
    };
    if value.is_null() {
        return Err(ScimError::invalid_value(format!(
            "\"{display}\": null cannot be added"
        )));
    }
    // A single value is accepted where a list is expected.
    let list = match value {
        Value::Array(_) => value.clone(),
        other => Value::Array(vec![other.clone()]),
    };
    Ok(match check_value(attr, &list, display)? {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::scim::patch::PatchPath;
    use crate::scim::schema::SchemaRegistry;
    use proptest::prelude::*;
    use serde_json::json;

    fn element() -> impl Strategy<Value = Value> {
        prop::sample::select(vec![
            json!({"value": "a"}),
            json!({"value": "A", "type": "work"}),
            json!({"value": "b", "type": "Work"}),
            json!({"value": 1}),
            json!({"display": "x"}),
            json!("not an object"),
            json!({"value": ["a"]}),
            json!({"Value": "c", "type": "home"}),
        ])
    }

    /// Runs of removes give what the operations give one at a time,
    /// errors included.
    #[test]
    fn a_run_is_its_operations_one_at_a_time() {
        let registry = SchemaRegistry::builtin();
        let cases = [
            ("Group", "members", "value"),
            ("User", "emails", "value"),
            ("User", "emails", "type"),
        ];
        for (kind, attr, sub) in cases {
            let rt = registry.resource_type(kind).unwrap();
            let ctx = EvalContext {
                registry: &registry,
                resource_type: rt,
            };
            let literals = prop::sample::select(vec!["a", "A", "b", "c", "work"]);
            let strategy = (
                prop::collection::vec(element(), 0..8),
                prop::collection::vec(literals, 1..6),
            );
            proptest!(ProptestConfig::with_cases(500), |((elements, literals) in strategy)| {
                let mut obj = Map::new();
                if !elements.is_empty() {
                    obj.insert(attr.to_string(), Value::Array(elements));
                }
                let ops: Vec<PatchOperation> = literals
                    .iter()
                    .map(|l| PatchOperation {
                        op: PatchOpKind::Remove,
                        path: Some(PatchPath::parse(&format!("{attr}[{sub} eq \"{l}\"]")).unwrap()),
                        value: None,
                    })
                    .collect();
                prop_assert_eq!(removal_run(&ops), ops.len());
                let (mut batched, mut one_by_one) = (obj.clone(), obj);
                let got = remove_run(&ctx, &mut batched, &ops);
                let want = ops
                    .iter()
                    .enumerate()
                    .try_for_each(|(k, op)| apply_op(&ctx, &mut one_by_one, op).map_err(|e| (k, e)));
                match (got, want) {
                    (Ok(()), Ok(())) => prop_assert_eq!(batched, one_by_one),
                    (Err((k, e)), Err((k2, e2))) => {
                        prop_assert_eq!(k, k2);
                        prop_assert_eq!(e.to_json(), e2.to_json());
                    }
                    (got, want) => prop_assert!(false, "{kind} {attr}[{sub}]: {got:?} vs {want:?}"),
                }
            });
        }
    }

    fn addition() -> impl Strategy<Value = Option<Value>> {
        prop::sample::select(vec![
            Some(json!([{"value": "a"}])),
            Some(json!({"value": "a"})),
            Some(json!([{"value": "b", "type": "work"}, {"value": "a"}])),
            Some(json!([{"value": "c", "primary": true}])),
            Some(json!([{"value": "a"}, {"value": "a"}])),
            Some(Value::Null),
            None,
            Some(json!("not an element")),
            Some(json!([{"value": 7}])),
        ])
    }

    /// Runs of adds give what the operations give one at a time, errors
    /// included.
    #[test]
    fn an_add_run_is_its_operations_one_at_a_time() {
        let registry = SchemaRegistry::builtin();
        for (kind, attr) in [("Group", "members"), ("User", "emails")] {
            let rt = registry.resource_type(kind).unwrap();
            let ctx = EvalContext {
                registry: &registry,
                resource_type: rt,
            };
            let strategy = (
                prop::collection::vec(element(), 0..8),
                prop::collection::vec(addition(), 1..6),
                any::<bool>(),
            );
            proptest!(ProptestConfig::with_cases(500), |((elements, values, present) in strategy)| {
                let mut obj = Map::new();
                if present {
                    obj.insert(attr.to_string(), Value::Array(elements));
                }
                let ops: Vec<PatchOperation> = values
                    .into_iter()
                    .map(|value| PatchOperation {
                        op: PatchOpKind::Add,
                        path: Some(PatchPath::parse(attr).unwrap()),
                        value,
                    })
                    .collect();
                prop_assert_eq!(addition_run(&ops), ops.len());
                let (mut batched, mut one_by_one) = (obj.clone(), obj);
                let got = add_run(&ctx, &mut batched, &ops);
                let want = ops
                    .iter()
                    .enumerate()
                    .try_for_each(|(k, op)| apply_op(&ctx, &mut one_by_one, op).map_err(|e| (k, e)));
                match (got, want) {
                    (Ok(()), Ok(())) => prop_assert_eq!(batched, one_by_one),
                    (Err((k, e)), Err((k2, e2))) => {
                        prop_assert_eq!(k, k2);
                        prop_assert_eq!(e.to_json(), e2.to_json());
                    }
                    (got, want) => prop_assert!(false, "{kind} {attr}: {got:?} vs {want:?}"),
                }
            });
        }
    }
}
