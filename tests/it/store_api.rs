//! The built-in store over real sockets: the create/get/filter/patch/
//! delete cycle, groups and membership, ETags, lists, Bulk, discovery.
use crate::support::http::{patch_op, user, ScimClient};
use crate::support::store::TestStore;
use reqwest::Method;
use scim_gateway::store::StoreConfig;
use serde_json::{json, Value};

fn client(store: &TestStore) -> ScimClient {
    ScimClient::new(store.base_url())
}

#[tokio::test]
async fn user_lifecycle_create_get_filter_patch_delete() {
    let store = TestStore::spawn();
    let c = client(&store);
    let mut body = user("bjensen");
    body["password"] = json!("t1meMa$heen");
    body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] =
        json!({"employeeNumber": "701984", "department": "Tour Operations"});
    body["schemas"].as_array_mut().unwrap().push(json!(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    ));

    let created = c.post("/Users", &body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(created
        .header("content-type")
        .unwrap()
        .starts_with("application/scim+json"));
    let id = created.body["id"].as_str().unwrap().to_string();
    let location = created.body["meta"]["location"].as_str().unwrap();
    assert_eq!(location, format!("{}/Users/{id}", c.base()));
    assert_eq!(created.header("location"), Some(location));
    assert_eq!(
        created.header("etag"),
        created.body["meta"]["version"].as_str()
    );
    assert_eq!(created.body["meta"]["resourceType"], "User");
    assert!(
        created.body.get("password").is_none(),
        "password is never returned"
    );
    assert_eq!(
        created.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
            ["employeeNumber"],
        "701984"
    );

    let got = c.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, created.body);

    let found = c.get("/Users?filter=userName%20eq%20%22BJENSEN%22").await;
    assert_eq!(found.status, 200);
    assert_eq!(
        found.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["id"], id.as_str());

    let patched = c
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([
                {"op": "replace", "path": "name.givenName", "value": "Babs"},
                {"op": "add", "path": "emails", "value": [{"value": "babs@home.example", "type": "home"}]},
                {"op": "replace", "path": "active", "value": false}
            ])),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["name"]["givenName"], "Babs");
    assert_eq!(patched.body["emails"].as_array().unwrap().len(), 2);
    assert_eq!(patched.body["active"], false);
    assert_ne!(
        patched.body["meta"]["version"],
        created.body["meta"]["version"]
    );
    assert_eq!(
        patched.body["meta"]["created"],
        created.body["meta"]["created"]
    );

    let deleted = c.delete(&format!("/Users/{id}")).await;
    assert_eq!(deleted.status, 204);
    c.get(&format!("/Users/{id}")).await.assert_error(404, None);
    c.delete(&format!("/Users/{id}"))
        .await
        .assert_error(404, None);
}

#[tokio::test]
async fn put_replaces_and_keeps_id_and_created() {
    let store = TestStore::spawn();
    let c = client(&store);
    let created = c.post("/Users", &user("alice")).await;
    let id = created.body["id"].as_str().unwrap();
    let mut replacement = user("alice");
    replacement["displayName"] = json!("Alice A.");
    replacement["emails"] = json!([]);
    let replaced = c.put(&format!("/Users/{id}"), &replacement).await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    assert_eq!(replaced.body["displayName"], "Alice A.");
    assert!(
        replaced.body.get("emails").is_none(),
        "an empty array unassigns"
    );
    assert_eq!(replaced.body["id"], id);
    assert_eq!(
        replaced.body["meta"]["created"],
        created.body["meta"]["created"]
    );
}

#[tokio::test]
async fn user_names_are_unique_ignoring_case() {
    let store = TestStore::spawn();
    let c = client(&store);
    assert_eq!(c.post("/Users", &user("Carol")).await.status, 201);
    let detail = c
        .post("/Users", &user("cAROL"))
        .await
        .assert_error(409, Some("uniqueness"));
    assert!(detail.contains("userName"), "{detail}");
    let g = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Admins"});
    assert_eq!(c.post("/Groups", &g).await.status, 201);
    let mut g2 = g.clone();
    g2["displayName"] = json!("ADMINS");
    c.post("/Groups", &g2)
        .await
        .assert_error(409, Some("uniqueness"));
}

