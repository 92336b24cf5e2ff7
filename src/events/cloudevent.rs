//! The CloudEvents 1.0 JSON event for one successful SCIM write (pure:
//! serde_json and std, plus `ring` for random ids).
//!
//! Attributes (CloudEvents 1.0 §3.1, JSON format §3): `specversion`,
//! `id` (stable across retries: it is fixed when the event is written to
//! the outbox), `source` = `/tenants/<tenant>`, `type`, `subject` = the
//! resource id, `time`, `datacontenttype` = `application/json`, and the
//! extension attributes `tenant`, `resourcetype`, `sequence` (the
//! outbox sequence number, zero-padded so it also orders as a string, as
//! the CloudEvents sequence extension asks) and `resourceversion` (the
//! resource's version across replicas, set by [`super::version`] before
//! the event enters the outbox).
use crate::events::changes;
use crate::scim::json::{get_ci, remove_ci};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// CloudEvents `specversion`.
pub(crate) const SPEC_VERSION: &str = "1.0";
/// `datacontenttype` of every event.
pub(crate) const DATA_CONTENT_TYPE: &str = "application/json";

/// The write that happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMethod {
    Post,
    Put,
    Patch,
    Delete,
}

/// Which `data` a tenant's events carry.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EventData {
    /// The resource after the write, as the tenant sees it.
    #[default]
    Resource,
    /// Only the attributes the write touched (`null` for removed ones),
    /// plus `id`.
    Changes,
}

/// Everything an event is built from.
#[derive(Debug, Clone, Copy)]
pub struct ChangeInput<'a> {
    /// The event id: unique, and fixed before the event is stored so a
    /// retried delivery keeps it ([`new_event_id`]).
    pub id: &'a str,
    /// RFC 3339 time of the write.
    pub time: &'a str,
    pub tenant: &'a str,
    pub method: WriteMethod,
    /// The resource type name (`User`, `Group`, ...) or its endpoint
    /// (`Users`, `Groups`).
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    /// The body the tenant sent: the resource (POST, PUT) or the PatchOp
    /// message (PATCH); `None` for DELETE.
    pub request_body: Option<&'a Value>,
    /// The resource after the write as the tenant sees it (after response
    /// mapping); `None` when the upstream answered without a body (204).
    pub response_body: Option<&'a Value>,
    pub data: EventData,
}

// === impl WriteMethod ===

impl WriteMethod {
    /// `POST`, `PUT`, `PATCH` or `DELETE` (any case); other methods do not
    /// write.
    pub fn parse(method: &str) -> Option<WriteMethod> {
        [
            WriteMethod::Post,
            WriteMethod::Put,
            WriteMethod::Patch,
            WriteMethod::Delete,
        ]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(method))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WriteMethod::Post => "POST",
            WriteMethod::Put => "PUT",
            WriteMethod::Patch => "PATCH",
            WriteMethod::Delete => "DELETE",
        }
    }
}

/// The `type` of the event for a write: `scim.user.created|updated|
/// deactivated|deleted`, `scim.group.created|updated|deleted|
/// membership.changed`, and `scim.<type>.created|updated|deleted` for any
/// other resource type.
///
/// `deactivated`: a User write that sets `active` to false (PUT with
/// `"active": false`, PATCH add/replace of `active`, also path-less), unless
/// the resource after the write still says `active: true`.
/// `membership.changed`: a Group PATCH with any operation on `members`.
pub fn event_type(
    method: WriteMethod,
    resource_type: &str,
    request_body: Option<&Value>,
    response_body: Option<&Value>,
) -> String {
    let noun = type_noun(resource_type);
    let verb = match method {
        WriteMethod::Post => "created",
        WriteMethod::Delete => "deleted",
        WriteMethod::Put | WriteMethod::Patch => match noun.as_str() {
            "user" if changes::sets_active_false(method, request_body, response_body) => {
                "deactivated"
            }
            "group" if method == WriteMethod::Patch && changes::patches_members(request_body) => {
                "membership.changed"
            }
            _ => "updated",
        },
    };
    let mut kind = String::with_capacity(6 + noun.len() + verb.len());
    kind.push_str("scim.");
    kind.push_str(&noun);
    kind.push('.');
    kind.push_str(verb);
    kind
}

/// Builds the CloudEvent (without `sequence`, which the outbox assigns:
/// see [`set_sequence`]).
pub fn build_event(input: &ChangeInput<'_>) -> Value {
    let kind = event_type(
        input.method,
        input.resource_type,
        input.request_body,
        input.response_body,
    );
    assemble(input, kind, event_data(input))
}

/// [`build_event`] with the response (`input.response_body` is ignored)
/// given, not lent: when it becomes the event's `data` whole, it is moved
/// there instead of copied. The same event either way.
pub(crate) fn build_event_owned(input: &ChangeInput<'_>, response: Option<Value>) -> Value {
    let response = response.filter(Value::is_object);
    let lent = ChangeInput {
        response_body: response.as_ref(),
        ..*input
    };
    let kind = event_type(
        lent.method,
        lent.resource_type,
        lent.request_body,
        lent.response_body,
    );
    let data = match (input.method, input.data, response) {
        (method, EventData::Resource, Some(Value::Object(resource)))
            if method != WriteMethod::Delete =>
        {
            finish_data(resource, input.resource_id)
        }
        (_, _, response) => event_data(&ChangeInput {
            response_body: response.as_ref(),
            ..*input
        }),
    };
    assemble(input, kind, data)
}

