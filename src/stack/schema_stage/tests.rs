#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::body::to_bytes;
use super::*;
use crate::scim::error::ScimType;
use crate::scim::query::encode_component;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::HeaderValue;
use serde_json::json;
use serde_json::Value;

const BASE: &str = "https://gw.example/tenants/acme/scim/v2";

fn legacy_hr() -> TenantSchema {
    let registry = crate::scim::schema::SchemaRegistry::builtin();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/mappings/legacy-hr.toml");
    let mapping = CompiledMapping::load(&path, &registry).unwrap();
    TenantSchema::new(registry, Some(mapping), true, 1 << 20)
}

fn json_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h
}

fn run<'t>(
    schema: &'t TenantSchema,
    method: Method,
    path: &str,
    query: Option<&str>,
    body: Value,
) -> ScimResult<Stage<'t>> {
    let bytes = if body.is_null() {
        Bytes::new()
    } else {
        to_bytes(&body)
    };
    let route = Route::parse(path, &schema.registry)?;
    let headers = json_headers();
    inbound(
        schema,
        request(&method, &headers, &route),
        query.map(str::to_string),
        bytes,
        BASE,
    )
}

/// A request the audit does not record.
fn request<'r>(method: &'r Method, headers: &'r HeaderMap, route: &'r Route) -> Request<'r> {
    Request {
        method,
        headers,
        route,
        audited: false,
    }
}

fn users() -> Route {
    Route::parse("/Users", &crate::scim::schema::SchemaRegistry::builtin()).unwrap()
}

fn forwarded(stage: ScimResult<Stage<'_>>) -> Inbound<'_> {
    match stage.unwrap() {
        Stage::Forward(i) => i,
        Stage::Answer(a) => panic!("answered {}", a.status()),
    }
}

fn body_of(i: &Inbound<'_>) -> Value {
    serde_json::from_slice(&i.body).unwrap()
}

#[test]
fn invalid_writes_are_refused_with_the_attribute_named() {
    let schema = TenantSchema::standard(1 << 20);
    let cases = [
        (
            Method::POST,
            "/Users",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}),
            "userName",
        ),
        (
            Method::POST,
            "/Users",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "b", "active": "yes"}),
            "active",
        ),
        (
            Method::POST,
            "/Users",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "b", "shoeSize": 42}),
            "shoeSize",
        ),
        (
            Method::PUT,
            "/Users/1",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "b", "emails": {"value": "x"}}),
            "emails",
        ),
        (
            Method::POST,
            "/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "members": []}),
            "displayName",
        ),
        (
            Method::PATCH,
            "/Users/1",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "path": "meta.created", "value": "x"}]}),
            "meta",
        ),
        (
            Method::POST,
            "/Bulk",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                   "Operations": [{"method": "POST", "path": "/Users", "bulkId": "q1", "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": 7}}]}),
            "userName",
        ),
        (
            Method::POST,
            "/Users/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName eq"}),
            "filter",
        ),
    ];
    for (method, path, body, named) in cases {
        let e =
            run(&schema, method.clone(), path, None, body.clone()).expect_err(&body.to_string());
        assert_eq!(e.status(), 400, "{method} {path}: {}", e.detail());
        assert!(
            e.detail().contains(named),
            "{method} {path}: {}",
            e.detail()
        );
    }
    let e = run(
        &schema,
        Method::POST,
        "/Bulk",
        None,
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "q1", "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": 7}}]}),
    )
    .unwrap_err();
    assert!(e.detail().contains("bulkId \"q1\""), "{}", e.detail());
}

