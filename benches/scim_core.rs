//! Micro-benchmarks of the pure SCIM hot paths: filter parse and
//! evaluate, PATCH apply, validation of a typical User, projection of a
//! Group with 10,000 members, and serializing a ListResponse of 1,000
//! Users. Fixtures are shared with the tests (`tests/fixtures/`).
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use scim_gateway::scim::filter::{EvalContext, Filter};
use scim_gateway::scim::patch::{apply_patch, PatchRequest};
use scim_gateway::scim::projection::Projection;
use scim_gateway::scim::query::list_response;
use scim_gateway::scim::schema::SchemaRegistry;
use scim_gateway::scim::validate::{validate_resource, validate_resource_owned};
use scim_gateway::scim::validate_raw::verbatim;
use serde_json::{json, Value};

const USER: &str = include_str!("../tests/fixtures/user_full.json");
const FILTER: &str = r#"userName eq "bjensen" and (emails[type eq "work" and value co "@example.com"] or meta.lastModified gt "2011-05-13T04:42:34Z") and not (title pr)"#;

fn user() -> Value {
    serde_json::from_str(USER).unwrap_or(Value::Null)
}

fn filters(c: &mut Criterion) {
    let registry = SchemaRegistry::builtin();
    let Some(rt) = registry.resource_type("User") else {
        return;
    };
    let ctx = EvalContext {
        registry: &registry,
        resource_type: rt,
    };
    let user = user();
    c.bench_function("filter/parse", |b| {
        b.iter(|| Filter::parse(black_box(FILTER)))
    });
    if let Ok(filter) = Filter::parse(FILTER) {
        c.bench_function("filter/evaluate", |b| {
            b.iter(|| black_box(&filter).matches(black_box(&user), &ctx))
        });
    }
}

fn patch(c: &mut Criterion) {
    let registry = SchemaRegistry::builtin();
    let Some(rt) = registry.resource_type("User") else {
        return;
    };
    let user = user();
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "replace", "path": "name.givenName", "value": "Babs"},
            {"op": "add", "path": "emails", "value": [{"value": "babs@home.example.com", "type": "home"}]},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "bjensen@corp.example.com"},
            {"op": "remove", "path": "phoneNumbers[type eq \"fax\"]"},
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"},
            {"op": "replace", "value": {"active": false, "title": "Tour Lead"}}
        ]
    });
    let Ok(request) = PatchRequest::parse(&body) else {
        return;
    };
    c.bench_function("patch/parse", |b| {
        b.iter(|| PatchRequest::parse(black_box(&body)))
    });
    c.bench_function("patch/apply", |b| {
        b.iter(|| apply_patch(&registry, rt, black_box(&user), black_box(&request)))
    });
}

fn validation(c: &mut Criterion) {
    let registry = SchemaRegistry::builtin();
    let Some(rt) = registry.resource_type("User") else {
        return;
    };
    let user = user();
    let bytes = serde_json::to_vec(&user).unwrap_or_default();
    c.bench_function("validate/user_parse_only", |b| {
        b.iter(|| {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(
                &bytes,
            )))
        })
    });
    c.bench_function("validate/user_serialize_only", |b| {
        b.iter(|| black_box(serde_json::to_vec(black_box(&user))))
    });
    c.bench_function("validate/user", |b| {
        b.iter(|| validate_resource(&registry, rt, black_box(&user), None))
    });
    // The gateway's two paths from request bytes to forwarded bytes: the
    // full one (parse, validate, serialize) and the borrowed one
    // (validate_raw::verbatim), side by side.
    let body = bytes::Bytes::from(bytes);
    c.bench_function("validate/user_bytes_full", |b| {
        b.iter(|| {
            let value: serde_json::Value =
                serde_json::from_slice(black_box(&body)).unwrap_or_default();
            let valid = validate_resource_owned(&registry, rt, value, None);
            black_box(valid.map(|v| serde_json::to_vec(&v).unwrap_or_default()))
        })
    });
    c.bench_function("validate/user_bytes_verbatim", |b| {
        b.iter(|| black_box(verbatim(&registry, rt, black_box(&body))))
    });
}

fn projection(c: &mut Criterion) {
    let registry = SchemaRegistry::builtin();
    let Some(rt) = registry.resource_type("Group") else {
        return;
    };
    let members: Vec<Value> = (0..10_000)
        .map(|i| {
            json!({
                "value": format!("2819c223-7f76-453a-919d-{i:012}"),
                "$ref": format!("https://example.com/v2/Users/2819c223-7f76-453a-919d-{i:012}"),
                "display": format!("User {i}"),
                "type": "User"
            })
        })
        .collect();
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Everyone",
        "members": members,
        "meta": {"resourceType": "Group", "version": "W/\"3694e05e9dff592\""}
    });
    let cases = [
        ("projection/group_10k/default", None, None),
        (
            "projection/group_10k/attributes_displayName",
            Some("displayName"),
            None,
        ),
        (
            "projection/group_10k/excluded_members",
            None,
            Some("members"),
        ),
        (
            "projection/group_10k/attributes_members.value",
            Some("members.value"),
            None,
        ),
    ];
    for (name, attributes, excluded) in cases {
        let Ok(p) = Projection::parse(attributes, excluded) else {
            continue;
        };
        c.bench_function(name, |b| {
            b.iter(|| p.apply(&registry, rt, black_box(&group)))
        });
    }
}

fn list_serialize(c: &mut Criterion) {
    let user = user();
    let users: Vec<Value> = (0..1000)
        .map(|i| {
            let mut u = user.clone();
            u["id"] = json!(format!("2819c223-7f76-453a-919d-{i:012}"));
            u["userName"] = json!(format!("user{i}@example.com"));
            u
        })
        .collect();
    let body = list_response(1000, 1, users);
    c.bench_function("list_response/1000_users/serialize", |b| {
        b.iter(|| serde_json::to_vec(black_box(&body)))
    });
}

criterion_group!(
    benches,
    filters,
    patch,
    validation,
    projection,
    list_serialize
);
criterion_main!(benches);
