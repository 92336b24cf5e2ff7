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
