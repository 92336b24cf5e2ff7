//! What the emulations read of a request and how they make their own
//! calls from it: a copy or a derived request with the same client
//! context ([`UpstreamRequest::derive`]), and the tests on its path,
//! query and body that decide which emulation applies.
//! Imports the upstream's request type and `scim`'s query parser.
use super::SCIM_JSON;
use crate::scim::query::query_pairs;
use crate::upstream::UpstreamRequest;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, IF_MATCH, IF_NONE_MATCH};
use http::{HeaderValue, Method};

impl UpstreamRequest {
    /// A copy of this request (the body is shared, not copied).
    pub fn clone_request(&self) -> UpstreamRequest {
        self.derive(
            self.method.clone(),
            &self.path,
            self.query.clone(),
            self.body.clone(),
        )
    }

    /// Another call on behalf of this request: same client context and
    /// headers, minus the preconditions (the emulation sets its own) and the
    /// content type (set for a non-empty body).
    pub fn derive(
        &self,
        method: Method,
        path: &str,
        query: Option<String>,
        body: Bytes,
    ) -> UpstreamRequest {
        let mut headers = self.headers.clone();
        let keep_preconditions = method == self.method && path == self.path;
        if !keep_preconditions {
            headers.remove(IF_MATCH);
            headers.remove(IF_NONE_MATCH);
        }
        headers.remove(CONTENT_LENGTH);
        if body.is_empty() {
            headers.remove(CONTENT_TYPE);
        } else if !headers.contains_key(CONTENT_TYPE) || !keep_preconditions {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
        }
        UpstreamRequest {
            method,
            path: path.to_string(),
            query,
            headers,
            body,
            request_id: self.request_id.clone(),
            client_ip: self.client_ip,
            forwarded_for: self.forwarded_for.clone(),
            client_proto: self.client_proto,
            client_host: self.client_host.clone(),
            public_base: self.public_base.clone(),
            filtered_upsert: self.filtered_upsert,
        }
    }
}

/// The resource type's endpoint a request path names (`/Users/1` →
/// `Users`), owned: the emulations keep it across their upstream calls.
pub(super) fn endpoint_of(path: &str) -> String {
    path.trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
        .to_string()
}

/// The non-empty segments of a SCIM path.
pub(super) fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

pub(super) fn is_discovery(segment: &str) -> bool {
    ["ServiceProviderConfig", "Schemas", "ResourceTypes", "Bulk"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(segment))
}

pub(super) fn is_special(segments: &[&str]) -> bool {
    segments.iter().any(|s| {
        is_discovery(s) || s.eq_ignore_ascii_case(".search") || s.eq_ignore_ascii_case("Me")
    })
}

pub(super) fn has_filter(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        query_pairs(q)
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("filter") && !v.trim().is_empty())
    })
}

/// Whether a BulkRequest body holds a PATCH operation (RFC 7644 §3.7).
pub(super) fn has_patch_operation(body: &Bytes) -> bool {
    let Ok(serde_json::Value::Object(doc)) = serde_json::from_slice(body) else {
        return false;
    };
    crate::scim::json::get_ci(&doc, "Operations")
        .and_then(serde_json::Value::as_array)
        .is_some_and(|ops| {
            ops.iter().any(|op| {
                op.as_object()
                    .and_then(|o| crate::scim::json::get_ci(o, "method"))
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|m| m.eq_ignore_ascii_case("PATCH"))
            })
        })
}
