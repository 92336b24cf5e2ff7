//! Emulated PATCH in front of a mapped upstream (issue 17): the built-in
//! store with PATCH switched off (`store --no-patch`) and the legacy
//! extension, behind a tenant whose mapping table moves standard
//! attributes into that extension (tests/fixtures/mapping/store-legacy.toml).
//! The gateway reads the resource, applies the client's PATCH in the
//! tenant's schema, and PUTs the upstream resource: what the backend
//! receives is checked (a PUT in its names), and what the client gets back
//! (the tenant's names), with and without the Entra dialect.
use crate::support::gateway::{token_for, TestGateway};
use crate::support::recorder::{Recorded, RecordingStore};
use scim_gateway::store::StoreConfig;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const LEGACY: &str = "urn:example:legacy:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mapping")
}

/// The legacy backend without PATCH, recording what it receives.
fn backend() -> RecordingStore {
    let mut registry = scim_gateway::scim::schema::SchemaRegistry::builtin();
    registry.load_schema_dir(&fixtures()).unwrap();
    registry
        .extend_resource_type("User", LEGACY, false)
        .unwrap();
    let config = StoreConfig {
        patch: false,
        ..StoreConfig::default()
    };
    RecordingStore::spawn_with(config, registry)
}

/// Tenant `legacy` (no dialect) and tenant `entra` (`profile = "entra"`),
/// both mapped by the legacy table; tenant `bulk` the same in front of the
/// same backend declared without Bulk (so the gateway runs Bulk too);
/// tenant `ext` unmapped, with the backend's extension in its schema.
fn gateway(backend: &RecordingStore) -> TestGateway {
    let table = fixtures().join("store-legacy.toml");
    let schema = format!("[tenants.schema]\nmapping = \"{}\"\n", table.display());
    let entra = format!("[tenants.dialect]\nprofile = \"entra\"\n{schema}");
    // Unmapped: the tenant sees the backend's extension as it is.
    let extension = format!(
        "[tenants.schema]\nschemas_dir = \"{}\"\nextensions = {{ User = [\"{LEGACY}\"] }}\n",
        fixtures().display()
    );
    TestGateway::builder()
        .http("legacy", &backend.url(), "")
        .http(
            "nobulk",
            &backend.url(),
            "[upstreams.nobulk.capabilities]\nbulk = false\n",
        )
        .tenant_with("legacy", &["legacy.localhost"], "legacy", &schema)
        .tenant_with("entra", &["entra.localhost"], "legacy", &entra)
        .tenant_with("bulk", &["bulk.localhost"], "nobulk", &schema)
        .tenant_with("ext", &["ext.localhost"], "legacy", &extension)
        .spawn()
}

