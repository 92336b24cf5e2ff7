//! The provisioning SLIs at /metrics (docs/observability.md): deprovision
//! latency and the Bulk failure ratio, counted through the gateway in
//! front of the built-in store.
use crate::support::gateway::{token_for, TestGateway};
use serde_json::{json, Value};

#[tokio::test]
async fn deprovisions_and_bulk_outcomes_are_measured() {
    let gw = TestGateway::builder()
        .builtin("store")
        .tenant("slis", &["slis.localhost"], "store")
        .spawn();
    let client = gw.client();
    let send = |method: reqwest::Method, path: &str, body: Value| {
        let req = client
            .request(method, format!("{}{path}", gw.base("slis.localhost")))
            .bearer_auth(token_for("slis"))
            .header("content-type", "application/scim+json")
            .body(body.to_string());
        async move { req.send().await.unwrap() }
    };
    let user = |name: &str| json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name});
    let mut ids = Vec::new();
    for name in ["a", "b"] {
        let created: Value = send(reqwest::Method::POST, "/Users", user(name))
            .await
            .json()
            .await
            .unwrap();
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    // Deactivate one, delete the other: two deprovisions.
    let resp = send(
        reqwest::Method::PATCH,
        &format!("/Users/{}", ids[0]),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "replace", "value": {"active": false}}]}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = send(
        reqwest::Method::DELETE,
        &format!("/Users/{}", ids[1]),
        Value::Null,
    )
    .await;
    assert_eq!(resp.status(), 204);
    // A Bulk request with one good and one failing operation.
    let resp = send(
        reqwest::Method::POST,
        "/Bulk",
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "c", "data": user("c")},
            {"method": "DELETE", "path": "/Users/does-not-exist"}]}),
    )
    .await;
    assert_eq!(resp.status(), 200);

    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(
            "scim_gateway_deprovision_duration_seconds_count{tenant=\"slis\",outcome=\"success\"} 2"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("scim_gateway_bulk_operations_total{tenant=\"slis\",outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("scim_gateway_bulk_operations_total{tenant=\"slis\",outcome=\"failed\"} 1"),
        "{metrics}"
    );
}

/// The recorder's upkeep (histogram samples drained into their buckets)
/// runs on a timer whether or not anyone scrapes: before, only a scrape
/// drained them, so a gateway never scraped (or without `[admin]`) kept
/// every latency sample. The timer's runs are counted; a scrape never
/// counts as one.
#[tokio::test]
async fn the_metrics_upkeep_runs_on_a_timer() {
    let gw = TestGateway::builder()
        .builtin("store")
        .tenant("upkeep", &["upkeep.localhost"], "store")
        .spawn();
    // Samples for the histograms.
    let resp = gw
        .client()
        .get(format!("{}/Users", gw.base("upkeep.localhost")))
        .bearer_auth(token_for("upkeep"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let runs = |page: &str| {
        page.lines()
            .find(|l| l.starts_with("scim_gateway_metrics_upkeep_total "))
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
    };
    // The timer runs every 5 s; one run within three periods.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let page = gw.metrics().await;
        if runs(&page).is_some_and(|n| n >= 1) {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "no upkeep ran in 15 s\n{page}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}
