//! A mapped tenant in front of a SCIM 1.1 upstream (issue 17): the tenant's
//! table (tests/fixtures/mapping/store-legacy.toml) moves `title`,
//! `nickName` and enterprise attributes into the backend's own extension;
//! the 1.1 stage (`dialect = "scim1.1"`) translates the mapped request, and
//! does a PATCH that 1.1 cannot express itself (GET, apply, PUT). Both
//! kinds of PATCH must land in the backend's names and read back in the
//! tenant's.
use crate::support::gateway::{token_for, TestGateway};
use crate::support::scim11::Scim11Service;
use serde_json::{json, Value};
use std::path::Path;

const USER2: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LEGACY: &str = "urn:example:legacy:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Tenant `acme` mapped by the legacy table; tenant `entra` the same with
/// `profile = "entra"`.
fn gateway(backend: &Scim11Service) -> TestGateway {
    let table =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mapping/store-legacy.toml");
    let schema = format!("[tenants.schema]\nmapping = \"{}\"\n", table.display());
    let entra = format!("[tenants.dialect]\nprofile = \"entra\"\n{schema}");
    TestGateway::builder()
        .http("legacy", &backend.url(), "dialect = \"scim1.1\"\n")
        .tenant_with("acme", &["acme.localhost"], "legacy", &schema)
        .tenant_with("entra", &["entra.localhost"], "legacy", &entra)
        .spawn()
}

async fn send(
    gw: &TestGateway,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    send_as(gw, "acme", method, path, body).await
}

async fn send_as(
    gw: &TestGateway,
    tenant: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = gw
        .client()
        .request(
            method,
            format!("{}{path}", gw.base(&format!("{tenant}.localhost"))),
        )
        .bearer_auth(token_for(tenant));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn create(gw: &TestGateway) -> String {
    let (status, user) = send(
        gw,
        reqwest::Method::POST,
        "/Users",
        Some(json!({
            "schemas": [USER2, ENTERPRISE],
            "userName": "bjensen",
            "title": "Engineer",
            "addresses": [{"type": "home", "locality": "Tacoma"}],
            ENTERPRISE: {"department": "Sales", "costCenter": "4130"}
        })),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    user["id"].as_str().unwrap().to_string()
}

fn ops(ops: Value) -> Option<Value> {
    Some(json!({"schemas": [PATCH_OP], "Operations": ops}))
}

/// The backend's record of the user, as the 1.1 service holds it.
fn held(backend: &Scim11Service) -> Value {
    backend
        .take()
        .into_iter()
        .rev()
        .find(|s| s.method == "PUT" || s.method == "POST" || s.method == "PATCH")
        .map(|s| s.body)
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_patch_1_1_can_express_lands_in_the_backends_names() {
    let backend = Scim11Service::spawn();
    let gw = gateway(&backend);
    let id = create(&gw).await;
    backend.take();

    let (status, body) = send(
        &gw,
        reqwest::Method::PATCH,
        &format!("/Users/{id}"),
        ops(json!([
            {"op": "replace", "path": "title", "value": "Manager"},
            {"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Support"}
        ])),
    )
    .await;
    assert!(status == 200 || status == 204, "{status} {body}");
    let sent = held(&backend);
    assert_eq!(sent[LEGACY]["jobTitle"], "Manager", "{sent}");
    assert_eq!(sent[LEGACY]["dept"], "Support", "{sent}");

    let (status, user) = send(&gw, reqwest::Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["title"], "Manager", "{user}");
    assert_eq!(user[ENTERPRISE]["department"], "Support", "{user}");
    assert_eq!(user[ENTERPRISE]["costCenter"], "4130", "{user}");
}

#[tokio::test]
async fn a_patch_1_1_cannot_express_is_emulated_in_the_backends_names() {
    let backend = Scim11Service::spawn();
    let gw = gateway(&backend);
    let id = create(&gw).await;
    backend.take();

    // A replace of one element's sub-attribute has no 1.1 form: the
    // gateway reads, applies and PUTs, with the mapped operations beside.
    let (status, body) = send(
        &gw,
        reqwest::Method::PATCH,
        &format!("/Users/{id}"),
        ops(json!([
            {"op": "replace", "path": "addresses[type eq \"home\"].locality", "value": "Olympia"},
            {"op": "replace", "path": "title", "value": "Director"},
            {"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Support"},
            {"op": "replace", "path": format!("{ENTERPRISE}:costCenter"), "value": "4200"}
        ])),
    )
    .await;
    assert!(status == 200 || status == 204, "{status} {body}");
    let seen = backend.take();
    let put = seen
        .iter()
        .find(|s| s.method == "PUT")
        .unwrap_or_else(|| panic!("no PUT: {seen:?}"));
    assert_eq!(put.body[LEGACY]["jobTitle"], "Director", "{}", put.body);
    assert_eq!(put.body[LEGACY]["dept"], "Support", "{}", put.body);

    let (status, user) = send(&gw, reqwest::Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["title"], "Director", "{user}");
    assert_eq!(user[ENTERPRISE]["department"], "Support", "{user}");
    assert_eq!(user[ENTERPRISE]["costCenter"], "4200", "{user}");
    assert_eq!(user["userName"], "bjensen", "{user}");
    let home = user["addresses"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["type"] == "home"))
        .cloned();
    assert_eq!(
        home.map(|h| h["locality"].clone()),
        Some(json!("Olympia")),
        "{user}"
    );
}

#[tokio::test]
async fn entras_upsert_reaches_a_1_1_backend_through_the_mapping() {
    let backend = Scim11Service::spawn();
    let gw = gateway(&backend);
    // Created through `acme` (same backend): the user has a home address
    // only.
    let id = create(&gw).await;
    let path = format!("/Users/{id}");
    for (sub, value) in [("locality", "Seattle"), ("region", "WA")] {
        let (status, body) = send_as(
            &gw,
            "entra",
            reqwest::Method::PATCH,
            &path,
            ops(json!([
                {"op": "Add", "path": format!("addresses[type eq \"work\"].{sub}"), "value": value},
                {"op": "Replace", "path": "title", "value": "Lead"}
            ])),
        )
        .await;
        assert!(status == 200 || status == 204, "{sub}: {status} {body}");
    }
    let (status, user) = send_as(&gw, "entra", reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["title"], "Lead", "{user}");
    let addresses = user["addresses"].as_array().cloned().unwrap_or_default();
    let work: Vec<&Value> = addresses.iter().filter(|a| a["type"] == "work").collect();
    assert_eq!(work.len(), 1, "{user}");
    assert_eq!(work[0]["locality"], "Seattle", "{user}");
    assert_eq!(work[0]["region"], "WA", "{user}");
    assert!(
        addresses
            .iter()
            .any(|a| a["type"] == "home" && a["locality"] == "Tacoma"),
        "{user}"
    );
}
