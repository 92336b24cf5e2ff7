//! HTTP framing for the store: routes a request to an operation, reads the
//! SCIM headers and body, and turns every outcome (including every error)
//! into a SCIM response with `application/scim+json`.
use super::handlers::Reply;
use super::member_patch::without_members;
use super::state::Kind;
use super::Store;
use crate::scim::bulk::{run_bulk, BulkMethod, BulkOperation, BulkOutcome, BulkRequest};
use crate::scim::discovery;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::projection::Projection;
use crate::scim::query::{query_pairs, ListQuery};
use bytes::Bytes;
use http::header::{
    HeaderValue, ALLOW, CONTENT_TYPE, ETAG, HOST, IF_MATCH, IF_NONE_MATCH, LOCATION,
};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use serde_json::Value;

/// The media type of every SCIM body (RFC 7644 §3.1).
pub(super) const SCIM_MEDIA_TYPE: &str = "application/scim+json";

/// Path prefixes clients commonly put before the SCIM endpoints; the store
/// answers under each of them and at the root.
const KNOWN_PREFIXES: [&str; 2] = ["/scim/v2", "/v2"];

// === impl Store: HTTP ===

impl Store {
    /// Handles one request. The base URL of `meta.location` is taken from
    /// the `Host` header and the path prefix the client used (`/scim/v2`,
    /// `/v2` or none).
    pub fn handle(&self, req: &Request<Bytes>) -> Response<Bytes> {
        let host = req
            .headers()
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()))
            .unwrap_or("localhost");
        let path = req.uri().path();
        let (prefix, rest) = KNOWN_PREFIXES
            .iter()
            .find_map(|p| {
                let rest = path.strip_prefix(p)?;
                (rest.is_empty() || rest.starts_with('/')).then_some((*p, rest))
            })
            .unwrap_or(("", path));
        let base = format!("http://{host}{prefix}");
        self.handle_at(req, &base, rest)
    }

    /// Handles one request whose path relative to the SCIM base URL is
    /// `path` (e.g. `/Users/123`), with `base_url` (no trailing slash) as
    /// the base of every `meta.location`. This is how the gateway runs the
    /// store in-process.
    pub fn handle_at(&self, req: &Request<Bytes>, base_url: &str, path: &str) -> Response<Bytes> {
        let query = req.uri().query().unwrap_or("");
        match self.route(
            req.method(),
            req.headers(),
            path,
            query,
            req.body(),
            base_url,
        ) {
            Ok(reply) => reply_response(reply),
            Err(e) => error_response(&e),
        }
    }

    fn route(
        &self,
        method: &Method,
        headers: &HeaderMap,
        path: &str,
        query: &str,
        body: &Bytes,
        base: &str,
    ) -> ScimResult<Reply> {
        let segments: Vec<String> = path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect();
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let if_match = header_str(headers, &IF_MATCH);
        match segs.as_slice() {
            [] => Err(ScimError::not_found(
                "no resource here: try /Users, /Groups, /ServiceProviderConfig, /Schemas, /ResourceTypes or /Bulk",
            )),
            [s] if s.eq_ignore_ascii_case("ServiceProviderConfig") => {
                only(method, &[Method::GET])?;
                Ok(ok_json(discovery::service_provider_config(&self.capabilities, base)))
            }
            [s] if s.eq_ignore_ascii_case("Schemas") => {
                only(method, &[Method::GET])?;
                Ok(ok_json(discovery::schemas_response(&self.registry, base)))
            }
            [s, urn] if s.eq_ignore_ascii_case("Schemas") => {
                only(method, &[Method::GET])?;
                let schema = self
                    .registry
                    .schema(urn)
                    .ok_or_else(|| ScimError::not_found(format!("schema \"{urn}\" not found")))?;
                Ok(ok_json(schema.to_json(&format!("{base}/Schemas/{}", schema.id))))
            }
            [s] if s.eq_ignore_ascii_case("ResourceTypes") => {
                only(method, &[Method::GET])?;
                Ok(ok_json(discovery::resource_types_response(&self.registry, base)))
            }
            [s, name] if s.eq_ignore_ascii_case("ResourceTypes") => {
                only(method, &[Method::GET])?;
                let rt = self.registry.resource_type(name).ok_or_else(|| {
                    ScimError::not_found(format!("resource type \"{name}\" not found"))
                })?;
                Ok(ok_json(rt.to_json(base)))
            }
            [s] if s.eq_ignore_ascii_case("Bulk") => {
                only(method, &[Method::POST])?;
                check_content_type(headers)?;
                let request = BulkRequest::parse(body, self.config.bulk)?;
                Ok(ok_json(run_bulk(&request, |op| self.run_bulk_op(op, base))))
            }
            [s] if s.eq_ignore_ascii_case(".search") => {
                only(method, &[Method::POST])?;
                let q = ListQuery::from_search_body(&parse_body(headers, body)?)?;
                self.list(&[Kind::User, Kind::Group], &q, base)
            }
            [s] if s.eq_ignore_ascii_case("Me") => Err(ScimError::not_implemented(
                "/Me is not supported: the store has no notion of the authenticated subject",
            )),
            [coll] => {
                let kind = kind_of(coll)?;
                if *method == Method::GET {
                    self.list(&[kind], &ListQuery::from_query(query)?, base)
                } else if *method == Method::POST {
                    let body = parse_body(headers, body)?;
                    self.create(kind, &body, base, &projection_of(query)?)
                } else {
                    Err(not_allowed(method, "GET, POST"))
                }
            }
            [coll, s] if s.eq_ignore_ascii_case(".search") => {
                let kind = kind_of(coll)?;
                only(method, &[Method::POST])?;
                let q = ListQuery::from_search_body(&parse_body(headers, body)?)?;
                self.list(&[kind], &q, base)
            }
            [coll, id] => {
                let kind = kind_of(coll)?;
                let projection = projection_of(query)?;
                match *method {
                    Method::GET => {
                        let inm = header_str(headers, &IF_NONE_MATCH);
                        self.get(kind, id, base, &projection, inm)
                    }
                    Method::PUT => {
                        let body = parse_body(headers, body)?;
                        self.replace(kind, id, &body, if_match, base, &projection)
                    }
                    Method::PATCH if !self.config.patch => Err(ScimError::not_implemented(
                        "PATCH is switched off in this store (--no-patch); use PUT",
                    )),
                    Method::PATCH => {
                        let body = parse_body(headers, body)?;
                        self.modify_top_level(kind, id, &body, if_match, base, &projection)
                    }
                    Method::DELETE => self.delete(kind, id, if_match),
                    _ => Err(not_allowed(method, "GET, PUT, PATCH, DELETE")),
                }
            }
            _ => Err(ScimError::not_found(format!("no resource at \"{path}\""))),
        }
    }

    /// One Bulk operation, through the same operations as a single request.
    fn run_bulk_op(&self, op: &BulkOperation, base: &str) -> BulkOutcome {
        let result = self.bulk_op_reply(op, base);
        match result {
            Ok(reply) => {
                let id = reply
                    .body
                    .as_ref()
                    .and_then(|b| b.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let location = reply.location.clone().or_else(|| {
                    reply
                        .body
                        .as_ref()
                        .and_then(|b| b.pointer("/meta/location"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
                BulkOutcome {
                    status: reply.status,
                    id,
                    location,
                    version: reply.etag,
                    response: None,
                }
            }
            Err(e) => BulkOutcome {
                status: e.status(),
                id: None,
                location: None,
                version: None,
                response: Some(e.to_json()),
            },
        }
    }

    fn bulk_op_reply(&self, op: &BulkOperation, base: &str) -> ScimResult<Reply> {
        let segs: Vec<&str> = op.path.trim_matches('/').split('/').collect();
        let none = Projection::default();
        let data = || {
            op.data
                .clone()
                .ok_or_else(|| ScimError::invalid_syntax("Bulk operation: data is required"))
        };
        let version = op.version.as_deref();
        match (op.method, segs.as_slice()) {
            (BulkMethod::Post, [coll]) => self.create(kind_of(coll)?, &data()?, base, &none),
            (BulkMethod::Put, [coll, id]) => {
                self.replace(kind_of(coll)?, id, &data()?, version, base, &none)
            }
            // A PATCH-less store refuses PATCH inside Bulk as it does at
            // the top level (501), per operation (RFC 7644 §3.7.3): its
            // /ServiceProviderConfig says PATCH is unsupported.
            (BulkMethod::Patch, [_, _]) if !self.config.patch => Err(ScimError::not_implemented(
                "PATCH is switched off in this store (--no-patch); use PUT",
            )),
            // The operation's answer keeps only the id and location: a
            // Group's members are not rendered for nothing.
            (BulkMethod::Patch, [coll, id]) => {
                let kind = kind_of(coll)?;
                let projection = match kind {
                    Kind::Group => without_members(),
                    _ => Projection::default(),
                };
                self.modify(kind, id, &data()?, version, base, &projection)
            }
            (BulkMethod::Delete, [coll, id]) => self.delete(kind_of(coll)?, id, version),
            _ => Err(ScimError::invalid_path(format!(
                "Bulk operation path \"{}\" does not fit its method",
                op.path
            ))),
        }
    }
}

/// Turns a reply into a response with the SCIM headers.
fn reply_response(reply: Reply) -> Response<Bytes> {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let mut builder = Response::builder().status(status);
    if let Some(etag) = reply
        .etag
        .as_deref()
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        builder = builder.header(ETAG, etag);
    }
    if let Some(loc) = reply
        .location
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        builder = builder.header(LOCATION, loc);
    }
    let body = match reply.body {
        Some(v) => {
            builder = builder.header(CONTENT_TYPE, SCIM_MEDIA_TYPE);
            Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
        }
        None => Bytes::new(),
    };
    builder
        .body(body)
        .unwrap_or_else(|_| Response::new(Bytes::new()))
}

/// The RFC 7644 §3.12 error response.
pub(super) fn error_response(e: &ScimError) -> Response<Bytes> {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut builder = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, SCIM_MEDIA_TYPE);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        if let Some(allow) = e.detail().split("allowed: ").nth(1) {
            if let Ok(v) = HeaderValue::from_str(allow) {
                builder = builder.header(ALLOW, v);
            }
        }
    }
    let body = serde_json::to_vec(&e.to_json()).unwrap_or_default();
    builder
        .body(Bytes::from(body))
        .unwrap_or_else(|_| Response::new(Bytes::new()))
}

