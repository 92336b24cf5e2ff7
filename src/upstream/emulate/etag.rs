//! ETags for upstreams without them (RFC 7644 §3.14, RFC 7232).
//!
//! A single-resource answer that carries no `ETag` gets one: the
//! resource's `meta.version` when it has one, else a weak tag derived from
//! the resource (`W/"<FNV-1a 64 of its canonical JSON>"`, keys sorted,
//! `meta.version` left out), which is then also written to `meta.version`
//! (so a client sees one version whether it reads the header or the body:
//! RFC 7644 §3.14 makes `ETag` and `meta.version` the same value).
//!
//! For an upstream that does not evaluate preconditions, the gateway does:
//! `If-None-Match` on GET → 304 when the tag still matches; `If-Match` (and
//! `If-None-Match`) on PUT, PATCH and DELETE → a GET first, 412 when the
//! tag no longer matches, else the write without the header. Between that
//! GET and the write another writer could slip in: for one gateway the
//! write ordering of the pipeline closes the gap (it holds the resource's
//! turn over both calls); across replicas it is best effort unless a
//! shared lease is configured.
use super::{json_of, Capability, Context, Support};
use crate::error::{GatewayError, Reason};
use crate::scim::error::ScimError;
use crate::scim::etag::{check_if_match, if_none_match_hits, weak_etag};
use crate::scim::json::{get_ci, get_ci_mut, insert_ci};
use crate::upstream::UpstreamRequest;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, ETAG, IF_MATCH, IF_NONE_MATCH};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use serde_json::{Map, Value};
use std::future::Future;

/// The version an upstream gave a resource: its `ETag`, else its
/// `meta.version`.
pub(crate) fn native_version(headers: &HeaderMap, resource: &Value) -> Option<String> {
    headers
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| meta_version(resource).map(str::to_string))
}

fn meta_version(resource: &Value) -> Option<&str> {
    let meta = get_ci(resource.as_object()?, "meta")?.as_object()?;
    get_ci(meta, "version")?.as_str()
}

/// The derived weak tag of a resource (stable across processes: keys
/// sorted, `meta.version` left out).
pub(crate) fn derived_version(resource: &Value) -> String {
    let mut bytes = Vec::with_capacity(512);
    canonical(resource, true, &mut bytes);
    weak_etag(&bytes)
}

/// The version of a resource as the gateway compares it: native, else
/// derived.
pub(crate) fn version(headers: &HeaderMap, resource: &Value) -> String {
    native_version(headers, resource).unwrap_or_else(|| derived_version(resource))
}

/// JSON with object keys sorted (and, at the top level, without
/// `meta.version`).
fn canonical(v: &Value, top: bool, out: &mut Vec<u8>) {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push(b'{');
            let mut first = true;
            for k in keys {
                let Some(item) = o.get(k) else { continue };
                if !first {
                    out.push(b',');
                }
                first = false;
                out.extend(serde_json::to_vec(k).unwrap_or_default());
                out.push(b':');
                if top && k.eq_ignore_ascii_case("meta") {
                    let mut meta = item.clone();
                    if let Value::Object(m) = &mut meta {
                        m.retain(|k, _| !k.eq_ignore_ascii_case("version"));
                    }
                    canonical(&meta, false, out);
                } else {
                    canonical(item, false, out);
                }
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(item, false, out);
            }
            out.push(b']');
        }
        other => out.extend(serde_json::to_vec(other).unwrap_or_default()),
    }
}

/// Gives a single-resource answer without an `ETag` one (and a
/// `meta.version` when it has none), unless the upstream is declared to
/// have ETags.
pub(crate) fn derive(
    ctx: &Context<'_>,
    response: Response<Bytes>,
    single_resource: bool,
) -> Response<Bytes> {
    if !single_resource
        || ctx.emulation.settings.get(Capability::Etag) == Support::Yes
        || !matches!(response.status().as_u16(), 200 | 201)
        || response.headers().contains_key(ETAG)
    {
        return response;
    }
    // The common case, an upstream that versions its resources in
    // `meta.version`, costs a skim of the body, not a parse into values.
    if let Some(tag) = quick_version(response.body()) {
        let (mut parts, body) = response.into_parts();
        if let Ok(v) = HeaderValue::from_str(&tag) {
            parts.headers.insert(ETAG, v);
        }
        return Response::from_parts(parts, body);
    }
    let Some(mut resource) =
        json_of(&response).filter(|v| v.as_object().is_some_and(|o| get_ci(o, "id").is_some()))
    else {
        return response;
    };
    let (mut parts, body) = response.into_parts();
    let (tag, body) = match meta_version(&resource) {
        Some(v) => (v.to_string(), body),
        None => {
            let tag = derived_version(&resource);
            set_meta_version(&mut resource, &tag);
            parts.headers.remove(CONTENT_LENGTH);
            (
                tag,
                Bytes::from(serde_json::to_vec(&resource).unwrap_or_default()),
            )
        }
    };
    if let Ok(v) = HeaderValue::from_str(&tag) {
        parts.headers.insert(ETAG, v);
    }
    Response::from_parts(parts, body)
}

