//! Audit and change events through the running gateway: every write and
//! failed authentication journaled, events delivered to a tenant's
//! webhook in order, tenants isolated, the Okta Event Hook endpoint.
use crate::support::gateway::{token_for, TestGateway};
use crate::support::webhook::{secret, WebhookReceiver};
use serde_json::{json, Value};
use std::time::Duration;

const OKTA_SECRET: &str = "Basic b2t0YTpzM2NyM3Q=";

fn audit_records(gw: &TestGateway) -> Vec<Value> {
    let dir = gw.dir.join("audit");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn spawn(receiver: &WebhookReceiver, key: &str) -> TestGateway {
    let dir = std::env::temp_dir().join(format!(
        "scimgw-audit-events-{}-{}",
        std::process::id(),
        receiver.addr.port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let secret_file = dir.join("hook.secret");
    std::fs::write(&secret_file, key).unwrap();
    let okta_file = dir.join("okta.secret");
    std::fs::write(&okta_file, OKTA_SECRET).unwrap();
    TestGateway::builder()
        .builtin("store")
        .builtin("other-store")
        .raw_upstream("[events]\npoll_interval = \"20ms\"\n")
        .tenant_with(
            "hooked",
            &["hooked.localhost"],
            "store",
            &format!(
                "[[tenants.webhooks]]\nname = \"main\"\nurl = \"{}\"\nsecret_file = [\"{}\"]\ninitial_backoff = \"50ms\"\nmax_backoff = \"200ms\"\n[tenants.audit]\nvalues = [\"active\"]\n[tenants.okta_hook]\nsecret_file = \"{}\"\n",
                receiver.url(),
                secret_file.display(),
                okta_file.display()
            ),
        )
        .tenant("quiet", &["quiet.localhost"], "other-store")
        .spawn()
}

async fn send(
    gw: &TestGateway,
    host: &str,
    tenant: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    request_id: &str,
) -> reqwest::Response {
    let mut req = gw
        .client()
        .request(method, format!("{}{path}", gw.base(host)))
        .bearer_auth(token_for(tenant))
        .header("x-request-id", request_id);
    if let Some(body) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn writes_are_audited_and_their_events_delivered_in_order() {
    let key = secret(7);
    let receiver = WebhookReceiver::spawn(&[&key]);
    let gw = spawn(&receiver, &key);
    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                      "userName": "ada", "active": true, "password": "hunter2-secret"});
    let created = send(
        &gw,
        "hooked.localhost",
        "hooked",
        reqwest::Method::POST,
        "/Users",
        Some(user.clone()),
        "req-create",
    )
    .await;
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let patched = send(
        &gw,
        "hooked.localhost",
        "hooked",
        reqwest::Method::PATCH,
        &format!("/Users/{id}"),
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "active", "value": false}]}),
        ),
        "req-deactivate",
    )
    .await;
    assert_eq!(patched.status(), 200);
    let deleted = send(
        &gw,
        "hooked.localhost",
        "hooked",
        reqwest::Method::DELETE,
        &format!("/Users/{id}"),
        None,
        "req-delete",
    )
    .await;
    assert_eq!(deleted.status(), 204);
    // A refused write (invalid) and a failed authentication.
    let invalid = send(
        &gw,
        "hooked.localhost",
        "hooked",
        reqwest::Method::POST,
        "/Users",
        Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]})),
        "req-invalid",
    )
    .await;
    assert_eq!(invalid.status(), 400);
    let unauthenticated = gw
        .client()
        .post(format!("{}/Users", gw.base("hooked.localhost")))
        .bearer_auth("not-the-token")
        .header("x-request-id", "req-badauth")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    // The other tenant writes too; its events never reach this webhook.
    let other = send(
        &gw,
        "quiet.localhost",
        "quiet",
        reqwest::Method::POST,
        "/Users",
        Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "q"})),
        "req-other",
    )
    .await;
    assert_eq!(other.status(), 201);

    let received = receiver.wait_for_distinct(3, Duration::from_secs(20)).await;
    let types: Vec<&str> = received
        .iter()
        .map(|r| r.body["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "scim.user.created",
            "scim.user.deactivated",
            "scim.user.deleted"
        ]
    );
    assert!(received.iter().all(|r| r.body["subject"] == id.as_str()));
    assert!(received.iter().all(|r| r.body["tenant"] == "hooked"));
    assert_eq!(received[0].body["data"]["userName"], "ada");
    assert!(
        !received[0].body.to_string().contains("hunter2"),
        "no password in events"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 3, "nothing of tenant quiet");

    let records = audit_records(&gw);
    let by_request =
        |rid: &str| -> Vec<&Value> { records.iter().filter(|r| r["request_id"] == rid).collect() };
    let create = by_request("req-create");
    assert_eq!(create.len(), 1);
    assert_eq!(create[0]["kind"], "write");
    assert_eq!(create[0]["tenant"], "hooked");
    assert_eq!(create[0]["resource_type"], "User");
    assert_eq!(create[0]["resource_id"], id.as_str());
    assert_eq!(create[0]["outcome"]["status"], 201);
    assert_eq!(create[0]["principal"]["credential"], "test");
    assert_eq!(create[0]["values"], json!({"active": true}));
    let names: Vec<&str> = create[0]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(names.contains(&"userName") && names.contains(&"password"));
    let deactivate = by_request("req-deactivate");
    assert_eq!(deactivate[0]["attributes"], json!(["active"]));
    assert_eq!(by_request("req-delete")[0]["outcome"]["status"], 204);
    assert_eq!(by_request("req-invalid")[0]["outcome"]["status"], 400);
    assert_eq!(
        by_request("req-invalid")[0]["outcome"]["upstream_status"],
        Value::Null
    );
    let badauth = by_request("req-badauth");
    assert_eq!(badauth.len(), 1);
    assert_eq!(badauth[0]["kind"], "auth_failure");
    assert_eq!(by_request("req-other")[0]["tenant"], "quiet");
    let text = std::fs::read_dir(gw.dir.join("audit"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .collect::<String>();
    assert!(!text.contains("hunter2"), "no secret on disk");
    assert!(!text.contains(&token_for("hooked")), "no token on disk");
}

#[tokio::test]
async fn bulk_operations_are_audited_one_by_one() {
    let key = secret(8);
    let receiver = WebhookReceiver::spawn(&[&key]);
    let gw = spawn(&receiver, &key);
    let user =
        |n: &str| json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": n});
    let resp = send(
        &gw,
        "hooked.localhost",
        "hooked",
        reqwest::Method::POST,
        "/Bulk",
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": user("bulk-a")},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": user("bulk-b")},
            {"method": "DELETE", "path": "/Users/missing"}]}),
        ),
        "req-bulk",
    )
    .await;
    assert_eq!(resp.status(), 200);
    let received = receiver.wait_for_distinct(2, Duration::from_secs(20)).await;
    assert!(received
        .iter()
        .all(|r| r.body["type"] == "scim.user.created"));
    let records = audit_records(&gw);
    let bulk: Vec<&Value> = records
        .iter()
        .filter(|r| r["request_id"] == "req-bulk")
        .collect();
    let statuses: Vec<u64> = bulk
        .iter()
        .map(|r| r["outcome"]["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 201, 404], "{bulk:?}");
    assert_eq!(bulk[2]["method"], "DELETE");
    assert_eq!(bulk[2]["resource_id"], "missing");
}

#[tokio::test]
async fn okta_event_hooks_are_verified_authenticated_and_journaled() {
    let key = secret(9);
    let receiver = WebhookReceiver::spawn(&[&key]);
    let gw = spawn(&receiver, &key);
    let url = format!("{}/hooks/okta", gw.origin("hooked.localhost"));
    // One-time verification.
    let verify = gw
        .client()
        .get(&url)
        .header("x-okta-verification-challenge", "abc123")
        .send()
        .await
        .unwrap();
    assert_eq!(verify.status(), 200);
    assert_eq!(
        verify.json::<Value>().await.unwrap(),
        json!({"verification": "abc123"})
    );
    let delivery = include_str!("../fixtures/okta-hooks/user-deactivate.json");
    // Without the secret: 401, and an auth-failure record.
    let refused = gw
        .client()
        .post(&url)
        .header("authorization", "Basic d3Jvbmc=")
        .header("x-request-id", "okta-bad")
        .body(delivery)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    // With it, by host and by path.
    for (target, rid) in [
        (url.clone(), "okta-1"),
        (
            format!("{}/tenants/hooked/hooks/okta", gw.origin("gw.localhost")),
            "okta-2",
        ),
    ] {
        let ok = gw
            .client()
            .post(&target)
            .header("authorization", OKTA_SECRET)
            .header("content-type", "application/json")
            .header("x-request-id", rid)
            .body(delivery)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200, "{target}");
    }
    // The same Okta event twice: one id, so a consumer deduplicates.
    let received = receiver.wait_for_distinct(1, Duration::from_secs(20)).await;
    assert_eq!(received[0].body["type"], "okta.user.deactivated");
    assert_eq!(
        received[0].body["id"],
        "5c3b2a9e-7e4a-11ee-9a7c-1b2f2c3d4e5f"
    );
    let records = audit_records(&gw);
    assert!(records
        .iter()
        .any(|r| r["request_id"] == "okta-bad" && r["kind"] == "auth_failure"));
    let idp: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "idp_event")
        .collect();
    assert_eq!(idp.len(), 2);
    assert_eq!(idp[0]["resource_id"], "00ub0oNGTSWTBKOLGLNR");
    // A tenant without a hook has no such endpoint.
    let none = gw
        .client()
        .post(format!("{}/hooks/okta", gw.origin("quiet.localhost")))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 404);
}

