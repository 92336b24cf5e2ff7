//! Micro-benchmarks of the mapping engine on the legacy HR table
//! (`config/mappings/legacy-hr.toml`) and the RFC 7643 example User
//! (`tests/fixtures/user_full.json`): a User both ways, a filter rewrite, a
//! PATCH rewrite, and a 100-item ListResponse back to the tenant.
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use scim_gateway::mapping::CompiledMapping;
use scim_gateway::scim::filter::Filter;
use scim_gateway::scim::patch::PatchRequest;
use scim_gateway::scim::query::list_response;
use scim_gateway::scim::schema::SchemaRegistry;
use serde_json::{json, Value};
use std::path::Path;

const USER: &str = include_str!("../tests/fixtures/user_full.json");
const FILTER: &str = r#"userName eq "bjensen" and (emails[type eq "work" and value co "@example.com"] or name.givenName sw "Ba") and active eq true and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales""#;

fn mapping(c: &mut Criterion) {
    let table = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/mappings/legacy-hr.toml");
    let Ok(compiled) = CompiledMapping::load(&table, &SchemaRegistry::builtin()) else {
        return;
    };
    let Some(users) = compiled.resource("User") else {
        return;
    };
    let user: Value = serde_json::from_str(USER).unwrap_or(Value::Null);
    let Ok(upstream) = users.to_upstream(&user) else {
        return;
    };
    c.bench_function("mapping/user_to_upstream", |b| {
        b.iter(|| users.to_upstream(black_box(&user)))
    });
    c.bench_function("mapping/user_to_tenant", |b| {
        b.iter(|| users.to_tenant(black_box(&upstream)))
    });
    if let Ok(filter) = Filter::parse(FILTER) {
        c.bench_function("mapping/filter_rewrite", |b| {
            b.iter(|| users.filter_to_upstream(black_box(&filter)))
        });
    }
    let patch = PatchRequest::parse(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "replace", "path": "name.givenName", "value": "Barbara"},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@example.com"},
            {"op": "replace", "path": "active", "value": false},
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"},
            {"op": "replace", "value": {"name": {"familyName": "Jensen"}, "phoneNumbers": [{"type": "mobile", "value": "555"}]}},
        ],
    }));
    if let Ok(patch) = patch {
        c.bench_function("mapping/patch_rewrite", |b| {
            b.iter(|| users.patch_to_upstream(black_box(&patch)))
        });
    }
    let list = list_response(100, 1, vec![upstream; 100]);
    c.bench_function("mapping/list_100_to_tenant", |b| {
        b.iter(|| users.list_to_tenant(black_box(&list)))
    });
}

criterion_group!(benches, mapping);
criterion_main!(benches);
