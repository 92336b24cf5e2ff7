//! A SCIM 2.0 IdP provisioning a SCIM 1.1 backend through the gateway
//! (`dialect = "scim1.1"`): what the backend receives is 1.1, what the IdP
//! gets back is 2.0, both ways, including errors and a PATCH that 1.1
//! cannot express (done as GET + PUT with If-Match).
use crate::support::gateway::{token_for, TestGateway};
use crate::support::scim11::Scim11Service;
use serde_json::{json, Value};

const USER2: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const CORE11: &str = "urn:scim:schemas:core:1.0";

struct Idp<'a> {
    gw: &'a TestGateway,
    client: reqwest::Client,
}

impl Idp<'_> {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.gw.base("acme.localhost")))
            .header("authorization", format!("Bearer {}", token_for("acme")));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

fn patch(ops: Value) -> Option<Value> {
    Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}))
}

#[tokio::test]
async fn a_scim_2_idp_provisions_a_scim_1_1_backend() {
    let backend = Scim11Service::spawn();
    let gw = TestGateway::builder()
        .http("legacy", &backend.url(), "dialect = \"scim1.1\"\n")
        .tenant("acme", &["acme.localhost"], "legacy")
        .spawn();
    let idp = Idp {
        gw: &gw,
        client: gw.client(),
    };
    use reqwest::Method;

    // Create: 1.1 upstream, 2.0 back.
    let (status, user) = idp
        .send(Method::POST, "/Users", Some(json!({
            "schemas": [USER2, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "userName": "bjensen", "displayName": "Babs",
            "emails": [{"value": "b@example.com", "type": "work", "primary": true},
                       {"value": "b@home.example", "type": "home"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984"}
        })))
        .await;
    assert_eq!(status, 201, "{user}");
    let seen = backend.take();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].body["schemas"],
        json!([CORE11, "urn:scim:schemas:extension:enterprise:1.0"])
    );
    assert_eq!(
        seen[0].body["urn:scim:schemas:extension:enterprise:1.0"]["employeeNumber"],
        "701984"
    );
    assert_eq!(user["schemas"][0], USER2, "{user}");
    assert_eq!(user["meta"]["resourceType"], "User", "{user}");
    assert_eq!(
        user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
        "701984"
    );
    let id = user["id"].as_str().unwrap().to_string();
    assert_eq!(
        user["meta"]["location"],
        json!(format!("{}/Users/{id}", gw.base("acme.localhost"))),
        "the backend's location is rewritten to the gateway's"
    );

    // Read and list (the filter in 1.1 terms).
    let (status, got) = idp.send(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!((status, got["userName"].clone()), (200, json!("bjensen")));
    let (status, list) = idp
        .send(
            Method::GET,
            "/Users?filter=userName%20eq%20%22bjensen%22",
            None,
        )
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["schemas"][0], USER2);
    backend.take();

    // A PATCH 1.1 can say: a partial resource.
    let (status, after) = idp
        .send(
            Method::PATCH,
            &format!("/Users/{id}"),
            patch(json!([
            {"op": "replace", "path": "displayName", "value": "Barbara"}])),
        )
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["displayName"], "Barbara");
    let seen = backend.take();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(seen[0].method, "PATCH");
    assert_eq!(seen[0].body["displayName"], "Barbara");

    // One 1.1 cannot say (a sub-attribute of an element chosen by type):
    // GET, then PUT with the version read.
    let (status, after) = idp
        .send(Method::PATCH, &format!("/Users/{id}"), patch(json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "babs@example.com"}])))
        .await;
    assert_eq!(status, 200, "{after}");
    let work: Vec<&Value> = after["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "work")
        .collect();
    assert_eq!(work[0]["value"], "babs@example.com", "{after}");
    assert_eq!(after["emails"].as_array().unwrap().len(), 2, "{after}");
    let seen = backend.take();
    let methods: Vec<&str> = seen.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(methods, vec!["GET", "PUT"], "{seen:#?}");
    assert_eq!(seen[1].if_match.as_deref(), Some("W/\"2\""), "{seen:#?}");
    assert_eq!(
        seen[1].body["schemas"],
        json!([CORE11, "urn:scim:schemas:extension:enterprise:1.0"])
    );

    // Groups: members added and removed by filter (1.1 "operation": "delete").
    let (status, group) = idp
        .send(Method::POST, "/Groups", Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Tour Guides"})))
        .await;
    assert_eq!(status, 201, "{group}");
    let gid = group["id"].as_str().unwrap().to_string();
    let (status, g) = idp
        .send(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            patch(json!([
            {"op": "add", "path": "members", "value": [{"value": id}]}])),
        )
        .await;
    assert_eq!(status, 200, "{g}");
    assert_eq!(g["members"][0]["value"], json!(id), "{g}");
    let (status, g) = idp
        .send(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            patch(json!([
            {"op": "remove", "path": format!("members[value eq \"{id}\"]")}])),
        )
        .await;
    assert_eq!(status, 200, "{g}");
    assert!(g.get("members").is_none(), "{g}");
    let seen = backend.take();
    assert_eq!(
        seen.last().unwrap().body["members"],
        json!([{"value": id, "operation": "delete"}]),
        "{seen:#?}"
    );

    // Errors come back in the 2.0 format.
    let (status, err) = idp.send(Method::GET, "/Users/nobody", None).await;
    assert_eq!(status, 404);
    assert_eq!(
        err["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{err}"
    );
    assert_eq!(err["status"], "404");
    assert!(err["detail"].as_str().unwrap().contains("nobody"), "{err}");

    // No Bulk for a 1.1 backend, and the tenant's discovery says so.
    let (status, _) = idp
        .send(
            Method::POST,
            "/Bulk",
            Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": []})),
        )
        .await;
    assert_eq!(status, 501);
    let (_, spc) = idp.send(Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(spc["bulk"]["supported"], false, "{spc}");

    // Delete.
    let (status, _) = idp
        .send(Method::DELETE, &format!("/Users/{id}"), None)
        .await;
    assert!(status == 200 || status == 204, "{status}");
    let (status, _) = idp.send(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(status, 404);
}