#[tokio::test]
async fn group_membership_is_reflected_in_user_groups() {
    let store = TestStore::spawn();
    let c = client(&store);
    let u1 = c.post("/Users", &user("u1")).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let u2 = c.post("/Users", &user("u2")).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let group = c
        .post(
            "/Groups",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Tour Guides",
                "members": [{"value": u1}]
            }),
        )
        .await;
    assert_eq!(group.status, 201, "{}", group.body);
    let gid = group.body["id"].as_str().unwrap().to_string();
    assert_eq!(group.body["members"][0]["type"], "User");
    assert!(
        group.body["members"][0].get("display").is_none(),
        "kept as sent"
    );
    assert_eq!(
        group.body["members"][0]["$ref"],
        format!("{}/Users/{u1}", c.base()).as_str()
    );

    let u1_now = c.get(&format!("/Users/{u1}")).await;
    assert_eq!(u1_now.body["groups"][0]["value"], gid.as_str());
    assert_eq!(u1_now.body["groups"][0]["display"], "Tour Guides");

    // Add u2 and remove u1 by a value filter (RFC 7644 §3.5.2): a member
    // PATCH that asks for no attributes is answered 204 (docs/store.md,
    // "Large groups"); the Group is read back.
    let patched = c
        .patch(
            &format!("/Groups/{gid}"),
            &patch_op(json!([
                {"op": "add", "path": "members", "value": [{"value": u2}]},
                {"op": "remove", "path": format!("members[value eq \"{u1}\"]")}
            ])),
        )
        .await;
    assert_eq!(patched.status, 204, "{}", patched.body);
    let patched = c.get(&format!("/Groups/{gid}")).await;
    let members: Vec<&str> = patched.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec![u2.as_str()]);
    assert!(c
        .get(&format!("/Users/{u1}"))
        .await
        .body
        .get("groups")
        .is_none());
    let u2_now = c.get(&format!("/Users/{u2}")).await;
    assert_eq!(u2_now.body["groups"][0]["value"], gid.as_str());

    // Filter on the derived attribute.
    let by_group = c
        .get(&format!("/Users?filter=groups.value%20eq%20%22{gid}%22"))
        .await;
    assert_eq!(by_group.body["totalResults"], 1, "{}", by_group.body);

    // Deleting the member removes it from the group.
    assert_eq!(c.delete(&format!("/Users/{u2}")).await.status, 204);
    let g_now = c.get(&format!("/Groups/{gid}")).await;
    assert!(g_now.body.get("members").is_none(), "{}", g_now.body);

    // A member must exist.
    let bad = c
        .post(
            "/Groups",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Ghosts",
                "members": [{"value": "no-such-id"}]
            }),
        )
        .await;
    let detail = bad.assert_error(400, Some("invalidValue"));
    assert!(detail.contains("no-such-id"), "{detail}");
}

#[tokio::test]
async fn etags_drive_if_match_and_if_none_match() {
    let store = TestStore::spawn();
    let c = client(&store);
    let created = c.post("/Users", &user("etag")).await;
    let id = created.body["id"].as_str().unwrap();
    let v1 = created.header("etag").unwrap().to_string();
    let path = format!("/Users/{id}");

    let not_modified = c
        .send(Method::GET, &path, None, &[("if-none-match", &v1)])
        .await;
    assert_eq!(not_modified.status, 304);

    let ok = c
        .send(
            Method::PUT,
            &path,
            Some(&user("etag")),
            &[("if-match", &v1)],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let v2 = ok.header("etag").unwrap().to_string();
    assert_ne!(v1, v2);

    let stale = c
        .send(
            Method::PUT,
            &path,
            Some(&user("etag")),
            &[("if-match", &v1)],
        )
        .await;
    stale.assert_error(412, None);
    let stale_delete = c
        .send(Method::DELETE, &path, None, &[("if-match", &v1)])
        .await;
    stale_delete.assert_error(412, None);
    let fresh = c
        .send(Method::GET, &path, None, &[("if-none-match", &v1)])
        .await;
    assert_eq!(fresh.status, 200);
    let deleted = c
        .send(Method::DELETE, &path, None, &[("if-match", &v2)])
        .await;
    assert_eq!(deleted.status, 204);
}

#[tokio::test]
async fn lists_sort_page_project_and_search() {
    let store = TestStore::spawn();
    let c = client(&store);
    for name in ["delta", "alpha", "charlie", "bravo", "echo"] {
        assert_eq!(c.post("/Users", &user(name)).await.status, 201);
    }
    let page = c
        .get("/Users?sortBy=userName&sortOrder=descending&startIndex=2&count=2&attributes=userName")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["totalResults"], 5);
    assert_eq!(page.body["startIndex"], 2);
    assert_eq!(page.body["itemsPerPage"], 2);
    let names: Vec<&str> = page.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["delta", "charlie"]);
    let first = &page.body["Resources"][0];
    assert!(first.get("id").is_some(), "id is always returned");
    assert!(first.get("emails").is_none(), "not asked for");

    let searched = c
        .post(
            "/Users/.search",
            &json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "userName sw \"c\" or userName ew \"o\"",
                "sortBy": "userName",
                "excludedAttributes": ["emails"]
            }),
        )
        .await;
    assert_eq!(searched.status, 200, "{}", searched.body);
    let names: Vec<&str> = searched.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["bravo", "charlie", "echo"]);
    assert!(searched.body["Resources"][0].get("emails").is_none());

    let root = c
        .post(
            "/.search",
            &json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "meta.resourceType eq \"User\"",
                "count": 0
            }),
        )
        .await;
    assert_eq!(root.body["totalResults"], 5, "{}", root.body);
    assert_eq!(root.body["itemsPerPage"], 0);
}

