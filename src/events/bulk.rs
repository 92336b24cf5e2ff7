//! Bulk (RFC 7644 §3.7): one event per successful operation of a
//! BulkResponse (pure).
//!
//! A response operation is matched to its request operation by `bulkId`
//! when it has one, else by position (§3.7.3: the response lists the
//! operations in the order they were processed, which for a request
//! without forward references is request order).
use crate::events::cloudevent::WriteMethod;
#[cfg(test)]
use crate::events::cloudevent::{build_event, ChangeInput, EventData};
use crate::scim::json::get_ci;
use serde_json::{Map, Value};

/// One successful write inside a Bulk request (for tests).
#[cfg(test)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BulkChange {
    /// Position in the BulkResponse `Operations`.
    pub index: usize,
    pub method: WriteMethod,
    /// The endpoint segment (`Users`, `Groups`, ...).
    pub resource_type: String,
    pub resource_id: String,
    /// The operation's `data` as sent.
    pub request: Option<Value>,
    /// The operation's `response`, when the service included the resource.
    pub response: Option<Value>,
}

/// One answered operation of a Bulk request, successful or not.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BulkOperation {
    /// Position in the BulkResponse `Operations`.
    pub index: usize,
    pub method: WriteMethod,
    /// The status the service gave the operation (`None`: unreadable).
    pub status: Option<u16>,
    /// The endpoint segment (`Users`, `Groups`, ...), when known.
    pub resource_type: Option<String>,
    /// The resource id, when known (never a `bulkId:` reference).
    pub resource_id: Option<String>,
    /// The operation's `data` as sent.
    pub request: Option<Value>,
    /// The operation's `response`, when the service included the resource.
    pub response: Option<Value>,
}

/// Every operation of `response` that names a write method, each with its
/// request `data` and whatever names its resource.
pub(crate) fn bulk_operations(request: &Value, response: &Value) -> Vec<BulkOperation> {
    let request_ops = operations(request);
    let response_ops = operations(response);
    let mut out = Vec::new();
    for (index, op) in response_ops.iter().enumerate() {
        let Some(method) = get_str(op, "method").and_then(WriteMethod::parse) else {
            continue;
        };
        let sent = match get_str(op, "bulkId") {
            Some(bulk_id) => request_ops
                .iter()
                .find(|r| get_str(r, "bulkId") == Some(bulk_id)),
            None => request_ops
                .get(index)
                .filter(|r| get_str(r, "method").and_then(WriteMethod::parse) == Some(method)),
        };
        let path = sent.and_then(|r| get_str(r, "path")).unwrap_or("");
        let location = get_str(op, "location").unwrap_or("");
        let from_location = endpoint_and_id(location);
        let from_path = endpoint_and_id(path);
        let resource_type = from_path.0.or(from_location.0).map(str::to_string);
        let response_resource = get_ci(op, "response").filter(|r| r.is_object());
        let resource_id = from_location
            .1
            .or(from_path.1.filter(|id| !id.starts_with("bulkId:")))
            .or_else(|| {
                response_resource
                    .and_then(Value::as_object)
                    .and_then(|r| get_ci(r, "id"))
                    .and_then(Value::as_str)
            })
            .map(str::to_string);
        out.push(BulkOperation {
            index,
            method,
            status: status(op),
            resource_type,
            resource_id,
            request: sent.and_then(|r| get_ci(r, "data")).cloned(),
            response: response_resource.cloned(),
        });
    }
    out
}

/// The successful (2xx) operations of `response`, each with its request
/// `data`. Operations whose resource id cannot be found (no `location`, no
/// id in the path) are skipped: no event can name their subject.
#[cfg(test)]
pub(crate) fn bulk_changes(request: &Value, response: &Value) -> Vec<BulkChange> {
    bulk_operations(request, response)
        .into_iter()
        .filter(|op| op.status.is_some_and(|s| (200..300).contains(&s)))
        .filter_map(|op| {
            Some(BulkChange {
                index: op.index,
                method: op.method,
                resource_type: op.resource_type.filter(|t| !t.is_empty())?,
                resource_id: op.resource_id?,
                request: op.request,
                response: op.response,
            })
        })
        .collect()
}