#[test]
fn syntax_media_type_and_unknown_endpoints() {
    let schema = TenantSchema::standard(1 << 20);
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    let users = users();
    let e = inbound(
        &schema,
        request(&Method::POST, &headers, &users),
        None,
        Bytes::from_static(b"{}"),
        BASE,
    )
    .unwrap_err();
    assert_eq!(e.status(), 415);
    let e = inbound(
        &schema,
        request(&Method::POST, &json_headers(), &users),
        None,
        Bytes::from_static(b"{\"userName\":"),
        BASE,
    )
    .unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::InvalidSyntax));
    let e = run(&schema, Method::GET, "/Widgets", None, Value::Null).unwrap_err();
    assert_eq!(e.status(), 404);
    let e = run(
        &schema,
        Method::GET,
        "/Users",
        Some("filter=userName%20eq"),
        Value::Null,
    )
    .unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::InvalidFilter));
    // Valid requests go on untouched when nothing maps.
    let i = forwarded(run(
        &schema,
        Method::GET,
        "/Users",
        Some("filter=userName%20eq%20%22b%22"),
        Value::Null,
    ));
    assert_eq!(i.query.as_deref(), Some("filter=userName%20eq%20%22b%22"));
    assert_eq!(i.shape, Shape::Opaque);
    let i = forwarded(run(
        &schema,
        Method::POST,
        "/Users",
        None,
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "b", "id": "x"}),
    ));
    assert_eq!(
        body_of(&i),
        json!({"userName": "b", "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]})
    );
}

#[test]
fn discovery_is_the_tenants_view() {
    let schema = legacy_hr();
    let Stage::Answer(a) = run(&schema, Method::GET, "/Schemas", None, Value::Null).unwrap() else {
        panic!("not answered");
    };
    let v: Value = serde_json::from_slice(a.body()).unwrap();
    let ids: Vec<&str> = v["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"urn:ietf:params:scim:schemas:core:2.0:User"),
        "{ids:?}"
    );
    assert!(
        !ids.iter().any(|i| i.contains("legacyhr")),
        "upstream schema leaked: {ids:?}"
    );
    let Stage::Answer(a) = run(
        &schema,
        Method::GET,
        "/ServiceProviderConfig",
        None,
        Value::Null,
    )
    .unwrap() else {
        panic!("not answered");
    };
    let v: Value = serde_json::from_slice(a.body()).unwrap();
    assert_eq!(v["patch"]["supported"], json!(true));
    assert_eq!(
        v["meta"]["location"],
        json!(format!("{BASE}/ServiceProviderConfig"))
    );
    let Stage::Answer(a) = run(
        &schema,
        Method::GET,
        "/ResourceTypes/User",
        None,
        Value::Null,
    )
    .unwrap() else {
        panic!("not answered");
    };
    assert_eq!(a.status(), 200);
    let e = run(&schema, Method::POST, "/Schemas", None, json!({})).unwrap_err();
    assert_eq!(e.status(), 405);
    let e = run(&schema, Method::GET, "/Schemas/urn:nope", None, Value::Null).unwrap_err();
    assert_eq!(e.status(), 404);
}

#[test]
fn a_mapped_tenant_speaks_the_upstreams_names_upstream() {
    let schema = legacy_hr();
    let i = forwarded(run(
        &schema,
        Method::POST,
        "/Users",
        None,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "userName": " BJensen ",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bj@example.com", "type": "work", "primary": true}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"},
            "active": true,
        }),
    ));
    let up = body_of(&i);
    assert_eq!(up["login"], json!("bjensen"));
    assert_eq!(up["mail"], json!("bj@example.com"));
    assert_eq!(up["dept"], json!("S01"));
    assert_eq!(up["active"], json!("Y"));
    assert_eq!(up["source"], json!("scim"));
    assert!(up.get("userName").is_none(), "{up}");
    assert_eq!(i.shape, Shape::Resource);

    let i = forwarded(run(
        &schema,
        Method::GET,
        "/Users",
        Some("filter=userName%20eq%20%22bjensen%22&count=5&sortBy=name.familyName"),
        Value::Null,
    ));
    assert_eq!(
        i.query.as_deref(),
        Some("filter=login%20eq%20%22bjensen%22&count=5&sortBy=lastName")
    );
    assert_eq!(i.shape, Shape::List);

    let i = forwarded(run(
        &schema,
        Method::PATCH,
        "/Users/7",
        None,
        json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "n@example.com"}]}),
    ));
    let ops = body_of(&i)["Operations"].clone();
    assert_eq!(ops[0]["path"], json!("mail"), "{ops}");

    let e = run(
        &schema,
        Method::GET,
        "/Users",
        Some("filter=title%20eq%20%22x%22"),
        Value::Null,
    )
    .unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::InvalidFilter));
    assert!(e.detail().contains("title"), "{}", e.detail());
    // At the root, a filter must read the same for every type: userName
    // is `login` for Users but itself for Groups (unmapped).
    let search = |f: &str| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": f});
    let e = run(
        &schema,
        Method::POST,
        "/.search",
        None,
        search("userName eq \"x\""),
    )
    .unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::InvalidFilter));
    assert!(e.detail().contains("/Users/.search"), "{}", e.detail());
    let i = forwarded(run(
        &schema,
        Method::POST,
        "/.search",
        None,
        search("id eq \"7\""),
    ));
    assert_eq!(i.shape, Shape::Mixed);
    assert_eq!(body_of(&i)["filter"], json!("id eq \"7\""));
    let list = json!({"Resources": [
        {"schemas": ["urn:legacyhr:schemas:Employee"], "id": "7", "login": "bjensen"},
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "8", "displayName": "g"}]});
    let out = outbound(&i, Response::new(to_bytes(&list)));
    let v: Value = serde_json::from_slice(out.body()).unwrap();
    assert_eq!(v["Resources"][0]["userName"], json!("bjensen"), "{v}");
    assert_eq!(v["Resources"][1]["displayName"], json!("g"), "{v}");
}

