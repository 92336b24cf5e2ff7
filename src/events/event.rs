//! A CloudEvent as the outbox and the sinks carry it: its JSON bytes (one
//! line, as the outbox stores it) and a small parsed head (the attributes
//! the dispatcher, the filters and the sinks read).
//!
//! Why not a `serde_json::Value`: an event's `data` is the resource the
//! upstream answered, often most of the event. As a tree it was parsed on
//! the request path, serialized into the outbox, and parsed again whenever
//! a sink read the outbox back; as bytes it is spliced in once
//! ([`Event::created`]) and never parsed again, except where a whole tree
//! is really wanted (a dead letter: [`Event::to_value`]). The bytes always
//! hold one JSON object or value, without a line break (the outbox is one
//! event per line).
use crate::events::cloudevent::{self, ChangeInput, DATA_CONTENT_TYPE, SPEC_VERSION};
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;

/// One event: its JSON and the head read from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    json: bytes::Bytes,
    /// Boxed: an event moves through queues and enums, its head stays put.
    head: Box<Head>,
}

/// The top-level attributes read from an event's JSON (string values
/// only, as `Value::as_str` would give them; a repeated name keeps its
/// last value, as a parsed `Value` does).
#[derive(Debug, Clone, Default, PartialEq)]
struct Head {
    /// A JSON object (anything else is carried, never spliced).
    object: bool,
    /// How many members (counting a repeated name each time).
    members: usize,
    /// `id`, `tenant`, `subject`, `time`, `resourcetype`, `traceparent`
    /// and `tracestate`.
    fields: Fields,
    /// Which of the attributes the gateway appends are there already
    /// (whatever their values): appending would then repeat a name.
    appended: Appended,
}

/// The attributes a [`Head`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Tenant,
    Subject,
    Time,
    ResourceType,
    TraceParent,
    TraceState,
}

impl Field {
    /// Every field, with its attribute's name in the event.
    const ALL: [(Field, &'static str); 7] = [
        (Field::Id, "id"),
        (Field::Tenant, "tenant"),
        (Field::Subject, "subject"),
        (Field::Time, "time"),
        (Field::ResourceType, "resourcetype"),
        (Field::TraceParent, "traceparent"),
        (Field::TraceState, "tracestate"),
    ];
}

/// A head's string attributes in one buffer (one allocation per event on
/// the request path, not one per attribute).
#[derive(Debug, Clone, Default)]
struct Fields {
    text: String,
    /// Where each [`Field`]'s value is in `text`, by its discriminant.
    spans: [Option<(usize, usize)>; Field::ALL.len()],
}

impl Fields {
    fn with_capacity(bytes: usize) -> Fields {
        Fields {
            text: String::with_capacity(bytes),
            spans: [None; Field::ALL.len()],
        }
    }

    fn get(&self, field: Field) -> Option<&str> {
        let (start, end) = (*self.spans.get(field as usize)?)?;
        self.text.get(start..end)
    }

