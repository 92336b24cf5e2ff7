//! How the PATCH path scales with the number of operations, up to the
//! default `max_patch_operations` (1000): the Entra ID dialect's
//! normalization (operation names, remove-by-list expansion, merging of
//! sub-attribute operations on one filtered element), parsing and the
//! schema check, and application to a resource. Each benchmark is named
//! `stage/shape/N`; divide by N for the time per operation, which should
//! stay flat as N grows (no step may be quadratic in the operations).
//!
//! Shapes:
//! - `entra_merge`: Entra's one-operation-per-sub-attribute updates of
//!   filtered elements, `addresses[type eq "tK"].locality`, `.region`,
//!   ... (four per element), which the dialect merges into one `add` per
//!   element; half on `addresses`, half on another attribute name so the
//!   merge must look past operations it does not group.
//! - `entra_spread`: the shape of the security finding that set the cap:
//!   each operation a sub-attribute of a filtered element of a different
//!   attribute (`x17[type eq "work"].value`), so no two merge and nothing
//!   stops the merge from looking further (the look-ahead merge was
//!   quadratic here). Validation refuses the unknown names afterwards;
//!   the dialect's work is what is measured.
//! - `entra_members`: an Entra group update, N operations that remove
//!   (the first half) or add one member each (`Remove`/`Add` of `members`
//!   with a value list; the dialect turns the removes into filtered
//!   ones), applied to a group that already has N members.
//! - `plain`: canonical operations on a User (attribute replaces, adds to
//!   a multi-valued attribute, sub-attribute updates).
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use scim_gateway::dialect::{normalize_patch, Profile, RuleSet};
use scim_gateway::scim::patch::{apply_patch, check_patch, PatchRequest};
use scim_gateway::scim::schema::SchemaRegistry;
use serde_json::{json, Value};
use std::time::Duration;

const SIZES: [usize; 3] = [10, 100, 1000];

/// Builds a body or a resource for N operations.
type Make = fn(usize) -> Value;
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn envelope(ops: Vec<Value>) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// Entra's sub-attribute updates, four per filtered element.
fn entra_merge(n: usize) -> Value {
    let subs = ["streetAddress", "locality", "region", "postalCode"];
    let ops = (0..n)
        .map(|i| {
            let element = i / 4;
            let attr = if element % 2 == 0 {
                "addresses"
            } else {
                "phoneNumbers"
            };
            let path = if attr == "addresses" {
                format!("addresses[type eq \"t{element}\"].{}", subs[i % 4])
            } else {
                format!("phoneNumbers[type eq \"t{element}\"].value")
            };
            json!({"op": "Replace", "path": path, "value": format!("v{i}")})
        })
        .collect();
    envelope(ops)
}

/// Sub-attribute operations on filtered elements of N different
/// attributes.
fn entra_spread(n: usize) -> Value {
    let ops = (0..n)
        .map(|i| json!({"op": "Replace", "path": format!("x{i}[type eq \"work\"].value"), "value": "v"}))
        .collect();
    envelope(ops)
}

fn member(i: usize) -> String {
    format!("2819c223-7f76-453a-919d-{i:012}")
}

/// Entra's member updates: removes of existing members (by value list),
/// then adds of new ones, one member per operation.
fn entra_members(n: usize) -> Value {
    let ops = (0..n)
        .map(|i| {
            if i < n / 2 {
                json!({"op": "Remove", "path": "members", "value": [{"value": member(2 * i)}]})
            } else {
                json!({"op": "Add", "path": "members", "value": [{"value": member(n + i)}]})
            }
        })
        .collect();
    envelope(ops)
}

fn group(n: usize) -> Value {
    let members: Vec<Value> = (0..n).map(|i| json!({"value": member(i)})).collect();
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Everyone",
        "members": members
    })
}

