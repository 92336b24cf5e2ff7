//! List queries (RFC 7644 §3.4.2, §3.4.3): filter, sortBy/sortOrder,
//! startIndex/count and the projection, from a query string or a
//! `SearchRequest` body; sorting; the `ListResponse` body.
use crate::scim::datetime::DateTime;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::{EvalContext, Filter};
use crate::scim::json::get_ci;
use crate::scim::path::AttrPath;
use crate::scim::projection::Projection;
use crate::scim::schema::{AttrType, Attribute};
use serde_json::{json, Value};
use std::cmp::Ordering;

/// The ListResponse message URN (RFC 7644 §3.4.2).
pub(crate) const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The SearchRequest message URN (RFC 7644 §3.4.3).
pub(crate) const SEARCH_REQUEST_SCHEMA: &str =
    "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

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
    /// `filter=userName%20eq%20%22bjensen%22&count=10`. Unknown parameters
    /// are ignored; parameter names are case-insensitive.
    pub fn from_query(query: &str) -> ScimResult<ListQuery> {
        let mut q = ListQuery::default();
        let (mut attributes, mut excluded) = (None, None);
        for (name, value) in query_pairs(query) {
            match name.to_ascii_lowercase().as_str() {
                "filter" => q.filter = Some(Filter::parse(&value)?),
                "sortby" => q.sort_by = Some(parse_sort_by(&value)?),
                "sortorder" => q.sort_order = parse_sort_order(&value)?,
                "startindex" => q.start_index = parse_start_index(&value)?,
                "count" => q.count = Some(parse_count(&value)?),
                "attributes" => attributes = Some(value),
                "excludedattributes" => excluded = Some(value),
                _ => {}
            }
        }
        q.projection = Projection::parse(attributes.as_deref(), excluded.as_deref())?;
        Ok(q)
    }

    /// From a POST `/.search` body (RFC 7644 §3.4.3).
    pub fn from_search_body(body: &Value) -> ScimResult<ListQuery> {
        let Value::Object(obj) = body else {
            return Err(ScimError::invalid_syntax(
                "a SearchRequest must be a JSON object",
            ));
        };
        crate::scim::json::require_message_schema(obj, SEARCH_REQUEST_SCHEMA, "SearchRequest")?;
        let mut q = ListQuery::default();
        let string = |name: &str| -> ScimResult<Option<String>> {
            match get_ci(obj, name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::invalid_value(format!("{name} must be a string"))),
            }
        };
        let list = |name: &str| -> ScimResult<Vec<String>> {
            match get_ci(obj, name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_string).ok_or_else(|| {
                            ScimError::invalid_value(format!("{name} must be an array of strings"))
                        })
                    })
                    .collect(),
                // Lenient: a single comma-separated string.
                Some(Value::String(s)) => Ok(s.split(',').map(|p| p.trim().to_string()).collect()),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "{name} must be an array of strings"
                ))),
            }
        };
        let integer =
            |name: &str| -> ScimResult<Option<i64>> {
                match get_ci(obj, name) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
                        ScimError::invalid_value(format!("{name} must be an integer"))
                    }),
                    Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
                        ScimError::invalid_value(format!("{name} must be an integer"))
                    }),
                    Some(_) => Err(ScimError::invalid_value(format!(
                        "{name} must be an integer"
                    ))),
                }
            };
        if let Some(f) = string("filter")? {
            q.filter = Some(Filter::parse(&f)?);
        }
        if let Some(s) = string("sortBy")? {
            q.sort_by = Some(parse_sort_by(&s)?);
        }
        if let Some(s) = string("sortOrder")? {
            q.sort_order = parse_sort_order(&s)?;
        }
        if let Some(i) = integer("startIndex")? {
            q.start_index = usize::try_from(i).unwrap_or(1).max(1);
        }
        if let Some(c) = integer("count")? {
            q.count = Some(usize::try_from(c).unwrap_or(0));
        }
        q.projection = Projection::from_lists(&list("attributes")?, &list("excludedAttributes")?)?;
        Ok(q)
    }

    /// Sorts by `sortBy` (RFC 7644 §3.4.2.3): strings by the attribute's
    /// `caseExact`, numbers and dateTimes by value; a multi-valued
    /// attribute sorts by its primary (else first) value; resources without
    /// a value sort last ascending and first descending ("null" values are
    /// the greatest). Stable.
    pub fn sort(&self, resources: &mut [&Value], ctx: &EvalContext<'_>) {
        let Some(path) = &self.sort_by else {
            return;
        };
        let resolved = ctx.registry.resolve(ctx.resource_type, path).ok();
        let attr = resolved.as_ref().map(|r| r.target());
        let ext = resolved.as_ref().and_then(|r| r.extension);
        let descending = self.sort_order == SortOrder::Descending;
        resources.sort_by(|a, b| {
            let va = sort_key(a, path, ext);
            let vb = sort_key(b, path, ext);
            let ord = match (va, vb) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => compare(x, y, attr),
            };
            if descending {
                ord.reverse()
            } else {
                ord
            }
        });
    }

    /// The 0-based range of the page within `total` matching resources.
    pub fn page_range(&self, total: usize) -> std::ops::Range<usize> {
        let start = self.start_index.max(1).saturating_sub(1).min(total);
        let end = match self.count {
            Some(c) => start.saturating_add(c).min(total),
            None => total,
        };
        start..end
    }
}

