//! The one-pass merge of sub-attribute operations
//! (`patch_merge::merge_filtered`) against the look-ahead version it
//! replaced (kept here as the reference): the same output and the same
//! rules fired, on generated lists of operations that mix what can merge
//! with everything that stops a merge.
use super::super::patch_merge::merge_filtered;
use super::super::values::Fixer;
use super::super::{Profile, RuleSet};
use crate::scim::schema::SchemaRegistry;
use proptest::prelude::*;
use serde_json::{json, Value};

/// One operation from a small vocabulary, so groups and their breakers
/// meet often.
fn op() -> impl Strategy<Value = Value> {
    let attr = prop::sample::select(vec![
        "addresses",
        "Addresses",
        "emails",
        "urn:ietf:params:scim:schemas:core:2.0:User:addresses",
        "x",
    ]);
    let filter = prop::sample::select(vec![
        "type eq \"work\"",
        "TYPE eq \"work\"",
        "type eq \"home\"",
        "type eq \"work\" and primary eq true",
        "value pr",
    ]);
    let sub = prop::sample::select(vec!["locality", "region", "value", "Locality"]);
    let kind = prop::sample::select(vec!["add", "replace", "remove", "Replace", "bogus"]);
    let value = prop::sample::select(vec![json!("v"), json!(1), Value::Null, json!({"a": 1})]);
    let key = prop::sample::select(vec![
        "addresses",
        "emails.value",
        "urn:ietf:params:scim:schemas:core:2.0:User:emails",
        "name.givenName",
        "ADDRESSES.locality",
    ]);
    (0..8u8, attr, filter, sub, kind, value, key).prop_map(
        |(shape, attr, filter, sub, kind, value, key)| match shape {
            0..=3 => json!({"op": kind, "path": format!("{attr}[{filter}].{sub}"), "value": value}),
            4 => json!({"op": kind, "path": format!("{attr}.{sub}"), "value": value}),
            5 => json!({"op": kind, "value": {key: value}}),
            6 => json!({"op": kind, "path": format!("{attr}[{filter}"), "value": value}),
            _ => json!("not an operation"),
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn one_pass_merge_is_the_look_ahead_merge(ops in prop::collection::vec(op(), 0..24)) {
        let registry = SchemaRegistry::builtin();
        let rt = registry.resource_type("User").unwrap();
        let rules = RuleSet::for_profile(Profile::Entra);
        let (mut new, mut old) = (ops.clone(), ops);
        let mut fixer = Fixer::new(&rules, &registry, rt);
        merge_filtered(&mut fixer, &mut new);
        let mut reference = Fixer::new(&rules, &registry, rt);
        reference::merge_filtered(&mut reference, &mut old);
        prop_assert_eq!(&new, &old);
        prop_assert!(fixer.applied == reference.applied);
    }
}

/// The look-ahead merge as it was (quadratic in the operations).
mod reference {
    use super::super::super::patch::{op_kind, op_path};
    use super::super::super::values::Fixer;
    use super::super::super::Rule;
    use crate::scim::filter::{CompValue, CompareOp, Filter};
    use crate::scim::json::get_ci;
    use crate::scim::patch::{PatchOpKind, PatchPath};
    use crate::scim::path::AttrPath;
    use serde_json::{Map, Value};

    fn new_op(kind: PatchOpKind, path: String, value: Option<Value>) -> Map<String, Value> {
        let mut op = Map::new();
        op.insert("op".into(), Value::String(kind.as_str().into()));
        op.insert("path".into(), Value::String(path));
        if let Some(v) = value {
            op.insert("value".into(), v);
        }
        op
    }

    pub(super) fn merge_filtered(fixer: &mut Fixer<'_>, ops: &mut Vec<Value>) {
        if !fixer.rules.is_on(Rule::MergeFilteredSubAttrs) {
            return;
        }
        let mut i = 0;
        while i < ops.len() {
            let Some((key, first)) = candidate(&ops[i]) else {
                i += 1;
                continue;
            };
            let mut group = vec![i];
            for (j, op) in ops.iter().enumerate().skip(i + 1) {
                match candidate(op) {
                    Some((k, _)) if k == key => group.push(j),
                    _ if touches(op, &first.attr) => break,
                    _ => {}
                }
            }
            if group.len() > 1 {
                let mut element = Map::new();
                if let Some(filter) = &first.filter {
                    eq_terms(filter, &mut element);
                }
                for &j in &group {
                    let op = ops[j].as_object();
                    let sub = op.and_then(op_path).and_then(|p| PatchPath::parse(p).ok());
                    let value = op.and_then(|o| get_ci(o, "value")).cloned();
                    if let (Some(sub), Some(value)) = (sub.and_then(|p| p.sub_attr), value) {
                        element.insert(sub, value);
                    }
                }
                let target = PatchPath {
                    sub_attr: None,
                    ..first
                };
                let merged = new_op(
                    PatchOpKind::Add,
                    target.to_string(),
                    Some(Value::Object(element)),
                );
                for &j in group.iter().skip(1).rev() {
                    ops.remove(j);
                }
                ops[i] = Value::Object(merged);
                fixer.applied.record(Rule::MergeFilteredSubAttrs);
            }
            i += 1;
        }
    }

    /// An add/replace of `attr[filter].sub` with a value: its grouping key
    /// (the attribute and the printed filter) and its parsed path.
    fn candidate(op: &Value) -> Option<(String, PatchPath)> {
        let op = op.as_object()?;
        if !matches!(op_kind(op)?, PatchOpKind::Add | PatchOpKind::Replace) {
            return None;
        }
        if !matches!(get_ci(op, "value"), Some(v) if !v.is_null()) {
            return None;
        }
        let path = PatchPath::parse(op_path(op)?).ok()?;
        let filter = path.filter.as_ref()?;
        path.sub_attr.as_ref()?;
        let key = format!("{}[{filter}]", path.attr).to_ascii_lowercase();
        Some((key, path))
    }

    /// True when `op` may change `attr` (so merging across it would reorder).
    fn touches(op: &Value, attr: &AttrPath) -> bool {
        let Some(op) = op.as_object() else {
            return false;
        };
        match op_path(op) {
            Some(p) => PatchPath::parse(p).map_or(true, |p| p.attr.parent().eq_ignore_case(attr)),
            None => match get_ci(op, "value") {
                Some(Value::Object(v)) => v.keys().any(|k| {
                    let k = k.to_ascii_lowercase();
                    let a = attr.attr.to_ascii_lowercase();
                    k == a || k.starts_with(&format!("{a}.")) || k.ends_with(&format!(":{a}"))
                }),
                _ => false,
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
}
