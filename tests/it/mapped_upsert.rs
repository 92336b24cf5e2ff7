//! Entra's upsert on a filtered path (`filtered_upsert`) through a mapping
//! table, in front of an upstream that applies PATCH itself (issue 17): the
//! built-in store over HTTP, with the sites extension
//! (tests/fixtures/sites), behind `profile = "entra"` tenants whose tables
//! move the work address's `locality` and `region` elsewhere
//! (tests/fixtures/mapping/store-sites-*.toml): flat into the extension, to
//! another element of `addresses` ("office"), or to an element of the
//! extension's own multi-valued `sites`. Entra sends the two sub-attributes
//! as two PATCHes whether or not the work address exists; the first must
//! create it, the second fill it in, in the backend's names, and the client
//! must read one work address back.
use crate::support::gateway::{token_for, TestGateway};
use crate::support::store::TestStore;
use scim_gateway::scim::schema::SchemaRegistry;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const SITES: &str = "urn:example:sites:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The sites backend: the built-in store (native PATCH) with the sites
/// extension on User.
fn backend() -> TestStore {
    let mut registry = SchemaRegistry::builtin();
    registry.load_schema_dir(&fixtures().join("sites")).unwrap();
    registry.extend_resource_type("User", SITES, false).unwrap();
    TestStore::spawn_with_registry(registry)
}

/// One Entra tenant per table, all in front of `backend`.
fn gateway(backend: &TestStore) -> TestGateway {
    let mut builder = TestGateway::builder().http("sites", &backend.base_url(), "");
    for table in ["flat", "office", "ext"] {
        let path = fixtures().join(format!("mapping/store-sites-{table}.toml"));
        let extra = format!(
            "[tenants.dialect]\nprofile = \"entra\"\n[tenants.schema]\nmapping = \"{}\"\n",
            path.display()
        );
        let host = format!("{table}.localhost");
        builder = builder.tenant_with(table, &[host.as_str()], "sites", &extra);
    }
    builder.spawn()
}

async fn create(gw: &TestGateway, tenant: &str, user_name: &str) -> String {
    let resp = gw
        .client()
        .post(format!("{}/Users", gw.base(&format!("{tenant}.localhost"))))
        .bearer_auth(token_for(tenant))
        .header("content-type", "application/scim+json")
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "addresses": [{"type": "home", "locality": "Tacoma"}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        201,
        "{tenant}: {}",
        resp.text().await.unwrap()
    );
    let user: Value = resp.json().await.unwrap();
    user["id"].as_str().unwrap().to_string()
}

/// One of Entra's PATCHes: (status, body).
async fn patch(gw: &TestGateway, tenant: &str, id: &str, ops: Value) -> (u16, Value) {
    let resp = gw
        .client()
        .patch(format!(
            "{}/Users/{id}",
            gw.base(&format!("{tenant}.localhost"))
        ))
        .bearer_auth(token_for(tenant))
        .header("content-type", "application/scim+json")
        .body(json!({"schemas": [PATCH_OP], "Operations": ops}).to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn get(client: &reqwest::Client, url: String, token: Option<String>) -> Value {
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// Entra's two-step upsert of the work address (RFC 7644 §3.5.2.1, as
/// Entra ID sends it: `Add` on the filtered path, the address absent).
async fn upsert_work_address(gw: &TestGateway, tenant: &str, id: &str) {
    for (sub, value) in [("locality", "Seattle"), ("region", "WA")] {
        let (status, body) = patch(
            gw,
            tenant,
            id,
            json!([{
                "op": "Add",
                "path": format!("addresses[type eq \"work\"].{sub}"),
                "value": value
            }]),
        )
        .await;
        assert!(
            status == 200 || status == 204,
            "{tenant}: {sub}: {status} {body}"
        );
    }
}

/// The tenant's view: the home address untouched and one work address.
async fn assert_client_reads_one_work_address(gw: &TestGateway, tenant: &str, id: &str) {
    let user = get(
        &gw.client(),
        format!("{}/Users/{id}", gw.base(&format!("{tenant}.localhost"))),
        Some(token_for(tenant)),
    )
    .await;
    let addresses = user["addresses"].as_array().cloned().unwrap_or_default();
    let work: Vec<&Value> = addresses.iter().filter(|a| a["type"] == "work").collect();
    assert_eq!(work.len(), 1, "{tenant}: {user}");
    assert_eq!(work[0]["locality"], "Seattle", "{tenant}: {user}");
    assert_eq!(work[0]["region"], "WA", "{tenant}: {user}");
    assert!(
        addresses
            .iter()
            .any(|a| a["type"] == "home" && a["locality"] == "Tacoma"),
        "{tenant}: {user}"
    );
}

async fn stored(backend: &TestStore, id: &str) -> Value {
    get(
        &reqwest::Client::new(),
        format!("{}/Users/{id}", backend.base_url()),
        None,
    )
    .await
}

fn addresses_of(user: &Value, kind: &str) -> Vec<Value> {
    user["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["type"] == kind)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_work_address_moved_flat_into_an_extension_is_upserted() {
    let store = backend();
    let gw = gateway(&store);
    let id = create(&gw, "flat", "flat@example.com").await;
    upsert_work_address(&gw, "flat", &id).await;

    let held = stored(&store, &id).await;
    assert_eq!(held[SITES]["city"], "Seattle", "{held}");
    assert_eq!(held[SITES]["state"], "WA", "{held}");
    assert!(addresses_of(&held, "work").is_empty(), "{held}");
    assert_client_reads_one_work_address(&gw, "flat", &id).await;
}

#[tokio::test]
async fn a_work_address_renamed_to_another_element_is_upserted_there() {
    let store = backend();
    let gw = gateway(&store);
    let id = create(&gw, "office", "office@example.com").await;
    upsert_work_address(&gw, "office", &id).await;

    let held = stored(&store, &id).await;
    let office = addresses_of(&held, "office");
    assert_eq!(office.len(), 1, "{held}");
    assert_eq!(office[0]["locality"], "Seattle", "{held}");
    assert_eq!(office[0]["region"], "WA", "{held}");
    assert!(addresses_of(&held, "work").is_empty(), "{held}");
    assert_client_reads_one_work_address(&gw, "office", &id).await;
}

#[tokio::test]
async fn a_work_address_moved_into_an_extensions_list_is_upserted_there() {
    let store = backend();
    let gw = gateway(&store);
    let id = create(&gw, "ext", "ext@example.com").await;
    upsert_work_address(&gw, "ext", &id).await;

    let held = stored(&store, &id).await;
    let sites = held[SITES]["sites"].as_array().cloned().unwrap_or_default();
    assert_eq!(sites.len(), 1, "{held}");
    assert_eq!(sites[0]["kind"], "office", "{held}");
    assert_eq!(sites[0]["city"], "Seattle", "{held}");
    assert_eq!(sites[0]["state"], "WA", "{held}");
    assert!(addresses_of(&held, "work").is_empty(), "{held}");
    assert_client_reads_one_work_address(&gw, "ext", &id).await;
}
