//! List queries (RFC 7644 §3.4.2, §3.4.3): filter, sortBy/sortOrder,
//! startIndex/count and the projection, from a query string or a
//! `SearchRequest` body; sorting; the `ListResponse` body.
//!
//! PLACEHOLDER: signatures fixed; implemented on the validate branch.
use crate::scim::error::ScimResult;
use crate::scim::filter::{EvalContext, Filter};
use crate::scim::path::AttrPath;
use crate::scim::projection::Projection;
use serde_json::{json, Value};

/// The ListResponse message URN (RFC 7644 §3.4.2).
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The SearchRequest message URN (RFC 7644 §3.4.3).
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// `sortOrder`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    Ascending,
    Descending,
}

/// A parsed list query.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    pub sort_by: Option<AttrPath>,
    pub sort_order: SortOrder,
    /// 1-based; values below 1 are read as 1 (RFC 7644 §3.4.2.4).
    pub start_index: usize,
    /// `None` = no limit asked; negative values are read as 0.
    pub count: Option<usize>,
    pub projection: Projection,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            filter: None,
            sort_by: None,
            sort_order: SortOrder::Ascending,
            start_index: 1,
            count: None,
            projection: Projection::default(),
        }
    }
}

impl ListQuery {
    /// From a raw (percent-encoded) URL query string, e.g.
    /// `filter=userName%20eq%20%22bjensen%22&count=10`.
    pub fn from_query(_query: &str) -> ScimResult<ListQuery> {
        Ok(ListQuery::default())
    }

    /// From a POST `/.search` body (RFC 7644 §3.4.3).
    pub fn from_search_body(_body: &Value) -> ScimResult<ListQuery> {
        Ok(ListQuery::default())
    }

    /// Sorts by `sortBy` (RFC 7644 §3.4.2.3: multi-valued attributes sort
    /// by their primary or first value; missing values sort last ascending).
    pub fn sort(&self, _resources: &mut [&Value], _ctx: &EvalContext<'_>) {}

    /// The 0-based range of the page within `total` matching resources.
    pub fn page_range(&self, total: usize) -> std::ops::Range<usize> {
        0..total
    }
}

/// Splits a raw query string into percent-decoded `(name, value)` pairs
/// (`+` is a space).
pub fn query_pairs(_query: &str) -> Vec<(String, String)> {
    Vec::new()
}

/// A `ListResponse` body.
pub fn list_response(total_results: usize, start_index: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total_results,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
