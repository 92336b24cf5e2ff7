//! Filtering for upstreams without it, or with only part of it (RFC 7644
//! §3.4.2): the gateway pages through the whole collection upstream
//! (`startIndex`/`count`, §3.4.2.4), evaluates the filter itself
//! ([`crate::scim::filter`]), then sorts (§3.4.2.3), pages and projects
//! (§3.4.2.5) and answers the ListResponse.
//!
//! An upstream declared (or discovered) to filter gets the request as it
//! is; when it answers 400 `invalidFilter` or 501 (it filters, but not
//! this filter), the gateway evaluates the filter itself.
//!
//! Cost: one request reads the whole collection, `filter_page_size`
//! resources per upstream call. Bounded: when the collection holds more
//! than `filter_max_pages` × `filter_page_size` resources the client gets
//! 400 `tooMany` (§3.12) naming the bound; a response carries at most
//! `filter_max_results` resources (advertised as `filter.maxResults`).
use super::{endpoint_of, json_of, json_response, registry, Capability, Context};
use crate::error::{GatewayError, Reason};
use crate::offload;
use crate::scim::error::{ScimError, ScimType};
use crate::scim::filter::EvalContext;
use crate::scim::json::get_ci;
use crate::scim::query::{encode_component, list_response, ListQuery};
use crate::scim::schema::{ResourceType, SchemaRegistry};
use crate::upstream::UpstreamRequest;
use bytes::Bytes;
use http::{Method, Response, StatusCode};
use serde_json::Value;
use std::collections::HashSet;
use std::future::Future;

/// A filtered list (`GET /Users?filter=...` or `POST /Users/.search`).
pub(crate) async fn list<S, F>(
    ctx: &Context<'_>,
    req: UpstreamRequest,
    send: &S,
) -> Result<Response<Bytes>, GatewayError>
where
    S: Fn(UpstreamRequest) -> F,
    F: Future<Output = Result<Response<Bytes>, GatewayError>>,
{
    if ctx.supports(Capability::Filter, &req, send).await {
        let response = send(req.clone_request()).await?;
        if !refuses_filter(&response) {
            return Ok(response);
        }
    }
    ctx.emulated(Capability::Filter);
    let client = |e: ScimError| GatewayError::client(e);
    let query = if req.method == Method::POST {
        let body: Value = serde_json::from_slice(&req.body).map_err(|e| {
            client(ScimError::invalid_syntax(format!(
                "the search request is not valid JSON: {e}"
            )))
        })?;
        ListQuery::from_search_body(&body).map_err(client)?
    } else {
        ListQuery::from_query(req.query.as_deref().unwrap_or("")).map_err(client)?
    };
    let endpoint = endpoint_of(&req.path);
    let listing = Listing {
        endpoint: &endpoint,
        filter: None,
        why: "the upstream cannot filter",
    };
    let resources = match read_all(ctx, &req, &listing, send).await? {
        Ok(resources) => resources,
        Err(upstream_answer) => return Ok(upstream_answer),
    };
    let synthetic;
    let rt = match registry().resource_type_by_endpoint(&endpoint) {
        Some(rt) => rt,
        None => {
            synthetic = ResourceType {
                name: endpoint.clone(),
                endpoint: format!("/{endpoint}"),
                description: String::new(),
                schema: String::new(),
                extensions: Vec::new(),
            };
            &synthetic
        }
    };
    let max = ctx.emulation.settings.filter_max_results;
    if offload::worth_it_resources(resources.len()) {
        // A long listing is filtered, sorted and projected off the
        // reactor (`crate::offload`).
        let rt = rt.clone();
        let answer = offload::blocking(move || {
            let body = evaluate(query, registry(), &rt, &resources, max);
            json_response(StatusCode::OK, &body)
        });
        return answer.await.map_err(|e| GatewayError::internal(e.detail()));
    }
    let body = evaluate(query, registry(), rt, &resources, max);
    Ok(json_response(StatusCode::OK, &body))
}

