//! The admin API on the built binary's admin listener: the bearer token
//! (401 with `WWW-Authenticate` without it or with a wrong one), every
//! endpoint's answer after real traffic, no secret in any answer (token
//! hashes, the admin token, an upstream URL's password, a credential read
//! from the environment), no client input in the recent errors, the
//! audit head following writes, `check-config` refusing a public admin
//! listener without a token, and `POST /admin/v1/drain` draining the
//! gateway as SIGTERM does.
use crate::support::audited::temp_dir;
use crate::support::gateway::token_for;
use crate::support::process::GatewayProcess;
use scim_gateway::authn::static_token::hash_token_hex;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef0123";
/// The upstream's bearer token, read from a file by the gateway.
const UPSTREAM_SECRET: &str = "upstream-secret-from-env-4242";
const URL_PASSWORD: &str = "url-password-s3cr3t";

fn config(dir: &Path) -> PathBuf {
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
plaintext = true
drain_delay = "1s"

[admin]
listen = "127.0.0.1:0"
token_hash = "{admin_hash}"

[audit]
dir = "audit"
fsync_interval = "20ms"

[upstreams.store]
kind = "builtin"

[upstreams.remote]
kind = "http"
url = "http://svc:{URL_PASSWORD}@127.0.0.1:9/scim/v2"
[upstreams.remote.auth]
kind = "bearer"
token_file = "upstream-token"

[[tenants]]
id = "acme"
hosts = ["acme.localhost"]
upstream = "store"
[tenants.limits]
max_concurrent = 4
[[tenants.tokens]]
name = "idp"
hash = "{hash}"
[tenants.cache]
ttl = "30s"

[[tenants]]
id = "remote"
hosts = ["remote.localhost"]
upstream = "remote"
[[tenants.tokens]]
name = "other"
hash = "{remote_hash}"
"#,
        admin_hash = hash_token_hex(ADMIN_TOKEN),
        hash = hash_token_hex(&token_for("acme")),
        remote_hash = hash_token_hex(&token_for("remote")),
    );
    std::fs::write(dir.join("upstream-token"), UPSTREAM_SECRET).unwrap();
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn spawn(dir: &Path) -> GatewayProcess {
    GatewayProcess::spawn(&config(dir))
}

async fn scim(
    c: &reqwest::Client,
    to: SocketAddr,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> u16 {
    let mut req = c
        .request(method, format!("http://{to}/scim/v2{path}"))
        .header("host", "acme.localhost")
        .bearer_auth(token);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(b.to_string());
    }
    req.send().await.unwrap().status().as_u16()
}

