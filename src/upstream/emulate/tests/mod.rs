#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The emulations against an in-process fake upstream: the built-in store
//! behind a plain async closure (PATCH switched off where it matters).
use super::*;
use crate::store::{Store, StoreConfig};
use http::header::ETAG;
use http::{HeaderMap, Request};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const BASE: &str = "http://up.invalid/scim/v2";

fn request(method: Method, path: &str, query: Option<&str>, body: Value) -> UpstreamRequest {
    let body = if body.is_null() {
        Bytes::new()
    } else {
        Bytes::from(serde_json::to_vec(&body).unwrap())
    };
    let mut headers = HeaderMap::new();
    if !body.is_empty() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    }
    UpstreamRequest {
        method,
        path: path.into(),
        query: query.map(str::to_string),
        headers,
        body,
        request_id: "t".into(),
        client_ip: std::net::IpAddr::from([127, 0, 0, 1]),
        forwarded_for: None,
        client_proto: "https",
        client_host: "gw".into(),
        public_base: None,
        filtered_upsert: false,
    }
}

use serde_json::Value;

/// The store as "the upstream": every call counted.
fn call(store: &Store, calls: &AtomicUsize, req: UpstreamRequest) -> Response<Bytes> {
    calls.fetch_add(1, Ordering::SeqCst);
    let uri = match &req.query {
        Some(q) => format!("{BASE}{}?{q}", req.path),
        None => format!("{BASE}{}", req.path),
    };
    let mut r = Request::builder().method(req.method.clone()).uri(uri);
    if let Some(h) = r.headers_mut() {
        *h = req.headers.clone();
    }
    store.handle_at(&r.body(req.body.clone()).unwrap(), BASE, &req.path)
}

fn emulation(settings: EmulationSettings) -> Emulation {
    Emulation {
        settings,
        discovery: Discovery::default(),
    }
}

fn ctx(e: &Emulation) -> Context<'_> {
    Context {
        upstream: "fake",
        emulation: e,
        builtin: false,
        deadline: Deadline {
            at: tokio::time::Instant::now() + Duration::from_secs(10),
            within: Duration::from_secs(10),
        },
        patch_view: None,
    }
}

fn legacy_store() -> Store {
    Store::new(StoreConfig {
        patch: false,
        ..StoreConfig::default()
    })
}

fn body(r: &Response<Bytes>) -> Value {
    serde_json::from_slice(r.body()).unwrap()
}

fn create(store: &Store, path: &str, v: Value) -> String {
    let calls = AtomicUsize::new(0);
    let r = call(store, &calls, request(Method::POST, path, None, v));
    assert_eq!(r.status(), 201, "{:?}", r.body());
    body(&r)["id"].as_str().unwrap().to_string()
}

fn group(store: &Store) -> String {
    create(
        store,
        "/Groups",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g"}),
    )
}

fn add_member(value: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
           "Operations": [{"op": "add", "path": "members", "value": [{"value": value}]}]})
}

#[tokio::test]
async fn auto_discovers_no_patch_and_emulates_it_with_get_and_put() {
    let store = legacy_store();
    let (g, u) = (
        group(&store),
        create(
            &store,
            "/Users",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a"}),
        ),
    );
    let calls = AtomicUsize::new(0);
    let send = |r| std::future::ready(Ok(call(&store, &calls, r)));
    let e = emulation(EmulationSettings::default());
    let path = format!("/Groups/{g}");
    let r = forward(
        &ctx(&e),
        request(Method::PATCH, &path, None, add_member(&u)),
        &send,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.body());
    assert_eq!(body(&r)["members"][0]["value"], json!(u));
    // The PATCH (501: learnt), GET, PUT; the next PATCH goes straight to
    // GET + PUT.
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let r = forward(
        &ctx(&e),
        request(Method::PATCH, &path, None, add_member(&u)),
        &send,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        body(&r)["members"].as_array().unwrap().len(),
        1,
        "add is idempotent"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        5,
        "GET and PUT, no second look"
    );
}