/// `meta.version` of a resource body, read without building the
/// resource ([`json_scan::meta_version`](crate::scim::json_scan::meta_version));
/// `None` when it has none (or is spelled in another case, or is not a
/// string): then the full path decides.
fn quick_version(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    crate::scim::json_scan::meta_version(text).map(std::borrow::Cow::into_owned)
}

fn set_meta_version(resource: &mut Value, tag: &str) {
    let Value::Object(o) = resource else { return };
    if !matches!(get_ci(o, "meta"), Some(Value::Object(_))) {
        insert_ci(o, "meta", Value::Object(Map::new()));
    }
    if let Some(Value::Object(meta)) = get_ci_mut(o, "meta") {
        insert_ci(meta, "version", Value::String(tag.to_string()));
    }
}

/// A conditional request on one resource, evaluated at the gateway.
pub(crate) async fn conditional<S, F>(
    ctx: &Context<'_>,
    req: UpstreamRequest,
    send: &S,
) -> Result<Response<Bytes>, GatewayError>
where
    S: Fn(UpstreamRequest) -> F,
    F: Future<Output = Result<Response<Bytes>, GatewayError>>,
{
    let header = |name| {
        req.headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let (if_match, if_none_match) = (header(IF_MATCH), header(IF_NONE_MATCH));
    let mut plain = req.clone_request();
    plain.headers.remove(IF_MATCH);
    plain.headers.remove(IF_NONE_MATCH);
    if req.method == Method::GET || req.method == Method::HEAD {
        // RFC 7232 §3.2: a current copy is answered 304, with its tag.
        let response = derive(ctx, send(plain).await?, true);
        let tag = response.headers().get(ETAG).cloned();
        let hit = tag
            .as_ref()
            .and_then(|t| t.to_str().ok())
            .is_some_and(|t| if_none_match_hits(if_none_match.as_deref(), t));
        if response.status() != StatusCode::OK || !hit {
            return Ok(response);
        }
        let mut not_modified = Response::new(Bytes::new());
        *not_modified.status_mut() = StatusCode::NOT_MODIFIED;
        if let Some(tag) = tag {
            not_modified.headers_mut().insert(ETAG, tag);
        }
        return Ok(not_modified);
    }
    // A write: the current version first.
    let current = send(req.derive(Method::GET, &req.path, None, Bytes::new())).await?;
    if current.status() != StatusCode::OK {
        // Not there (404) or not readable: the upstream's answer stands.
        return Ok(current);
    }
    let resource = json_of(&current).unwrap_or(Value::Null);
    let tag = version(current.headers(), &resource);
    check_if_match(if_match.as_deref(), Some(&tag)).map_err(precondition)?;
    if if_none_match_hits(if_none_match.as_deref(), &tag) {
        return Err(precondition(ScimError::precondition_failed(format!(
            "If-None-Match {} matches the current version {tag}",
            if_none_match.as_deref().unwrap_or("")
        ))));
    }
    let single = req.method != Method::DELETE;
    Ok(derive(ctx, send(plain).await?, single))
}

fn precondition(e: ScimError) -> GatewayError {
    GatewayError::client_reason(e, Reason::PreconditionFailed)
}

#[cfg(test)]
mod quick_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn the_version_is_skimmed_only_where_the_full_path_agrees() {
        let versioned = br#"{"id":"1","userName":"a\"b","emails":[{"value":"x"}],"meta":{"created":"c","version":"W/\"7\""}}"#;
        let full: Value = serde_json::from_slice(versioned).unwrap();
        assert_eq!(quick_version(versioned).as_deref(), meta_version(&full));
        assert_eq!(quick_version(versioned).as_deref(), Some("W/\"7\""));
        // No version, another case, not a string, not JSON: the full path
        // decides.
        for body in [
            &br#"{"id":"1","meta":{"created":"c"}}"#[..],
            br#"{"id":"1","Meta":{"version":"W/\"7\""}}"#,
            br#"{"id":"1","meta":{"version":7}}"#,
            b"not json",
        ] {
            assert_eq!(
                quick_version(body),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
