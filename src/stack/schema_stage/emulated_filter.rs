//! Filters a mapped tenant's upstream cannot run (RFC 7644 §3.4.2.2).
//!
//! When a list or search filter names a tenant attribute with no upstream
//! equivalent (kept at the gateway, reachable only through a transform
//! that does not keep order, ...) and the tenant's mapping table has
//! `emulate = true`, the mapping answers "needs emulation"
//! ([`MappingError::NeedsEmulation`]). The gateway then lists the upstream
//! collection without that filter (paged with `startIndex`/`count`,
//! §3.4.2.4, within the upstream's emulation bounds: see
//! `upstream::emulate::filter`), maps every resource to the tenant's schema,
//! evaluates the tenant's filter on the tenant-facing resources, then sorts
//! (§3.4.2.3), pages and projects (§3.4.2.5) in the tenant's names.
//!
//! The operands of a top-level `and` that do map go upstream as a filter to
//! narrow the listing, when the upstream is known to filter; the whole
//! filter is still evaluated here, so narrowing never changes the answer.
//!
//! A search at the root (`POST /.search`, several types) is not emulated:
//! 400 `invalidFilter` pointing to the per-type search.
//!
//! The upstream is called through the pipeline's one door
//! (`stack::upstream_stage`), which runs [`run`] with its plain reads.
use super::json_response;
use crate::error::GatewayError;
use crate::mapping::{CompiledMapping, MappingError, ResourceMapping};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::Filter;
use crate::scim::query::{query_pairs, ListQuery};
use crate::scim::schema::{ResourceType, SchemaRegistry};
use crate::upstream::emulate::filter::{evaluate, read_all, refuses_filter, Listing};
use crate::upstream::emulate::Context;
use crate::upstream::UpstreamRequest;
use bytes::Bytes;
use http::Response;
use serde_json::Value;
use std::future::Future;

/// The `capability` label of `scim_gateway_emulated_total` for a filter
/// evaluated because of the mapping (not because the upstream cannot
/// filter).
pub(crate) const CAPABILITY: &str = "mapped_filter";

/// A list the gateway filters itself: the tenant's query, in the tenant's
/// names.
#[derive(Debug)]
pub(crate) struct EmulatedList<'t> {
    pub mapping: &'t ResourceMapping,
    /// The tenant-facing resource type and schemas (types, `caseExact`).
    pub resource_type: &'t ResourceType,
    pub registry: &'t SchemaRegistry,
    pub query: ListQuery,
    /// The first attribute the upstream cannot filter on, or the `sortBy`
    /// it cannot sort on (for details).
    pub attribute: String,
    /// Emulated for the `sortBy` (the filter, if any, maps).
    pub for_sort: bool,
    /// The mappable operands of a top-level `and`, in upstream names.
    pub narrow: Option<Filter>,
}

/// A `GET /Type?...` list: `Some` when its filter needs the gateway.
pub(crate) fn plan_query<'t>(
    registry: &'t SchemaRegistry,
    rt: &'t ResourceType,
    mapping: Option<&'t ResourceMapping>,
    query: Option<&str>,
) -> ScimResult<Option<EmulatedList<'t>>> {
    let (Some(m), Some(q)) = (mapping, query) else {
        return Ok(None);
    };
    let has_filter_or_sort = query_pairs(q).iter().any(|(k, v)| {
        (k.eq_ignore_ascii_case("filter") || k.eq_ignore_ascii_case("sortBy"))
            && !v.trim().is_empty()
    });
    if !m.emulates() || !has_filter_or_sort {
        return Ok(None);
    }
    plan(registry, rt, m, ListQuery::from_query(q)?)
}

/// A `POST /Type/.search` body: `Some` when its filter needs the gateway.
pub(crate) fn plan_search<'t>(
    registry: &'t SchemaRegistry,
    rt: &'t ResourceType,
    mapping: Option<&'t ResourceMapping>,
    body: &Value,
) -> ScimResult<Option<EmulatedList<'t>>> {
    match mapping {
        Some(m) if m.emulates() => plan(registry, rt, m, ListQuery::from_search_body(body)?),
        _ => Ok(None),
    }
}

