//! The audit stage, after the answer is known: one audit record per write
//! (per answered operation of a Bulk request) and per failed
//! authentication, and, for each successful write of a tenant whose
//! events some sink takes, one CloudEvent journaled with its record (one
//! group commit, one fsync: docs/audit.md). The client's answer waits for
//! the journal's acknowledgement, so a success the IdP sees is audited
//! (and its event kept for delivery) as durably as `[audit] fsync` says.
//!
//! A successful write that cannot be journaled turns into a 503: the
//! backend has the change, but the gateway will not claim an unaudited
//! success. The journal stops on the first I/O failure and writes are then
//! refused before they reach an upstream ([`refuse_unaudited`]).
use super::Trace;
use crate::audit::{
    allowed_values, changed_attributes, latency_ms, resource_names_raw, resource_names_scanned,
    Ack, AttributeNames, AuditKind, AuditPrincipal, AuditRecord, ClientIp, Journal, Receipt,
    RecordRef,
};
use crate::error::{ErrorInfo, GatewayError, Reason};
use crate::events::bulk::bulk_operations;
use crate::events::cloudevent::build_event_owned;
use crate::events::created::Created;
use crate::events::{
    build_event, event_type, new_event_id, ChangeInput, Event, EventData, WriteMethod,
};
use crate::limit::redis::RedisRates;
use crate::scim::datetime::DateTime;
use crate::scim::json::get_ci;
use crate::scim::route::{Route, RouteKind};
use crate::scim::validate_raw::Scanned;
use crate::tenant::Tenant;
use bytes::Bytes;
use http::{Method, Response};
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use std::borrow::Cow;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The longest an answer waits for the journal (its queue may be full).
const ACK_WAIT: Duration = Duration::from_secs(10);

/// What the pipeline keeps of a write for its record.
#[derive(Debug)]
pub(super) struct WriteTrace {
    /// The request's route (`/Users/42`, `/Bulk`).
    pub route: Route,
    /// The body as the tenant sent it (after dialect normalization).
    pub body: Bytes,
    /// The same body's members as the schema stage's scan found them
    /// (a POST or PUT that took its fast path).
    pub scanned: Option<Box<Scanned>>,
}

/// 503 for a write while the journal is stopped (fail closed: nothing
/// unaudited reaches the backend).
pub(super) fn refuse_unaudited(
    journal: Option<&Journal>,
    trace: &Trace<'_>,
) -> Result<(), GatewayError> {
    match journal {
        Some(journal) if trace.write.is_some() && !journal.is_open() => {
            Err(GatewayError::unavailable(
                "the audit log cannot be written, so the gateway accepts no writes; reads still work",
                Reason::AuditUnavailable,
                30,
            ))
        }
        _ => Ok(()),
    }
}

/// Journals what the request did and returns the answer to send.
/// Where a request's record and events go: the journal, and Redis for the
/// events' `resourceversion` when replicas share it.
#[derive(Clone, Copy)]
pub(super) struct Journaling<'a> {
    pub journal: &'a Journal,
    pub versions: Option<&'a RedisRates>,
}