/// The value a resource sorts by, if any.
fn sort_key<'v>(resource: &'v Value, path: &AttrPath, ext: Option<&str>) -> Option<&'v Value> {
    let obj = resource.as_object()?;
    let holder = match ext {
        Some(urn) => get_ci(obj, urn)?.as_object()?,
        None => obj,
    };
    let mut v = get_ci(holder, &path.attr)?;
    if let Value::Array(items) = v {
        v = items
            .iter()
            .find(|i| i.get("primary") == Some(&Value::Bool(true)))
            .or_else(|| items.first())?;
    }
    let sub = path
        .sub_attr
        .as_deref()
        .or_else(|| v.is_object().then_some("value"));
    if let Some(sub) = sub {
        v = get_ci(v.as_object()?, sub)?;
    }
    (!v.is_null()).then_some(v)
}

/// Orders two attribute values by the attribute's type.
fn compare(a: &Value, b: &Value, attr: Option<&Attribute>) -> Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            if attr.is_some_and(|a| a.attr_type == AttrType::DateTime) {
                if let (Some(dx), Some(dy)) = (DateTime::parse(x), DateTime::parse(y)) {
                    return dx.cmp(&dy);
                }
            }
            if attr.is_some_and(|a| a.case_exact) {
                x.cmp(y)
            } else {
                x.chars()
                    .flat_map(char::to_lowercase)
                    .cmp(y.chars().flat_map(char::to_lowercase))
            }
        }
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i.cmp(&j),
            _ => x
                .as_f64()
                .partial_cmp(&y.as_f64())
                .unwrap_or(Ordering::Equal),
        },
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        // Mixed types: a stable, arbitrary order by kind.
        _ => kind_rank(a).cmp(&kind_rank(b)),
    }
}

fn kind_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

fn parse_sort_by(s: &str) -> ScimResult<AttrPath> {
    AttrPath::parse(s.trim()).map_err(|e| {
        ScimError::invalid_path(format!(
            "sortBy \"{s}\" is not an attribute path ({})",
            e.detail()
        ))
    })
}

fn parse_sort_order(s: &str) -> ScimResult<SortOrder> {
    if s.eq_ignore_ascii_case("ascending") {
        Ok(SortOrder::Ascending)
    } else if s.eq_ignore_ascii_case("descending") {
        Ok(SortOrder::Descending)
    } else {
        Err(ScimError::invalid_value(format!(
            "sortOrder must be \"ascending\" or \"descending\", not \"{s}\""
        )))
    }
}

fn parse_start_index(s: &str) -> ScimResult<usize> {
    let n: i64 = s.trim().parse().map_err(|_| {
        ScimError::invalid_value(format!("startIndex must be an integer, not \"{s}\""))
    })?;
    Ok(usize::try_from(n).unwrap_or(1).max(1))
}

fn parse_count(s: &str) -> ScimResult<usize> {
    let n: i64 = s
        .trim()
        .parse()
        .map_err(|_| ScimError::invalid_value(format!("count must be an integer, not \"{s}\"")))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Splits a raw query string into percent-decoded `(name, value)` pairs
/// (`+` is a space; invalid escapes are kept as they are).
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-encodes a query name or value: everything but the RFC 3986
/// unreserved characters (so a space is `%20`, never `+`, which some
/// servers read literally).
pub(crate) fn encode_component(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() + 8);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// Decodes `%XX` escapes and `+` (a query name or value).
pub(crate) fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
                match (hex(i + 1), hex(i + 2)) {
                    (Some(h), Some(l)) => {
                        out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
