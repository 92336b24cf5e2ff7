//! The create stage, around the upstream call of a POST to `/Users` or
//! `/Groups` when the tenant's `[tenants.creates]` is on (docs/safety.md,
//! "Idempotent creates"):
//!
//! - **Replay window**: the create's fingerprint (tenant, resource type,
//!   the body after the dialect and the schema) is looked up first; the
//!   same create made within the window is answered by reading its
//!   resource again by id (with the first answer's status and `Location`),
//!   never sent upstream a second time; the same create in flight is
//!   waited for (within the request deadline).
//! - **409 → existing**: a create the upstream refuses with 409
//!   `uniqueness` (or a 409 without `scimType`) is answered 200 with the
//!   one resource that has the request's `userName` (else `externalId`)
//!   or the Group's `displayName`, looked up with a filter in the tenant's
//!   view mapped like a client's; zero or several matches, or one whose
//!   values disagree with the request: the 409 unchanged.
//!
//! Every upstream read goes through the one door
//! (`upstream_stage::forward`: limits already taken, credentials, retries,
//! circuit breaker); answers go back through the pipeline's rebase and
//! mapping like the create's own.
//!
//! Imports: `creates` (settings, fingerprint, window, filters), the
//! upstream door, the schema stage's list query, `mapping` (to read a
//! found resource in the tenant's view).
use super::schema_stage::lookup_query;
use super::trace::Trace;
use super::upstream_stage;
use crate::creates::window::{Created, Guard};
use crate::creates::{fingerprint, lookup_filter, string_member, Claim, OnConflict, ReplayWindow};
use crate::error::{GatewayError, Reason};
use crate::mapping::ResourceMapping;
use crate::scim::json::get_ci;
use crate::scim::query::encode_component;
use crate::scim::route::{Route, RouteKind};
use crate::telemetry::emit::IdempotentCreate;
use crate::tenant::Tenant;
use crate::upstream::emulate::patch::Views;
use crate::upstream::{Deadline, UpstreamRequest};
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, ETAG, LOCATION};
use http::{Method, Response, StatusCode};
use serde_json::Value;

/// How often a replay may find its resource gone and look again before
/// giving up (each look is bounded by the deadline; this bounds a race).
const MAX_LOOKS: usize = 4;

/// A create the stage looks after.
#[derive(Debug)]
pub(super) struct Create {
    /// The body as the tenant sent it (after the dialect): the lookup's
    /// values, in the tenant's view.
    tenant_body: Bytes,
    /// A User (else a Group).
    user: bool,
}

/// `Some` for a POST to the tenant's `/Users` or `/Groups` when its
/// `[tenants.creates]` is on (not Bulk: its operations are answered
/// one by one inside one upstream answer).
pub(super) fn plan(
    tenant: &Tenant,
    method: &Method,
    route: &Route,
    body: &Bytes,
) -> Option<Create> {
    if !tenant.creates.is_on() || *method != Method::POST || route.kind() != RouteKind::Collection {
        return None;
    }
    let registry = &tenant.schema.registry;
    let rt = registry.resource_type_by_endpoint(route.first_segment()?)?;
    let user = rt.name.eq_ignore_ascii_case("User");
    if !user && !rt.name.eq_ignore_ascii_case("Group") {
        return None;
    }
    Some(Create {
        tenant_body: body.clone(),
        user,
    })
}

/// What the stage reads through, besides the request: the tenant's
/// upstream (the one door) and schema, the replay window.
pub(super) struct Door<'a> {
    tenant: &'a Tenant,
    window: &'a ReplayWindow,
    /// The resource type's mapping, when the tenant maps.
    mapping: Option<&'a ResourceMapping>,
    /// The tenant's public base (the answers' `Location`).
    public_base: &'a str,
    max_response: usize,
    deadline: Deadline,
}

/// The stage's [`Door`].
pub(super) fn door<'a>(
    tenant: &'a Tenant,
    window: &'a ReplayWindow,
    mapping: Option<&'a ResourceMapping>,
    public_base: &'a str,
    max_response: usize,
    deadline: Deadline,
) -> Door<'a> {
    Door {
        tenant,
        window,
        mapping,
        public_base,
        max_response,
        deadline,
    }
}

