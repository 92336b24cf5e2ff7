//! IdP dialects through the gateway: Entra ID's documented quirks reach
//! the upstream as canonical RFC 7644, and shadow mode only reports.
use crate::support::echo::EchoUpstream;
use crate::support::gateway::{token_for, TestGateway};
use serde_json::{json, Value};

/// Entra ID's documented "disable user" PATCH (without the
/// aadOptscim062020 flag): capitalized op, string boolean.
fn entra_disable() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
    })
}

#[tokio::test]
async fn entra_quirks_reach_the_upstream_canonical_and_shadow_only_reports() {
    let echo = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .http("echo", &echo.url(), "")
        .tenant_with(
            "dialecta",
            &["dialecta.localhost"],
            "echo",
            "[tenants.dialect]\nprofile = \"entra\"\n",
        )
        .tenant_with(
            "dialectg",
            &["dialectg.localhost"],
            "echo",
            // Without validation: the gateway would refuse the uncorrected
            // string boolean itself.
            "[tenants.dialect]\nprofile = \"entra\"\nshadow = true\n\
             [tenants.schema]\nvalidate = false\n",
        )
        .spawn();
    let client = gw.client();
    let patch = |host: &str, auth: String| {
        client
            .patch(format!("{}/Users/echo?aadOptscim062020", gw.base(host)))
            .header("authorization", auth)
            .header("content-type", "application/scim+json")
            .body(entra_disable().to_string())
            .send()
    };

    // Doubled "Bearer Bearer" is accepted; the flag is stripped; the
    // operation arrives canonical.
    let resp = patch(
        "dialecta.localhost",
        format!("Bearer Bearer {}", token_for("dialecta")),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let seen: Value = resp.json().await.unwrap();
    assert_eq!(
        seen["body"]["Operations"][0],
        json!({"op": "replace", "path": "active", "value": false})
    );
    assert!(
        !seen["uri"].as_str().unwrap().contains("aadOptscim062020"),
        "{}",
        seen["uri"]
    );

    // Shadow: the upstream gets the request as sent; the rules are counted.
    let resp = patch(
        "dialectg.localhost",
        format!("Bearer {}", token_for("dialectg")),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let seen: Value = resp.json().await.unwrap();
    assert_eq!(seen["body"], entra_disable());
    let metrics = gw.metrics().await;
    for needle in [
        "scim_gateway_dialect_rules_total{tenant=\"dialecta\",rule=\"op_case\",mode=\"applied\"} 1",
        "scim_gateway_dialect_rules_total{tenant=\"dialectg\",rule=\"string_booleans\",mode=\"shadow\"} 1",
    ] {
        assert!(metrics.contains(needle), "{needle}\n{metrics}");
    }
}

/// Entra ID's PATCH of a work address the user does not have yet: one
/// operation per sub-attribute on the filtered path (Microsoft Q&A
/// "Patch request in SCIM with Azure AD"; the SimpleIdServer report of
/// Entra's shape). Entra expects one new element.
fn entra_work_address() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Seattle"},
            {"op": "Add", "path": "addresses[type eq \"work\"].region", "value": "WA"}
        ]
    })
}

/// A `Replace` of one sub-attribute of an element that is not there.
fn entra_replace_postal_code() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "addresses[type eq \"home\"].postalCode", "value": "98052"}
        ]
    })
}

