//! Large groups in the built-in store (issue 21, item 4): a Group with
//! 1,000 and with 100,000 User members, and per size what one member
//! change and the usual reads cost through the store's in-process API
//! (`Store::handle_at`, the call the gateway makes for a builtin
//! upstream):
//!
//! - `patch_add/N`: PATCH adding one member (`add` of `members` with one
//!   value), the response projected with `excludedAttributes=members`;
//! - `patch_remove/N`: PATCH removing one member by filter
//!   (`remove` of `members[value eq "ID"]`), same projection;
//! - `patch_add_no_parameters/N`: the add as the IdPs send it, with no
//!   `attributes` parameters: answered 204 (before, with the whole Group);
//! - `get_excluded_members/N`: GET of the Group with
//!   `excludedAttributes=members`;
//! - `get_member_groups/N`: GET of one member with `attributes=groups`.
//!
//! Then the same member changes through the whole gateway pipeline in
//! process (`large_groups_gateway`, see `gateway.rs`), natively and with
//! PATCH emulated (GET + apply + PUT) for an upstream without PATCH, and
//! through the gateway to the store over HTTP (`large_groups_http`, see
//! `over_http.rs`).
//!
//! Each timed add is followed by an untimed remove of the same member
//! (and each timed remove preceded by an untimed add), so the Group keeps
//! its size. The time per member change should not grow with N.
use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use http::Request;
use scim_gateway::store::{Store, StoreConfig};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const BASE: &str = "http://acme.example/scim/v2";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SIZES: [usize; 2] = [1_000, 100_000];

/// The group sizes to run: all of them under `cargo bench`; under `cargo
/// test` (each benchmark once, as a smoke test) only sizes up to 1,000,
/// since building 100,000 users is most of a run and proves nothing more.
pub(crate) fn sizes(all: &[usize]) -> Vec<usize> {
    let benching = std::env::args().any(|a| a == "--bench");
    all.iter()
        .copied()
        .filter(|&n| benching || n <= 1_000)
        .collect()
}
/// Users outside the Group that the add/remove benchmarks cycle through.
const SPARE: usize = 64;

fn call(store: &Store, method: &str, path: &str, query: &str, body: Option<&Value>) -> Value {
    let uri = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    let body = body
        .map(|b| Bytes::from(serde_json::to_vec(b).unwrap_or_default()))
        .unwrap_or_default();
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/scim+json")
        .body(body)
        .unwrap_or_default();
    let resp = store.handle_at(&req, BASE, path);
    serde_json::from_slice(resp.body()).unwrap_or(Value::Null)
}

fn create_user(store: &Store, name: &str) -> String {
    let u = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
    });
    let created = call(store, "POST", "/Users", "", Some(&u));
    created["id"].as_str().unwrap_or_default().to_string()
}

/// A Group of `n` new members in `store` and `SPARE` new Users outside
/// it; `tag` keeps the names unique when a store holds several Groups.
fn populate(store: &Store, n: usize, tag: &str) -> Option<(String, Vec<String>, Vec<String>)> {
    let members: Vec<String> = (0..n)
        .map(|i| create_user(store, &format!("{tag}m{i}@example.com")))
        .collect();
    let spare: Vec<String> = (0..SPARE)
        .map(|i| create_user(store, &format!("{tag}s{i}@example.com")))
        .collect();
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": format!("{tag}big{n}"),
        "members": members.iter().map(|id| json!({"value": id})).collect::<Vec<_>>(),
    });
    let created = call(store, "POST", "/Groups", "", Some(&group));
    let gid = created["id"].as_str()?.to_string();
    let got = call(store, "GET", &format!("/Groups/{gid}"), "", None);
    let count = got["members"].as_array().map_or(0, Vec::len);
    if count != n {
        eprintln!("large_groups: the Group holds {count} members, not {n}; not measured");
        return None;
    }
    Some((gid, members, spare))
}

pub(crate) fn add_op(id: &str) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": id}]}
    ]})
}

pub(crate) fn remove_op(id: &str) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "remove", "path": format!("members[value eq \"{id}\"]")}
    ]})
}

fn large_groups(c: &mut Criterion) {
    let mut g = c.benchmark_group("large_groups");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    for n in sizes(&SIZES) {
        let store = Store::new(StoreConfig {
            max_resources: n + SPARE + 10,
            ..Default::default()
        });
        let Some((gid, members, spare)) = populate(&store, n, "") else {
            continue;
        };
        let path = format!("/Groups/{gid}");
        let excluded = "excludedAttributes=members";
        let patch = |query: &str, body: &Value| call(&store, "PATCH", &path, query, Some(body));
        let mut next = 0usize;
        let mut cycle = || {
            next += 1;
            spare[next % SPARE].clone()
        };
        g.bench_function(BenchmarkId::new("patch_add", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let id = cycle();
                    let body = add_op(&id);
                    let t = Instant::now();
                    black_box(patch(excluded, &body));
                    total += t.elapsed();
                    patch(excluded, &remove_op(&id));
                }
                total
            })
        });
        g.bench_function(BenchmarkId::new("patch_remove", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let id = cycle();
                    patch(excluded, &add_op(&id));
                    let body = remove_op(&id);
                    let t = Instant::now();
                    black_box(patch(excluded, &body));
                    total += t.elapsed();
                }
                total
            })
        });
        g.bench_function(BenchmarkId::new("patch_add_no_parameters", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let id = cycle();
                    let body = add_op(&id);
                    let t = Instant::now();
                    black_box(patch("", &body));
                    total += t.elapsed();
                    patch(excluded, &remove_op(&id));
                }
                total
            })
        });
        g.bench_function(BenchmarkId::new("get_excluded_members", n), |b| {
            b.iter(|| black_box(call(&store, "GET", &path, excluded, None)))
        });
        let member = members.get(n / 2).cloned().unwrap_or_default();
        let member_path = format!("/Users/{member}");
        g.bench_function(BenchmarkId::new("get_member_groups", n), |b| {
            b.iter(|| black_box(call(&store, "GET", &member_path, "attributes=groups", None)))
        });
    }
    g.finish();
}

mod gateway;
mod over_http;

criterion_group!(
    benches,
    large_groups,
    gateway::through_gateway,
    over_http::over_http
);
criterion_main!(benches);
