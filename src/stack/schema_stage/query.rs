//! List and search parameters (RFC 7644 §3.4.2, §3.4.3): a list's query
//! string and a SearchRequest body checked, then their filter, `sortBy`
//! and projection mapped to the upstream's names; a search at the root
//! only when every type reads them alike.
//!
//! Imports: `scim` (filters, paths, queries), `mapping`, the tenant's
//! schema, the stage's request bodies (`body`) and the filter emulation's
//! refusal at the root.
use super::body::{json_body, to_bytes};
use super::emulated_filter;
use crate::mapping::{CompiledMapping, ResourceMapping};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::Filter;
use crate::scim::path::AttrPath;
use crate::scim::query::{encode_component, query_pairs, ListQuery};
use crate::tenant::schema::TenantSchema;
use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;

/// A SearchRequest body: checked, then its filter, sortBy and projection
/// mapped.
pub(super) fn search_body(
    schema: &TenantSchema,
    mapping: Option<&ResourceMapping>,
    headers: &HeaderMap,
    body: &Bytes,
) -> ScimResult<Bytes> {
    if !schema.validate && mapping.is_none() {
        return Ok(body.clone());
    }
    let mut value = json_body(headers, body)?;
    ListQuery::from_search_body(&value)?;
    if mapping.is_none() {
        return Ok(body.clone());
    }
    rewrite_search(&[mapping], &mut value)?;
    Ok(to_bytes(&value))
}

/// A SearchRequest across resource types (RFC 7644 §3.4.3 at the root):
/// filter and sortBy must mean the same upstream for every type (a type
/// the table does not map reads them as sent), else they cannot be sent as
/// one search; projections take the union.
pub(super) fn root_search_body(
    schema: &TenantSchema,
    table: &CompiledMapping,
    headers: &HeaderMap,
    body: &Bytes,
) -> ScimResult<Bytes> {
    let mut value = json_body(headers, body)?;
    if let Some(filter) = ListQuery::from_search_body(&value)?.filter {
        emulated_filter::refuse_at_root(table, &filter)?;
    }
    let unmapped = schema
        .registry
        .resource_types()
        .iter()
        .any(|rt| table.resource(&rt.name).is_none());
    let mut ms: Vec<Option<&ResourceMapping>> = table.resources().map(Some).collect();
    if unmapped {
        ms.push(None);
    }
    rewrite_search(&ms, &mut value)?;
    Ok(to_bytes(&value))
}

/// Rewrites the parameters of a SearchRequest for every reader in `ms`
/// (`None`: a type read as sent).
pub(super) fn rewrite_search(ms: &[Option<&ResourceMapping>], value: &mut Value) -> ScimResult<()> {
    let Value::Object(obj) = value else {
        return Ok(());
    };
    for (key, v) in obj.iter_mut() {
        if is_projection(key) {
            // `attributes` is a list of strings (RFC 7644 §3.4.3); some
            // clients send one comma-separated string. Same form back.
            let names: Vec<&str> = match &*v {
                Value::String(s) => s.split(',').collect(),
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                _ => continue,
            };
            let joined = names.join(",");
            // Naming an attribute a type lacks is harmless in a
            // projection: the union serves every type.
            let mut union: Vec<String> = Vec::new();
            for m in ms {
                let mapped = match m {
                    Some(m) => map_param(m, key, &joined)?.unwrap_or_else(|| joined.clone()),
                    None => joined.clone(),
                };
                for name in mapped.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    if !union.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                        union.push(name.to_string());
                    }
                }
            }
            *v = match &*v {
                Value::String(_) => Value::String(union.join(",")),
                _ => Value::Array(union.into_iter().map(Value::String).collect()),
            };
            continue;
        }
        let Some(s) = v.as_str() else {
            continue;
        };
        let mut agreed: Option<String> = None;
        for m in ms {
            let mapped = match m {
                Some(m) => map_param(m, key, s)?.unwrap_or_else(|| s.to_string()),
                None => s.to_string(),
            };
            match &agreed {
                Some(a) if *a != mapped => {
                    let endpoint = ms
                        .iter()
                        .flatten()
                        .next()
                        .map_or("Users", |m| m.endpoint().trim_start_matches('/'));
                    return Err(ScimError::invalid_filter(format!(
                        "{key} \"{s}\" names attributes kept differently per resource type \
                         at this tenant's backend; search /{endpoint}/.search instead"
                    )));
                }
                _ => agreed = Some(mapped),
            }
        }
        if let Some(a) = agreed {
            *v = Value::String(a);
        }
    }
    Ok(())
}

pub(super) fn is_projection(key: &str) -> bool {
    key.eq_ignore_ascii_case("attributes") || key.eq_ignore_ascii_case("excludedAttributes")
}

/// One list parameter in upstream terms; `None` when it is not mapped.
pub(super) fn map_param(m: &ResourceMapping, key: &str, value: &str) -> ScimResult<Option<String>> {
    if key.eq_ignore_ascii_case("filter") {
        let filter = Filter::parse(value)?;
        let mapped = m.filter_to_upstream(&filter).map_err(|e| e.into_scim())?;
        return Ok(Some(mapped.to_string()));
    }
    if key.eq_ignore_ascii_case("sortBy") {
        let path = AttrPath::parse(value.trim())?;
        return Ok(Some(m.sort_by_to_upstream(&path)?.to_string()));
    }
    if is_projection(key) {
        let paths = value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(AttrPath::parse)
            .collect::<ScimResult<Vec<_>>>()?;
        let mapped = m.attributes_to_upstream(&paths);
        let text: Vec<String> = mapped.iter().map(ToString::to_string).collect();
        return Ok(Some(text.join(",")));
    }
    Ok(None)
}

/// A list query string: checked (when validating) and mapped.
pub(super) fn list_query(
    schema: &TenantSchema,
    mapping: Option<&ResourceMapping>,
    query: Option<String>,
) -> ScimResult<Option<String>> {
    let Some(q) = query else {
        return Ok(None);
    };
    if schema.validate && mapping.is_none() {
        ListQuery::from_query(&q)?;
        return Ok(Some(q));
    }
    rewrite_query(mapping, q)
}

/// `attributes` / `excludedAttributes` of a single-resource request.
pub(super) fn resource_query(
    mapping: Option<&ResourceMapping>,
    query: Option<String>,
) -> ScimResult<Option<String>> {
    match query {
        Some(q) if mapping.is_some() => rewrite_query(mapping, q),
        other => Ok(other),
    }
}

/// Rewrites the mapped parameters of a raw query; the others pass as they
/// came.
pub(super) fn rewrite_query(
    mapping: Option<&ResourceMapping>,
    q: String,
) -> ScimResult<Option<String>> {
    let Some(m) = mapping else {
        return Ok(Some(q));
    };
    let mut out = String::with_capacity(q.len() + 16);
    for (raw, (key, value)) in q.split('&').filter(|p| !p.is_empty()).zip(query_pairs(&q)) {
        if !out.is_empty() {
            out.push('&');
        }
        match map_param(m, &key, &value)? {
            Some(mapped) => {
                out.push_str(&encode_component(&key));
                out.push('=');
                out.push_str(&encode_component(&mapped));
            }
            None => out.push_str(raw),
        }
    }
    Ok(Some(out))
}