/// Entra's filtered-path upsert through `profile = "entra"`, in front of
/// a store that applies PATCH itself and of one without PATCH (emulated):
/// the element is created once, with both sub-attributes; a second PATCH
/// updates it in place; other tenants keep RFC 7644's 400 `noTarget`.
#[tokio::test]
async fn entra_filtered_path_adds_upsert_natively_and_emulated() {
    use crate::support::store::TestStore;
    use scim_gateway::store::StoreConfig;
    let native = TestStore::spawn();
    let legacy = TestStore::spawn_with(StoreConfig {
        patch: false,
        ..StoreConfig::default()
    });
    let entra = "[tenants.dialect]\nprofile = \"entra\"\n";
    let gw = TestGateway::builder()
        .http("native", &native.base_url(), "")
        .http(
            "legacy",
            &legacy.base_url(),
            "[upstreams.legacy.capabilities]\npatch = false\n",
        )
        .builtin("inproc")
        .tenant_with("entran", &["entran.localhost"], "native", entra)
        .tenant_with("entral", &["entral.localhost"], "legacy", entra)
        .tenant_with("entrab", &["entrab.localhost"], "inproc", entra)
        .tenant("plain", &["plain.localhost"], "native")
        .spawn();
    let client = gw.client();
    let send = |method: reqwest::Method, host: &'static str, path: String, body: Value| {
        let req = client
            .request(method, format!("{}{path}", gw.base(host)))
            .bearer_auth(token_for(host.split('.').next().unwrap()))
            .header("content-type", "application/scim+json")
            .body(body.to_string());
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let user = |name: &str| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": name,
            "addresses": [{"type": "other", "locality": "Nowhere"}]
        })
    };
    for host in ["entran.localhost", "entral.localhost", "entrab.localhost"] {
        let (status, created) =
            send(reqwest::Method::POST, host, "/Users".into(), user(host)).await;
        assert_eq!(status, 201, "{host}: {created}");
        let path = format!("/Users/{}", created["id"].as_str().unwrap());

        let (status, patched) = send(
            reqwest::Method::PATCH,
            host,
            path.clone(),
            entra_work_address(),
        )
        .await;
        assert_eq!(status, 200, "{host}: {patched}");
        let (_, read) = send(reqwest::Method::GET, host, path.clone(), Value::Null).await;
        let work: Vec<&Value> = read["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["type"] == "work")
            .collect();
        assert_eq!(work.len(), 1, "{host}: one work address\n{read}");
        assert_eq!(work[0]["locality"], "Seattle", "{host}: {read}");
        assert_eq!(work[0]["region"], "WA", "{host}: {read}");
        assert_eq!(
            read["addresses"].as_array().unwrap().len(),
            2,
            "{host}: {read}"
        );

        // Now it exists: the same shape updates it in place.
        let again = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Redmond"}
            ]
        });
        let (status, body) = send(reqwest::Method::PATCH, host, path.clone(), again).await;
        assert_eq!(status, 200, "{host}: {body}");
        let (_, read) = send(reqwest::Method::GET, host, path.clone(), Value::Null).await;
        let work: Vec<&Value> = read["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["type"] == "work")
            .collect();
        assert_eq!(work.len(), 1, "{host}: {read}");
        assert_eq!(work[0]["locality"], "Redmond", "{host}: {read}");
        assert_eq!(work[0]["region"], "WA", "{host}: {read}");

        // A replace on an element that is not there creates it too.
        let (status, body) = send(
            reqwest::Method::PATCH,
            host,
            path.clone(),
            entra_replace_postal_code(),
        )
        .await;
        assert_eq!(status, 200, "{host}: {body}");
        let (_, read) = send(reqwest::Method::GET, host, path, Value::Null).await;
        let home: Vec<&Value> = read["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["type"] == "home")
            .collect();
        assert_eq!(home.len(), 1, "{host}: {read}");
        assert_eq!(home[0]["postalCode"], "98052", "{host}: {read}");
    }

    // Without the Entra dialect, RFC 7644: a filter that selects nothing
    // is 400 noTarget, and nothing changes.
    let (_, created) = send(
        reqwest::Method::POST,
        "plain.localhost",
        "/Users".into(),
        user("plain"),
    )
    .await;
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    let lower_case = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "replace", "path": "addresses[type eq \"home\"].postalCode", "value": "98052"}
        ]
    });
    let (status, body) = send(reqwest::Method::PATCH, "plain.localhost", path, lower_case).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["scimType"], "noTarget", "{body}");
}

/// `profile = "auto"` with a token Entra issued itself (its "Secret Token"
/// left blank: the tutorial's `iss` is `https://sts.windows.net/{tenant}/`),
/// no query flag and a User-Agent that names nobody: the verified issuer
/// decides, so Entra's rules apply (here `remove_by_value_list`, Entra's
/// alone). Before, the issuer was never consulted and `auto` fell back to
/// the generic rules.
#[tokio::test]
async fn auto_recognizes_entra_by_its_verified_token_issuer() {
    use crate::support::issuer::keys::{secs, TestKeys};
    use crate::support::issuer::Issuer;
    let keys = TestKeys::new();
    let issuer = Issuer::spawn(keys.jwks());
    let echo = EchoUpstream::spawn();
    let entra_iss = "https://sts.windows.net/12345678-0000-0000-0000-000000000000/";
    let gw = TestGateway::builder()
        .http("echo", &echo.url(), "")
        .tenant_with(
            "autoe",
            &["autoe.localhost"],
            "echo",
            &format!(
                "[tenants.jwt]\nissuers = [\"{entra_iss}\"]\naudiences = [\"8adf8e6e-67b2-4cf2-a259-e3dc5476c621\"]\n\
                 jwks_uri = \"{}/jwks\"\n[tenants.dialect]\nprofile = \"auto\"\n",
                issuer.issuer()
            ),
        )
        .spawn();
    let t = secs(std::time::SystemTime::now());
    let token = keys.sign(
        "RS256",
        Some("rsa-1"),
        &json!({"iss": entra_iss, "aud": "8adf8e6e-67b2-4cf2-a259-e3dc5476c621",
                "sub": "provisioning", "appid": "00000014-0000-0000-c000-000000000000",
                "iat": t, "nbf": t, "exp": t + 300}),
    );
    let remove = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Remove", "path": "members",
                        "value": [{"value": "u1"}, {"value": "u2"}]}]
    });
    let resp = gw
        .client()
        .patch(format!("{}/Groups/g1", gw.base("autoe.localhost")))
        .bearer_auth(&token)
        .header("user-agent", "provisioning-client/1.0")
        .header("content-type", "application/scim+json")
        .body(remove.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let seen: Value = resp.json().await.unwrap();
    assert_eq!(
        seen["body"]["Operations"],
        json!([
            {"op": "remove", "path": "members[value eq \"u1\"]"},
            {"op": "remove", "path": "members[value eq \"u2\"]"}
        ]),
        "{seen}"
    );
}