    /// Sets (or, with `None`, clears) a value; a value set again leaves
    /// its old text unused in the buffer.
    fn set(&mut self, field: Field, value: Option<&str>) {
        let span = value.map(|value| {
            let start = self.text.len();
            self.text.push_str(value);
            (start, self.text.len())
        });
        if let Some(slot) = self.spans.get_mut(field as usize) {
            *slot = span;
        }
    }
}

impl PartialEq for Fields {
    fn eq(&self, other: &Fields) -> bool {
        Field::ALL
            .iter()
            .all(|&(field, _)| self.get(field) == other.get(field))
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Appended {
    sequence: bool,
    resourceversion: bool,
    traceparent: bool,
    tracestate: bool,
}

// === impl Event ===

impl Event {
    /// An event from a tree (its compact serialization).
    pub fn from_value(value: &Value) -> Event {
        let json = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
        let head = match value {
            Value::Object(map) => {
                let mut fields = Fields::default();
                for (field, name) in Field::ALL {
                    fields.set(field, map.get(name).and_then(Value::as_str));
                }
                Head {
                    object: true,
                    members: map.len(),
                    fields,
                    appended: Appended {
                        sequence: map.contains_key("sequence"),
                        resourceversion: map.contains_key(crate::events::version::ATTRIBUTE),
                        traceparent: map.contains_key("traceparent"),
                        tracestate: map.contains_key("tracestate"),
                    },
                }
            }
            _ => Head::default(),
        };
        Event {
            json: json.into(),
            head: Box::new(head),
        }
    }

    /// An event from its JSON (any JSON value; an object's head is read).
    /// A line break outside strings is not whitespace the outbox can hold:
    /// such JSON is re-serialized compactly.
    pub fn from_json(json: &[u8]) -> Result<Event, serde_json::Error> {
        if json.iter().any(|b| matches!(b, b'\n' | b'\r')) {
            let value: Value = serde_json::from_slice(json)?;
            return Ok(Event::from_value(&value));
        }
        let head = read_head(json)?;
        Ok(Event {
            json: bytes::Bytes::copy_from_slice(json),
            head: Box::new(head),
        })
    }

    /// The event of a created resource whose `data` is the upstream's
    /// answer as it came (`data`: a JSON object that needs nothing taken
    /// out or added: see `created::Created::read` for the checks), with the same
    /// attributes, in the same order, as [`cloudevent::build_event`].
    pub(crate) fn created(input: &ChangeInput<'_>, kind: &str, data: &[u8]) -> Event {
        let resource_type = cloudevent::canonical_type_name(input.resource_type);
        // `source` is `/tenants/<tenant>`: written in place below when the
        // tenant's id needs no escapes (always, for a configured id).
        let plain = crate::scim::json_scan::is_plain(input.tenant);
        let source = match plain {
            true => String::new(),
            false => format!("/tenants/{}", input.tenant),
        };
        let attributes = [
            ("specversion", SPEC_VERSION),
            ("id", input.id),
            ("source", source.as_str()),
            ("type", kind),
            ("subject", input.resource_id),
            ("time", input.time),
            ("datacontenttype", DATA_CONTENT_TYPE),
            ("tenant", input.tenant),
            ("resourcetype", resource_type),
        ];
        // Room for the members the gateway appends next (`set`:
        // `resourceversion`, the trace context), in place.
        let envelope: usize = attributes
            .iter()
            .map(|(n, v)| n.len() + v.len() + 6)
            .sum::<usize>()
            + 9
            + input.tenant.len();
        let mut json = Vec::with_capacity(data.len() + envelope + 160);
        json.push(b'{');
        for (name, value) in attributes {
            if name == "source" && plain {
                json.extend_from_slice(b"\"source\":\"/tenants/");
                json.extend_from_slice(input.tenant.as_bytes());
                json.extend_from_slice(b"\",");
                continue;
            }
            push_member(&mut json, name, value);
            json.push(b',');
        }
        json.extend_from_slice(b"\"data\":");
        json.extend_from_slice(data);
        json.push(b'}');
        let values = [
            (Field::Id, input.id),
            (Field::Tenant, input.tenant),
            (Field::Subject, input.resource_id),
            (Field::Time, input.time),
            (Field::ResourceType, resource_type),
        ];
        // Room for the trace context too (set later when traces are on).
        let bytes: usize = values.iter().map(|(_, v)| v.len()).sum();
        let mut fields = Fields::with_capacity(bytes + 64);
        for (field, value) in values {
            fields.set(field, Some(value));
        }
        Event {
            json: json.into(),
            head: Box::new(Head {
                object: true,
                members: attributes.len() + 1,
                fields,
                ..Head::default()
            }),
        }
    }

    /// The JSON, as the outbox line's `event`.
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// The JSON, shared.
    pub fn bytes(&self) -> bytes::Bytes {
        self.json.clone()
    }

    /// The event parsed (for a dead letter, a test; never on the hot path).
    pub fn to_value(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }

    /// `id` (empty when it has none).
    pub fn id(&self) -> &str {
        self.head.fields.get(Field::Id).unwrap_or("")
    }

    pub fn tenant(&self) -> Option<&str> {
        self.head.fields.get(Field::Tenant)
    }

    pub fn subject(&self) -> Option<&str> {
        self.head.fields.get(Field::Subject)
    }

    pub fn time(&self) -> Option<&str> {
        self.head.fields.get(Field::Time)
    }

    pub fn resource_type(&self) -> Option<&str> {
        self.head.fields.get(Field::ResourceType)
    }

    /// `traceparent` and `tracestate` (the Distributed Tracing extension).
    pub fn trace_context(&self) -> (Option<&str>, Option<&str>) {
        (
            self.head.fields.get(Field::TraceParent),
            self.head.fields.get(Field::TraceState),
        )
    }

    /// Sets the `resourceversion` extension attribute.
    pub(crate) fn set_resource_version(&mut self, version: &str) {
        let present = self.head.appended.resourceversion;
        self.set(crate::events::version::ATTRIBUTE, version, present);
        self.head.appended.resourceversion = true;
    }

    /// Sets the trace context attributes (`tracestate` only when given).
    pub(crate) fn set_trace_context(&mut self, traceparent: &str, tracestate: Option<&str>) {
        self.set("traceparent", traceparent, self.head.appended.traceparent);
        self.head.appended.traceparent = true;
        self.head.fields.set(Field::TraceParent, Some(traceparent));
        if let Some(state) = tracestate {
            self.set("tracestate", state, self.head.appended.tracestate);
            self.head.appended.tracestate = true;
            self.head.fields.set(Field::TraceState, Some(state));
        }
    }

    /// The event as delivered: with `sequence` (20 digits) appended, as
    /// inserting it into the parsed object and serializing would give (a
    /// new member goes last); that general path is taken when the event
    /// has a `sequence` already or is not a non-empty object.
    pub fn delivered(&self, seq: u64) -> Vec<u8> {
        self.delivered_body(seq).to_vec()
    }

    /// [`Event::delivered`] without the copy: the event's bytes and the
    /// member appended, written out where the body goes (a batch's
    /// array) or copied once ([`DeliveredBody::to_vec`]).
    pub fn delivered_body(&self, seq: u64) -> DeliveredBody<'_> {
        if self.spliceable(self.head.appended.sequence) {
            let mut digits = [b'0'; 20];
            let mut n = seq;
            for place in digits.iter_mut().rev() {
                *place = b'0' + (n % 10) as u8;
                n /= 10;
            }
            let head = self
                .json
                .split_last()
                .map_or(&self.json[..], |(_, head)| head);
            return DeliveredBody(Delivered::Spliced { head, digits });
        }
        let mut value = self.to_value();
        cloudevent::set_sequence(&mut value, seq);
        DeliveredBody(Delivered::Written(
            serde_json::to_vec(&value).unwrap_or_default(),
        ))
    }

    /// Whether a member can be appended to the bytes as they are.
    fn spliceable(&self, present: bool) -> bool {
        !present && self.head.object && self.head.members > 0 && self.json.last() == Some(&b'}')
    }

    /// Sets a string member: appended when it is new, else through the
    /// tree (where the existing member keeps its place).
    fn set(&mut self, name: &str, value: &str, present: bool) {
        if self.spliceable(present) {
            let json = std::mem::take(&mut self.json);
            self.json = match json.try_into_mut() {
                // Held by no one else (as on the request path): appended
                // in place, within the room `Event::created` left.
                Ok(mut unique) => {
                    let mut member = Vec::with_capacity(name.len() + value.len() + 8);
                    member.push(b',');
                    push_member(&mut member, name, value);
                    member.push(b'}');
                    unique.truncate(unique.len().saturating_sub(1));
                    unique.extend_from_slice(&member);
                    unique.freeze()
                }
                Err(shared) => spliced(&shared, name, value).into(),
            };
            self.head.members += 1;
            return;
        }
        if let Value::Object(mut map) = self.to_value() {
            map.insert(name.to_string(), value.into());
            *self = Event::from_value(&Value::Object(map));
        }
    }
}

/// An event as a sink delivers it ([`Event::delivered_body`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveredBody<'a>(Delivered<'a>);

#[derive(Debug, Clone, PartialEq)]
enum Delivered<'a> {
    /// The event's bytes but its closing `}`, then `,"sequence":"<digits>"}`.
    Spliced { head: &'a [u8], digits: [u8; 20] },
    /// Written whole (the general path).
    Written(Vec<u8>),
}

impl DeliveredBody<'_> {
    const SEQUENCE: &'static [u8] = b",\"sequence\":\"";

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        match &self.0 {
            Delivered::Spliced { head, digits } => {
                head.len() + Self::SEQUENCE.len() + digits.len() + 2
            }
            Delivered::Written(bytes) => bytes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the bytes to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match &self.0 {
            Delivered::Spliced { head, digits } => {
                out.extend_from_slice(head);
                out.extend_from_slice(Self::SEQUENCE);
                out.extend_from_slice(digits);
                out.extend_from_slice(b"\"}");
            }
            Delivered::Written(bytes) => out.extend_from_slice(bytes),
        }
    }

