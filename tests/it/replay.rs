//! Entra ID's and Okta's documented SCIM requests (tests/fixtures/idp),
//! replayed through the gateway to a legacy backend behind a mapping table
//! (tests/fixtures/mapping/replay.toml): what the backend receives is
//! checked, and what the IdP gets back.
use crate::support::gateway::{token_for, TestGateway};
use crate::support::recorder::{Recorded, RecordingStore};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const LEGACY: &str = "urn:example:legacy:2.0:User";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn backend() -> RecordingStore {
    let mut registry = scim_gateway::scim::schema::SchemaRegistry::builtin();
    registry
        .load_schema_dir(&fixtures().join("mapping"))
        .unwrap();
    registry
        .extend_resource_type("User", LEGACY, false)
        .unwrap();
    RecordingStore::spawn(registry)
}

fn gateway(backend: &RecordingStore) -> TestGateway {
    let table = fixtures().join("mapping/replay.toml");
    let tenant = |profile: &str| {
        format!(
            "[tenants.dialect]\nprofile = \"{profile}\"\n[tenants.schema]\nmapping = \"{}\"\n",
            table.display()
        )
    };
    TestGateway::builder()
        .http("legacy", &backend.url(), "")
        .tenant_with("entra", &["entra.localhost"], "legacy", &tenant("entra"))
        .tenant_with("okta", &["okta.localhost"], "legacy", &tenant("okta"))
        .spawn()
}