/// The events of a Bulk request: one per successful operation, with ids
/// `<base_id>-<index>` so each is unique and stable.
#[cfg(test)]
pub(crate) fn bulk_events(
    base_id: &str,
    time: &str,
    tenant: &str,
    data: EventData,
    request: &Value,
    response: &Value,
) -> Vec<Value> {
    bulk_changes(request, response)
        .iter()
        .map(|change| {
            let id = format!("{base_id}-{}", change.index);
            build_event(&ChangeInput {
                id: &id,
                time,
                tenant,
                method: change.method,
                resource_type: &change.resource_type,
                resource_id: &change.resource_id,
                request_body: change.request.as_ref(),
                response_body: change.response.as_ref(),
                data,
            })
        })
        .collect()
}

fn operations(message: &Value) -> Vec<&Map<String, Value>> {
    message
        .as_object()
        .and_then(|m| get_ci(m, "Operations"))
        .and_then(Value::as_array)
        .map(|ops| ops.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default()
}

fn get_str<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    get_ci(obj, name).and_then(Value::as_str)
}

/// RFC 7644 §3.7.3 gives `status` as a string (`"201"`); accept a number
/// too.
fn status(op: &Map<String, Value>) -> Option<u16> {
    match get_ci(op, "status") {
        Some(Value::String(s)) => s.trim().parse::<u16>().ok(),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        _ => None,
    }
}

/// `/Users/abc` or `https://host/scim/v2/Users/abc` → `(Some("Users"),
/// Some("abc"))`; `/Users` → `(Some("Users"), None)`.
fn endpoint_and_id(path: &str) -> (Option<&str>, Option<&str>) {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [] => (None, None),
        [.., endpoint, id] if is_endpoint(endpoint) => (Some(*endpoint), Some(*id)),
        [.., endpoint] if is_endpoint(endpoint) => (Some(*endpoint), None),
        [.., endpoint, id] if !id.contains(':') || id.starts_with("bulkId:") => {
            (Some(*endpoint), Some(*id))
        }
        _ => (None, None),
    }
}

/// The built-in endpoints, recognised even without an id after them
/// (`POST /Users`); other types are recognised as `<endpoint>/<id>`.
fn is_endpoint(segment: &str) -> bool {
    segment.eq_ignore_ascii_case("Users") || segment.eq_ignore_ascii_case("Groups")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn one_event_per_successful_operation_matched_by_bulk_id() {
        let request = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "u1",
                 "data": {"userName": "alice"}},
                {"method": "PATCH", "path": "/Groups/g1",
                 "data": {"Operations": [{"op": "add", "path": "members",
                          "value": [{"value": "bulkId:u1"}]}]}},
                {"method": "DELETE", "path": "/Users/gone"},
                {"method": "PUT", "path": "/Users/u9", "data": {"userName": "x", "active": false}}
            ]
        });
        let response = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"],
            "Operations": [
                {"method": "POST", "bulkId": "u1", "status": "201",
                 "location": "https://gw/scim/v2/Users/new-id"},
                {"method": "PATCH", "status": "200", "location": "https://gw/scim/v2/Groups/g1"},
                {"method": "DELETE", "status": "404", "location": "https://gw/scim/v2/Users/gone"},
                {"method": "PUT", "status": 200, "location": "https://gw/scim/v2/Users/u9",
                 "response": {"id": "u9", "userName": "x", "active": false}}
            ]
        });
        let events = bulk_events(
            "evt_b",
            "2026-01-01T00:00:00Z",
            "acme",
            EventData::Resource,
            &request,
            &response,
        );
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "scim.user.created",
                "scim.group.membership.changed",
                "scim.user.deactivated"
            ]
        );
        assert_eq!(events[0]["subject"], "new-id");
        assert_eq!(events[0]["id"], "evt_b-0");
        assert_eq!(events[1]["subject"], "g1");
        assert_eq!(events[2]["id"], "evt_b-3");
        assert_eq!(events[2]["data"]["userName"], "x");
    }

    #[test]
    fn failed_and_unnameable_operations_make_no_event() {
        let request = json!({"Operations": [{"method": "POST", "path": "/Users", "data": {}}]});
        let response = json!({"Operations": [
            {"method": "POST", "status": "409"},
            {"method": "POST", "status": "201"},
            {"method": "BREW", "status": "200", "location": "/Users/x"}
        ]});
        assert!(bulk_changes(&request, &response).is_empty());
    }

    #[test]
    fn paths_give_endpoint_and_id() {
        assert_eq!(endpoint_and_id("/Users/a"), (Some("Users"), Some("a")));
        assert_eq!(endpoint_and_id("/Groups"), (Some("Groups"), None));
        assert_eq!(
            endpoint_and_id("https://h/v2/Devices/d1?x=1"),
            (Some("Devices"), Some("d1"))
        );
        assert_eq!(endpoint_and_id(""), (None, None));
    }
}