    /// The bytes, in a buffer of their own.
    pub fn to_vec(&self) -> Vec<u8> {
        match &self.0 {
            Delivered::Written(bytes) => bytes.clone(),
            Delivered::Spliced { .. } => {
                let mut out = Vec::with_capacity(self.len());
                self.write_to(&mut out);
                out
            }
        }
    }
}

/// `json` (an object ending in `}`) with `"name":"value"` appended.
fn spliced(json: &[u8], name: &str, value: &str) -> Vec<u8> {
    let head = json.split_last().map_or(json, |(_, head)| head);
    let mut out = Vec::with_capacity(json.len() + name.len() + value.len() + 8);
    out.extend_from_slice(head);
    out.push(b',');
    push_member(&mut out, name, value);
    out.push(b'}');
    out
}

/// `"name":"value"`, both escaped as serde_json escapes strings.
fn push_member(out: &mut Vec<u8>, name: &str, value: &str) {
    push_string(out, name);
    out.push(b':');
    push_string(out, value);
}

fn push_string(out: &mut Vec<u8>, s: &str) {
    crate::scim::json_scan::write_str(out, s);
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = std::str::from_utf8(&self.json).map_err(serde::ser::Error::custom)?;
        let raw: &RawValue = serde_json::from_str(text).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Event::from_json(raw.get().as_bytes()).map_err(de::Error::custom)
    }
}