/// Sends a fixture as the IdP would, fixture ids replaced by real ones.
async fn replay(
    gw: &TestGateway,
    tenant: &str,
    name: &str,
    ids: &[(&str, &str)],
    edit: impl FnOnce(&mut Value),
) -> (u16, Value) {
    let text =
        std::fs::read_to_string(fixtures().join("idp").join(format!("{name}.json"))).unwrap();
    let text = ids.iter().fold(text, |t, (from, to)| t.replace(from, to));
    let mut fixture: Value = serde_json::from_str(&text).unwrap();
    edit(&mut fixture["body"]);
    let path = fixture["path"].as_str().unwrap();
    let path = path.strip_prefix("/scim/v2").unwrap_or(path);
    let method =
        reqwest::Method::from_bytes(fixture["method"].as_str().unwrap().as_bytes()).unwrap();
    let host = format!("{tenant}.localhost");
    let mut req = gw
        .client()
        .request(method, format!("{}{path}", gw.base(&host)))
        .header("authorization", format!("Bearer {}", token_for(tenant)))
        .header("content-type", "application/scim+json");
    if let Some(Value::Object(headers)) = fixture.get("headers") {
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str().unwrap());
        }
    }
    if !fixture["body"].is_null() {
        req = req.body(fixture["body"].to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The one request the backend got for the last replay (every replay
/// makes exactly one).
fn one(backend: &RecordingStore) -> Recorded {
    let mut got = backend.take();
    assert_eq!(got.len(), 1, "{got:#?}");
    got.remove(0)
}

fn ops(r: &Recorded) -> Value {
    r.body["Operations"].clone()
}

#[tokio::test]
async fn entra_id_requests_reach_the_legacy_backend_in_its_names() {
    let backend = backend();
    let gw = gateway(&backend);

    // Create user: the work e-mail becomes the backend's `mail`; the
    // echoed `meta` and the empty `roles` never arrive.
    let (status, user) = replay(&gw, "entra", "entra-create-user", &[], |_| {}).await;
    assert_eq!(status, 201, "{user}");
    let sent = one(&backend);
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.target, "/scim/v2/Users");
    let mail = "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com";
    assert_eq!(sent.body[LEGACY]["mail"], mail, "{}", sent.body);
    assert!(sent.body.get("emails").is_none(), "{}", sent.body);
    assert!(
        sent.body.get("meta").is_none() && sent.body.get("roles").is_none(),
        "{}",
        sent.body
    );
    assert!(
        sent.body["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(LEGACY)),
        "{}",
        sent.body
    );
    // The IdP gets its own shape back, nothing of the backend's.
    assert_eq!(
        user["emails"],
        json!([{"type": "work", "value": mail, "primary": true}]),
        "{user}"
    );
    assert!(user.get(LEGACY).is_none(), "{user}");
    assert!(!user.to_string().contains(LEGACY), "{user}");
    let uid = user["id"].as_str().unwrap().to_string();
    assert_eq!(
        user["meta"]["location"],
        json!(format!("{}/Users/{uid}", gw.base("entra.localhost")))
    );

    // A second user, for membership.
    let (status, other) = replay(&gw, "entra", "entra-create-user", &[], |b| {
        b["userName"] = json!("second.user@testuser.com");
        b["externalId"] = json!("second");
    })
    .await;
    assert_eq!(status, 201, "{other}");
    backend.take();
    let oid = other["id"].as_str().unwrap().to_string();
    let user_ids = [
        ("5171a35d82074e068ce2", uid.as_str()),
        ("6764549bef60420686bc", uid.as_str()),
        ("f648f8d5ea4e4cd38e9c", oid.as_str()),
        ("7f4bc1a3-285e-48ae-8202-5accb43efb0e", oid.as_str()),
        ("u1091", oid.as_str()),
    ];

    // Update several attributes: the filtered e-mail path becomes `mail`.
    let (status, body) = replay(&gw, "entra", "entra-update-user-multi", &user_ids, |_| {}).await;
    assert!(status == 200 || status == 204, "{status} {body}");
    let sent = one(&backend);
    assert_eq!(sent.method, "PATCH");
    assert_eq!(sent.target, format!("/scim/v2/Users/{uid}"));
    assert_eq!(
        ops(&sent),
        json!([
            {"op": "replace", "path": format!("{LEGACY}:mail"), "value": "updatedEmail@microsoft.com"},
            {"op": "replace", "path": "name.familyName", "value": "updatedFamilyName"},
        ])
    );
    if status == 200 {
        assert_eq!(
            body["emails"][0]["value"], "updatedEmail@microsoft.com",
            "{body}"
        );
        assert_eq!(body["name"]["familyName"], "updatedFamilyName");
    }

    // The flagged shape: a filtered path and a path-less replace with
    // dotted and URN keys; employeeNumber lands in the backend's name.
    let (status, body) = replay(&gw, "entra", "entra-replace-attributes", &user_ids, |_| {}).await;
    assert!(status == 200 || status == 204, "{status} {body}");
    let sent = one(&backend);
    assert!(!sent.target.contains("aadOptscim062020"), "{}", sent.target);
    let text = ops(&sent).to_string();
    assert!(text.contains(&format!("{LEGACY}:mail")), "{text}");
    assert!(
        text.contains(&format!("{LEGACY}:staffNumber")) || text.contains("staffNumber"),
        "{text}"
    );
    assert!(!text.contains("employeeNumber"), "{text}");
    let (_, now) = get(&gw, &backend, "entra", &format!("/Users/{uid}")).await;
    assert_eq!(
        now["emails"][0]["value"], "TestMhvaes@test.microsoft.com",
        "{now}"
    );
    assert_eq!(now["name"]["givenName"], "Kkom", "{now}");
    assert_eq!(
        now["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"], "Aklq",
        "{now}"
    );
    backend.take();

    // Disable, both shapes: the backend always sees a real boolean.
    for name in ["entra-disable-user", "entra-disable-user-legacy"] {
        let (status, body) = replay(&gw, "entra", name, &user_ids, |_| {}).await;
        assert!(status == 200 || status == 204, "{name}: {status} {body}");
        assert_eq!(
            ops(&one(&backend)),
            json!([{"op": "replace", "path": "active", "value": false}]),
            "{name}"
        );
    }

    // Groups: create (Entra's private schema URN in `schemas`), add a
    // member with "$ref": null, remove it (two shapes), rename.
    let (status, group) = replay(&gw, "entra", "entra-create-group", &[], |_| {}).await;
    assert_eq!(status, 201, "{group}");
    let sent = one(&backend);
    assert_eq!(sent.body["displayName"], "displayName");
    assert!(sent.body.get("meta").is_none(), "{}", sent.body);
    let gid = group["id"].as_str().unwrap().to_string();
    let ids: Vec<(&str, &str)> = user_ids
        .iter()
        .copied()
        .chain([
            ("a99962b9f99d4c4fac67", gid.as_str()),
            ("fa2ce26709934589afc5", gid.as_str()),
        ])
        .collect();
    let (status, body) = replay(&gw, "entra", "entra-add-member", &ids, |_| {}).await;
    assert!(status == 200 || status == 204, "{status} {body}");
    assert_eq!(
        ops(&one(&backend)),
        json!([{"op": "add", "path": "members", "value": [{"value": oid}]}])
    );
    let (_, g) = get(&gw, &backend, "entra", &format!("/Groups/{gid}")).await;
    assert_eq!(g["members"][0]["value"], json!(oid), "{g}");
    let (status, body) = replay(&gw, "entra", "entra-remove-member", &ids, |_| {}).await;
    assert!(status == 200 || status == 204, "{status} {body}");
    assert_eq!(
        ops(&one(&backend)),
        json!([{"op": "remove", "path": format!("members[value eq \"{oid}\"]")}])
    );
    let (_, g) = get(&gw, &backend, "entra", &format!("/Groups/{gid}")).await;
    assert!(g.get("members").is_none_or_empty(), "{g}");
    let (status, body) = replay(&gw, "entra", "entra-update-group-name", &ids, |_| {}).await;
    assert!(status == 200 || status == 204, "{status} {body}");
    assert_eq!(
        ops(&one(&backend)),
        json!([{"op": "replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}])
    );
}

#[tokio::test]
async fn okta_requests_reach_the_legacy_backend_in_its_names() {
    let backend = backend();
    let gw = gateway(&backend);

    // Create user (with Okta's `groups: []` and a password).
    let (status, user) = replay(&gw, "okta", "okta-create-user", &[], |_| {}).await;
    assert_eq!(status, 201, "{user}");
    let sent = one(&backend);
    assert_eq!(
        sent.body[LEGACY]["mail"], "test.user@okta.local",
        "{}",
        sent.body
    );
    assert!(sent.body.get("groups").is_none(), "{}", sent.body);
    // The okta profile drops Okta's placeholder password from creates
    // (rule create_password; docs/dialects.md).
    assert!(sent.body.get("password").is_none(), "{}", sent.body);
    assert!(
        user.get("password").is_none(),
        "a password is never returned: {user}"
    );
    assert_eq!(user["emails"][0]["value"], "test.user@okta.local", "{user}");
    let uid = user["id"].as_str().unwrap().to_string();
    let (status, other) = replay(&gw, "okta", "okta-create-user", &[], |b| {
        b["userName"] = json!("other.user@okta.local");
        b["emails"][0]["value"] = json!("other.user@okta.local");
    })
    .await;
    assert_eq!(status, 201, "{other}");
    backend.take();
    let oid = other["id"].as_str().unwrap().to_string();

    // Replace user (PUT, echoing the read-only id): the middle name goes to
    // the backend's extension; the e-mail element's display stays with it.
    let ids = [
        ("23a35c27-23d3-4c03-b4c5-6443c09e7173", uid.as_str()),
        ("89bb1940-b905-4575-9e7f-6f887cfb368e", oid.as_str()),
    ];
    let (status, body) = replay(&gw, "okta", "okta-replace-user", &ids, |_| {}).await;
    assert_eq!(status, 200, "{body}");
    let sent = one(&backend);
    assert_eq!(sent.method, "PUT");
    assert_eq!(sent.body[LEGACY]["middle"], "Excited", "{}", sent.body);
    assert!(
        sent.body.get("id").is_none(),
        "read-only id dropped: {}",
        sent.body
    );
    assert_eq!(body["name"]["middleName"], "Excited", "{body}");
    assert_eq!(body["name"]["givenName"], "Another", "{body}");

    // Deactivate: a path-less replace.
    let (status, body) = replay(&gw, "okta", "okta-deactivate-user", &ids, |_| {}).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        ops(&one(&backend)),
        json!([{"op": "replace", "value": {"active": false}}])
    );
    assert_eq!(body["active"], false);

    // Groups: create, replace members, update members, rename, replace.
    let (status, group) = replay(&gw, "okta", "okta-create-group", &[], |_| {}).await;
    assert_eq!(status, 201, "{group}");
    backend.take();
    let gid = group["id"].as_str().unwrap().to_string();
    let ids: Vec<(&str, &str)> = ids
        .iter()
        .copied()
        .chain([("abf4dd94-a4c0-4f67-89c9-76b03340cb9b", gid.as_str())])
        .collect();
    let (status, body) = replay(&gw, "okta", "okta-replace-members", &ids, |_| {}).await;
    assert!(status == 200 || status == 204, "{status} {body}");
    one(&backend);
    let (_, g) = get(&gw, &backend, "okta", &format!("/Groups/{gid}")).await;
    assert_eq!(g["members"].as_array().map(Vec::len), Some(2), "{g}");
    let (status, body) = replay(&gw, "okta", "okta-update-members", &ids, |_| {}).await;
    assert!(status == 200 || status == 204, "{status} {body}");
    assert_eq!(
        ops(&one(&backend))[0],
        json!({"op": "remove", "path": format!("members[value eq \"{oid}\"]")})
    );
    let (_, g) = get(&gw, &backend, "okta", &format!("/Groups/{gid}")).await;
    let members: Vec<&str> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec![uid.as_str()], "{g}");
    let (status, body) = replay(&gw, "okta", "okta-rename-group", &ids, |_| {}).await;
    assert!(status == 200 || status == 204, "{status} {body}");
    let sent = one(&backend);
    assert!(
        !ops(&sent)
            .to_string()
            .contains(&format!("\"id\":\"{gid}\"")),
        "{}",
        sent.body
    );
    let (status, body) = replay(&gw, "okta", "okta-replace-group", &ids, |_| {}).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(one(&backend).method, "PUT");
}

/// A read through the gateway (what the backend saw of it is discarded).
async fn get(gw: &TestGateway, backend: &RecordingStore, tenant: &str, path: &str) -> (u16, Value) {
    let host = format!("{tenant}.localhost");
    let resp = gw
        .client()
        .get(format!("{}{path}", gw.base(&host)))
        .header("authorization", format!("Bearer {}", token_for(tenant)))
        .send()
        .await
        .unwrap();
    let out = (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    );
    backend.take();
    out
}

trait NoneOrEmpty {
    fn is_none_or_empty(&self) -> bool;
}

impl NoneOrEmpty for Option<&Value> {
    fn is_none_or_empty(&self) -> bool {
        self.is_none_or(|v| v.as_array().is_some_and(Vec::is_empty))
    }
}
