//! Bounded work: one request's CPU cannot hold the gateway.
//!
//! The finding: an Entra-dialect PATCH of a few thousand operations cost
//! seconds to minutes of CPU (the dialect's merge of sub-attribute
//! operations looked ahead from every operation), synchronously on the
//! runtime, so two of them stalled every other tenant. Now a PATCH may
//! carry at most `max_patch_operations` (default 1000; 400 `tooMany`
//! before any work), the merge is one pass, and a large body is worked on
//! off the reactor.
use crate::support::echo::EchoUpstream;
use crate::support::gateway::{token_for, TestGateway};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The finding's shape: Entra's sub-attribute operations on filtered
/// elements, each of another attribute, so none merges and the old merge
/// looked at every later operation from each one. `pad` bytes per value
/// make the body large. (The names are unknown: validation refuses them
/// after the dialect's work.)
fn spread(n: usize, pad: usize) -> String {
    let value = "v".repeat(pad);
    let ops: Vec<Value> = (0..n)
        .map(|i| json!({"op": "Replace", "path": format!("x{i}[type eq \"work\"].value"), "value": value}))
        .collect();
    json!({"schemas": [PATCH_OP], "Operations": ops}).to_string()
}

/// Valid Entra operations: four sub-attributes per filtered address,
/// which the dialect merges into one `add` per address.
fn addresses(n: usize) -> String {
    let subs = ["streetAddress", "locality", "region", "postalCode"];
    let ops: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "op": "Replace",
                "path": format!("addresses[type eq \"t{}\"].{}", i / 4, subs[i % 4]),
                "value": format!("v{i}")
            })
        })
        .collect();
    json!({"schemas": [PATCH_OP], "Operations": ops}).to_string()
}

fn gateway(echo: &EchoUpstream) -> TestGateway {
    TestGateway::builder()
        .http("echo", &echo.url(), "")
        .tenant_with(
            "bounda",
            &["bounda.localhost"],
            "echo",
            "[tenants.dialect]\nprofile = \"entra\"\n",
        )
        .tenant("boundb", &["boundb.localhost"], "echo")
        .spawn()
}

async fn patch(client: &reqwest::Client, gw: &TestGateway, body: String) -> (u16, Value, Duration) {
    let started = Instant::now();
    let resp = client
        .patch(format!("{}/Users/u1", gw.base("bounda.localhost")))
        .bearer_auth(token_for("bounda"))
        .header("content-type", "application/scim+json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body, started.elapsed())
}

#[tokio::test]
async fn a_patch_over_the_cap_is_refused_with_too_many_before_any_work() {
    let echo = EchoUpstream::spawn();
    let gw = gateway(&echo);
    let client = gw.client();
    let (status, body, took) = patch(&client, &gw, spread(1001, 1)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["scimType"], "tooMany", "{body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("1001") && detail.contains("1000"),
        "{detail}"
    );
    // Refused before the dialect's work: quickly, nothing upstream.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(echo.hits.load(std::sync::atomic::Ordering::SeqCst), 0);

    // A PATCH inside a Bulk request has the same cap.
    let ops: Vec<Value> = (0..1001)
        .map(|i| json!({"op": "replace", "path": "displayName", "value": format!("d{i}")}))
        .collect();
    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{
            "method": "PATCH",
            "path": "/Users/u1",
            "data": {"schemas": [PATCH_OP], "Operations": ops}
        }]
    });
    let resp = client
        .post(format!("{}/Bulk", gw.base("boundb.localhost")))
        .bearer_auth(token_for("boundb"))
        .header("content-type", "application/scim+json")
        .body(bulk.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scimType"], "tooMany", "{body}");
    assert_eq!(echo.hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn another_tenants_get_stays_live_while_two_maximal_patches_run() {
    let echo = EchoUpstream::spawn();
    let gw = gateway(&echo);
    let client = gw.client();
    // Two at-cap Entra PATCHes of about 1.5 MB each, at once (the test
    // gateway has two worker threads: before the fix, both were held).
    let heavy: Vec<_> = (0..2)
        .map(|_| {
            let (client, body) = (client.clone(), spread(1000, 1500));
            let url = format!("{}/Users/u1", gw.base("bounda.localhost"));
            tokio::spawn(async move {
                client
                    .patch(url)
                    .bearer_auth(token_for("bounda"))
                    .header("content-type", "application/scim+json")
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    // Tenant B reads meanwhile, again and again until both have answers:
    // every read must be answered within the liveness bound.
    let mut reads = 0;
    loop {
        let started = Instant::now();
        let read = tokio::time::timeout(
            Duration::from_secs(2),
            client
                .get(format!("{}/Users/b1", gw.base("boundb.localhost")))
                .bearer_auth(token_for("boundb"))
                .send(),
        )
        .await;
        let resp = read.unwrap_or_else(|_| {
            panic!("tenant B's GET took over 2 s while tenant A's PATCHes ran (read {reads})")
        });
        assert_eq!(resp.unwrap().status(), 200);
        assert!(started.elapsed() < Duration::from_secs(2));
        reads += 1;
        if heavy.iter().all(|h| h.is_finished()) {
            break;
        }
    }
    for h in heavy {
        // Refused by validation (unknown attributes), after the dialect.
        assert_eq!(h.await.unwrap().unwrap(), 400);
    }
}

#[tokio::test]
async fn an_at_cap_patch_still_succeeds() {
    let echo = EchoUpstream::spawn();
    let gw = gateway(&echo);
    let client = gw.client();
    let (status, seen, _) = patch(&client, &gw, addresses(1000)).await;
    assert_eq!(status, 200, "{seen}");
    // The upstream got the dialect's merge: one `add` per address. The
    // echo upstream's resource has no addresses, so each is Entra's
    // upsert: an add of the whole element (`filtered_upsert`).
    let ops = seen["body"]["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 250);
    assert_eq!(
        ops[0],
        json!({"op": "add", "path": "addresses", "value": [{
            "type": "t0", "streetAddress": "v0", "locality": "v1", "region": "v2", "postalCode": "v3"
        }]})
    );
}

#[tokio::test]
async fn the_cap_is_configurable_and_holds_without_a_dialect_or_validation() {
    let echo = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .server("max_patch_operations = 3")
        .http("echo", &echo.url(), "")
        .tenant_with(
            "boundc",
            &["boundc.localhost"],
            "echo",
            "[tenants.schema]\nvalidate = false\n",
        )
        .spawn();
    let client = gw.client();
    let send = |n: usize| {
        let ops: Vec<Value> = (0..n)
            .map(|i| json!({"op": "replace", "path": "displayName", "value": format!("d{i}")}))
            .collect();
        client
            .patch(format!("{}/Users/u1", gw.base("boundc.localhost")))
            .bearer_auth(token_for("boundc"))
            .header("content-type", "application/scim+json")
            .body(json!({"schemas": [PATCH_OP], "Operations": ops}).to_string())
            .send()
    };
    assert_eq!(send(3).await.unwrap().status(), 200);
    let resp = send(4).await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scimType"], "tooMany");
    assert!(
        body["detail"].as_str().unwrap().contains("at most 3"),
        "{body}"
    );
}
