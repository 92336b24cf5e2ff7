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
use super::endpoint::{disjoint, filter_conditions, same_select, Endpoint};
use super::transform::forward;
use super::{ResourceMapping, Rule};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::patch::{PatchOpKind, PatchOperation, PatchPath, PatchRequest, PATCH_OP_SCHEMA};
use crate::scim::path::{has_urn_prefix, AttrPath};
use serde_json::{json, Map, Value};

/// A PatchOp request as JSON, for the upstream.
pub fn patch_to_json(req: &PatchRequest) -> Value {
    let ops: Vec<Value> = req
        .operations
        .iter()
        .map(|op| {
            let mut o = Map::new();
            o.insert("op".into(), json!(op.op.as_str()));
            if let Some(p) = &op.path {
                o.insert("path".into(), json!(p.to_string()));
            }
            if let Some(v) = &op.value {
                o.insert("value".into(), v.clone());
            }
            Value::Object(o)
        })
        .collect();
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
}

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
                Some(v) => Some(forward(&r.transforms, v.clone(), &r.tenant.to_string())?),
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
        let selectors = || on_attr.iter().filter(|r| !r.tenant.select.is_empty());
        match (sub, &select) {
            (None, None) => {
                let partial = o
                    .value
                    .clone()
                    .map(|v| wrap(urn.or(on_attr[0].tenant.urn.as_deref()), attr, v));
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
                    wrap(
                        urn.or(under[0].tenant.urn.as_deref()),
                        attr,
                        Value::Array(vec![el]),
                    )
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

    /// An operation on the parent of the rules `under`: `partial` is the
    /// operation's value as a partial resource. `multi_replace` marks a
    /// replace of a whole multi-valued attribute.
    fn parent(
        &self,
        o: &PatchOperation,
        p: &PatchPath,
        under: &[&Rule],
        partial: Option<Value>,
        whole_attr: bool,
    ) -> ScimResult<Vec<PatchOperation>> {
        let mut ops = Vec::new();
        let Some(partial) = partial.filter(|_| o.op != PatchOpKind::Remove) else {
            ops.extend(
                under
                    .iter()
                    .map(|r| op(PatchOpKind::Remove, Some(r.upstream.patch_path()), None)),
            );
            if self.passes() && p.filter.is_none() {
                ops.push(o.clone());
            }
            return Ok(ops);
        };
        let mut mapped = self.map_in(&partial, false)?;
        let replaces_all =
            o.op == PatchOpKind::Replace && whole_attr && under.iter().any(|r| r.tenant.multi);
        for r in under {
            match r.upstream.take(&mut mapped) {
                Some(v) => ops.push(op(o.op, Some(r.upstream.patch_path()), Some(v))),
                None if replaces_all => {
                    ops.push(op(PatchOpKind::Remove, Some(r.upstream.patch_path()), None))
                }
                None => {}
            }
        }
        let ups: Vec<&Endpoint> = under.iter().map(|r| &r.upstream).collect();
        super::endpoint::prune(&mut mapped, &ups);
        ops.extend(leftover_ops(o.op, mapped));
        Ok(ops)
    }

    fn path_less(&self, o: &PatchOperation) -> ScimResult<Vec<PatchOperation>> {
        let value = o
            .value
            .as_ref()
            .map(|v| self.expand_keys(v))
            .unwrap_or(Value::Null);
        let mut ops = Vec::new();
        if o.op == PatchOpKind::Replace {
            // §3.5.2.3: a multi-valued attribute in the value is replaced
            // whole, so a rule element it lacks is removed upstream.
            for r in self
                .rules
                .iter()
                .filter(|r| r.tenant.multi && r.tenant.get(&value).is_none())
            {
                let holder = match &r.tenant.urn {
                    Some(u) => value.get(u.as_str()),
                    None => Some(&value),
                };
                if holder
                    .and_then(Value::as_object)
                    .is_some_and(|h| crate::scim::json::get_ci(h, &r.tenant.attr).is_some())
                {
                    ops.push(op(PatchOpKind::Remove, Some(r.upstream.patch_path()), None));
                }
            }
        }
        let mapped = self.map_in(&value, false)?;
        if mapped.as_object().is_some_and(|m| !m.is_empty()) {
            ops.push(op(o.op, None, Some(mapped)));
        }
        Ok(ops)
    }

    /// Path-less value keys written as paths (`name.givenName`,
    /// `urn:...:User:department`) nested as attributes.
    fn expand_keys(&self, v: &Value) -> Value {
        let Value::Object(m) = v else {
            return v.clone();
        };
        let mut out = Value::Object(Map::new());
        for (k, val) in m {
            let is_schema = self
                .tenant_extensions
                .iter()
                .chain(std::iter::once(&self.tenant_schema))
                .any(|e| e.eq_ignore_ascii_case(k));
            let path = (!is_schema && (k.contains('.') || has_urn_prefix(k)))
                .then(|| AttrPath::parse(k).ok())
                .flatten();
            let Some(path) = path else {
                super::resource::merge_into(&mut out, k, val.clone());
                continue;
            };
            let urn = path
                .urn
                .filter(|u| !u.eq_ignore_ascii_case(&self.tenant_schema));
            let inner = match &path.sub_attr {
                Some(s) => json!({ s.as_str(): val }),
                None => val.clone(),
            };
            match urn {
                Some(u) => {
                    super::resource::merge_into(&mut out, &u, json!({ path.attr.as_str(): inner }))
                }
                None => super::resource::merge_into(&mut out, &path.attr, inner),
            }
        }
        out
    }
}

/// One operation per top-level member of what passed through (`urn:attr`
/// for members of extension objects).
fn leftover_ops(kind: PatchOpKind, mapped: Value) -> Vec<PatchOperation> {
    let Value::Object(m) = mapped else {
        return Vec::new();
    };
    let mut ops = Vec::new();
    for (k, v) in m {
        match v {
            Value::Object(inner) if has_urn_prefix(&k) => {
                for (a, v) in inner {
                    let path = PatchPath {
                        attr: AttrPath {
                            urn: Some(k.clone()),
                            attr: a,
                            sub_attr: None,
                        },
                        filter: None,
                        sub_attr: None,
                    };
                    ops.push(op(kind, Some(path), Some(v)));
                }
            }
            v => {
                let path = PatchPath {
                    attr: AttrPath::simple(&k),
                    filter: None,
                    sub_attr: None,
                };
                ops.push(op(kind, Some(path), Some(v)));
            }
        }
    }
    ops
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