#[test]
fn answers_come_back_in_the_tenants_names() {
    let schema = legacy_hr();
    let i = forwarded(run(&schema, Method::GET, "/Users/7", None, Value::Null));
    let upstream = json!({"schemas": ["urn:legacyhr:schemas:Employee"], "id": "7", "login": "bjensen",
        "mail": "bj@example.com", "dept": "E01", "active": "N", "rowVersion": 3});
    let mut resp = Response::new(to_bytes(&upstream));
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(1usize));
    let out = outbound(&i, resp);
    let v: Value = serde_json::from_slice(out.body()).unwrap();
    assert_eq!(v["userName"], json!("bjensen"));
    assert_eq!(v["active"], json!(false));
    assert_eq!(
        v["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        json!("Engineering")
    );
    assert!(v.get("rowVersion").is_none(), "hidden attribute shown: {v}");
    assert_eq!(
        out.headers()[CONTENT_LENGTH],
        out.body().len().to_string().as_str()
    );

    let i = forwarded(run(&schema, Method::GET, "/Users", None, Value::Null));
    let list = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 1,
        "Resources": [upstream]});
    let out = outbound(&i, Response::new(to_bytes(&list)));
    let v: Value = serde_json::from_slice(out.body()).unwrap();
    assert_eq!(v["Resources"][0]["userName"], json!("bjensen"));

    let mut err = Response::new(to_bytes(
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "409", "scimType": "uniqueness", "detail": "login already exists"}),
    ));
    *err.status_mut() = http::StatusCode::CONFLICT;
    let out = outbound(&i, err);
    let v: Value = serde_json::from_slice(out.body()).unwrap();
    assert!(v["detail"].as_str().unwrap().contains("userName"), "{v}");
}

#[test]
fn deprovisions_are_recognized() {
    let schema = TenantSchema::standard(1 << 20);
    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    let user = |active: bool| json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "b", "active": active});
    let cases = [
        (Method::DELETE, "/Users/1", Value::Null, true),
        (Method::DELETE, "/Groups/1", Value::Null, false),
        (Method::PUT, "/Users/1", user(false), true),
        (Method::PUT, "/Users/1", user(true), false),
        (
            Method::PATCH,
            "/Users/1",
            patch(json!([{"op": "replace", "path": "active", "value": false}])),
            true,
        ),
        (
            Method::PATCH,
            "/Users/1",
            patch(json!([{"op": "replace", "value": {"active": false}}])),
            true,
        ),
        (
            Method::PATCH,
            "/Users/1",
            patch(json!([{"op": "replace", "path": "active", "value": true}])),
            false,
        ),
        (
            Method::PATCH,
            "/Users/1",
            patch(json!([{"op": "replace", "path": "displayName", "value": "false"}])),
            false,
        ),
    ];
    for (method, path, body, expected) in cases {
        let i = forwarded(run(&schema, method.clone(), path, None, body.clone()));
        assert_eq!(i.deprovision, expected, "{method} {path} {body}");
    }
}

#[test]
fn bulk_answers_are_counted_per_operation() {
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"], "Operations": [
        {"method": "POST", "status": "201"}, {"method": "POST", "status": "409"},
        {"method": "DELETE", "status": 204}, {"method": "PATCH"}]});
    assert_eq!(bulk_outcomes(&to_bytes(&body)), Some((2, 2)));
    assert_eq!(bulk_outcomes(b"not json"), None);
}

fn dept_codes(emulate: bool) -> TenantSchema {
    let registry = crate::scim::schema::SchemaRegistry::builtin();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mapping/store-dept-codes.toml");
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("emulate = true", &format!("emulate = {emulate}"));
    let table = crate::mapping::MappingTable::from_toml(&text).unwrap();
    let mapping = crate::mapping::compile("dept", &table, &registry).unwrap();
    TenantSchema::new(registry, Some(mapping), true, 1 << 20)
}

const DEPT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";