impl From<Value> for Event {
    fn from(value: Value) -> Event {
        Event::from_value(&value)
    }
}

/// The head of an event's JSON: its top-level members read in one pass,
/// the values of other members only checked.
fn read_head(json: &[u8]) -> Result<Head, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let head = match (&mut de).deserialize_any(HeadVisitor) {
        Ok(head) => head,
        // Not an object: any valid JSON is carried as it is.
        Err(_) => {
            serde_json::from_slice::<IgnoredAny>(json)?;
            return Ok(Head::default());
        }
    };
    de.end()?;
    Ok(head)
}

struct HeadVisitor;

/// A member name: one of the head's, or another (not kept).
enum Name {
    Id,
    Tenant,
    Subject,
    Time,
    ResourceType,
    TraceParent,
    TraceState,
    Sequence,
    ResourceVersion,
    Other,
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl Visitor<'_> for NameVisitor {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Name, E> {
                Ok(match name {
                    "id" => Name::Id,
                    "tenant" => Name::Tenant,
                    "subject" => Name::Subject,
                    "time" => Name::Time,
                    "resourcetype" => Name::ResourceType,
                    "traceparent" => Name::TraceParent,
                    "tracestate" => Name::TraceState,
                    "sequence" => Name::Sequence,
                    crate::events::version::ATTRIBUTE => Name::ResourceVersion,
                    _ => Name::Other,
                })
            }
        }
        d.deserialize_str(NameVisitor)
    }
}

/// A member's value as `Value::as_str` reads it.
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => Text(Some(s)),
            _ => Text(None),
        })
    }
}

impl<'de> Visitor<'de> for HeadVisitor {
    type Value = Head;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head, A::Error> {
        let mut head = Head {
            object: true,
            ..Head::default()
        };
        while let Some(name) = map.next_key::<Name>()? {
            head.members += 1;
            let field = match name {
                Name::Id => Field::Id,
                Name::Tenant => Field::Tenant,
                Name::Subject => Field::Subject,
                Name::Time => Field::Time,
                Name::ResourceType => Field::ResourceType,
                Name::TraceParent => {
                    head.appended.traceparent = true;
                    Field::TraceParent
                }
                Name::TraceState => {
                    head.appended.tracestate = true;
                    Field::TraceState
                }
                Name::Sequence | Name::ResourceVersion | Name::Other => {
                    match name {
                        Name::Sequence => head.appended.sequence = true,
                        Name::ResourceVersion => head.appended.resourceversion = true,
                        _ => {}
                    }
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            let value = map.next_value::<Text>()?.0;
            head.fields.set(field, value.as_deref());
        }
        Ok(head)
    }
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
