//! Bad input of every kind gets a 4xx SCIM error naming the problem,
//! never a 500, a panic or a hang.
use crate::support::http::{patch_op, user, ScimClient};
use crate::support::store::TestStore;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn malformed_json_is_invalid_syntax() {
    let store = TestStore::spawn();
    let c = ScimClient::new(store.base_url());
    let a = c
        .send_raw(
            Method::POST,
            "/Users",
            "application/scim+json",
            b"{\"userName\": ".to_vec(),
        )
        .await;
    let detail = a.assert_error(400, Some("invalidSyntax"));
    assert!(detail.contains("JSON"), "{detail}");
    let a = c
        .send_raw(Method::POST, "/Users", "application/scim+json", Vec::new())
        .await;
    a.assert_error(400, Some("invalidSyntax"));
    let a = c
        .send_raw(Method::POST, "/Users", "text/plain", b"hello".to_vec())
        .await;
    a.assert_error(415, None);
}

#[tokio::test]
async fn bad_filters_are_invalid_filter_with_position() {
    let store = TestStore::spawn();
    let c = ScimClient::new(store.base_url());
    for filter in [
        "userName%20eqq%20%22x%22",
        "userName%20eq",
        "(userName%20eq%20%22x%22",
        "emails%5Btype%20eq%20%22work%22",
        "%22unterminated",
    ] {
        let a = c.get(&format!("/Users?filter={filter}")).await;
        let detail = a.assert_error(400, Some("invalidFilter"));
        assert!(detail.contains("position"), "{filter}: {detail}");
    }
}

#[tokio::test]
async fn bad_patches_name_the_problem() {
    let store = TestStore::spawn();
    let c = ScimClient::new(store.base_url());
    let id = c.post("/Users", &user("patchy")).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/Users/{id}");
    let before = c.get(&path).await.body;

    let a = c
        .patch(
            &path,
            &patch_op(json!([{"op": "replace", "path": "nosuchattr", "value": "x"}])),
        )
        .await;
    let detail = a.assert_error(400, Some("invalidPath"));
    assert!(detail.contains("nosuchattr"), "{detail}");

    let a = c
        .patch(
            &path,
            &patch_op(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}])),
        )
        .await;
    a.assert_error(400, Some("invalidPath"));

    let a = c
        .patch(
            &path,
            &patch_op(json!([{"op": "replace", "path": "active", "value": "yes"}])),
        )
        .await;
    let detail = a.assert_error(400, Some("invalidValue"));
    assert!(detail.contains("active"), "{detail}");

    let a = c
        .patch(
            &path,
            &patch_op(json!([{"op": "replace", "path": "id", "value": "new"}])),
        )
        .await;
    a.assert_error(400, Some("mutability"));

    let a = c
        .patch(
            &path,
            &patch_op(json!([{"op": "remove", "path": "emails[type eq \"home\"]"}])),
        )
        .await;
    a.assert_error(400, Some("noTarget"));

    // Atomic: the first operation is valid, the second is not.
    let a = c
        .patch(
            &path,
            &patch_op(json!([
                {"op": "replace", "path": "displayName", "value": "changed"},
                {"op": "replace", "path": "name.nope", "value": "x"}
            ])),
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        c.get(&path).await.body,
        before,
        "a failed PATCH changes nothing"
    );

    let a = c.patch(&path, &json!({"Operations": []})).await;
    a.assert_error(400, Some("invalidSyntax"));
}

#[tokio::test]
async fn wrong_types_and_missing_attributes_are_invalid_value() {
    let store = TestStore::spawn();
    let c = ScimClient::new(store.base_url());
    let mut u = user("typed");
    u["active"] = json!("true");
    let detail = c
        .post("/Users", &u)
        .await
        .assert_error(400, Some("invalidValue"));
    assert!(detail.contains("active"), "{detail}");

    let mut u = user("typed");
    u["name"] = json!("Barbara Jensen");
    let detail = c
        .post("/Users", &u)
        .await
        .assert_error(400, Some("invalidValue"));
    assert!(detail.contains("name"), "{detail}");

    let u = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "displayName": "x"});
    let detail = c
        .post("/Users", &u)
        .await
        .assert_error(400, Some("invalidValue"));
    assert!(detail.contains("userName"), "{detail}");

    let u = json!({"userName": "noschemas"});
    let detail = c
        .post("/Users", &u)
        .await
        .assert_error(400, Some("invalidValue"));
    assert!(detail.contains("schemas"), "{detail}");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let store = TestStore::spawn();
    let c = ScimClient::new(store.base_url());
    let mut u = user("big");
    u["displayName"] = json!("x".repeat(3 * 1024 * 1024));
    let a = c.post("/Users", &u).await;
    a.assert_error(413, None);
}

#[tokio::test]
async fn unknown_places_are_404_and_unsupported_methods_405() {
    let store = TestStore::spawn();
    let c = ScimClient::new(store.base_url());
    c.get("/Widgets").await.assert_error(404, None);
    c.get("/Users/does-not-exist").await.assert_error(404, None);
    c.get("/Users/a/b/c").await.assert_error(404, None);
    c.send(Method::DELETE, "/Users", None, &[])
        .await
        .assert_error(405, None);
    c.get("/Me").await.assert_error(501, None);
}