fn ok_json(v: Value) -> Reply {
    Reply {
        status: 200,
        body: Some(v),
        etag: None,
        location: None,
    }
}

fn only(method: &Method, allowed: &[Method]) -> ScimResult<()> {
    if allowed.contains(method) {
        return Ok(());
    }
    let list: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    Err(not_allowed(method, &list.join(", ")))
}

fn not_allowed(method: &Method, allowed: &str) -> ScimError {
    ScimError::method_not_allowed(format!(
        "method {method} is not supported here; allowed: {allowed}"
    ))
}

fn kind_of(segment: &str) -> ScimResult<Kind> {
    Kind::from_segment(segment)
        .ok_or_else(|| ScimError::not_found(format!("no resource type at \"/{segment}\"")))
}

fn header_str<'h>(headers: &'h HeaderMap, name: &http::HeaderName) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Bodies must be JSON: `application/scim+json` or `application/json`
/// (RFC 7644 §3.1 allows the latter); a missing type is accepted.
fn check_content_type(headers: &HeaderMap) -> ScimResult<()> {
    match header_str(headers, &CONTENT_TYPE) {
        None => Ok(()),
        Some(ct) => {
            let media = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if media == SCIM_MEDIA_TYPE || media == "application/json" || media.ends_with("+json") {
                Ok(())
            } else {
                Err(ScimError::unsupported_media_type(format!(
                    "Content-Type \"{ct}\" is not supported; send {SCIM_MEDIA_TYPE}"
                )))
            }
        }
    }
}

/// Parses a JSON request body.
fn parse_body(headers: &HeaderMap, body: &Bytes) -> ScimResult<Value> {
    check_content_type(headers)?;
    if body.is_empty() {
        return Err(ScimError::invalid_syntax(
            "the request body is empty; a JSON object is required",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}")))
}

/// `attributes`/`excludedAttributes` of a single-resource request.
fn projection_of(query: &str) -> ScimResult<Projection> {
    let mut attributes = None;
    let mut excluded = None;
    for (k, v) in query_pairs(query) {
        if k.eq_ignore_ascii_case("attributes") {
            attributes = Some(v);
        } else if k.eq_ignore_ascii_case("excludedAttributes") {
            excluded = Some(v);
        }
    }
    Projection::parse(attributes.as_deref(), excluded.as_deref())
}

/// Decodes `%XX` escapes in a path segment (a client may encode the colons
/// of a schema URN); invalid escapes are kept as they are.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match (bytes.get(i), bytes.get(i + 1), bytes.get(i + 2)) {
            (Some(b'%'), Some(h), Some(l)) => hex(*h).zip(hex(*l)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes.get(i).copied().unwrap_or(b'%'));
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}