pub(super) async fn journal(
    to: Journaling<'_>,
    trace: &Trace<'_>,
    request_id: &str,
    method: &Method,
    ip: IpAddr,
    started: Instant,
    response: Response<Full<Bytes>>,
) -> Response<Full<Bytes>> {
    let status = response.status().as_u16();
    let reason = response.extensions().get::<ErrorInfo>().map(|e| e.reason);
    let tenant = trace.tenant;
    if is_auth_failure(status, reason) {
        let ack = to.journal.auth_failure(
            request_id,
            method.as_str(),
            ip,
            tenant.map(|t| t.id.as_str()),
            status,
            reason.map_or("unauthenticated", Reason::as_str),
        );
        if let Err(e) = wait(ack).await {
            tracing::error!(request_id, error = %e, "an auth failure could not be audited");
        }
        return response;
    }
    let (Some(write), Some(tenant)) = (&trace.write, tenant) else {
        return response;
    };
    let (parts, body) = response.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    let ctx = Context {
        tenant,
        trace,
        request_id,
        ip,
        latency: started.elapsed(),
        reason,
    };
    let bulk = write.route.kind() == RouteKind::Bulk;
    // Events and Bulk need whole bodies; a plain record needs the names
    // of the request's attributes, the allow-listed values and, for a
    // create, the id the upstream assigned: parsed only that deep.
    // The usual created resource's event carries the answer's bytes as
    // its `data`: checked, never parsed into a tree (`created`).
    let whole = tenant.journal.events || bulk;
    let created = match parts.status.is_success() && !bulk && *method == Method::POST {
        true if tenant.journal.events && tenant.journal.data == EventData::Resource => {
            Created::read(&body)
        }
        _ => None,
    };
    let answer: Option<Value> = match parts.status.is_success() {
        _ if created.is_some() => None,
        true if whole => serde_json::from_slice(&body).ok(),
        true if *method == Method::POST => created_id(&body),
        _ => None,
    };
    let event_from_answer = created.is_some() || answer.as_ref().is_some_and(Value::is_object);
    // A POST or PUT whose record keeps no values needs only the names of
    // the body's members: read from its bytes, no tree built.
    let mut names = None;
    let request = if whole_request(tenant, method, bulk, event_from_answer) {
        serde_json::from_slice(&write.body).ok()
    } else if tenant.journal.audit_values.is_empty()
        && (*method == Method::POST || *method == Method::PUT)
    {
        // Read from the schema stage's scan when there was one.
        let scanned = write.scanned.as_deref().and_then(resource_names_scanned);
        names = Some(
            scanned
                .or_else(|| resource_names_raw(&write.body))
                .unwrap_or_default(),
        );
        None
    } else {
        shallow_request(&write.body, &tenant.journal.audit_values)
    };
    let mut entries = match &answer {
        Some(answer) if bulk => bulk_entries(&ctx, request.as_ref(), answer),
        _ => Vec::new(),
    };
    // The usual write: one record (and event), kept out of any list.
    let mut one = entries.is_empty().then(|| {
        single_entry(
            &ctx,
            method,
            &write.route,
            Request {
                body: request.as_ref(),
                names,
            },
            match created {
                Some(created) => Answer::Created(created),
                None => Answer::Given(answer),
            },
            status,
        )
    });
    // Each event's resourceversion, taken while the write's turn (and its
    // lease across replicas) is still held: versions follow the order in
    // which the upstream applied the writes.
    match one.as_mut() {
        Some(Single {
            event: Some(event), ..
        }) => {
            crate::events::version::stamp(to.versions, tenant.id.as_str(), &mut [event]).await;
        }
        Some(_) => {}
        None => {
            let mut events: Vec<&mut Event> =
                entries.iter_mut().filter_map(|(_, e)| e.as_mut()).collect();
            crate::events::version::stamp(to.versions, tenant.id.as_str(), &mut events).await;
        }
    }
    // Traces on: each event carries the request's trace to its consumer.
    if let Some(spans) = &trace.spans {
        let parent = spans.traceparent(&spans.root);
        let (parent, state) = (parent.to_str().ok(), spans.tracestate.as_ref());
        let state = state.and_then(|s| s.to_str().ok());
        if let Some(parent) = parent {
            let single = one.iter_mut().filter_map(|one| one.event.as_mut());
            let several = entries.iter_mut().filter_map(|(_, e)| e.as_mut());
            for event in single.chain(several) {
                event.set_trace_context(parent, state);
            }
        }
    }
    let mut failure = None;
    let mut changed = false;
    if let Some(one) = one.take() {
        changed = (200..300).contains(&status);
        let ack = to.journal.append_json(one.record, false, one.event);
        if let Err(e) = wait(ack).await {
            failure = Some(e);
        }
    } else {
        let mut acks = Vec::with_capacity(entries.len());
        for (record, event) in entries {
            changed |= (200..300).contains(&record.outcome.status);
            acks.push(to.journal.append(record, event));
        }
        for ack in acks {
            if let Err(e) = wait(ack).await {
                failure = Some(e);
            }
        }
    }
    match failure {
        None => Response::from_parts(parts, Full::new(body)),
        Some(e) if changed => {
            crate::audit::metrics::unacknowledged(tenant.id.as_str());
            tracing::error!(
                request_id,
                tenant = tenant.id.as_str(),
                error = %e,
                "a write the backend accepted could not be audited; answering 503"
            );
            GatewayError::unavailable(
                "the backend applied the change, but the gateway could not write its audit record; it accepts no writes until the audit log is writable",
                Reason::AuditUnavailable,
                30,
            )
            .into_response()
        }
        Some(e) => {
            tracing::error!(request_id, error = %e, "a refused write could not be audited");
            Response::from_parts(parts, Full::new(body))
        }
    }
}