#[tokio::test]
async fn writes_are_refused_once_the_audit_log_cannot_be_written() {
    let gw = TestGateway::builder()
        .builtin("store")
        .raw_upstream("[audit]\nmax_file_bytes = 4096\n")
        .tenant("failing", &["failing.localhost"], "store")
        .spawn();
    let user = |n: usize| json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("u{n}")});
    let post = |n: usize| {
        send(
            &gw,
            "failing.localhost",
            "failing",
            reqwest::Method::POST,
            "/Users",
            Some(user(n)),
            "req",
        )
    };
    assert_eq!(post(0).await.status(), 201);
    // The directory disappears: the next rotation cannot create its file.
    std::fs::remove_dir_all(gw.dir.join("audit")).unwrap();
    let mut statuses = Vec::new();
    for n in 1..40 {
        let resp = post(n).await;
        let status = resp.status().as_u16();
        if status == 503 {
            let body: Value = resp.json().await.unwrap();
            assert!(body["detail"].as_str().unwrap().contains("audit"), "{body}");
        }
        statuses.push(status);
    }
    let first_refusal = statuses.iter().position(|s| *s == 503).expect("a 503");
    assert!(
        statuses[first_refusal..].iter().all(|s| *s == 503),
        "every write after the failure refused: {statuses:?}"
    );
    // Refused before the backend: it holds the audited users and the one
    // whose record failed (answered 503 after the backend applied it).
    let list: Value = gw
        .client()
        .get(format!("{}/Users", gw.base("failing.localhost")))
        .bearer_auth(token_for("failing"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["totalResults"].as_u64().unwrap(),
        first_refusal as u64 + 2,
        "{statuses:?}"
    );
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("scim_gateway_audit_unacknowledged_total{tenant=\"failing\"} 1"),
        "{metrics}"
    );
}