#[tokio::test]
async fn bulk_resolves_bulk_ids_in_group_members() {
    let store = TestStore::spawn();
    let c = client(&store);
    let request = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "failOnErrors": 1,
        "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Bulk Group",
                "members": [{"type": "User", "value": "bulkId:u1"}]
            }},
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user("bulky")}
        ]
    });
    let answer = c.post("/Bulk", &request).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
    );
    let ops = answer.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 2);
    for op in ops {
        assert_eq!(op["status"], "201", "{op}");
    }
    let users = c.get("/Users?filter=userName%20eq%20%22bulky%22").await;
    let uid = users.body["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        users.body["Resources"][0]["groups"][0]["display"],
        "Bulk Group"
    );
    let groups = c.get("/Groups").await;
    assert_eq!(
        groups.body["Resources"][0]["members"][0]["value"],
        uid.as_str()
    );
}

/// A store without PATCH refuses a PATCH operation inside Bulk with 501,
/// as it refuses a top-level PATCH (its /ServiceProviderConfig says
/// `patch.supported: false`), per operation (RFC 7644 §3.7.3); the other
/// operations of the request still run.
#[tokio::test]
async fn a_patchless_store_refuses_patch_inside_bulk_per_operation() {
    let store = TestStore::spawn_with(StoreConfig {
        patch: false,
        ..StoreConfig::default()
    });
    let c = client(&store);
    let created = c.post("/Users", &user("nopatch")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let request = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "PATCH", "path": format!("/Users/{id}"), "data": patch_op(json!([
                {"op": "replace", "path": "displayName", "value": "Patched"}
            ]))},
            {"method": "POST", "path": "/Users", "bulkId": "u2", "data": user("after")}
        ]
    });
    let answer = c.post("/Bulk", &request).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let ops = answer.body["Operations"].as_array().unwrap();
    assert_eq!(ops[0]["status"], "501", "{}", answer.body);
    assert_eq!(ops[0]["response"]["status"], "501", "{}", answer.body);
    assert_eq!(ops[1]["status"], "201", "{}", answer.body);
    let read = c.get(&format!("/Users/{id}")).await;
    assert!(read.body.get("displayName").is_none(), "{}", read.body);
}

