//! The deprovisioning guardrail end to end, with the built binary in front
//! of a real store: a mass deactivation past the limit is held (503 with
//! `Retry-After`, nothing reaches the store), reads and other writes pass,
//! the IdP's retries add no second entry, the held operations survive a
//! crash and restart, and an operator lists, releases and drops them with
//! the `scim-gateway guardrail` command (the release reaches the store
//! once, the drop never; both are audited). A dry-run tenant holds
//! nothing; one tenant never sees another's held operations.
use crate::support::audit_log::read_records;
use crate::support::audited::temp_dir;
use crate::support::gateway::token_for;
use crate::support::http::{patch_op, user, Answer, ScimClient};
use crate::support::process::GatewayProcess;
use crate::support::store::TestStore;
use reqwest::Method;
use scim_gateway::authn::static_token::hash_token_hex;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

const ADMIN_TOKEN: &str = "guardrail-admin-token-0123456789ab";

fn config(dir: &Path, store: &str) -> PathBuf {
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
plaintext = true

[admin]
listen = "127.0.0.1:0"
token_hash = "{admin_hash}"

[audit]
dir = "audit"
fsync_interval = "10ms"

[upstreams.store]
kind = "http"
url = "{store}"

[[tenants]]
id = "acme"
hosts = ["acme.localhost"]
upstream = "store"
[[tenants.tokens]]
name = "okta"
hash = "{acme}"
[tenants.dialect]
profile = "entra"
[tenants.guardrail]
max_deprovisions = 3
window = "1h"
retry_after = "2m"

[[tenants]]
id = "beta"
hosts = ["beta.localhost"]
upstream = "store"
[[tenants.tokens]]
name = "entra"
hash = "{beta}"
[tenants.guardrail]
max_deprovisions = 1
mode = "dry_run"
"#,
        admin_hash = hash_token_hex(ADMIN_TOKEN),
        acme = hash_token_hex(&token_for("acme")),
        beta = hash_token_hex(&token_for("beta")),
    );
    std::fs::write(dir.join("admin-token"), format!("{ADMIN_TOKEN}\n")).unwrap();
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// One SCIM call to `tenant` on the gateway.
async fn call(
    gw: SocketAddr,
    tenant: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Answer {
    let c = ScimClient::new(format!("http://{gw}/scim/v2"));
    let token = format!("Bearer {}", token_for(tenant));
    let host = format!("{tenant}.localhost");
    c.send(
        method,
        path,
        body,
        &[("host", &host), ("authorization", &token)],
    )
    .await
}

/// Creates users `{prefix}{i}` of `tenant` through the gateway; their ids.
async fn create_users(gw: SocketAddr, tenant: &str, prefix: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..count {
        let body = user(&format!("{prefix}{i}"));
        let a = call(gw, tenant, Method::POST, "/Users", Some(&body)).await;
        assert_eq!(a.status, 201, "{}", a.body);
        ids.push(a.body["id"].as_str().unwrap().to_string());
    }
    ids
}

fn deactivate() -> Value {
    // Entra ID's form: the value as a string (the tenant's dialect).
    patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}]))
}

