//! PATCH requests for the upstream (RFC 7644 §3.5.2): each operation's
//! path rewritten (simple, sub-attribute, value-filter paths, extension
//! URNs) and its value mapped; path-less values mapped as partial
//! resources.
//!
//! A path on a mapped attribute's parent (`name`, `emails`,
//! `emails[type eq "work"]`) fans out into one operation per rule under
//! it, plus one for what passes through. Replacing a multi-valued attribute
//! without a filter replaces all its values (§3.5.2.3), so a rule whose
//! element is missing from the new value becomes a `remove`.
use super::endpoint::{disjoint, filter_conditions, same_select, select_filter, Endpoint};
use super::transform::forward;
use super::{ResourceMapping, Rule};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::patch::{PatchOpKind, PatchOperation, PatchPath, PatchRequest};
use crate::scim::path::AttrPath;
use serde_json::{json, Value};

mod parent;

pub use parent::patch_to_json;

fn op(kind: PatchOpKind, path: Option<PatchPath>, value: Option<Value>) -> PatchOperation {
    PatchOperation {
        op: kind,
        path,
        value,
    }
}

/// `{attr: value}` or `{urn: {attr: value}}`.
fn wrap(urn: Option<&str>, attr: &str, value: Value) -> Value {
    let inner = json!({ attr: value });
    match urn {
        Some(u) => json!({ u: inner }),
        None => inner,
    }
}

// === impl ResourceMapping ===

impl ResourceMapping {
    /// The PATCH request for the upstream. A path with no upstream
    /// equivalent is 400 `invalidPath` naming it; operations that only
    /// touch attributes never sent upstream vanish, so the result may have
    /// no operations at all (the caller then skips the upstream call).
    pub fn patch_to_upstream(&self, req: &PatchRequest) -> ScimResult<PatchRequest> {
        let mut operations = Vec::new();
        for (i, o) in req.operations.iter().enumerate() {
            let ops = self
                .rewrite_op(o)
                .map_err(|e| e.with_context(&format!("Operations[{i}]")))?;
            operations.extend(ops);
        }
        Ok(PatchRequest { operations })
    }

