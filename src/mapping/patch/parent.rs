//! PATCH operations on a parent of mapped attributes, path-less values,
//! and the PatchOp body sent upstream.
use super::{op, Rule};
use crate::mapping::endpoint::{prune, Endpoint};
use crate::mapping::resource::merge_into;
use crate::mapping::ResourceMapping;
use crate::scim::error::ScimResult;
use crate::scim::json::get_ci;
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

// === impl ResourceMapping ===

impl ResourceMapping {
    /// An operation on the parent of the rules `under`: `partial` is the
    /// operation's value as a partial resource. `multi_replace` marks a
    /// replace of a whole multi-valued attribute.
    pub(super) fn parent(
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
        let mut mapped = self.map_in(partial, false)?;
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
        prune(&mut mapped, &ups);
        ops.extend(leftover_ops(o.op, mapped));
        Ok(ops)
    }

    pub(super) fn path_less(&self, o: &PatchOperation) -> ScimResult<Vec<PatchOperation>> {
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
                    .is_some_and(|h| get_ci(h, &r.tenant.attr).is_some())
                {
                    ops.push(op(PatchOpKind::Remove, Some(r.upstream.patch_path()), None));
                }
            }
        }
        let mapped = self.map_in(value, false)?;
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
                merge_into(&mut out, k, val.clone());
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
                Some(u) => merge_into(&mut out, &u, json!({ path.attr.as_str(): inner })),
                None => merge_into(&mut out, &path.attr, inner),
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
    // Clients echo `schemas` inside values; it is no attribute to set.
    let schemas = |k: &str| k.eq_ignore_ascii_case("schemas");
    for (k, v) in m.into_iter().filter(|(k, _)| !schemas(k)) {
        match v {
            Value::Object(inner) if has_urn_prefix(&k) => {
                for (a, v) in inner.into_iter().filter(|(a, _)| !schemas(a)) {
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