async fn create(gw: &TestGateway, tenant: &str, user_name: &str) -> Value {
    let resp = gw
        .client()
        .post(format!("{}/Users", gw.base(&format!("{tenant}.localhost"))))
        .bearer_auth(token_for(tenant))
        .header("content-type", "application/scim+json")
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": user_name,
            "title": "Engineer",
            "name": {"givenName": "Barbara", "middleName": "Q", "familyName": "Jensen"},
            "emails": [
                {"type": "work", "value": "bj@example.com", "primary": true},
                {"type": "home", "value": "bj@home.example"}
            ],
            ENTERPRISE: {"department": "Sales"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

/// PATCHes `/Users/{id}` at `tenant`: (status, ETag, body).
async fn patch(
    gw: &TestGateway,
    tenant: &str,
    id: &str,
    if_match: Option<&str>,
    ops: Value,
) -> (u16, Option<String>, Value) {
    let mut req = gw
        .client()
        .patch(format!(
            "{}/Users/{id}",
            gw.base(&format!("{tenant}.localhost"))
        ))
        .bearer_auth(token_for(tenant))
        .header("content-type", "application/scim+json")
        .body(json!({"schemas": [PATCH_OP], "Operations": ops}).to_string());
    if let Some(tag) = if_match {
        req = req.header("if-match", tag);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let etag = resp
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    (
        status,
        etag,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// The PUTs the backend received since the last look.
fn puts(backend: &RecordingStore) -> Vec<Recorded> {
    backend
        .take()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect()
}

fn work_email(user: &Value) -> Value {
    user["emails"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["type"] == "work")
        .map(|e| e["value"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn the_clients_patch_is_applied_in_the_tenants_schema_and_put_in_the_backends() {
    let backend = backend();
    let gw = gateway(&backend);
    let user = create(&gw, "legacy", "bjensen").await;
    let id = user["id"].as_str().unwrap();
    backend.take();

    // A mapped core sub-attribute, a mapped extension attribute, a remove
    // of a mapped core attribute, a filtered multi-valued path.
    let (status, _, body) = patch(
        &gw,
        "legacy",
        id,
        None,
        json!([
            {"op": "replace", "path": "name.middleName", "value": "R"},
            {"op": "add", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "701984"},
            {"op": "remove", "path": "title"},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@example.com"}
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // The backend got a whole resource in its own names (after its 501 to
    // the PATCH the gateway tried first).
    let put = puts(&backend);
    assert_eq!(put.len(), 1, "{put:#?}");
    assert_eq!(put[0].target, format!("/scim/v2/Users/{id}"));
    let sent = &put[0].body;
    assert_eq!(sent[LEGACY]["middle"], "R", "{sent}");
    assert_eq!(sent[LEGACY]["staffNumber"], "701984", "{sent}");
    assert_eq!(sent[LEGACY]["dept"], "Sales", "{sent}");
    assert!(sent[LEGACY].get("jobTitle").is_none(), "{sent}");
    assert!(sent.get("title").is_none(), "{sent}");
    assert!(sent.get(ENTERPRISE).is_none(), "{sent}");
    assert!(sent["name"].get("middleName").is_none(), "{sent}");
    assert_eq!(work_email(sent), "b@example.com", "{sent}");
    assert!(sent.get("meta").is_none(), "{sent}");

    // The client got the resource in the tenant's names.
    assert_eq!(body["name"]["middleName"], "R", "{body}");
    assert_eq!(body[ENTERPRISE]["employeeNumber"], "701984", "{body}");
    assert_eq!(body[ENTERPRISE]["department"], "Sales", "{body}");
    assert!(body.get("title").is_none(), "{body}");
    assert!(body.get(LEGACY).is_none(), "{body}");
    assert_eq!(work_email(&body), "b@example.com", "{body}");
    assert_eq!(body["emails"].as_array().unwrap().len(), 2, "{body}");

    // An error names the tenant's attribute, and nothing is written.
    let (status, _, body) = patch(
        &gw,
        "legacy",
        id,
        None,
        json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x@y"}]),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["scimType"], "noTarget", "{body}");
    assert!(puts(&backend).is_empty());
}

#[tokio::test]
async fn the_clients_if_match_is_checked_against_the_backends_version() {
    let backend = backend();
    let gw = gateway(&backend);
    let user = create(&gw, "legacy", "ifmatch").await;
    let id = user["id"].as_str().unwrap();
    let version = user["meta"]["version"].as_str().unwrap().to_string();
    backend.take();

    // A stale tag: 412, nothing written.
    let (status, _, body) = patch(
        &gw,
        "legacy",
        id,
        Some("W/\"stale\""),
        json!([{"op": "replace", "path": "nickName", "value": "Babs"}]),
    )
    .await;
    assert_eq!(status, 412, "{body}");
    assert!(puts(&backend).is_empty());

    // The current tag: written, and the answer carries the new one.
    let (status, etag, body) = patch(
        &gw,
        "legacy",
        id,
        Some(&version),
        json!([{"op": "replace", "path": "nickName", "value": "Babs"}]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["nickName"], "Babs", "{body}");
    let put = puts(&backend);
    assert_eq!(put.len(), 1, "{put:#?}");
    assert_eq!(put[0].body[LEGACY]["alias"], "Babs", "{}", put[0].body);
    let etag = etag.expect("an ETag");
    assert_ne!(etag, version);
    assert_eq!(body["meta"]["version"], etag.as_str(), "{body}");

    // The old tag is stale now.
    let (status, _, body) = patch(
        &gw,
        "legacy",
        id,
        Some(&version),
        json!([{"op": "remove", "path": "nickName"}]),
    )
    .await;
    assert_eq!(status, 412, "{body}");
}

#[tokio::test]
async fn entra_shaped_patches_are_emulated_through_the_mapping() {
    let backend = backend();
    let gw = gateway(&backend);
    let user = create(&gw, "entra", "entra.user").await;
    let id = user["id"].as_str().unwrap();
    backend.take();

    // Entra's documented shapes: capitalized ops, "False" as a string,
    // several attributes in one request (the dialect makes them
    // canonical before the schema stage).
    let (status, _, body) = patch(
        &gw,
        "entra",
        id,
        None,
        json!([
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "path": "nickName", "value": "Babs"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "e@example.com"},
            {"op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": "Support"}
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], false, "{body}");
    assert_eq!(body["nickName"], "Babs", "{body}");
    assert_eq!(body[ENTERPRISE]["department"], "Support", "{body}");
    assert_eq!(work_email(&body), "e@example.com", "{body}");
    let put = puts(&backend);
    assert_eq!(put.len(), 1, "{put:#?}");
    let sent = &put[0].body;
    assert_eq!(sent["active"], false, "{sent}");
    assert_eq!(sent[LEGACY]["alias"], "Babs", "{sent}");
    assert_eq!(sent[LEGACY]["dept"], "Support", "{sent}");
    assert_eq!(sent[LEGACY]["middle"], "Q", "{sent}");

    // Entra's add to a filtered sub-attribute path no element matches:
    // one new element (the dialect's upsert, resolved in the tenant's view).
    let (status, _, body) = patch(
        &gw,
        "entra",
        id,
        None,
        json!([
            {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Redmond"},
            {"op": "Add", "path": "addresses[type eq \"work\"].region", "value": "WA"}
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["addresses"],
        json!([{"type": "work", "locality": "Redmond", "region": "WA"}]),
        "{body}"
    );
}

#[tokio::test]
async fn patches_in_an_emulated_bulk_request_are_applied_in_the_tenants_schema() {
    let backend = backend();
    let gw = gateway(&backend);
    let manager = create(&gw, "bulk", "the.manager").await;
    backend.take();
    // A create, then PATCHes of it by its bulkId: mapped attributes, and a
    // reference to another operation's resource inside a value.
    let resp = gw
        .client()
        .post(format!("{}/Bulk", gw.base("bulk.localhost")))
        .bearer_auth(token_for("bulk"))
        .header("content-type", "application/scim+json")
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "u", "data": {
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "bulk.user", "title": "Engineer",
                    "name": {"givenName": "B", "middleName": "Q"}
                }},
                {"method": "PATCH", "path": "/Users/bulkId:u", "data": {
                    "schemas": [PATCH_OP],
                    "Operations": [
                        {"op": "replace", "path": "name.middleName", "value": "R"},
                        {"op": "replace", "path": "title", "value": "Lead"},
                        {"op": "add", "path": format!("{ENTERPRISE}:department"), "value": "Support"}
                    ]
                }},
                {"method": "POST", "path": "/Users", "bulkId": "m", "data": {
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "bulk.manager"
                }},
                {"method": "PATCH", "path": format!("/Users/{}", manager["id"].as_str().unwrap()), "data": {
                    "schemas": [PATCH_OP],
                    "Operations": [
                        {"op": "add", "path": format!("{ENTERPRISE}:manager"), "value": {"value": "bulkId:m"}}
                    ]
                }}
            ]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().await.unwrap();
    let statuses: Vec<&str> = answer["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["201", "200", "201", "200"], "{answer}");

    let seen = backend.take();
    let put: Vec<&Recorded> = seen.iter().filter(|r| r.method == "PUT").collect();
    assert_eq!(put.len(), 2, "{seen:#?}");
    let sent = &put[0].body;
    assert_eq!(sent[LEGACY]["middle"], "R", "{sent}");
    assert_eq!(sent[LEGACY]["jobTitle"], "Lead", "{sent}");
    assert_eq!(sent[LEGACY]["dept"], "Support", "{sent}");
    assert!(
        sent.get("title").is_none() && sent.get(ENTERPRISE).is_none(),
        "{sent}"
    );
    let manager_id = answer["Operations"][2]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        put[1].body[ENTERPRISE]["manager"]["value"],
        manager_id.as_str(),
        "{}",
        put[1].body
    );

    // Read back through the gateway: the tenant's names.
    let id = answer["Operations"][0]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    let user: Value = gw
        .client()
        .get(format!("{}/Users/{id}", gw.base("bulk.localhost")))
        .bearer_auth(token_for("bulk"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["name"]["middleName"], "R", "{user}");
    assert_eq!(user["title"], "Lead", "{user}");
    assert_eq!(user[ENTERPRISE]["department"], "Support", "{user}");
}

#[tokio::test]
async fn an_unmapped_tenants_extension_is_patched_in_its_schema_too() {
    let backend = backend();
    let gw = gateway(&backend);
    let resp = gw
        .client()
        .post(format!("{}/Users", gw.base("ext.localhost")))
        .bearer_auth(token_for("ext"))
        .header("content-type", "application/scim+json")
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", LEGACY],
            "userName": "ext.user",
            LEGACY: {"middle": "Q", "jobTitle": "Engineer"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let user: Value = resp.json().await.unwrap();
    let id = user["id"].as_str().unwrap();
    backend.take();
    let (status, _, body) = patch(
        &gw,
        "ext",
        id,
        None,
        json!([
            {"op": "replace", "path": format!("{LEGACY}:middle"), "value": "R"},
            {"op": "remove", "path": format!("{LEGACY}:jobTitle")}
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[LEGACY]["middle"], "R", "{body}");
    assert!(body[LEGACY].get("jobTitle").is_none(), "{body}");
    let put = puts(&backend);
    assert_eq!(put.len(), 1, "{put:#?}");
    assert_eq!(put[0].body[LEGACY]["middle"], "R", "{}", put[0].body);
}