/// Whether the request body is needed whole, not just [`shallow_request`]:
/// for Bulk and PATCH (the operations), and for an event, except a
/// create's whose data is the created resource the upstream answered
/// (its type is `created` whatever the request said).
fn whole_request(tenant: &Tenant, method: &Method, bulk: bool, answer_is_object: bool) -> bool {
    let journal = &tenant.journal;
    let event_from_answer =
        *method == Method::POST && journal.data == EventData::Resource && answer_is_object;
    bulk || *method == Method::PATCH || (journal.events && !event_from_answer)
}

/// The parts of a record every entry of a request shares.
struct Context<'a, 's> {
    tenant: &'s Tenant,
    trace: &'a Trace<'s>,
    request_id: &'a str,
    ip: IpAddr,
    latency: Duration,
    reason: Option<Reason>,
}

impl Context<'_, '_> {
    fn record(&self, method: &str, status: u16) -> AuditRecord {
        let mut record = AuditRecord::write(self.request_id, method, self.ip);
        record.tenant = Some(self.tenant.id.as_str().to_string());
        record.principal = self.trace.principal.as_ref().map(AuditPrincipal::from);
        record.outcome.status = status;
        record.outcome.upstream_status = self.trace.upstream_status;
        record.outcome.error = self.reason.map(|r| r.as_str().to_string());
        record.outcome.create = self.trace.create.map(str::to_string);
        record.set_latency(self.latency);
        record.guardrail = self.trace.guardrail.clone();
        record
    }

    #[allow(clippy::too_many_arguments)] // an event's facts, from a record or a plain write's parts
    fn event(
        &self,
        id: &str,
        time: &str,
        resource_id: Option<&str>,
        method: WriteMethod,
        resource_type: &str,
        request: Option<&Value>,
        response: Answer<'_>,
    ) -> Option<Event> {
        let journal = &self.tenant.journal;
        if !journal.events {
            return None;
        }
        let resource_id = resource_id?;
        let input = ChangeInput {
            id,
            time,
            tenant: self.tenant.id.as_str(),
            method,
            resource_type,
            resource_id,
            request_body: request,
            response_body: None,
            data: journal.data,
        };
        Some(match response {
            Answer::Lent(response) => Event::from_value(&build_event(&ChangeInput {
                response_body: response.filter(|r| r.is_object()),
                ..input
            })),
            Answer::Given(response) => Event::from_value(&build_event_owned(&input, response)),
            Answer::Created(created) => {
                let kind = event_type(method, resource_type, None, None);
                Event::created(&input, &kind, created.data)
            }
        })
    }
}

/// The upstream's answer for an event: lent (a Bulk operation's, part of
/// the whole answer) or given (a plain write's: it may become the event's
/// `data` without a copy), or a created resource's, as it came (its bytes
/// become the event's `data`).
enum Answer<'a> {
    Lent(Option<&'a Value>),
    Given(Option<Value>),
    Created(Created<'a>),
}

/// What a plain write's record and event take of its request: the body
/// parsed (whole or shallow), or, when neither its event nor its record's
/// values need it, only the names of the attributes it changes.
struct Request<'a> {
    body: Option<&'a Value>,
    names: Option<AttributeNames>,
}

/// A plain write's record, as JSON already, and its event.
struct Single {
    record: Vec<u8>,
    event: Option<Event>,
}