#[test]
fn a_filter_the_mapping_cannot_send_is_emulated_or_refused() {
    let query = format!(
        "filter={}&count=2",
        encode_component(&format!("{DEPT} co \"ngin\""))
    );
    let emulating = dept_codes(true);
    let i = forwarded(run(
        &emulating,
        Method::GET,
        "/Users",
        Some(&query),
        Value::Null,
    ));
    assert!(i.emulated.is_some());
    assert_eq!(i.query, None, "nothing of the query goes upstream");
    assert_eq!(
        i.shape,
        Shape::Opaque,
        "the answer is in the tenant's schema"
    );
    let search = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": format!("{DEPT} co \"ngin\"")
    });
    let i = forwarded(run(
        &emulating,
        Method::POST,
        "/Users/.search",
        None,
        search.clone(),
    ));
    assert!(i.emulated.is_some());
    assert!(i.body.is_empty());
    // A mappable filter still goes upstream, mapped.
    let eq = format!(
        "filter={}",
        encode_component(&format!("{DEPT} eq \"Sales\""))
    );
    let i = forwarded(run(
        &emulating,
        Method::GET,
        "/Users",
        Some(&eq),
        Value::Null,
    ));
    assert!(i.emulated.is_none());
    assert_eq!(i.query.as_deref(), Some("filter=title%20eq%20%22S01%22"));
    // At the root: a clear 400 pointing to the per-type search.
    let e = run(&emulating, Method::POST, "/.search", None, search.clone()).unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::InvalidFilter));
    assert!(e.detail().contains("/Users/.search"), "{}", e.detail());

    let strict = dept_codes(false);
    for e in [
        run(&strict, Method::GET, "/Users", Some(&query), Value::Null).unwrap_err(),
        run(&strict, Method::POST, "/Users/.search", None, search).unwrap_err(),
    ] {
        assert_eq!(e.status(), 400);
        assert_eq!(e.scim_type(), Some(ScimType::InvalidFilter));
        assert!(e.detail().contains(DEPT), "{}", e.detail());
    }
}

/// Large bodies take the blocking pool and come back with the same
/// result, their borrows of the schema found again.
#[tokio::test]
async fn large_bodies_are_staged_off_the_reactor_with_the_same_result() {
    let schema = std::sync::Arc::new(legacy_hr());
    let pad = "x".repeat(crate::offload::INLINE_MAX_BYTES);
    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                      "userName": "Bjensen", "name": {"givenName": pad}});
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "name.givenName", "value": pad}]});
    for (method, path, body) in [
        (Method::POST, "/Users", user),
        (Method::PATCH, "/Users/1", patch),
    ] {
        let bytes = to_bytes(&body);
        assert!(crate::offload::worth_it(bytes.len()));
        let h = json_headers();
        let route = Route::parse(path, &schema.registry).unwrap();
        let path = &route;
        let inline = forwarded(inbound(
            &schema,
            request(&method, &h, path),
            None,
            bytes.clone(),
            BASE,
        ));
        let staged = inbound_bounded(&schema, request(&method, &h, path), None, bytes, BASE).await;
        let staged = forwarded(staged);
        assert_eq!(staged.body, inline.body);
        assert_eq!(staged.shape, inline.shape);
        assert!(std::ptr::eq(
            staged.mapping.unwrap(),
            inline.mapping.unwrap()
        ));
        assert!(staged.table.is_some());
        // The answer, mapped back the same way.
        let employee = json!({"schemas": ["urn:legacyhr:schemas:Employee"], "id": "1",
                              "login": "bjensen", "firstName": pad});
        let answer = || {
            let mut r = Response::new(to_bytes(&employee));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/scim+json"),
            );
            r
        };
        let back = outbound_bounded(&schema, &staged, answer()).await;
        assert_eq!(back.body(), outbound(&inline, answer()).body());
        assert!(String::from_utf8_lossy(back.body()).contains("givenName"));
    }
    // Over the cap: refused before anything else, here too.
    let ops: Vec<Value> = (0..1001)
        .map(|i| json!({"op": "replace", "path": "name.givenName", "value": format!("{i:0>64}")}))
        .collect();
    let body =
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    let one = Route::parse("/Users/1", &schema.registry).unwrap();
    let refused = inbound_bounded(
        &schema,
        request(&Method::PATCH, &json_headers(), &one),
        None,
        to_bytes(&body),
        BASE,
    )
    .await;
    let e = refused.err().unwrap();
    assert_eq!(e.scim_type(), Some(ScimType::TooMany));
}

/// An audited POST or PUT keeps the validation's scan for its record's
/// names; any other request does not.
#[test]
fn an_audited_write_keeps_its_scan() {
    let schema = TenantSchema::standard(1 << 20);
    let body = Bytes::from_static(include_bytes!("../../../benches/load/user.json"));
    let headers = json_headers();
    let one = Route::parse("/Users/1", &schema.registry).unwrap();
    for (method, route) in [(Method::POST, users()), (Method::PUT, one)] {
        for audited in [true, false] {
            let asked = Request {
                audited,
                ..request(&method, &headers, &route)
            };
            let inbound = forwarded(inbound(&schema, asked, None, body.clone(), BASE));
            assert_eq!(inbound.scanned.is_some(), audited, "{method} {audited}");
            if let Some(scanned) = inbound.scanned {
                let names = crate::audit::resource_names_scanned(&scanned);
                assert_eq!(names, crate::audit::resource_names_raw(&body));
            }
        }
    }
}