/// The event's attributes around its `type` and `data`, in their order.
fn assemble(input: &ChangeInput<'_>, kind: String, data: Map<String, Value>) -> Value {
    let mut event = Map::new();
    event.insert("specversion".into(), SPEC_VERSION.into());
    event.insert("id".into(), input.id.into());
    event.insert("source".into(), format!("/tenants/{}", input.tenant).into());
    event.insert("type".into(), kind.into());
    event.insert("subject".into(), input.resource_id.into());
    event.insert("time".into(), input.time.into());
    event.insert("datacontenttype".into(), DATA_CONTENT_TYPE.into());
    event.insert("tenant".into(), input.tenant.into());
    event.insert(
        "resourcetype".into(),
        canonical_type_name(input.resource_type).into(),
    );
    event.insert("data".into(), Value::Object(data));
    Value::Object(event)
}

/// Sets the `sequence` extension attribute (20 digits, zero-padded).
pub(crate) fn set_sequence(event: &mut Value, seq: u64) {
    if let Value::Object(map) = event {
        map.insert("sequence".into(), format!("{seq:020}").into());
    }
}

/// An event's trace context attributes (`traceparent`, `tracestate`), for
/// the headers of its delivery.
pub(crate) fn trace_context(event: &Value) -> (Option<&str>, Option<&str>) {
    let attr = |name| event.get(name).and_then(Value::as_str);
    (attr("traceparent"), attr("tracestate"))
}

/// The `tenant` extension attribute of an event.
pub(crate) fn event_tenant(event: &Value) -> Option<&str> {
    event.get("tenant").and_then(Value::as_str)
}

/// A fresh event id: `evt_` and 32 hex digits from the system CSPRNG (a
/// request id alone is not unique: clients may choose it).
///
/// The bytes come from a per-thread buffer filled by one call to the OS
/// CSPRNG for every [`ID_BYTES_PER_FILL`] / 16 ids; each byte is handed
/// out once, so ids are as unpredictable as before, without a `getrandom`
/// system call per event.
pub fn new_event_id() -> String {
    let Some(bytes) = random_16() else {
        // The OS CSPRNG failing is not recoverable in any useful way; fall
        // back to time + a counter, still unique within this process.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        return format!("evt_{t:024x}{n:08x}");
    };
    let mut id = String::with_capacity(36);
    id.push_str("evt_");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            id.push(char::from(HEX[usize::from(nibble)]));
        }
    }
    id
}

/// How many CSPRNG bytes one refill of an id buffer takes.
const ID_BYTES_PER_FILL: usize = 1024;

/// The next 16 unused bytes of this thread's CSPRNG buffer (`None` when
/// the OS CSPRNG fails; nothing is handed out twice either way).
fn random_16() -> Option<[u8; 16]> {
    use ring::rand::SecureRandom;
    use std::cell::RefCell;
    thread_local! {
        static BUF: RefCell<([u8; ID_BYTES_PER_FILL], usize)> =
            const { RefCell::new(([0; ID_BYTES_PER_FILL], ID_BYTES_PER_FILL)) };
    }
    BUF.with(|cell| {
        let (buf, used) = &mut *cell.borrow_mut();
        if *used + 16 > buf.len() {
            ring::rand::SystemRandom::new().fill(buf).ok()?;
            *used = 0;
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&buf[*used..*used + 16]);
        // Wiped as it is taken: the buffer never holds a byte already used.
        buf[*used..*used + 16].fill(0);
        *used += 16;
        Some(out)
    })
}

/// `user`, `group`, or the lowercased type name (`[a-z0-9_]` only).
fn type_noun(resource_type: &str) -> String {
    canonical_type_name(resource_type)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// `Users` → `User`, `Groups` → `Group`, anything else as given.
pub(crate) fn canonical_type_name(resource_type: &str) -> &str {
    if resource_type.eq_ignore_ascii_case("Users") || resource_type.eq_ignore_ascii_case("User") {
        "User"
    } else if resource_type.eq_ignore_ascii_case("Groups")
        || resource_type.eq_ignore_ascii_case("Group")
    {
        "Group"
    } else {
        resource_type
    }
}

/// `data`: the resource, or the changed attributes; `{"id": ...}` for a
/// DELETE. Never carries `password` (RFC 7643 §4.1.1: returned "never").
fn event_data(input: &ChangeInput<'_>) -> Map<String, Value> {
    let response = input.response_body.and_then(Value::as_object);
    let data = match (input.method, input.data, response) {
        (WriteMethod::Delete, _, _) => Map::new(),
        (_, EventData::Resource, Some(resource)) => resource.clone(),
        (_, EventData::Resource, None) | (_, EventData::Changes, _) => {
            changes::changed_data(input.method, input.request_body, response)
        }
    };
    finish_data(data, input.resource_id)
}

/// `data` without `password` (returned "never"), with `id` first when it
/// has none.
fn finish_data(mut data: Map<String, Value>, resource_id: &str) -> Map<String, Value> {
    remove_ci(&mut data, "password");
    if get_ci(&data, "id").is_none() {
        let mut with_id = Map::with_capacity(data.len() + 1);
        with_id.insert("id".into(), resource_id.into());
        with_id.extend(data);
        data = with_id;
    }
    data
}

#[cfg(test)]
#[path = "cloudevent_tests.rs"]
mod tests;