/// One record (and event) for a plain write: the record written straight
/// from the request's parts ([`RecordRef`]), no owned record built first
/// (what [`Context::record`] fills in for a Bulk operation's).
fn single_entry(
    ctx: &Context<'_, '_>,
    method: &Method,
    route: &Route,
    request: Request<'_>,
    answer: Answer<'_>,
    status: u16,
) -> Single {
    let Request {
        body: request,
        names,
    } = request;
    let time = DateTime::now().to_rfc3339();
    let segment = route.first_segment();
    // The id decoded: the record names the resource, not its spelling.
    // Else the id the upstream answered (kept: the answer moves on into
    // the event).
    let resource_id = route.id_decoded().or_else(|| match &answer {
        Answer::Given(answer) => answer
            .as_ref()
            .and_then(Value::as_object)
            .and_then(|a| get_ci(a, "id"))
            .and_then(Value::as_str)
            .map(|id| Cow::Owned(id.to_string())),
        Answer::Created(created) => Some(Cow::Owned(created.id.clone())),
        Answer::Lent(_) => None,
    });
    let resource_id = resource_id.as_deref();
    let (attributes, values) = match names {
        // No allow-listed values: `values` stays empty, as it would.
        Some(names) => (names, None),
        None => (
            changed_attributes(method.as_str(), request),
            allowed_values(method.as_str(), request, &ctx.tenant.journal.audit_values),
        ),
    };
    let trace = ctx.trace;
    let record = RecordRef {
        time: &time,
        kind: AuditKind::Write,
        tenant: Some(ctx.tenant.id.as_str()),
        principal: trace
            .principal
            .as_ref()
            .map(|p| (p.method.as_str(), p.credential.as_str(), p.subject.as_str())),
        client_ip: ClientIp::Addr(ctx.ip),
        request_id: ctx.request_id,
        method: method.as_str(),
        resource_type: segment.map(|s| resource_type_str(ctx.tenant, s)),
        resource_id,
        attributes: &attributes,
        values: values.as_ref(),
        status,
        upstream_status: trace.upstream_status,
        error: ctx.reason.map(Reason::as_str),
        create: trace.create,
        latency_ms: latency_ms(ctx.latency),
        guardrail: trace.guardrail.as_ref(),
    }
    .to_json();
    // A create the upstream did not make (an existing resource, a
    // replay) changed nothing: no event.
    let changed = (200..300).contains(&status) && trace.create.is_none();
    let event = match (WriteMethod::parse(method.as_str()), segment) {
        (Some(m), Some(s)) if changed => {
            let id = new_event_id();
            ctx.event(&id, &time, resource_id, m, s, request, answer)
        }
        _ => None,
    };
    Single { record, event }
}

/// One record per answered operation of a Bulk request; one event per
/// successful one.
fn bulk_entries(
    ctx: &Context<'_, '_>,
    request: Option<&Value>,
    answer: &Value,
) -> Vec<(AuditRecord, Option<Event>)> {
    let Some(request) = request else {
        return Vec::new();
    };
    let base = new_event_id();
    bulk_operations(request, answer)
        .into_iter()
        .map(|op| {
            let status = op.status.unwrap_or(0);
            let mut record = ctx.record(op.method.as_str(), status);
            record.outcome.upstream_status = None;
            record.outcome.error = None;
            record.resource_type = op
                .resource_type
                .as_deref()
                .map(|s| resource_type_name(ctx.tenant, s));
            record.resource_id = op.resource_id.clone();
            fill_attributes(ctx, &mut record, op.method.as_str(), op.request.as_ref());
            let event = match &op.resource_type {
                Some(segment) if (200..300).contains(&status) => ctx.event(
                    &format!("{base}-{}", op.index),
                    &record.time,
                    record.resource_id.as_deref(),
                    op.method,
                    segment,
                    op.request.as_ref(),
                    Answer::Lent(op.response.as_ref()),
                ),
                _ => None,
            };
            (record, event)
        })
        .collect()
}

fn fill_attributes(
    ctx: &Context<'_, '_>,
    record: &mut AuditRecord,
    method: &str,
    body: Option<&Value>,
) {
    record.attributes = changed_attributes(method, body);
    record.values = allowed_values(method, body, &ctx.tenant.journal.audit_values);
}

/// A resource body with only what a record shows parsed: the top-level
/// names, extension objects (their attributes are named too) and the
/// values of allow-listed attributes; other values are `true`
/// placeholders. A body that is not a JSON object gives `None`.
fn shallow_request(body: &[u8], allow: &[String]) -> Option<Value> {
    let fields: RawFields<'_> = serde_json::from_slice(body).ok()?;
    let mut out = serde_json::Map::with_capacity(fields.0.len());
    for (key, raw) in fields.0 {
        let needed = key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
            || allow.iter().any(|a| a.eq_ignore_ascii_case(&key));
        let value = if needed {
            serde_json::from_str(raw.get()).ok()?
        } else {
            Value::Bool(true)
        };
        out.insert(key, value);
    }
    Some(Value::Object(out))
}