/// The ListResponse of `query` over `resources`: filtered (RFC 7644
/// §3.4.2.2), sorted (§3.4.2.3), paged (§3.4.2.4, at most `max_results`
/// per response) and projected (§3.4.2.5), with `registry` and `rt` giving
/// the attribute types. Shared with the mapped-filter emulation, which
/// evaluates in the tenant's schema.
pub(crate) fn evaluate(
    mut query: ListQuery,
    registry: &SchemaRegistry,
    rt: &ResourceType,
    resources: &[Value],
    max_results: usize,
) -> Value {
    let eval = EvalContext {
        registry,
        resource_type: rt,
    };
    let mut matching: Vec<&Value> = resources
        .iter()
        .filter(|r| query.filter.as_ref().is_none_or(|f| f.matches(r, &eval)))
        .collect();
    query.sort(&mut matching, &eval);
    query.count = Some(query.count.map_or(max_results, |c| c.min(max_results)));
    let range = query.page_range(matching.len());
    let page: Vec<Value> = matching
        .get(range)
        .unwrap_or_default()
        .iter()
        .map(|r| query.projection.apply(registry, rt, r))
        .collect();
    list_response(matching.len(), query.start_index.max(1), page)
}

/// The upstream filters, but not this filter (400 `invalidFilter` or 501).
pub(crate) fn refuses_filter(response: &Response<Bytes>) -> bool {
    match response.status().as_u16() {
        501 => true,
        400 => json_of(response).is_some_and(|v| {
            v.get("scimType").and_then(Value::as_str) == Some(ScimType::InvalidFilter.as_str())
        }),
        _ => false,
    }
}

/// What [`read_all`] lists.
pub(crate) struct Listing<'a> {
    /// The collection's endpoint, without the slash (`Users`).
    pub endpoint: &'a str,
    /// A filter the upstream applies to every page (in its own names), to
    /// narrow what is read; `None` reads the whole collection.
    pub filter: Option<&'a str>,
    /// Why the gateway filters, for the `tooMany` detail ("the upstream
    /// cannot filter").
    pub why: &'a str,
}

/// Every resource of the collection (or of what `listing.filter` leaves of
/// it), page by page within the bounds of the upstream's emulation
/// settings; `Err` carries an upstream answer that goes to the client as it
/// is. Also used by the mapped-filter emulation of the schema stage.
pub(crate) async fn read_all<S, F>(
    ctx: &Context<'_>,
    req: &UpstreamRequest,
    listing: &Listing<'_>,
    send: &S,
) -> Result<Result<Vec<Value>, Response<Bytes>>, GatewayError>
where
    S: Fn(UpstreamRequest) -> F,
    F: Future<Output = Result<Response<Bytes>, GatewayError>>,
{
    let settings = &ctx.emulation.settings;
    let page_size = settings.filter_page_size.max(1);
    let max_pages = settings.filter_max_pages.max(1);
    let (endpoint, why) = (listing.endpoint, listing.why);
    let too_many = |total: usize| {
        GatewayError::client_reason(
            ScimError::new(
                400,
                Some(ScimType::TooMany),
                format!(
                    "{why}, and the gateway evaluates filters over at most \
                     filter_max_pages ({max_pages}) pages of filter_page_size \
                     ({page_size}) resources; /{endpoint} holds {total}"
                ),
            ),
            Reason::EmulationTooMany,
        )
    };
    let narrow = listing
        .filter
        .map(|f| format!("&filter={}", encode_component(f)))
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut ids = HashSet::new();
    let mut start = 1usize;
    for _ in 0..max_pages {
        let query = format!("startIndex={start}&count={page_size}{narrow}");
        let page = send(req.derive(
            Method::GET,
            &format!("/{endpoint}"),
            Some(query),
            Bytes::new(),
        ))
        .await?;
        if page.status() != StatusCode::OK {
            return Ok(Err(page));
        }
        let Some(Value::Object(list)) = json_of(&page) else {
            return Err(GatewayError::upstream(
                "the upstream's list could not be read to evaluate the filter",
                Reason::UpstreamProtocol,
                "emulated filter: the list body is not a JSON object",
            ));
        };
        let items = match get_ci(&list, "Resources") {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        };
        let total = get_ci(&list, "totalResults")
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        if total > max_pages.saturating_mul(page_size) {
            return Err(too_many(total));
        }
        let read = items.len();
        for item in items {
            // An upstream that ignores startIndex repeats itself: each
            // resource counts once.
            let id = item.get("id").and_then(Value::as_str).map(str::to_string);
            if id.is_none_or(|id| ids.insert(id)) {
                out.push(item);
            }
        }
        start += read;
        if read == 0 || out.len() >= total {
            return Ok(Ok(out));
        }
    }
    Err(too_many(out.len()))
}
