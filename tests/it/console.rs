//! The web console in a real browser (Debian's `chromium`, headless): after
//! real traffic (successes, a 404, a 401, 429s, a deprovisioning), the
//! numbers the page rendered equal the admin API's `/admin/v1/stats` at the
//! same moment (no traffic in between: the stats are read before and after
//! the page and must not have moved), and a screenshot is kept under the
//! target directory (`test-artifacts/console.png`).
//!
//! `tests/run` installs chromium; a missing browser fails the test (set
//! `CHROMIUM` to use another binary).
use crate::support::audited::temp_dir;
use crate::support::chromium::{browse, rendered_stats, screenshot_path};
use crate::support::gateway::token_for;
use crate::support::process::GatewayProcess;
use scim_gateway::authn::static_token::hash_token_hex;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

fn config(dir: &Path) -> PathBuf {
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
plaintext = true

[admin]
listen = "127.0.0.1:0"

[audit]
dir = "audit"
fsync_interval = "20ms"

[upstreams.store]
kind = "builtin"

[upstreams.beta-store]
kind = "builtin"

[[tenants]]
id = "acme"
hosts = ["acme.localhost"]
upstream = "store"
[[tenants.tokens]]
name = "idp"
hash = "{acme}"
[tenants.cache]
ttl = "30s"
[tenants.dialect]
profile = "entra"

# One request every 100 s: the second in a row is refused (429).
[[tenants]]
id = "beta"
hosts = ["beta.localhost"]
upstream = "beta-store"
[tenants.limits]
rate = 0.01
burst = 1
[[tenants.tokens]]
name = "idp"
hash = "{beta}"
"#,
        acme = hash_token_hex(&token_for("acme")),
        beta = hash_token_hex(&token_for("beta")),
    );
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn send(
    c: &reqwest::Client,
    to: SocketAddr,
    tenant: &str,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = c
        .request(method, format!("http://{to}/scim/v2{path}"))
        .header("host", format!("{tenant}.localhost"))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(b.to_string());
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn at<'v>(v: &'v Value, path: &[String]) -> &'v Value {
    path.iter().fold(v, |v, k| &v[k.as_str()])
}

