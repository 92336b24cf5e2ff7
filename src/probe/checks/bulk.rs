//! Bulk (RFC 7644 §3.7): a User and a Group holding it, linked by
//! `bulkId` (§3.7.2), in one request.
use super::{resources, Ctx, GROUP_SCHEMA};
use crate::probe::Area;
use serde_json::{json, Value};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

pub(super) async fn run(ctx: &mut Ctx<'_>) {
    let p = ctx.prefix.clone();
    let body = json!({
        "schemas": [BULK_REQUEST],
        "Operations": [
            { "method": "POST", "path": "/Users", "bulkId": "probe-user", "data": resources::user(&p, "Carol") },
            { "method": "POST", "path": "/Groups", "bulkId": "probe-group", "data": {
                "schemas": [GROUP_SCHEMA],
                "displayName": format!("{p} bulk group"),
                "members": [{ "value": "bulkId:probe-user" }]
            }}
        ]
    });
    let r = ctx.client.post("/Bulk", &body).await;
    let ops: Vec<Value> = r
        .body
        .get("Operations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // Record what was made before judging anything (the cleanup needs it).
    let mut made = Vec::new();
    for op in &ops {
        if let Some(path) = op
            .get("location")
            .and_then(Value::as_str)
            .and_then(resource_path)
        {
            ctx.made.add(path.clone());
            made.push(path);
        }
    }
    let created = ops.iter().filter(|o| status_of(o) == Some(201)).count();
    let user_id = made
        .iter()
        .find_map(|m| m.strip_prefix("/Users/"))
        .map(str::to_string);
    let group = made.iter().find(|m| m.starts_with("/Groups/")).cloned();
    let linked = match (&user_id, &group) {
        (Some(u), Some(g)) => {
            let read = ctx.client.get(g, None).await;
            resources::member_ids(&read.body) == [u.clone()]
        }
        _ => false,
    };
    let detail = if r.status == 200 {
        format!(
            "{created} of 2 created, member resolved: {}",
            if linked { "yes" } else { "no" }
        )
    } else {
        r.describe()
    };
    ctx.verdict(
        Area::Bulk,
        "Bulk with bulkId references",
        r.status == 200 && created == 2 && linked,
        detail,
    );
}

/// An operation's status: RFC 7644 §3.7.3 makes it a string; some
/// servers send a number or `{ "code": N }` (the RFC's own examples).
fn status_of(op: &Value) -> Option<u16> {
    let s = op.get("status")?;
    match s {
        Value::String(t) => t.parse().ok(),
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::Object(o) => o.get("code").and_then(|c| match c {
            Value::String(t) => t.parse().ok(),
            v => v.as_u64().and_then(|n| u16::try_from(n).ok()),
        }),
        _ => None,
    }
}

/// `/Users/ID` or `/Groups/ID` from a location URL.
fn resource_path(location: &str) -> Option<String> {
    ["/Users/", "/Groups/"].iter().find_map(|t| {
        let at = location.rfind(t)?;
        let rest = &location[at..];
        (rest.len() > t.len()).then(|| rest.to_string())
    })
}