/// `{"id": ...}` of a created resource, the rest of the answer skipped.
fn created_id(body: &[u8]) -> Option<Value> {
    #[derive(serde::Deserialize)]
    struct IdOnly<'a> {
        #[serde(borrow, default)]
        id: Option<std::borrow::Cow<'a, str>>,
    }
    let created: IdOnly<'_> = serde_json::from_slice(body).ok()?;
    Some(serde_json::json!({ "id": created.id? }))
}

/// A JSON object's members in order, values unparsed.
struct RawFields<'a>(Vec<(String, &'a serde_json::value::RawValue)>);

impl<'de> serde::Deserialize<'de> for RawFields<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = RawFields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(RawFields(out))
            }
        }
        d.deserialize_map(Fields)
    }
}

/// 401s and client-certificate refusals. (The damper's 429s are not
/// recorded: a damped client's failures would let a flood of them fill the
/// disk; they are counted in `scim_gateway_auth_failures_total`.)
fn is_auth_failure(status: u16, reason: Option<Reason>) -> bool {
    status == 401 || (status == 403 && reason.is_some_and(Reason::is_client_certificate))
}

/// The journal's answer, bounded.
pub(super) async fn wait(ack: Ack) -> Result<Receipt, String> {
    match tokio::time::timeout(ACK_WAIT, ack).await {
        Ok(Ok(receipt)) => Ok(receipt),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "the audit journal did not acknowledge within {}s",
            ACK_WAIT.as_secs()
        )),
    }
}

/// `Users` → `User` (the tenant's resource type name), else the segment.
fn resource_type_name(tenant: &Tenant, segment: &str) -> String {
    resource_type_str(tenant, segment).to_string()
}

/// [`resource_type_name`], borrowed.
fn resource_type_str<'a>(tenant: &'a Tenant, segment: &'a str) -> &'a str {
    tenant
        .schema
        .registry
        .resource_type_by_endpoint(segment)
        .map_or(segment, |rt| rt.name.as_str())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn auth_failures_are_told_from_refused_writes() {
        assert!(is_auth_failure(401, Some(Reason::InvalidToken)));
        assert!(is_auth_failure(401, None));
        assert!(!is_auth_failure(429, Some(Reason::TooManyFailures)));
        assert!(is_auth_failure(403, Some(Reason::ClientCertificateMissing)));
        assert!(!is_auth_failure(403, Some(Reason::InsufficientScope)));
        assert!(!is_auth_failure(429, Some(Reason::RateLimited)));
    }

    #[test]
    fn a_shallow_request_names_what_a_full_one_names() {
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada", "active": false, "password": "hunter2",
            "name": {"givenName": "Ada", "family\"Name": "L"},
            "emails": [{"value": "a@x", "type": "work"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
            "meta": {"resourceType": "User"}
        });
        let bytes = serde_json::to_vec(&body).unwrap();
        let allow = vec![
            "active".to_string(),
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department".to_string(),
        ];
        let shallow = shallow_request(&bytes, &allow).unwrap();
        for method in ["POST", "PUT"] {
            assert_eq!(
                changed_attributes(method, Some(&shallow)),
                changed_attributes(method, Some(&body))
            );
            assert_eq!(
                allowed_values(method, Some(&shallow), &allow),
                allowed_values(method, Some(&body), &allow)
            );
        }
        assert!(allowed_values("POST", Some(&shallow), &allow)
            .unwrap()
            .contains_key("active"));
        assert!(shallow_request(b"[1, 2]", &allow).is_none());
        assert!(shallow_request(b"{\"a\": ", &allow).is_none());
    }

    #[test]
    fn the_created_id_is_read_alone() {
        let body = br#"{"schemas":["x"],"userName":"a\"b","id":"42","meta":{"location":"l"}}"#;
        assert_eq!(created_id(body), Some(serde_json::json!({"id": "42"})));
        assert_eq!(created_id(br#"{"userName":"a"}"#), None);
        assert_eq!(created_id(b"not json"), None);
    }
}