/// `scim-gateway guardrail ARGS...` against `admin`; stdout, and success.
fn cli(admin: SocketAddr, dir: &Path, args: &[&str]) -> (String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
        .arg("guardrail")
        .args(args)
        .args(["--admin", &format!("http://{admin}")])
        .arg("--token-file")
        .arg(dir.join("admin-token"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.success())
}

async fn admin_get(admin: SocketAddr, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("http://{admin}/admin/v1{path}"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `active` of a User as the store holds it (`None`: no such user).
async fn active_in_store(store: &TestStore, id: &str) -> Option<bool> {
    let url = format!("{}/Users/{id}", store.base_url());
    let r = reqwest::get(url).await.ok()?;
    if r.status() != 200 {
        return None;
    }
    let v: Value = r.json().await.ok()?;
    v["active"].as_bool().or(Some(true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mass_deactivation_is_held_survives_a_restart_and_is_released_by_an_operator() {
    let store = TestStore::spawn();
    let dir = temp_dir("guardrail");
    let cfg = config(&dir, &store.base_url());
    let mut gw = GatewayProcess::spawn(&cfg);

    // Seven users, created through the gateway (creates are no
    // deprovisions: never counted).
    let ids = create_users(gw.public, "acme", "user", 7).await;

    // The IdP deactivates everyone: three pass, the rest are held.
    for (i, id) in ids.iter().enumerate().take(6) {
        let a = call(
            gw.public,
            "acme",
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(&deactivate()),
        )
        .await;
        if i < 3 {
            assert!(
                a.status.is_success(),
                "deprovision {i}: {} {}",
                a.status,
                a.body
            );
        } else {
            let detail = a.assert_error(503, None);
            assert!(detail.contains("guardrail"), "{detail}");
            assert_eq!(a.header("retry-after"), Some("120"));
        }
    }
    let mut store_view = Vec::new();
    for id in &ids {
        store_view.push(active_in_store(&store, id).await);
    }
    assert_eq!(
        store_view,
        [
            Some(false),
            Some(false),
            Some(false),
            Some(true),
            Some(true),
            Some(true),
            Some(true)
        ],
        "only the first three reached the store"
    );

    // Reads and other writes pass; a DELETE is a deprovision too: held.
    let a = call(
        gw.public,
        "acme",
        Method::GET,
        &format!("/Users/{}", ids[3]),
        None,
    )
    .await;
    assert_eq!(a.status, 200);
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Still Here"}]));
    let a = call(
        gw.public,
        "acme",
        Method::PATCH,
        &format!("/Users/{}", ids[3]),
        Some(&rename),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = call(
        gw.public,
        "acme",
        Method::DELETE,
        &format!("/Users/{}", ids[6]),
        None,
    )
    .await;
    a.assert_error(503, None);

    // A Bulk request holding a deprovision is held whole: its create
    // waits with it.
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "n1", "data": user("bulk-new")},
            {"method": "DELETE", "path": format!("/Users/{}", ids[5])}]});
    let a = call(gw.public, "acme", Method::POST, "/Bulk", Some(&bulk)).await;
    a.assert_error(503, None);
    let a = call(
        gw.public,
        "acme",
        Method::GET,
        "/Users?filter=userName%20eq%20%22bulk-new%22",
        None,
    )
    .await;
    assert_eq!(a.body["totalResults"], 0, "{}", a.body);

    // The IdP retries a held request: the same entry, no new one.
    let a = call(
        gw.public,
        "acme",
        Method::PATCH,
        &format!("/Users/{}", ids[3]),
        Some(&deactivate()),
    )
    .await;
    a.assert_error(503, None);
    let (status, list) = admin_get(gw.admin.unwrap(), "/tenants/acme/guardrail").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["pending"], 5, "{list}");
    assert!(list["held"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["kind"] == "bulk" && o["weight"] == 1));
    let held: Vec<&Value> = list["held"].as_array().unwrap().iter().collect();
    assert!(held
        .iter()
        .any(|o| o["retries"] == 1 && o["path"] == format!("/Users/{}", ids[3])));
    assert!(held.iter().all(|o| o["asked_by"]["credential"] == "okta"));

    // A crash, and a restart: the held operations are still there, and
    // still hold back further deprovisions.
    gw.kill();
    let gw = GatewayProcess::spawn(&cfg);
    let admin = gw.admin.unwrap();
    let (text, ok) = cli(admin, &dir, &["list", "--tenant", "acme"]);
    assert!(ok, "{text}");
    assert!(text.starts_with("tenant acme: 5 pending"), "{text}");
    for id in &ids[3..] {
        assert!(text.contains(&format!("/Users/{id}")), "{text}");
    }
    let a = call(
        gw.public,
        "acme",
        Method::PATCH,
        &format!("/Users/{}", ids[5]),
        Some(&deactivate()),
    )
    .await;
    a.assert_error(503, None);

    // The operator releases user 3's and drops user 4's.
    let (_, list) = admin_get(admin, "/tenants/acme/guardrail").await;
    let id_of = |path: String| {
        list["held"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["path"] == path)
            .map(|o| o["id"].as_str().unwrap().to_string())
            .unwrap()
    };
    let (release, drop) = (
        id_of(format!("/Users/{}", ids[3])),
        id_of(format!("/Users/{}", ids[4])),
    );
    let (text, ok) = cli(
        admin,
        &dir,
        &["release", "--tenant", "acme", &release, "--by", "alice"],
    );
    assert!(ok, "{text}");
    assert!(text.contains("released (upstream 200)"), "{text}");
    let (text, ok) = cli(
        admin,
        &dir,
        &["drop", "--tenant", "acme", &drop, "--by", "bob"],
    );
    assert!(ok, "{text}");
    assert!(text.contains("dropped"), "{text}");
    assert_eq!(
        active_in_store(&store, &ids[3]).await,
        Some(false),
        "released: applied"
    );
    assert_eq!(
        active_in_store(&store, &ids[4]).await,
        Some(true),
        "dropped: never applied"
    );
    // Deciding twice is refused; an unknown id is not found.
    let (text, ok) = cli(
        admin,
        &dir,
        &["release", "--tenant", "acme", &release, "--by", "alice"],
    );
    assert!(!ok && text.contains("409"), "{text}");
    let (text, ok) = cli(
        admin,
        &dir,
        &["drop", "--tenant", "acme", &"0".repeat(32), "--by", "bob"],
    );
    assert!(!ok && text.contains("404"), "{text}");

    // The IdP's retries: the released one passes (uncounted), the dropped
    // one is refused for good (403, not retryable).
    let a = call(
        gw.public,
        "acme",
        Method::PATCH,
        &format!("/Users/{}", ids[3]),
        Some(&deactivate()),
    )
    .await;
    assert!(a.status.is_success(), "{} {}", a.status, a.body);
    let a = call(
        gw.public,
        "acme",
        Method::PATCH,
        &format!("/Users/{}", ids[4]),
        Some(&deactivate()),
    )
    .await;
    let detail = a.assert_error(403, None);
    assert!(detail.contains("dropped"), "{detail}");

    // Three still wait (users 5 and 6, the Bulk); the metric says so.
    let (_, list) = admin_get(admin, "/tenants/acme/guardrail").await;
    assert_eq!(list["pending"], 3, "{list}");
    let metrics = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"scim_gateway_guardrail_pending{tenant="acme"} 3"#),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("guardrail"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Tenant isolation: beta sees none of acme's, and cannot decide on
    // them.
    let (_, beta) = admin_get(admin, "/tenants/beta/guardrail").await;
    assert_eq!(beta["held"], json!([]), "{beta}");
    let (text, ok) = cli(
        admin,
        &dir,
        &[
            "release",
            "--tenant",
            "beta",
            &id_of(format!("/Users/{}", ids[5])),
            "--by",
            "eve",
        ],
    );
    assert!(!ok && text.contains("404"), "{text}");

    // The audit log: the holds, the operator's decisions with their
    // authors, and the replay that reached the store.
    drop_gateway(gw);
    let records = read_records(&dir.join("audit"));
    let with = |action: &str| -> Vec<&Value> {
        records
            .iter()
            .filter(|r| r["guardrail"]["action"] == action)
            .collect()
    };
    assert!(
        with("held").len() >= 5,
        "holds and retries: {}",
        with("held").len()
    );
    assert!(with("held")
        .iter()
        .all(|r| r["outcome"]["status"] == 503 && r["outcome"]["upstream_status"].is_null()));
    let released = with("released");
    assert_eq!(released.len(), 1);
    assert_eq!(
        (
            released[0]["kind"].as_str(),
            released[0]["guardrail"]["by"].as_str()
        ),
        (Some("operator"), Some("alice"))
    );
    let replay = with("replay");
    assert_eq!(replay.len(), 1);
    assert_eq!(replay[0]["outcome"]["upstream_status"], 200);
    assert_eq!(replay[0]["principal"]["credential"], "okta");
    assert_eq!(
        with("dropped")
            .iter()
            .filter(|r| r["kind"] == "operator")
            .count(),
        1
    );
    assert_eq!(with("after_release").len(), 1);
}

fn drop_gateway(mut gw: GatewayProcess) {
    gw.terminate(std::time::Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_holds_nothing_and_an_ambiguous_body_is_refused() {
    let store = TestStore::spawn();
    let dir = temp_dir("guardrail-dry");
    let gw = GatewayProcess::spawn(&config(&dir, &store.base_url()));
    let ids = create_users(gw.public, "beta", "b", 3).await;
    for id in &ids {
        let a = call(
            gw.public,
            "beta",
            Method::DELETE,
            &format!("/Users/{id}"),
            None,
        )
        .await;
        assert_eq!(a.status, 204, "{}", a.body);
    }
    let admin = gw.admin.unwrap();
    let metrics = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"scim_gateway_guardrail_would_hold_total{tenant="beta"} 2"#),
        "{metrics}"
    );
    let (_, list) = admin_get(admin, "/tenants/beta/guardrail").await;
    assert_eq!(list["pending"], 0);

    // `active` twice (ignoring case): what would the backend do? Refused.
    let a = call(
        gw.public,
        "acme",
        Method::POST,
        "/Users",
        Some(&user("amb")),
    )
    .await;
    let id = a.body["id"].as_str().unwrap().to_string();
    let c = ScimClient::new(format!("http://{}/scim/v2", gw.public));
    let body = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"replace","value":{"active":true,"Active":false}}]}"#;
    let r = reqwest::Client::new()
        .patch(format!("{}/Users/{id}", c.base()))
        .header("host", "acme.localhost")
        .bearer_auth(token_for("acme"))
        .header("content-type", "application/scim+json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["scimType"], "invalidSyntax", "{v}");
    assert_eq!(active_in_store(&store, &id).await, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_mapping_and_emulated_patch_a_held_deactivation_is_released_in_the_backends_names() {
    use crate::support::gateway::TestGateway;
    let backend = crate::support::recorder::legacy_backend();
    let table = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mapping/store-legacy.toml");
    let extra = format!(
        "[tenants.schema]\nmapping = \"{}\"\n[tenants.dialect]\nprofile = \"entra\"\n[tenants.guardrail]\nmax_deprovisions = 1\n",
        table.display()
    );
    let gw = TestGateway::builder()
        .http("legacy", &backend.url(), "")
        .tenant_with("legacy", &["legacy.localhost"], "legacy", &extra)
        .spawn();
    let base = gw.base("legacy.localhost");
    let c = gw.client();
    let send = |method: reqwest::Method, path: String, body: Option<Value>| {
        let mut r = c
            .request(method, format!("{base}{path}"))
            .bearer_auth(token_for("legacy"));
        if let Some(b) = body {
            r = r
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        r.send()
    };
    let mut ids = Vec::new();
    for name in ["m1", "m2"] {
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": name, "title": "Engineer"});
        let r = send(reqwest::Method::POST, "/Users".into(), Some(body))
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        ids.push(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    backend.take();
    // Entra's deactivation, in the tenant's names: the first passes as an
    // emulated PATCH (a GET and a PUT upstream), the second is held.
    for (i, id) in ids.iter().enumerate() {
        let r = send(
            reqwest::Method::PATCH,
            format!("/Users/{id}"),
            Some(deactivate()),
        )
        .await
        .unwrap();
        assert_eq!(r.status().as_u16(), if i == 0 { 200 } else { 503 }, "{i}");
    }
    let seen = backend.take();
    let puts: Vec<_> = seen.iter().filter(|r| r.method == "PUT").collect();
    assert_eq!(puts.len(), 1, "{seen:?}");
    assert!(puts[0].target.ends_with(&ids[0]));
    assert_eq!(puts[0].body["active"], false);
    assert_eq!(
        puts[0].body["urn:example:legacy:2.0:User"]["jobTitle"],
        "Engineer"
    );

    // Released: the same emulated PATCH reaches the backend, in its names.
    let list: Value = c
        .get(gw.admin_url("/admin/v1/tenants/legacy/guardrail"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let held = list["held"][0]["id"].as_str().unwrap().to_string();
    let r = c
        .post(gw.admin_url(&format!(
            "/admin/v1/tenants/legacy/guardrail/{held}/release?by=carol"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let released: Value = r.json().await.unwrap();
    assert_eq!(
        (
            released["state"].as_str(),
            released["upstream_status"].as_u64()
        ),
        (Some("released"), Some(200))
    );
    let seen = backend.take();
    let puts: Vec<_> = seen.iter().filter(|r| r.method == "PUT").collect();
    assert_eq!(puts.len(), 1, "{seen:?}");
    assert!(puts[0].target.ends_with(&ids[1]));
    assert_eq!(puts[0].body["active"], false);
    assert_eq!(
        puts[0].body["urn:example:legacy:2.0:User"]["jobTitle"],
        "Engineer"
    );
}