    fn rewrite_op(&self, o: &PatchOperation) -> ScimResult<Vec<PatchOperation>> {
        let Some(p) = &o.path else {
            return self.path_less(o);
        };
        let whole = p.attr.to_string();
        if p.filter.is_none()
            && self
                .tenant_extensions
                .iter()
                .any(|e| e.eq_ignore_ascii_case(&whole))
        {
            let under: Vec<&Rule> = self
                .rules
                .iter()
                .filter(|r| {
                    r.tenant
                        .urn
                        .as_deref()
                        .is_some_and(|u| u.eq_ignore_ascii_case(&whole))
                })
                .collect();
            let partial = o.value.clone().map(|v| json!({ whole.as_str(): v }));
            return self.parent(o, p, &under, partial, false);
        }
        let urn = p
            .attr
            .urn
            .as_deref()
            .filter(|u| !u.eq_ignore_ascii_case(&self.tenant_schema));
        let attr = p.attr.attr.as_str();
        let sub = p.sub_attr.as_deref().or(p.attr.sub_attr.as_deref());
        let select = p.filter.as_ref().map(filter_conditions);
        let on_attr: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| names(&r.tenant, urn, attr))
            .collect();
        let never = self.never_upstream.iter().filter(|e| names(e, urn, attr));
        if never.into_iter().any(|e| {
            e.sub.is_none()
                || e.sub
                    .as_deref()
                    .zip(sub)
                    .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
        }) {
            return Ok(Vec::new());
        }
        if on_attr.is_empty() {
            return self.unmapped(o, p);
        }
        let sub_eq = |r: &Rule| match (r.tenant.sub.as_deref(), sub) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            (None, None) => true,
            _ => false,
        };
        let sel_eq = |r: &Rule| match &select {
            None => r.tenant.select.is_empty(),
            Some(Some(c)) => same_select(c, &r.tenant.select),
            Some(None) => false,
        };
        if let Some(r) = on_attr.iter().find(|r| sub_eq(r) && sel_eq(r)) {
            let value = match &o.value {
                Some(v) => Some(forward(&r.transforms, v.clone(), &r.tenant)?),
                None => None,
            };
            return Ok(vec![op(o.op, Some(r.upstream.patch_path()), value)]);
        }
        let whole_rule = on_attr
            .iter()
            .find(|r| r.tenant.sub.is_none() && r.tenant.select.is_empty());
        if let (Some(r), Some(s), None) = (whole_rule, sub, &select) {
            if r.upstream.sub.is_none() && r.upstream.select.is_empty() {
                let mut path = r.upstream.patch_path();
                path.attr.sub_attr = Some(s.to_string());
                return Ok(vec![op(o.op, Some(path), o.value.clone())]);
            }
        }
        if let (PatchOpKind::Remove, None, Some(Some(c))) = (o.op, sub, &select) {
            if let Some(removal) = self.remove_by_value(&on_attr, c)? {
                return Ok(vec![removal]);
            }
        }
        let selectors = || on_attr.iter().filter(|r| !r.tenant.select.is_empty());
        // Where the attribute sits: a path without URN may name an
        // extension attribute.
        let holder = urn.or_else(|| on_attr.first().and_then(|r| r.tenant.urn.as_deref()));
        match (sub, &select) {
            (None, None) => {
                let partial = o.value.clone().map(|v| wrap(holder, attr, v));
                self.parent(o, p, &on_attr, partial, true)
            }
            (None, Some(Some(c))) if selectors().any(|r| same_select(c, &r.tenant.select)) => {
                let under: Vec<&Rule> = selectors()
                    .copied()
                    .filter(|r| same_select(c, &r.tenant.select))
                    .collect();
                let element = o.value.clone().map(|v| {
                    let mut el = v;
                    if let Some(m) = el.as_object_mut() {
                        m.extend(c.iter().cloned());
                    }
                    wrap(holder, attr, Value::Array(vec![el]))
                });
                self.parent(o, p, &under, element, false)
            }
            (_, Some(Some(c)))
                if on_attr
                    .iter()
                    .all(|r| !r.tenant.select.is_empty() && disjoint(c, &r.tenant.select)) =>
            {
                self.unmapped(o, p)
            }
            (Some(s), None)
                if on_attr.iter().all(|r| {
                    r.tenant
                        .sub
                        .as_deref()
                        .is_some_and(|t| !t.eq_ignore_ascii_case(s))
                }) =>
            {
                self.unmapped(o, p)
            }
            _ => Err(ScimError::invalid_path(format!(
                "\"{p}\" has no upstream equivalent: \"{attr}\" is stored upstream as {}",
                on_attr
                    .iter()
                    .map(|r| format!("\"{}\"", r.upstream))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// `remove members[value eq "x"]` where a rule maps the list of
    /// `members.value`: the same removal on the upstream list
    /// (`uniqueMember[value eq "x"]`, `value` naming a simple element).
    fn remove_by_value(
        &self,
        on_attr: &[&Rule],
        conditions: &[(String, Value)],
    ) -> ScimResult<Option<PatchOperation>> {
        let Some(r) = on_attr.iter().find(|r| {
            r.tenant.select.is_empty()
                && r.tenant
                    .sub
                    .as_deref()
                    .is_some_and(|s| conditions.iter().all(|(k, _)| k.eq_ignore_ascii_case(s)))
        }) else {
            return Ok(None);
        };
        let sub = r.upstream.sub.clone().unwrap_or_else(|| "value".into());
        let mut mapped = Vec::new();
        for (_, v) in conditions {
            mapped.push((sub.clone(), forward(&r.transforms, v.clone(), &r.tenant)?));
        }
        let path = PatchPath {
            attr: AttrPath {
                urn: r.upstream.urn.clone(),
                attr: r.upstream.attr.clone(),
                sub_attr: None,
            },
            filter: select_filter(&mapped),
            sub_attr: None,
        };
        Ok(Some(op(PatchOpKind::Remove, Some(path), None)))
    }

    /// A path no rule names: passed unchanged, or refused under
    /// `unmapped = "drop"`.
    fn unmapped(&self, o: &PatchOperation, p: &PatchPath) -> ScimResult<Vec<PatchOperation>> {
        if self.passes() {
            Ok(vec![o.clone()])
        } else {
            Err(ScimError::invalid_path(format!(
                "attribute \"{p}\" has no upstream equivalent"
            )))
        }
    }
}

/// The endpoint is on this attribute; a path without URN matches an
/// extension attribute by name (clients commonly omit the URN).
pub(crate) fn names(ep: &Endpoint, urn: Option<&str>, attr: &str) -> bool {
    ep.attr.eq_ignore_ascii_case(attr)
        && match (urn, ep.urn.as_deref()) {
            (None, _) => true,
            (Some(u), Some(e)) => e.eq_ignore_ascii_case(u),
            (Some(_), None) => false,
        }
}