/// Canonical operations on a User.
fn plain(n: usize) -> Value {
    let ops = (0..n)
        .map(|i| match i % 4 {
            0 => json!({"op": "replace", "path": "name.givenName", "value": format!("g{i}")}),
            1 => json!({"op": "add", "path": "emails", "value": [{"value": format!("u{i}@example.com"), "type": "other"}]}),
            2 => json!({"op": "replace", "path": "title", "value": format!("t{i}")}),
            _ => json!({"op": "add", "value": {"nickName": format!("n{i}"), "name.familyName": format!("f{i}")}}),
        })
        .collect();
    envelope(ops)
}

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
        "addresses": [{"type": "t0", "locality": "x"}],
        "phoneNumbers": [{"type": "t1", "value": "1"}]
    })
}

/// A User with the elements `entra_merge` updates (one per four
/// operations, so the filters select something).
fn addressed_user(n: usize) -> Value {
    let mut user = user();
    let elements = n.div_ceil(4);
    user["addresses"] = (0..elements)
        .step_by(2)
        .map(|k| json!({"type": format!("t{k}"), "locality": "x"}))
        .collect();
    user["phoneNumbers"] = (1..elements)
        .step_by(2)
        .map(|k| json!({"type": format!("t{k}"), "value": "1"}))
        .collect();
    user
}

fn scaling(c: &mut Criterion) {
    let registry = SchemaRegistry::builtin();
    let (Some(users), Some(groups)) = (
        registry.resource_type("User"),
        registry.resource_type("Group"),
    ) else {
        return;
    };
    let entra = RuleSet::for_profile(Profile::Entra);
    let mut g = c.benchmark_group("patch_scaling");
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    g.sample_size(20);
    let shapes: [(&str, Make, _, Make); 4] = [
        ("entra_merge", entra_merge, users, addressed_user),
        ("entra_spread", entra_spread, users, |_| user()),
        ("entra_members", entra_members, groups, group),
        ("plain", plain, users, |_| user()),
    ];
    for (shape, body_of, rt, resource_of) in shapes {
        for n in SIZES {
            let body = body_of(n);
            let resource = resource_of(n);
            g.throughput(Throughput::Elements(n as u64));
            g.bench_function(BenchmarkId::new(format!("dialect/{shape}"), n), |b| {
                b.iter(|| {
                    let mut body = body.clone();
                    normalize_patch(&mut body, &entra, &registry, rt);
                    black_box(body)
                })
            });
            let mut normalized = body.clone();
            normalize_patch(&mut normalized, &entra, &registry, rt);
            if shape == "entra_spread" {
                // Refused by the schema check: only the dialect counts.
                continue;
            }
            g.bench_function(BenchmarkId::new(format!("check/{shape}"), n), |b| {
                b.iter(|| {
                    let request = PatchRequest::parse(black_box(&normalized));
                    black_box(request.map(|r| check_patch(&registry, rt, &r)))
                })
            });
            let Ok(request) = PatchRequest::parse(&normalized) else {
                continue;
            };
            g.bench_function(BenchmarkId::new(format!("apply/{shape}"), n), |b| {
                b.iter(|| black_box(apply_patch(&registry, rt, &resource, &request)))
            });
        }
    }
    g.finish();
}

/// The request of the finding: 4,000 `entra_spread` operations (about
/// 250 KB), through the dialect, parsing and the schema check (what the
/// gateway did with it before refusing the unknown names). Above the
/// default cap now: measured to compare with the time it took before.
fn finding(c: &mut Criterion) {
    let registry = SchemaRegistry::builtin();
    let Some(users) = registry.resource_type("User") else {
        return;
    };
    let entra = RuleSet::for_profile(Profile::Entra);
    let body = entra_spread(4000);
    let mut g = c.benchmark_group("finding");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(100));
    g.measurement_time(Duration::from_secs(1));
    g.bench_function("entra_spread_4000", |b| {
        b.iter(|| {
            let mut body = body.clone();
            normalize_patch(&mut body, &entra, &registry, users);
            let request = PatchRequest::parse(&body);
            black_box(request.map(|r| check_patch(&registry, users, &r)))
        })
    });
    g.finish();
}

criterion_group!(benches, scaling, finding);
criterion_main!(benches);