/// The upstream call of a create: answered from the replay window, sent,
/// and a refused duplicate answered with the existing resource.
pub(super) async fn forward(
    create: &Create,
    door: &Door<'_>,
    request: UpstreamRequest,
    view: Option<Views>,
    trace: &mut Trace<'_>,
) -> Result<Response<Bytes>, GatewayError> {
    let settings = &door.tenant.creates;
    let reads = Reads::of(&request);
    let tenant = door.tenant.id.as_str();
    let mut guard = None;
    if let Some(within) = settings.replay_window {
        let endpoint = request.path.trim_start_matches('/').to_ascii_lowercase();
        if let Some(fp) = fingerprint(tenant, &endpoint, &request.body) {
            match replay(door, &reads, fp, within).await? {
                Replay::Answer(response) => {
                    trace.create = Some("replayed");
                    trace.upstream_status = Some(response.status().as_u16());
                    return Ok(response);
                }
                Replay::Failed(response) => return Ok(response),
                Replay::Send(g) => guard = Some(g),
            }
        }
    }
    let (upstream, max, deadline) = (&*door.tenant.upstream, door.max_response, door.deadline);
    let response = upstream_stage::forward(upstream, None, request, max, deadline, view).await?;
    let response = match settings.on_conflict {
        OnConflict::Existing if is_duplicate(&response) => {
            match existing(create, door, &reads).await {
                Some(found) => {
                    IdempotentCreate {
                        tenant,
                        outcome: "existing",
                    }
                    .emit();
                    trace.create = Some("existing");
                    trace.upstream_status = Some(response.status().as_u16());
                    found
                }
                None => response,
            }
        }
        _ => response,
    };
    if let (Some(guard), Some(id)) = (guard, created_id(&response)) {
        let status = response.status().as_u16();
        guard.complete(Created { id, status });
    }
    Ok(response)
}

/// What the replay window gave.
enum Replay<'w> {
    /// Not made within the window: send it (the slot is held).
    Send(Guard<'w>),
    /// Made: its resource, read again.
    Answer(Response<Bytes>),
    /// Made, but reading it again failed: that failure.
    Failed(Response<Bytes>),
}

async fn replay<'w>(
    door: &Door<'w>,
    reads: &Reads,
    fp: crate::creates::Fingerprint,
    within: std::time::Duration,
) -> Result<Replay<'w>, GatewayError> {
    let (tenant, cap) = (&door.tenant.id, door.tenant.creates.replay_max_entries);
    for _ in 0..MAX_LOOKS {
        let created = match door.window.claim(tenant, fp, within, cap) {
            Claim::Mine(guard) => return Ok(Replay::Send(guard)),
            Claim::Wait(mut rx) => {
                // The same create is upstream now: its outcome, within
                // this request's deadline.
                tokio::time::timeout_at(door.deadline.at, rx.changed())
                    .await
                    .map_err(|_| {
                        GatewayError::upstream(
                            "the same create, sent earlier, did not finish in time",
                            Reason::RequestTimeout,
                            "idempotent create wait",
                        )
                    })?
                    .ok();
                continue;
            }
            Claim::Done(created) => created,
        };
        let path = format!("{}/{}", reads.path, encode_component(&created.id));
        let read = reads.get(path, None);
        let response = door_read(door, read).await?;
        if response.status() == StatusCode::NOT_FOUND {
            // Deleted since: forget it, and this create is a new one.
            door.window.forget(tenant, fp, &created.id);
            continue;
        }
        if !response.status().is_success() {
            return Ok(Replay::Failed(response));
        }
        IdempotentCreate {
            tenant: tenant.as_str(),
            outcome: "replayed",
        }
        .emit();
        let (mut parts, body) = response.into_parts();
        parts.status = StatusCode::from_u16(created.status).unwrap_or(StatusCode::CREATED);
        set_location(&mut parts.headers, door, &reads.path, &created.id);
        return Ok(Replay::Answer(Response::from_parts(parts, body)));
    }
    Err(GatewayError::unavailable(
        "the same create is being made and removed concurrently; retry",
        Reason::EmulationConflict,
        1,
    ))
}