async fn stats(c: &reqwest::Client, admin: SocketAddr) -> Value {
    let mut v: Value = c
        .get(format!("http://{admin}/admin/v1/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The time of the answer is the one thing that moves.
    v["at_ms"] = Value::Null;
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_numbers_of_the_admin_api() {
    let dir = temp_dir("console");
    let gw = GatewayProcess::spawn(&config(&dir));
    let admin = gw.admin.unwrap();
    let c = reqwest::Client::new();
    let (acme, beta) = (token_for("acme"), token_for("beta"));
    use reqwest::Method;

    // acme: creates, reads (a cache miss, then hits), a 404, a 401, a
    // deprovisioning (DELETE), an Entra-style PATCH the dialect fixes.
    let mut ids = Vec::new();
    for name in [
        "pii-ada-lovelace",
        "pii-grace-hopper",
        "pii-edsger-dijkstra",
    ] {
        let user =
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name});
        let (status, body) = send(
            &c,
            gw.public,
            "acme",
            Method::POST,
            "/Users",
            &acme,
            Some(user),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    for _ in 0..3 {
        assert_eq!(
            send(&c, gw.public, "acme", Method::GET, "/Users", &acme, None)
                .await
                .0,
            200
        );
    }
    assert_eq!(
        send(
            &c,
            gw.public,
            "acme",
            Method::GET,
            "/Users/missing",
            &acme,
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        send(
            &c,
            gw.public,
            "acme",
            Method::GET,
            "/Users",
            "not-the-token-xxxxxxxxxxxx",
            None
        )
        .await
        .0,
        401
    );
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
    });
    let path = format!("/Users/{}", ids[0]);
    assert_eq!(
        send(
            &c,
            gw.public,
            "acme",
            Method::PATCH,
            &path,
            &acme,
            Some(patch)
        )
        .await
        .0,
        200
    );
    let path = format!("/Users/{}", ids[1]);
    assert_eq!(
        send(&c, gw.public, "acme", Method::DELETE, &path, &acme, None)
            .await
            .0,
        204
    );
    // beta: one request allowed, the next two refused.
    assert_eq!(
        send(&c, gw.public, "beta", Method::GET, "/Users", &beta, None)
            .await
            .0,
        200
    );
    for _ in 0..2 {
        assert_eq!(
            send(&c, gw.public, "beta", Method::GET, "/Users", &beta, None)
                .await
                .0,
            429
        );
    }

    let before = stats(&c, admin).await;
    let url = format!("http://{admin}/admin/");
    let dom = browse(&url, &["--dump-dom"]);
    let after = stats(&c, admin).await;
    assert_eq!(before, after, "the stats moved while the page loaded");
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page did not finish: {dom}"
    );

    let shown = rendered_stats(&dom);
    for (path, value) in &shown {
        let api = at(&after["stats"], path);
        let equal = match (value.as_f64(), api.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => value == api,
        };
        assert!(
            equal,
            "{path:?}: the page shows {value}, the API says {api}"
        );
    }
    // The page shows what the traffic made (so the comparison above
    // covered them), and the API agrees with the traffic.
    let must_show = [
        (vec!["tenants", "acme", "requests"], json!(10)),
        (vec!["tenants", "acme", "errors_by_status", "404"], json!(1)),
        (vec!["tenants", "acme", "errors_by_status", "401"], json!(1)),
        (vec!["tenants", "acme", "auth_failures"], json!(1)),
        (vec!["tenants", "acme", "deprovision", "count"], json!(2)),
        (vec!["tenants", "beta", "status_429"], json!(2)),
        (vec!["tenants", "beta", "limited"], json!(2)),
        (vec!["tenants", "beta", "success_rate"], json!(1.0)),
    ];
    for (path, expected) in must_show {
        let path: Vec<String> = path.into_iter().map(String::from).collect();
        let found = shown.iter().find(|(p, _)| *p == path);
        let Some((_, value)) = found else {
            panic!("{path:?} not on the page");
        };
        assert_eq!(value.as_f64(), expected.as_f64(), "{path:?}");
    }
    for path in [
        vec!["tenants", "acme", "latency", "p50_ms"],
        vec!["tenants", "acme", "latency", "p95_ms"],
        vec!["tenants", "acme", "latency", "p99_ms"],
        vec!["tenants", "acme", "success_rate"],
        vec!["tenants", "acme", "cache_hit_ratio"],
        vec!["upstreams", "store", "latency", "p99_ms"],
    ] {
        let path: Vec<String> = path.into_iter().map(String::from).collect();
        let found = shown.iter().find(|(p, _)| *p == path);
        assert!(
            found.is_some_and(|(_, v)| v.as_f64().is_some()),
            "{path:?} not shown as a number: {found:?}"
        );
    }
    let rules = &after["stats"]["tenants"]["acme"]["dialect_rules"];
    assert!(
        rules.as_object().is_some_and(|r| !r.is_empty()),
        "the dialect fixed the PATCH: {rules}"
    );
    assert!(
        dom.contains("data-breaker=\"store\""),
        "breaker states shown"
    );
    // No token, no hash, no personal data on the page.
    for secret in [acme.as_str(), beta.as_str(), "pii-", "lovelace"] {
        assert!(!dom.contains(secret), "{secret} on the page");
    }

    let png = screenshot_path();
    let _ = std::fs::remove_file(&png);
    browse(
        &url,
        &[
            "--screenshot=".to_string() + png.to_str().unwrap(),
            "--window-size=1366,900".into(),
        ]
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"), "a PNG at {}", png.display());
    println!("console screenshot: {}", png.display());
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn with_a_token_configured_the_console_asks_for_it_and_shows_nothing() {
    let dir = temp_dir("console-token");
    let path = config(&dir);
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "[admin]\nlisten = \"127.0.0.1:0\"\n",
        &format!(
            "[admin]\nlisten = \"127.0.0.1:0\"\ntoken_hash = \"{}\"\n",
            hash_token_hex("console-admin-token-0123456789")
        ),
    );
    std::fs::write(&path, text).unwrap();
    let gw = GatewayProcess::spawn(&path);
    let dom = browse(
        &format!("http://{}/admin/", gw.admin.unwrap()),
        &["--dump-dom"],
    );
    // The page loaded (its files need no token) and asks for the token.
    assert!(dom.contains("id=\"token-form\""), "{dom}");
    assert!(
        !dom.contains("id=\"token-form\" hidden"),
        "the form is shown: {dom}"
    );
    assert!(dom.contains("needs a token"), "{dom}");
    assert!(
        rendered_stats(&dom).is_empty(),
        "no numbers without the token"
    );
    assert!(!dom.contains("data-ready"), "{dom}");
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}
