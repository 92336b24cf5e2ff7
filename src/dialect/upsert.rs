//! Entra's upsert on value-filtered paths ([`super::Rule::FilteredUpsert`]).
//!
//! Entra ID sends `{"op":"Add","path":"addresses[type eq \"work\"].locality",
//! "value":"Seattle"}` (and `.region`, `.postalCode`, ...) whether or not
//! the user has a work address yet, and expects the element to be created
//! when it does not exist: one new element `{"type":"work","locality":
//! "Seattle",...}`. Microsoft's answer to that question ("Patch request in
//! SCIM with Azure AD", Microsoft Q&A, by the provisioning team) is that
//! the service provider creates the element; RFC 7644 §3.5.2.1 says "if the
//! target location does not exist, the attribute and value are added" but
//! does not say how for a filtered path, and §3.5.2.3 makes a replace whose
//! filter matches nothing a 400 `noTarget`. Entra sends `Replace` on such
//! paths too (when it believes the element is there), so for Entra both
//! become an upsert; for every other client the RFC's behaviour stays.
//!
//! Whether an element matches depends on the resource, which the dialect
//! stage never sees. So the rule only marks the request, and the upstream
//! call resolves it ([`resolve_upserts`]) against the resource it reads,
//! before the PATCH is applied, natively by the upstream or emulated by
//! the gateway: an operation whose filter selects nothing becomes an `add`
//! of the element to the attribute (`{"op":"add","path":"addresses",
//! "value":[{"type":"work","locality":"Seattle"}]}`), which every SCIM
//! server applies alike. The operations before it are taken into account
//! (the merge of [`super::patch_merge`] usually makes them one operation
//! already: `.locality` then `.region` create one element, not two).
//!
//! The element is the filter's `attr eq literal` terms (joined by `and`)
//! with the value: a filter with any other operator (`or`, `ne`, `co`,
//! `pr`, ...) does not describe one element, so such an operation keeps
//! its 400 `noTarget`.
use crate::scim::error::{ScimResult, ScimType};
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::patch::{PatchOpKind, PatchOperation, PatchPath, PatchRequest};
use serde_json::{Map, Value};

/// Whether any operation could be an upsert (an add or replace with a
/// value on a value-filtered path): only then is the resource read.
pub(crate) fn has_upsert_candidates(patch: &PatchRequest) -> bool {
    patch.operations.iter().any(|op| element_for(op).is_some())
}

/// `patch` with every candidate operation whose filter selects nothing in
/// `resource` (as changed by the operations before it) turned into an add
/// of the element; `None` when nothing had to change. `apply` applies
/// operations to a resource as the caller would (the gateway's PATCH, with
/// whatever schema knowledge it has); an operation it refuses otherwise
/// than with `noTarget` ends the resolution, and the rest is left as sent
/// for the real application to refuse.
pub(crate) fn resolve_upserts(
    resource: &Value,
    patch: &PatchRequest,
    apply: impl Fn(&Value, &PatchRequest) -> ScimResult<Value>,
) -> Option<PatchRequest> {
    let mut state = resource.clone();
    let mut out = patch.clone();
    let mut changed = false;
    // Operations not yet applied to `state`, from this index on.
    let mut pending = 0;
    for i in 0..out.operations.len() {
        let Some(element) = element_for(&out.operations[i]) else {
            continue;
        };
        let before = PatchRequest {
            operations: out.operations[pending..i].to_vec(),
        };
        if !before.operations.is_empty() {
            match apply(&state, &before) {
                Ok(next) => state = next,
                Err(_) => break,
            }
        }
        let this = PatchRequest {
            operations: vec![out.operations[i].clone()],
        };
        pending = i + 1;
        match apply(&state, &this) {
            Ok(next) => state = next,
            Err(e) if e.scim_type() == Some(ScimType::NoTarget) => {
                let Some(create) = creation(&out.operations[i], element) else {
                    break;
                };
                let made = PatchRequest {
                    operations: vec![create.clone()],
                };
                match apply(&state, &made) {
                    Ok(next) => state = next,
                    Err(_) => break,
                }
                out.operations[i] = create;
                changed = true;
            }
            Err(_) => break,
        }
    }
    changed.then_some(out)
}

/// The element an upsert of `op` would create, from its filter's `eq`
/// terms; `None` when `op` is no candidate.
fn element_for(op: &PatchOperation) -> Option<Map<String, Value>> {
    if !matches!(op.op, PatchOpKind::Add | PatchOpKind::Replace) {
        return None;
    }
    if op.value.as_ref().is_none_or(|v| v.is_null()) {
        return None;
    }
    let path = op.path.as_ref()?;
    let mut element = Map::new();
    eq_terms(path.filter.as_ref()?, &mut element).then_some(element)
}

/// The add that creates the element for `op`.
fn creation(op: &PatchOperation, mut element: Map<String, Value>) -> Option<PatchOperation> {
    let path = op.path.as_ref()?;
    let value = op.value.clone()?;
    match (&path.sub_attr, value) {
        (Some(sub), v) => {
            element.insert(sub.clone(), v);
        }
        (None, Value::Object(members)) => element.extend(members),
        // A whole element must be an object.
        (None, _) => return None,
    }
    Some(PatchOperation {
        op: PatchOpKind::Add,
        path: Some(PatchPath {
            attr: path.attr.clone(),
            filter: None,
            sub_attr: None,
        }),
        value: Some(Value::Array(vec![Value::Object(element)])),
    })
}

/// Puts the `sub eq literal` terms of an `and` chain into `out`; false
/// when the filter is anything else.
fn eq_terms(filter: &Filter, out: &mut Map<String, Value>) -> bool {
    match filter {
        Filter::And(a, b) => eq_terms(a, out) && eq_terms(b, out),
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub_attr.is_none() => {
            let v = match value {
                CompValue::String(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Null => return false,
            };
            out.insert(path.attr.clone(), v);
            true
        }
        _ => false,
    }
}