/// A 409 that says the resource exists: `uniqueness`, or no `scimType`
/// (backends that omit it; the lookup's own checks keep that safe).
fn is_duplicate(response: &Response<Bytes>) -> bool {
    if response.status() != StatusCode::CONFLICT {
        return false;
    }
    let body: Option<Value> = serde_json::from_slice(response.body()).ok();
    let scim_type = body
        .as_ref()
        .and_then(Value::as_object)
        .and_then(|o| get_ci(o, "scimType"))
        .and_then(Value::as_str);
    scim_type.is_none_or(|t| t.eq_ignore_ascii_case("uniqueness"))
}

/// The one existing resource the create collided with, as a 200 answer;
/// `None`: answer the 409.
async fn existing(create: &Create, door: &Door<'_>, reads: &Reads) -> Option<Response<Bytes>> {
    let body: Value = serde_json::from_slice(&create.tenant_body).ok()?;
    let keys: &[&str] = if create.user {
        &["userName", "externalId"]
    } else {
        &["displayName"]
    };
    for key in keys {
        let Some(filter) = lookup_filter(&body, key) else {
            continue;
        };
        // A filter the mapping cannot send upstream: not this way.
        let Ok(Some(query)) = lookup_query(&door.tenant.schema, door.mapping, &filter) else {
            continue;
        };
        let read = reads.get(reads.path.clone(), Some(query));
        let response = door_read(door, read).await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let list: Value = serde_json::from_slice(response.body()).ok()?;
        let mut found = resources(list)?;
        match found.len() {
            0 => continue,
            1 => {}
            _ => return None,
        }
        let resource = found.pop()?;
        let seen = match door.mapping {
            Some(m) => m.to_tenant(&resource),
            None => resource.clone(),
        };
        if !agrees(&body, &seen) {
            return None;
        }
        let id = get_ci(resource.as_object()?, "id")?.as_str()?.to_string();
        let etag = resource
            .pointer("/meta/version")
            .and_then(Value::as_str)
            .and_then(|v| HeaderValue::from_str(v).ok());
        let mut answer = Response::new(Bytes::from(serde_json::to_vec(&resource).ok()?));
        let headers = answer.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/scim+json"),
        );
        if let Some(etag) = etag {
            headers.insert(ETAG, etag);
        }
        set_location(headers, door, &reads.path, &id);
        return Some(answer);
    }
    None
}

/// The resources of a ListResponse (`None`: not one).
fn resources(list: Value) -> Option<Vec<Value>> {
    let Value::Object(mut list) = list else {
        return None;
    };
    let key = list
        .keys()
        .find(|k| k.eq_ignore_ascii_case("Resources"))
        .cloned();
    let total = get_ci(&list, "totalResults").and_then(Value::as_u64);
    let items = match key.and_then(|k| list.remove(&k)) {
        Some(Value::Array(items)) => items,
        None if total == Some(0) => Vec::new(),
        _ => return None,
    };
    // More matches than this page holds: several.
    match total {
        Some(n) if n as usize > items.len() => Some(vec![Value::Null; 2]),
        _ => Some(items),
    }
}

/// Whether a found resource (in the tenant's view) is the one the create
/// names: the value it was found by matches (a backend that ignored the
/// filter answers with something else), and an `externalId` both carry is
/// the same (case-exact, RFC 7643 §3.1): a different person with the same
/// `userName` is not "the existing resource".
fn agrees(request: &Value, found: &Value) -> bool {
    let external = (
        string_member(request, "externalId"),
        string_member(found, "externalId"),
    );
    if let (Some(a), Some(b)) = external {
        if a != b {
            return false;
        }
    }
    let same_external = matches!(external, (Some(a), Some(b)) if a == b);
    let name = match string_member(request, "userName") {
        Some(_) => "userName",
        None => "displayName",
    };
    match string_member(request, name) {
        None => same_external,
        Some(v) => {
            same_external || string_member(found, name).is_some_and(|f| f.eq_ignore_ascii_case(v))
        }
    }
}