fn plan<'t>(
    registry: &'t SchemaRegistry,
    rt: &'t ResourceType,
    m: &'t ResourceMapping,
    query: ListQuery,
) -> ScimResult<Option<EmulatedList<'t>>> {
    // A `sortBy` with no upstream equivalent: the gateway sorts (and so
    // reads the collection) itself.
    let unsortable = query
        .sort_by
        .as_ref()
        .filter(|p| m.sort_by_to_upstream(p).is_err())
        .map(ToString::to_string);
    let (attribute, narrow, for_sort) = match (&query.filter, unsortable) {
        (Some(filter), unsortable) => match m.filter_to_upstream(filter) {
            Err(MappingError::NeedsEmulation { attribute }) => {
                (attribute, narrow(m, filter), false)
            }
            Err(e) => return Err(e.into_scim()),
            Ok(mapped) => match unsortable {
                Some(sort) => (sort, Some(mapped), true),
                None => return Ok(None),
            },
        },
        (None, Some(sort)) => (sort, None, true),
        (None, None) => return Ok(None),
    };
    Ok(Some(EmulatedList {
        mapping: m,
        resource_type: rt,
        registry,
        query,
        attribute,
        for_sort,
        narrow,
    }))
}

/// The operands of a top-level `and` chain that map, joined by `and`.
fn narrow(m: &ResourceMapping, f: &Filter) -> Option<Filter> {
    fn conjuncts<'f>(f: &'f Filter, out: &mut Vec<&'f Filter>) {
        match f {
            Filter::And(a, b) => {
                conjuncts(a, out);
                conjuncts(b, out);
            }
            f => out.push(f),
        }
    }
    let mut all = Vec::new();
    conjuncts(f, &mut all);
    all.into_iter()
        .filter_map(|c| m.filter_to_upstream(c).ok())
        .reduce(|a, b| Filter::And(Box::new(a), Box::new(b)))
}

/// A root `/.search` whose filter some type would need the gateway for:
/// refused with a pointer to the per-type search (the emulation reads one
/// collection).
pub(crate) fn refuse_at_root(table: &CompiledMapping, filter: &Filter) -> ScimResult<()> {
    for m in table.resources() {
        if let Err(MappingError::NeedsEmulation { attribute }) = m.filter_to_upstream(filter) {
            let endpoint = m.endpoint().trim_start_matches('/');
            return Err(ScimError::invalid_filter(format!(
                "filtering on \"{attribute}\" is done by the gateway for this tenant, one \
                 resource type at a time, not in a search at the root: use \
                 /{endpoint}/.search instead"
            )));
        }
    }
    Ok(())
}

/// The emulation against "the upstream" (`send`): generic, so that it is
/// tested against in-process fakes. `narrow`: the upstream is known to
/// filter, so the mappable part of the filter may go with each page.
pub(crate) async fn run<S, F>(
    plan: &EmulatedList<'_>,
    ctx: &Context<'_>,
    req: &UpstreamRequest,
    narrow: bool,
    send: &S,
) -> Result<Response<Bytes>, GatewayError>
where
    S: Fn(UpstreamRequest) -> F,
    F: Future<Output = Result<Response<Bytes>, GatewayError>>,
{
    let endpoint = plan.resource_type.endpoint.trim_start_matches('/');
    let why = if plan.for_sort {
        format!(
            "sortBy \"{}\" has no equivalent this tenant's backend can sort on",
            plan.attribute
        )
    } else {
        format!(
            "the filter names \"{}\", which this tenant's backend cannot filter on",
            plan.attribute
        )
    };
    let narrow = plan
        .narrow
        .as_ref()
        .filter(|_| narrow)
        .map(ToString::to_string);
    let mut listing = Listing {
        endpoint,
        filter: narrow.as_deref(),
        why: &why,
    };
    let mut read = read_all(ctx, req, &listing, send).await?;
    if listing.filter.is_some() && matches!(&read, Err(r) if refuses_filter(r)) {
        // It filters, but not this: read everything after all.
        listing.filter = None;
        read = read_all(ctx, req, &listing, send).await?;
    }
    let upstream_resources = match read {
        Ok(resources) => resources,
        Err(upstream_answer) => return Ok(upstream_answer),
    };
    let max_results = ctx.emulation.settings.filter_max_results;
    let body = answer(plan, upstream_resources, max_results);
    Ok(json_response(200, &body))
}

/// The ListResponse: upstream resources mapped to the tenant's schema,
/// then filtered, sorted, paged and projected in the tenant's names.
pub(crate) fn answer(
    plan: &EmulatedList<'_>,
    upstream_resources: Vec<Value>,
    max_results: usize,
) -> Value {
    let tenant: Vec<Value> = upstream_resources
        .into_iter()
        .map(|r| plan.mapping.into_tenant(r))
        .collect();
    evaluate(
        plan.query.clone(),
        plan.registry,
        plan.resource_type,
        &tenant,
        max_results,
    )
}

#[cfg(test)]
mod tests;