#[tokio::test]
async fn a_write_between_read_and_put_is_retried_then_bounded() {
    let store = legacy_store();
    let g = group(&store);
    let path = format!("/Groups/{g}");
    let calls = AtomicUsize::new(0);
    // Another writer renames the group before every PUT of ours.
    let send = |r: UpstreamRequest| {
        if r.method == Method::PUT {
            let rename = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                "displayName": format!("n{}", calls.load(Ordering::SeqCst))});
            call(&store, &calls, request(Method::PUT, &path, None, rename));
        }
        std::future::ready(Ok(call(&store, &calls, r)))
    };
    let e = emulation(EmulationSettings {
        patch: Support::No,
        patch_attempts: 2,
        ..EmulationSettings::default()
    });
    let err = forward(
        &ctx(&e),
        request(Method::PATCH, &path, None, add_member("x")),
        &send,
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), 412);
    assert!(
        err.scim().detail().contains("2 attempts"),
        "{}",
        err.scim().detail()
    );
    let r = call(
        &store,
        &calls,
        request(Method::GET, &path, None, Value::Null),
    );
    assert!(body(&r).get("members").is_none(), "nothing written over");
}

#[tokio::test]
async fn the_clients_if_match_is_checked_by_the_emulated_patch() {
    let store = legacy_store();
    let g = group(&store);
    let calls = AtomicUsize::new(0);
    let send = |r| std::future::ready(Ok(call(&store, &calls, r)));
    let e = emulation(EmulationSettings {
        patch: Support::No,
        ..EmulationSettings::default()
    });
    let mut req = request(
        Method::PATCH,
        &format!("/Groups/{g}"),
        None,
        add_member("x"),
    );
    req.headers
        .insert(IF_MATCH, HeaderValue::from_static("W/\"stale\""));
    let err = forward(&ctx(&e), req, &send).await.unwrap_err();
    assert_eq!(err.status(), 412);
}

#[tokio::test]
async fn schema_less_patch_of_an_unknown_attribute() {
    let resource = json!({"id": "1", "userName": "a", "flags": ["x"], "office": {"room": "1"}});
    let patch = crate::scim::patch::PatchRequest::parse(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "add", "path": "flags", "value": ["y"]},
            {"op": "replace", "path": "office.room", "value": "2"},
            {"op": "add", "path": "level", "value": 3}
        ]
    }))
    .unwrap();
    let out = schema_less::apply("Users", &resource, &patch).unwrap();
    assert_eq!(out["flags"], json!(["x", "y"]));
    assert_eq!(out["office"]["room"], json!("2"));
    assert_eq!(out["level"], json!(3));
    let out = schema_less::apply("Devices", &resource, &patch).unwrap();
    assert_eq!(out["userName"], json!("a"));
    assert_eq!(out["level"], json!(3));
}

