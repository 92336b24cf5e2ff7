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

fn gateway(backend: &Scim11Service) -> TestGateway {
    let table =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mapping/store-legacy.toml");
    TestGateway::builder()
        .http("legacy", &backend.url(), "dialect = \"scim1.1\"\n")
        .tenant_with(
            "acme",
            &["acme.localhost"],
            "legacy",
            &format!("[tenants.schema]\nmapping = \"{}\"\n", table.display()),
        )
        .spawn()
}

async fn send(
    gw: &TestGateway,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = gw
        .client()
        .request(method, format!("{}{path}", gw.base("acme.localhost")))
        .bearer_auth(token_for("acme"));
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