#[tokio::test]
async fn discovery_endpoints() {
    let store = TestStore::spawn();
    let c = client(&store);
    let spc = c.get("/ServiceProviderConfig").await;
    assert_eq!(spc.status, 200);
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["bulk"]["supported"], true);
    assert_eq!(spc.body["etag"]["supported"], true);
    let schemas = c.get("/Schemas").await;
    assert_eq!(schemas.body["totalResults"], 3, "{}", schemas.body);
    let user_schema = c
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    assert_eq!(user_schema.status, 200);
    assert_eq!(
        user_schema.body["id"],
        "urn:ietf:params:scim:schemas:core:2.0:User"
    );
    assert_eq!(
        user_schema.body["meta"]["location"],
        format!(
            "{}/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            c.base()
        )
        .as_str()
    );
    let rts = c.get("/ResourceTypes").await;
    assert_eq!(rts.body["totalResults"], 2);
    let rt = c.get("/ResourceTypes/User").await;
    assert_eq!(rt.body["endpoint"], "/Users");
    c.post("/ServiceProviderConfig", &json!({}))
        .await
        .assert_error(405, None);
    let put = c.put("/Schemas", &json!({})).await;
    put.assert_error(405, None);
    assert_eq!(put.header("allow"), Some("GET"));
}

#[tokio::test]
async fn concurrent_writes_keep_uniqueness_and_membership() {
    let store = TestStore::spawn();
    let c = std::sync::Arc::new(client(&store));
    let mut tasks = Vec::new();
    for i in 0..40 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            // Half race for one name, half create distinct names.
            let name = if i % 2 == 0 {
                "racer".to_string()
            } else {
                format!("solo{i}")
            };
            c.post("/Users", &user(&name)).await.status.as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 21);
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19);
    assert_eq!(store.store().len(), 21);
}

#[tokio::test]
async fn the_store_is_bounded() {
    let store = TestStore::spawn_with(StoreConfig {
        max_resources: 2,
        ..StoreConfig::default()
    });
    let c = client(&store);
    assert_eq!(c.post("/Users", &user("one")).await.status, 201);
    assert_eq!(c.post("/Users", &user("two")).await.status, 201);
    let full = c.post("/Users", &user("three")).await;
    assert_eq!(full.status, 507, "{}", full.body);
    assert!(full.body["detail"].as_str().unwrap().contains("maximum"));
}

#[tokio::test]
async fn works_at_the_root_and_over_http2() {
    let store = TestStore::spawn();
    let base = store.base_url().replace("/scim/v2", "");
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = h2
        .post(format!("{base}/Users"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&user("h2user")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert!(body["meta"]["location"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{base}/Users/")));
}

#[tokio::test]
async fn extension_schemas_from_config_are_served_and_validated() {
    const ACME: &str = "urn:example:params:scim:schemas:extension:acme:2.0:User";
    let mut registry = scim_gateway::scim::schema::SchemaRegistry::builtin();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/schemas");
    let loaded = registry.load_schema_dir(&dir).unwrap();
    assert!(loaded.iter().any(|u| u == ACME), "{loaded:?}");
    registry.extend_resource_type("User", ACME, false).unwrap();
    let store = TestStore::spawn_with_registry(registry);
    let c = client(&store);

    let schema = c.get(&format!("/Schemas/{ACME}")).await;
    assert_eq!(schema.status, 200);
    assert_eq!(schema.body["attributes"][0]["name"], "badgeNumber");
    let rt = c.get("/ResourceTypes/User").await;
    assert!(rt.body["schemaExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["schema"] == ACME));

    let mut u = user("acme1");
    u["schemas"].as_array_mut().unwrap().push(json!(ACME));
    u[ACME] = json!({"badgeNumber": "B-17", "clearanceLevel": 3, "sites": [{"value": "HQ", "primary": true}]});
    let created = c.post("/Users", &u).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body[ACME]["badgeNumber"], "B-17");
    assert!(
        created.body[ACME].get("sites").is_none(),
        "returned: request"
    );
    let id = created.body["id"].as_str().unwrap();
    let with_sites = c.get(&format!("/Users/{id}?attributes={ACME}:sites")).await;
    assert_eq!(
        with_sites.body[ACME]["sites"][0]["value"], "HQ",
        "{}",
        with_sites.body
    );
    let found = c
        .get(&format!("/Users?filter={ACME}:clearanceLevel%20ge%203"))
        .await;
    assert_eq!(found.body["totalResults"], 1, "{}", found.body);

    let mut bad = user("acme2");
    bad["schemas"].as_array_mut().unwrap().push(json!(ACME));
    bad[ACME] = json!({"clearanceLevel": "high"});
    let detail = c
        .post("/Users", &bad)
        .await
        .assert_error(400, Some("invalidValue"));
    assert!(detail.contains("clearanceLevel"), "{detail}");
}