async fn admin(c: &reqwest::Client, to: SocketAddr, path: &str) -> (u16, String) {
    let r = c
        .get(format!("http://{to}/admin/v1{path}"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_answers_after_traffic_and_shows_no_secret() {
    let dir = temp_dir("admin-api");
    let gw = spawn(&dir);
    let to = gw.admin.unwrap();
    let c = reqwest::Client::new();
    let token = token_for("acme");

    // Without the token, with a wrong one, with another scheme: 401.
    let r = c
        .get(format!("http://{to}/admin/v1/config"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    for auth in ["Bearer wrong-token", &format!("Basic {ADMIN_TOKEN}")] {
        let r = c
            .get(format!("http://{to}/admin/v1/stats"))
            .header("authorization", auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{auth}");
    }
    // Health, readiness and metrics stay open for probes and scrapers.
    for open in ["/healthz", "/readyz", "/metrics"] {
        let r = c.get(format!("http://{to}{open}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{open}");
    }

    // Traffic: a create, a read twice (a cache miss, then a hit), a 404,
    // a 401, a 400 whose filter holds something personal.
    let user =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada"});
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;
    assert_eq!(
        scim(&c, gw.public, post, "/Users", &token, Some(user)).await,
        201
    );
    assert_eq!(
        scim(&c, gw.public, get.clone(), "/Users", &token, None).await,
        200
    );
    assert_eq!(
        scim(&c, gw.public, get.clone(), "/Users", &token, None).await,
        200
    );
    assert_eq!(
        scim(&c, gw.public, get.clone(), "/Users/missing", &token, None).await,
        404
    );
    assert_eq!(
        scim(
            &c,
            gw.public,
            get.clone(),
            "/Users",
            "wrong-token-xxxxxxxxxxxxxxxx",
            None
        )
        .await,
        401
    );
    let pii = "pii-marker-jane.doe@example.com";
    let bad_filter = format!("/Users?filter=userName%20eq%20%22{pii}%22%20zz");
    assert_eq!(
        scim(&c, gw.public, get, &bad_filter, &token, None).await,
        400
    );

    let mut everything = String::new();
    for path in [
        "",
        "/config",
        "/tenants",
        "/tenants/acme",
        "/upstreams",
        "/events",
        "/audit",
        "/errors",
        "/stats",
    ] {
        let (status, body) = admin(&c, to, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        everything.push_str(&body);
    }
    let secrets = [
        ADMIN_TOKEN.to_string(),
        hash_token_hex(ADMIN_TOKEN),
        hash_token_hex(ADMIN_TOKEN)["sha256:".len()..].to_string(),
        token.clone(),
        hash_token_hex(&token)["sha256:".len()..].to_string(),
        hash_token_hex(&token_for("remote"))["sha256:".len()..].to_string(),
        UPSTREAM_SECRET.to_string(),
        URL_PASSWORD.to_string(),
        pii.to_string(),
        "jane.doe".to_string(),
    ];
    for secret in &secrets {
        assert!(
            !everything.contains(secret.as_str()),
            "{secret} shown by the admin API"
        );
    }

    let get_json = |path: &'static str| {
        let c = c.clone();
        async move { serde_json::from_str::<Value>(&admin(&c, to, path).await.1).unwrap() }
    };
    let cfg = get_json("/config").await;
    assert!(cfg["hash"].as_str().unwrap().starts_with("sha256:"));
    assert!(cfg["loaded_at_ms"].as_u64().unwrap() > 0);
    assert_eq!(cfg["reloads"], json!({"ok": 0, "failed": 0}));
    assert_eq!(cfg["config"]["admin"]["token_hash"], "<redacted>");
    assert_eq!(
        cfg["config"]["upstreams"]["remote"]["url"],
        "http://<redacted>@127.0.0.1:9/scim/v2"
    );
    assert_eq!(
        cfg["config"]["upstreams"]["remote"]["auth"]["token_file"],
        "upstream-token"
    );

    let acme = get_json("/tenants/acme").await;
    assert_eq!(acme["auth"]["methods"], json!(["static_token"]));
    assert_eq!(acme["auth"]["token_names"], json!(["idp"]));
    assert_eq!(acme["upstream"], "store");
    assert_eq!(acme["limits"]["max_concurrent"], 4);
    assert_eq!(
        acme["usage"],
        json!({"cap": 4, "in_flight": 0, "waiting": 0})
    );
    let ratio = acme["cache"]["hit_ratio"].as_f64().unwrap();
    assert!(ratio > 0.0 && ratio < 1.0, "{acme}");
    assert!(acme["cache"]["entries"].as_u64().unwrap() >= 1, "{acme}");
    let (status, _) = admin(&c, to, "/tenants/nobody").await;
    assert_eq!(status, 404);

    let upstreams = get_json("/upstreams").await;
    let remote = &upstreams["upstreams"][0];
    assert_eq!(remote["name"], "remote");
    assert_eq!(remote["breaker"], "closed");
    assert_eq!(
        remote["endpoints"][0]["url"],
        "http://<redacted>@127.0.0.1:9/scim/v2"
    );
    assert_eq!(remote["capabilities"]["declared"]["patch"], "auto");
    assert_eq!(upstreams["upstreams"][1]["kind"], "builtin");

    let errors = get_json("/errors").await;
    let statuses: Vec<u64> = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [400, 401, 404], "newest first: {errors}");
    assert_eq!(errors["errors"][0]["scimType"], "invalidFilter");
    assert_eq!(errors["errors"][0]["route"], "GET /Users");
    assert_eq!(errors["errors"][1]["reason"], "invalid_token");
    assert_eq!(errors["errors"][2]["tenant"], "acme");

    let stats = get_json("/stats").await;
    let t = &stats["stats"]["tenants"]["acme"];
    assert_eq!(t["requests"], 6, "{stats}");
    assert_eq!(t["errors_by_status"], json!({"400": 1, "401": 1, "404": 1}));
    assert_eq!(t["auth_failures"], 1);
    assert_eq!(t["success_rate"], 1.0);
    assert_eq!(stats["upstream_states"]["remote"]["breaker"], "closed");

    // The audit head follows the writes: one create so far (and the
    // failed authentication's record).
    let audit = get_json("/audit").await;
    assert_eq!(audit["enabled"], true);
    let seq = audit["head"]["seq"].as_u64().unwrap();
    assert!(seq >= 1, "{audit}");
    assert_eq!(audit["head"]["hash"].as_str().unwrap().len(), 64);
    let user =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "grace"});
    assert_eq!(
        scim(
            &c,
            gw.public,
            reqwest::Method::POST,
            "/Users",
            &token,
            Some(user)
        )
        .await,
        201
    );
    let after = get_json("/audit").await;
    assert_eq!(after["head"]["seq"].as_u64().unwrap(), seq + 1, "{after}");
    assert_ne!(after["head"]["hash"], audit["head"]["hash"]);
    assert_eq!(after["last_verify"], Value::Null, "none asked for yet");

    // A verification asked for: the whole chain, up to the head shown.
    let verified = get_json("/audit?verify=true").await;
    let last = &verified["last_verify"];
    assert_eq!(last["ok"], true, "{verified}");
    assert_eq!(last["last_seq"], after["head"]["seq"], "{verified}");
    assert_eq!(last["head"], after["head"]["hash"], "{verified}");
    // The first record's bytes changed (one character of its request id,
    // in place): the next verification names it.
    let file = std::fs::read_dir(dir.join("audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let key = "\"request_id\":\"";
    let at = text.find(key).expect("a record has a request id") + key.len();
    let flipped = if text.as_bytes()[at] == b'0' {
        b"1"
    } else {
        b"0"
    };
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        f.seek(SeekFrom::Start(at as u64)).unwrap();
        f.write_all(flipped).unwrap();
    }
    let verified = get_json("/audit?verify=true").await;
    let last = &verified["last_verify"];
    assert_eq!(last["ok"], false, "{verified}");
    assert_eq!(last["problem"], "modified", "{verified}");
    assert_eq!(last["seq"], 1, "{verified}");

    let events = get_json("/events").await;
    assert_eq!(events["enabled"], true);
    assert!(events["outbox"]["sinks"].is_array(), "{events}");
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_through_the_admin_api_ends_the_gateway_like_sigterm() {
    let dir = temp_dir("admin-drain");
    let mut gw = spawn(&dir);
    let to = gw.admin.unwrap();
    let c = reqwest::Client::new();
    // Read-only everywhere else; drain only by POST.
    let r = c
        .get(format!("http://{to}/admin/v1/drain"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    let r = c
        .post(format!("http://{to}/admin/v1/config"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = c
        .post(format!("http://{to}/admin/v1/drain"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "drain needs the token too");
    assert_eq!(gw.log_count("draining"), 0);
    let ready = |c: reqwest::Client| async move {
        c.get(format!("http://{to}/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(ready(c.clone()).await, 200);

    let r = c
        .post(format!("http://{to}/admin/v1/drain"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"draining": true, "already_draining": false}));
    // As SIGTERM: readiness fails at once while the listeners still serve
    // for `drain_delay` (1 s here); a second ask changes nothing.
    assert_eq!(ready(c.clone()).await, 503);
    let again: Value = c
        .post(format!("http://{to}/admin/v1/drain"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again, json!({"draining": true, "already_draining": true}));
    // Then the process closes its listeners and exits cleanly on its own
    // (no signal sent).
    let exited = wait_exit(&mut gw, Duration::from_secs(20));
    assert_eq!(exited, Some(true), "{}", gw.log_tail());
    assert_eq!(
        gw.log_count("draining: /readyz answers 503"),
        1,
        "{}",
        gw.log_tail()
    );
    assert_eq!(gw.log_count("shutting down"), 1, "{}", gw.log_tail());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits for the process to exit by itself: `Some(clean)`, or `None`.
fn wait_exit(gw: &mut GatewayProcess, within: Duration) -> Option<bool> {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if let Some(clean) = gw.exited() {
            return Some(clean);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn check_config_refuses_a_public_admin_listener_without_a_token() {
    let dir = temp_dir("admin-public");
    let base = r#"[server]
listen = "127.0.0.1:0"
plaintext = true
[audit]
enabled = false
[upstreams.store]
kind = "builtin"
[[tenants]]
id = "acme"
hosts = ["acme.localhost"]
upstream = "store"
[[tenants.tokens]]
name = "idp"
hash = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
"#;
    let check = |admin: &str| {
        let path = dir.join("gateway.toml");
        std::fs::write(&path, format!("{base}\n[admin]\n{admin}\n")).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
            .arg("check-config")
            .arg(&path)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = check("listen = \"0.0.0.0:9464\"");
    assert!(!ok, "{out}");
    assert!(out.contains("admin.token_hash"), "{out}");
    let (ok, out) = check(&format!(
        "listen = \"0.0.0.0:9464\"\ntoken_hash = \"{}\"",
        hash_token_hex(ADMIN_TOKEN)
    ));
    assert!(ok, "{out}");
    let (ok, out) = check("listen = \"127.0.0.1:9464\"");
    assert!(ok, "loopback needs no token: {out}");
    let (ok, out) = check("listen = \"127.0.0.1:9464\"\ntoken_hash = \"sha256:nothex\"");
    assert!(!ok && out.contains("admin.token_hash"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_reload_shows_in_config_until_one_succeeds() {
    let dir = temp_dir("admin-reload");
    let gw = spawn(&dir);
    let to = gw.admin.unwrap();
    let c = reqwest::Client::new();
    let path = dir.join("gateway.toml");
    let good = std::fs::read_to_string(&path).unwrap();
    let first: Value = serde_json::from_str(&admin(&c, to, "/config").await.1).unwrap();

    // An unknown key: refused, the previous config stays. (SIGHUP, and
    // the file watcher may reload once more: counts are at least.)
    std::fs::write(&path, format!("{good}\n[server.nonsense]\nx = 1\n")).unwrap();
    gw.signal("-HUP");
    let refused = poll_config(&c, to, |v| v["reloads"]["failed"].as_u64() >= Some(1)).await;
    let problems = refused["last_reload_error"]["problems"].as_array().unwrap();
    assert!(!problems.is_empty(), "{refused}");
    assert!(refused["last_reload_error"]["at_ms"].as_u64().unwrap() > 0);
    assert_eq!(
        refused["hash"], first["hash"],
        "the loaded config is unchanged"
    );

    // Fixed: loaded, and the error is gone.
    std::fs::write(&path, format!("{good}\n# edited\n")).unwrap();
    gw.signal("-HUP");
    let ok = poll_config(&c, to, |v| v["reloads"]["ok"].as_u64() >= Some(1)).await;
    assert_eq!(ok["last_reload_error"], Value::Null, "{ok}");
    assert_ne!(ok["hash"], first["hash"]);
    assert!(ok["loaded_at_ms"].as_u64() >= first["loaded_at_ms"].as_u64());
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `/admin/v1/config` once `done` holds (at most 10 s).
async fn poll_config(c: &reqwest::Client, to: SocketAddr, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let v: Value = serde_json::from_str(&admin(c, to, "/config").await.1).unwrap();
        if done(&v) || std::time::Instant::now() >= deadline {
            assert!(done(&v), "{v}");
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