/// `Location`: the resource at the tenant's public base.
fn set_location(headers: &mut http::HeaderMap, door: &Door<'_>, path: &str, id: &str) {
    let base = door.public_base.trim_end_matches('/');
    let location = format!("{base}{path}/{}", encode_component(id));
    if let Ok(value) = HeaderValue::from_str(&location) {
        headers.insert(LOCATION, value);
    }
}

/// The id of a resource a create answer carries.
fn created_id(response: &Response<Bytes>) -> Option<String> {
    if !response.status().is_success() {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Id<'a> {
        #[serde(borrow, default)]
        id: Option<std::borrow::Cow<'a, str>>,
    }
    let id: Id<'_> = serde_json::from_slice(response.body()).ok()?;
    id.id.map(|s| s.into_owned())
}

/// One plain read through the upstream door (nothing to emulate).
async fn door_read(
    door: &Door<'_>,
    read: UpstreamRequest,
) -> Result<Response<Bytes>, GatewayError> {
    let (max, deadline) = (door.max_response, door.deadline);
    upstream_stage::forward(&door.tenant.upstream, None, read, max, deadline, None).await
}

/// The create's request, kept to make reads of the same collection with
/// the same client facts (request id, forwarding headers).
struct Reads {
    template: UpstreamRequest,
    /// The collection's path (`/Users`).
    path: String,
}

impl Reads {
    fn of(request: &UpstreamRequest) -> Reads {
        let mut headers = request.headers.clone();
        headers.remove(CONTENT_TYPE);
        headers.remove(CONTENT_LENGTH);
        Reads {
            path: request.path.clone(),
            template: UpstreamRequest {
                method: Method::GET,
                path: String::new(),
                query: None,
                headers,
                body: Bytes::new(),
                request_id: request.request_id.clone(),
                client_ip: request.client_ip,
                forwarded_for: request.forwarded_for.clone(),
                client_proto: request.client_proto,
                client_host: request.client_host.clone(),
                public_base: request.public_base.clone(),
                filtered_upsert: false,
            },
        }
    }

    fn get(&self, path: String, query: Option<String>) -> UpstreamRequest {
        let t = &self.template;
        UpstreamRequest {
            method: Method::GET,
            path,
            query,
            headers: t.headers.clone(),
            body: Bytes::new(),
            request_id: t.request_id.clone(),
            client_ip: t.client_ip,
            forwarded_for: t.forwarded_for.clone(),
            client_proto: t.client_proto,
            client_host: t.client_host.clone(),
            public_base: t.public_base.clone(),
            filtered_upsert: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_found_resource_must_be_the_one_the_create_names() {
        let req = json!({"userName": "Ada", "externalId": "x1"});
        assert!(agrees(
            &req,
            &json!({"userName": "ada", "externalId": "x1"})
        ));
        // Another person with the same userName.
        assert!(!agrees(
            &req,
            &json!({"userName": "ada", "externalId": "x2"})
        ));
        // A backend that keeps no externalId: the userName decides.
        assert!(agrees(&req, &json!({"userName": "ada"})));
        // Found by externalId after a rename.
        assert!(agrees(
            &req,
            &json!({"userName": "lovelace", "externalId": "x1"})
        ));
        // A backend that ignored the filter.
        let plain = json!({"userName": "Ada"});
        assert!(!agrees(&plain, &json!({"userName": "bob"})));
        assert!(agrees(
            &plain,
            &json!({"userName": "ADA", "externalId": "z"})
        ));
        let group = json!({"displayName": "Ops"});
        assert!(agrees(&group, &json!({"displayName": "ops"})));
        assert!(!agrees(&group, &json!({"displayName": "dev"})));
    }

    #[test]
    fn only_a_uniqueness_conflict_is_a_duplicate() {
        let answer = |status: u16, body: &str| {
            let mut r = Response::new(Bytes::from(body.to_string()));
            *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            r
        };
        assert!(is_duplicate(&answer(409, r#"{"scimType":"uniqueness"}"#)));
        assert!(is_duplicate(&answer(409, r#"{"status":"409"}"#)));
        assert!(is_duplicate(&answer(409, "")));
        assert!(!is_duplicate(&answer(409, r#"{"scimType":"mutability"}"#)));
        assert!(!is_duplicate(&answer(400, r#"{"scimType":"uniqueness"}"#)));
    }
}