#[tokio::test]
async fn bulk_runs_op_by_op_with_bulk_id_references() {
    let store = legacy_store();
    let calls = AtomicUsize::new(0);
    let send = |r| std::future::ready(Ok(call(&store, &calls, r)));
    let e = emulation(EmulationSettings {
        bulk: Support::No,
        patch: Support::No,
        ..EmulationSettings::default()
    });
    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "g",
             "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G",
                      "members": [{"value": "bulkId:u"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u",
             "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob"}},
            {"method": "PATCH", "path": "/Groups/bulkId:g",
             "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                      "Operations": [{"op": "replace", "path": "displayName", "value": "H"}]}},
            {"method": "DELETE", "path": "/Users/missing"}
        ]
    });
    let r = forward(&ctx(&e), request(Method::POST, "/Bulk", None, bulk), &send)
        .await
        .unwrap();
    let out = body(&r);
    let statuses: Vec<&str> = out["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["201", "201", "200", "404"], "{out}");
    let groups = call(
        &store,
        &calls,
        request(Method::GET, "/Groups", None, Value::Null),
    );
    let g = &body(&groups)["Resources"][0];
    assert_eq!(g["displayName"], json!("H"));
    assert_eq!(g["members"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn filters_are_evaluated_over_all_pages_and_bounded() {
    let store = legacy_store();
    for i in 0..25 {
        create(
            &store,
            "/Users",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("u{i:02}"), "active": i % 2 == 0}),
        );
    }
    let calls = AtomicUsize::new(0);
    let send = |r| std::future::ready(Ok(call(&store, &calls, r)));
    let e = emulation(EmulationSettings {
        filter: Support::No,
        filter_page_size: 10,
        ..EmulationSettings::default()
    });
    let q = "filter=active%20eq%20true&sortBy=userName&sortOrder=descending&count=3";
    let r = forward(
        &ctx(&e),
        request(Method::GET, "/Users", Some(q), Value::Null),
        &send,
    )
    .await
    .unwrap();
    let out = body(&r);
    assert_eq!(out["totalResults"], json!(13), "{out}");
    let names: Vec<&str> = out["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["u24", "u22", "u20"]);
    assert_eq!(calls.load(Ordering::SeqCst), 3, "three pages of 10");
    let tight = emulation(EmulationSettings {
        filter: Support::No,
        filter_page_size: 10,
        filter_max_pages: 2,
        ..EmulationSettings::default()
    });
    let err = forward(
        &ctx(&tight),
        request(Method::GET, "/Users", Some(q), Value::Null),
        &send,
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.status(), err.scim().scim_type()),
        (400, Some(crate::scim::ScimType::TooMany))
    );
    assert!(err.scim().detail().contains("filter_max_pages"));
}

#[tokio::test]
async fn etags_are_derived_and_preconditions_evaluated_at_the_gateway() {
    // An upstream without versions: the store's answers, stripped of them.
    let store = Store::new(StoreConfig::default());
    let id = create(
        &store,
        "/Users",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "e"}),
    );
    let calls = AtomicUsize::new(0);
    let send = |r| {
        let mut resp = call(&store, &calls, r);
        resp.headers_mut().remove(ETAG);
        if let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(resp.body()) {
            if let Some(Value::Object(m)) = o.get_mut("meta") {
                m.remove("version");
            }
            *resp.body_mut() = Bytes::from(serde_json::to_vec(&o).unwrap());
        }
        std::future::ready(Ok(resp))
    };
    let e = emulation(EmulationSettings {
        etag: Support::No,
        ..EmulationSettings::default()
    });
    let path = format!("/Users/{id}");
    let r = forward(
        &ctx(&e),
        request(Method::GET, &path, None, Value::Null),
        &send,
    )
    .await
    .unwrap();
    let tag = r.headers().get(ETAG).unwrap().to_str().unwrap().to_string();
    assert!(tag.starts_with("W/\""));
    assert_eq!(
        body(&r)["meta"]["version"],
        json!(tag),
        "ETag equals meta.version"
    );
    let mut get = request(Method::GET, &path, None, Value::Null);
    get.headers
        .insert(IF_NONE_MATCH, HeaderValue::from_str(&tag).unwrap());
    let r = forward(&ctx(&e), get, &send).await.unwrap();
    assert_eq!(r.status(), 304);
    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "f"});
    let mut put = request(Method::PUT, &path, None, user.clone());
    put.headers
        .insert(IF_MATCH, HeaderValue::from_static("W/\"old\""));
    assert_eq!(
        forward(&ctx(&e), put, &send).await.unwrap_err().status(),
        412
    );
    let mut put = request(Method::PUT, &path, None, user);
    put.headers
        .insert(IF_MATCH, HeaderValue::from_str(&tag).unwrap());
    let r = forward(&ctx(&e), put, &send).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_ne!(
        r.headers().get(ETAG).unwrap().to_str().unwrap(),
        tag,
        "a new version"
    );
}

#[tokio::test]
async fn the_gateways_service_provider_config_advertises_what_it_emulates() {
    let store = legacy_store();
    let calls = AtomicUsize::new(0);
    let send = |r| std::future::ready(Ok(call(&store, &calls, r)));
    let e = emulation(EmulationSettings {
        bulk: Support::No,
        ..EmulationSettings::default()
    });
    let r = forward(
        &ctx(&e),
        request(Method::GET, "/ServiceProviderConfig", None, Value::Null),
        &send,
    )
    .await
    .unwrap();
    let doc = body(&r);
    assert_eq!(doc["patch"]["supported"], json!(true));
    assert_eq!(doc["bulk"]["supported"], json!(true));
    assert_eq!(doc["bulk"]["maxOperations"], json!(1000));
    // ...and learnt the upstream's own answer: no PATCH.
    let known = e
        .discovery
        .supported(
            &ctx(&e),
            &request(Method::GET, "/", None, Value::Null),
            &send,
        )
        .await;
    assert!(!known.patch && known.filter);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "no second look");
}

#[test]
fn an_unreadable_config_counts_as_supported() {
    assert_eq!(discover::read_config(&json!({})), Supported::ALL);
    let s =
        discover::read_config(&json!({"patch": {"supported": false}, "etag": {"supported": true}}));
    assert!(!s.patch && s.etag && s.bulk);
}

mod large;

mod view;

mod bulk_patch;
