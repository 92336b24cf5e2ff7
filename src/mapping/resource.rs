//! Resources both ways, and the helpers over them: ListResponse items and
//! Bulk requests and responses (RFC 7644 §3.4.2, §3.7).
//!
//! The way in takes each rule's tenant value out of a copy of the resource,
//! transforms it and writes it at the rule's upstream place; what no rule
//! took passes through unchanged or is dropped (`unmapped`). The way out is
//! the mirror image. `id` and `meta` always pass; `schemas` is rebuilt from
//! the side's core schema and the extension objects present.
use super::endpoint::{prune, Endpoint};
use super::transform::{forward, reverse};
use super::{CompiledMapping, ResourceMapping};
use crate::scim::error::{ScimError, ScimResult, ERROR_SCHEMA};
use crate::scim::json::{get_ci, get_ci_mut, key_ci};
use crate::scim::patch::PatchRequest;
use crate::scim::path::has_urn_prefix;
use serde_json::{Map, Value};

/// Members that pass through whatever the table says.
pub(super) const ALWAYS: [&str; 2] = ["id", "meta"];

// === impl ResourceMapping ===

impl ResourceMapping {
    /// A tenant-facing resource (POST or PUT body) in the upstream's
    /// schema. Fails with 400 `invalidValue` naming the attribute when a
    /// `map_strict` transform meets a value it does not list.
    pub fn to_upstream(&self, resource: &Value) -> ScimResult<Value> {
        self.map_in(resource.clone(), true)
    }

    /// [`Self::to_upstream`] on an owned resource, saving a copy.
    pub fn into_upstream(&self, resource: Value) -> ScimResult<Value> {
        self.map_in(resource, true)
    }

    /// Tenant → upstream; `full` for a whole resource (defaults, constants
    /// and `schemas`), not for a PATCH value.
    pub(crate) fn map_in(&self, resource: Value, full: bool) -> ScimResult<Value> {
        let (mut out, rest) = self.map_in_parts(resource, full)?;
        self.merge_rest(&mut out, rest);
        if full {
            set_schemas(&mut out, &self.upstream_schema);
        }
        Ok(out)
    }

    /// The way in up to the merge: what the rules and constants wrote
    /// (`schemas` and `id` first for a full resource), and what is left of
    /// the input for [`Self::merge_rest`]. The member-wise path
    /// (`members.rs`) runs it on the members the table touches only.
    pub(super) fn map_in_parts(&self, resource: Value, full: bool) -> ScimResult<(Value, Value)> {
        let mut rest = resource;
        let mut out = start(&rest, full);
        for ep in &self.never_upstream {
            ep.take(&mut rest);
        }
        for r in &self.rules {
            match r.tenant.take(&mut rest) {
                Some(v) => {
                    let v = forward(&r.transforms, v, &r.tenant)?;
                    r.upstream.put(&mut out, v, false);
                }
                None if full => {
                    if let Some(d) = &r.default {
                        r.upstream.put(&mut out, d.clone(), false);
                    }
                }
                None => {}
            }
        }
        if full {
            for (ep, v) in &self.constants {
                ep.put(&mut out, v.clone(), false);
            }
        }
        let touched: Vec<&Endpoint> = self
            .rules
            .iter()
            .map(|r| &r.tenant)
            .chain(&self.never_upstream)
            .collect();
        prune(&mut rest, &touched);
        Ok((out, rest))
    }

    /// An upstream resource in the tenant-facing schema. Never fails: a
    /// value a transform cannot invert passes unchanged.
    pub fn to_tenant(&self, resource: &Value) -> Value {
        self.into_tenant(resource.clone())
    }

    /// [`Self::to_tenant`] on an owned resource, saving a copy.
    pub fn into_tenant(&self, resource: Value) -> Value {
        let (mut out, rest) = self.to_tenant_parts(resource);
        self.merge_rest(&mut out, rest);
        set_schemas(&mut out, &self.tenant_schema);
        out
    }

    /// The way out up to the merge, as [`Self::map_in_parts`].
    pub(super) fn to_tenant_parts(&self, resource: Value) -> (Value, Value) {
        let mut rest = resource;
        let mut out = start(&rest, true);
        for ep in self
            .hidden
            .iter()
            .chain(self.constants.iter().map(|(e, _)| e))
        {
            ep.take(&mut rest);
        }
        for r in &self.rules {
            if let Some(v) = r.upstream.take(&mut rest) {
                r.tenant.put(&mut out, reverse(&r.transforms, v), r.primary);
            }
        }
        let touched: Vec<&Endpoint> = self
            .rules
            .iter()
            .map(|r| &r.upstream)
            .chain(&self.hidden)
            .chain(self.constants.iter().map(|(e, _)| e))
            .collect();
        prune(&mut rest, &touched);
        (out, rest)
    }

    /// A ListResponse from the upstream with every item mapped
    /// ([`Self::to_tenant`]); the envelope is kept.
    pub fn list_to_tenant(&self, list: &Value) -> Value {
        let mut out = list.clone();
        if let Some(Value::Array(items)) =
            out.as_object_mut().and_then(|o| get_ci_mut(o, "Resources"))
        {
            for item in items.iter_mut() {
                *item = self.into_tenant(std::mem::take(item));
            }
        }
        out
    }

    /// Whatever no rule took: merged into `out` when unmapped attributes
    /// pass (arrays appended, objects merged member by member, a rule's
    /// value winning a clash), else only `id` and `meta` are kept.
    pub(super) fn merge_rest(&self, out: &mut Value, rest: Value) {
        let (Some(out), Value::Object(rest)) = (out.as_object_mut(), rest) else {
            return;
        };
        for (k, v) in rest {
            let always = ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(&k));
            if k.eq_ignore_ascii_case("schemas") || !(always || self.passes()) {
                continue;
            }
            match key_ci(out, &k).cloned() {
                None => {
                    out.insert(k, v);
                }
                Some(key) => merge(out.get_mut(&key), v),
            }
        }
    }
}

/// The output object, `schemas`, `id` first (in that order) for a full
/// resource.
fn start(input: &Value, full: bool) -> Value {
    let mut out = Map::new();
    if full {
        out.insert("schemas".into(), Value::Array(Vec::new()));
        if let Some(id) = input.as_object().and_then(|o| get_ci(o, "id")) {
            out.insert("id".into(), id.clone());
        }
    }
    Value::Object(out)
}

/// Inserts `v` under `key` of the object `out`, merging with a member of
/// the same name (any case).
pub(crate) fn merge_into(out: &mut Value, key: &str, v: Value) {
    let Some(o) = out.as_object_mut() else {
        return;
    };
    match key_ci(o, key).cloned() {
        None => {
            o.insert(key.to_string(), v);
        }
        Some(k) => merge(o.get_mut(&k), v),
    }
}

fn merge(into: Option<&mut Value>, v: Value) {
    match (into, v) {
        (Some(Value::Array(a)), Value::Array(b)) => a.extend(b),
        (Some(Value::Object(a)), Value::Object(b)) => {
            for (k, v) in b {
                match key_ci(a, &k).cloned() {
                    None => {
                        a.insert(k, v);
                    }
                    Some(key) => merge(a.get_mut(&key), v),
                }
            }
        }
        _ => {}
    }
}

/// `schemas`: the core schema, then the URN of every extension object.
fn set_schemas(out: &mut Value, core: &str) {
    let Some(o) = out.as_object_mut() else {
        return;
    };
    let mut schemas = vec![Value::String(core.to_string())];
    schemas.extend(
        o.iter()
            .filter(|(k, v)| has_urn_prefix(k) && v.is_object())
            .map(|(k, _)| Value::String(k.clone())),
    );
    o.insert("schemas".into(), Value::Array(schemas));
}

// === impl CompiledMapping ===

impl CompiledMapping {
    /// A BulkRequest body for the upstream: POST and PUT data mapped as
    /// resources, PATCH data as PatchOp requests, each by the resource type
    /// its `path` names; operations on other endpoints pass unchanged.
    /// Errors name the operation (`Operations[2]: ...`).
    pub fn bulk_request_to_upstream(&self, body: &Value) -> ScimResult<Value> {
        let mut out = body.clone();
        let Some(Value::Array(ops)) = out
            .as_object_mut()
            .and_then(|o| get_ci_mut(o, "Operations"))
        else {
            return Ok(out);
        };
        for (i, op) in ops.iter_mut().enumerate() {
            let Some(o) = op.as_object_mut() else {
                continue;
            };
            let method = get_ci(o, "method").and_then(Value::as_str).unwrap_or("");
            let path = get_ci(o, "path").and_then(Value::as_str).unwrap_or("");
            let (Some(m), Some(data)) = (self.for_path(path), get_ci(o, "data")) else {
                continue;
            };
            let ctx = |e: ScimError| e.with_context(&format!("Operations[{i}]"));
            let mapped = if method.eq_ignore_ascii_case("PATCH") {
                let patch = PatchRequest::parse(data).map_err(ctx)?;
                let patch = m.patch_to_upstream(&patch).map_err(ctx)?;
                super::patch_to_json(&patch)
            } else {
                m.to_upstream(data).map_err(ctx)?
            };
            if let Some(slot) = get_ci_mut(o, "data") {
                *slot = mapped;
            }
        }
        Ok(out)
    }

    /// A BulkResponse from the upstream for the tenant: each operation's
    /// resource mapped by the resource type its `location` names, error
    /// details spoken in tenant attribute names.
    pub fn bulk_response_to_tenant(&self, body: &Value) -> Value {
        let mut out = body.clone();
        let Some(Value::Array(ops)) = out
            .as_object_mut()
            .and_then(|o| get_ci_mut(o, "Operations"))
        else {
            return out;
        };
        for op in ops.iter_mut() {
            let Some(o) = op.as_object_mut() else {
                continue;
            };
            let location = get_ci(o, "location").and_then(Value::as_str);
            let m = location.and_then(|l| self.for_location(l));
            let Some(resp) = get_ci_mut(o, "response") else {
                continue;
            };
            if is_error(resp) {
                *resp = self.error_to_tenant(resp, m);
            } else if let Some(m) = m {
                *resp = m.into_tenant(std::mem::take(resp));
            }
        }
        out
    }

    /// An upstream error body with its `detail` in tenant attribute names:
    /// by `m` when known, else by every resource type of the table.
    pub fn error_to_tenant(&self, body: &Value, m: Option<&ResourceMapping>) -> Value {
        let mut out = body.clone();
        if let Some(Value::String(d)) = out.as_object_mut().and_then(|o| get_ci_mut(o, "detail")) {
            *d = match m {
                Some(m) => m.error_detail_to_tenant(d),
                None => self
                    .resources
                    .iter()
                    .fold(d.clone(), |d, m| m.error_detail_to_tenant(&d)),
            };
        }
        out
    }

    /// The resource type whose endpoint is a segment of a location URL.
    fn for_location(&self, location: &str) -> Option<&ResourceMapping> {
        location
            .split('/')
            .rev()
            .find_map(|seg| self.for_path(seg).filter(|_| !seg.is_empty()))
    }
}

fn is_error(v: &Value) -> bool {
    v.get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|u| u == ERROR_SCHEMA))
}
