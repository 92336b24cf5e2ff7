//! SLOs as code (config/monitoring/): the Prometheus rules pass
//! `promtool check rules` and their unit tests (`promtool test rules`), the
//! Grafana dashboard is valid JSON, and every series the rules and the
//! dashboard name, with every label they match on or group by, is one a
//! real gateway exports: a gateway process is driven through what makes
//! each series appear (writes, a deprovision, Bulk, cache hits, a bad
//! token, a limited tenant, an upstream that fails, throttles and is
//! retried, a webhook receiver and one that refuses, a reload) and its
//! `/metrics` page is read. That page passes `promtool check metrics` too.
//!
//! A few series exist only when something fails that a test cannot cause
//! cheaply (the audit journal's disk, Redis); they are listed in
//! [`ONLY_ON_FAILURE`], and each must still be a metric name in the source.
use crate::support::faulty::{Fault, FaultyUpstream};
use crate::support::gateway::{token_for, TestGateway};
use crate::support::process::GatewayProcess;
use crate::support::store::TestStore;
use crate::support::webhook::{secret, Mode, WebhookReceiver};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Series that appear only on a failure the scenario does not cause.
const ONLY_ON_FAILURE: [&str; 6] = [
    // Only while a tenant's guardrail holds deprovisions (tests/it/guardrail.rs).
    "scim_gateway_guardrail_pending",
    "scim_gateway_audit_errors_total",
    "scim_gateway_audit_unacknowledged_total",
    "scim_gateway_limit_fallbacks_total",
    "scim_gateway_write_order_fallback_total",
    "scim_gateway_cache_invalidations_lost_total",
];

fn monitoring() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/monitoring")
}

fn promtool(args: &[&str], dir: &Path) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("promtool (Debian's prometheus package, installed by tests/run): {e}")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[test]
fn the_rules_pass_promtool_and_their_unit_tests() {
    let dir = monitoring().join("prometheus");
    let checked = promtool(&["check", "rules", "scim-gateway.rules.yml"], &dir);
    assert!(checked.contains("SUCCESS"), "{checked}");
    let tested = promtool(&["test", "rules", "scim-gateway.rules.test.yml"], &dir);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

/// Every PromQL expression of the rules (not the recording rules' own
/// series) and of the dashboard.
fn expressions() -> Vec<(String, String)> {
    let mut exprs = Vec::new();
    let rules =
        std::fs::read_to_string(monitoring().join("prometheus/scim-gateway.rules.yml")).unwrap();
    let mut lines = rules.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "expr: |" {
            let mut expr = String::new();
            while let Some(next) = lines.peek() {
                if next.trim_start().starts_with("- ")
                    || (!next.starts_with("          ") && !next.trim().is_empty())
                {
                    break;
                }
                expr.push_str(lines.next().unwrap_or_default());
                expr.push('\n');
            }
            exprs.push(("rules".to_string(), expr));
        }
    }
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(monitoring().join("grafana/scim-gateway.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push((
                format!("dashboard panel {:?}", panel["title"]),
                target["expr"].as_str().unwrap().to_string(),
            ));
        }
    }
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = var["definition"].as_str() {
            exprs.push(("dashboard variable".into(), q.to_string()));
        }
    }
    assert!(exprs.len() > 40, "{} expressions", exprs.len());
    exprs
}

/// The gateway's metric names in `expr` (not a recording rule's
/// `level:metric:operation`), each with the label names of its matchers.
fn selectors(expr: &str) -> Vec<(String, BTreeSet<String>)> {
    let bytes = expr.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(at) = expr[i..].find("scim_gateway_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        i = end;
        let recorded = start > 0 && bytes[start - 1] == b':' || bytes.get(end) == Some(&b':');
        if recorded {
            continue;
        }
        let mut labels = BTreeSet::new();
        if bytes.get(end) == Some(&b'{') {
            let close = expr[end..].find('}').map_or(bytes.len(), |c| end + c);
            for matcher in expr[end + 1..close].split(',') {
                let name: String = matcher
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    labels.insert(name);
                }
            }
        }
        found.push((expr[start..end].to_string(), labels));
    }
    found
}

/// The label names of `by (...)`, `on (...)` and `ignoring (...)` in `expr`.
fn grouping_labels(expr: &str) -> BTreeSet<String> {
    let mut labels = BTreeSet::new();
    for keyword in ["by (", "on (", "ignoring (", "by(", "on("] {
        let mut rest = expr;
        while let Some(at) = rest.find(keyword) {
            let after = &rest[at + keyword.len()..];
            let close = after.find(')').unwrap_or(after.len());
            for l in after[..close].split(',') {
                let l = l.trim();
                if !l.is_empty() {
                    labels.insert(l.to_string());
                }
            }
            rest = &after[close..];
        }
    }
    labels
}

/// Series name to the label names seen on it, from a Prometheus text page.
fn exported(page: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut series: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in page
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let labels = series.entry(line[..name_end].to_string()).or_default();
        if line[name_end..].starts_with('{') {
            let close = line.rfind('}').unwrap_or(line.len());
            for pair in line[name_end + 1..close].split("\",") {
                if let Some((k, _)) = pair.split_once('=') {
                    labels.insert(k.trim().to_string());
                }
            }
        }
    }
    series
}

#[tokio::test]
async fn every_series_the_rules_and_dashboard_use_is_one_the_gateway_exports() {
    let page = drive_a_gateway().await;
    let series = exported(&page);

    // The page itself passes Prometheus's own linter.
    let lint_dir = std::env::temp_dir().join(format!("scimgw-monitoring-{}", std::process::id()));
    std::fs::create_dir_all(&lint_dir).unwrap();
    std::fs::write(lint_dir.join("metrics.txt"), &page).unwrap();
    let lint = Command::new("sh")
        .arg("-c")
        .arg("promtool check metrics < metrics.txt")
        .current_dir(&lint_dir)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );

    let source_names = source_metric_names();
    let mut problems = Vec::new();
    for (from, expr) in expressions() {
        let used = selectors(&expr);
        let mut labels_of_expr = BTreeSet::new();
        for (name, labels) in &used {
            let Some(have) = series.get(name) else {
                let base = name
                    .trim_end_matches("_bucket")
                    .trim_end_matches("_count")
                    .trim_end_matches("_sum");
                if !ONLY_ON_FAILURE.contains(&base) {
                    problems.push(format!("{from}: `{name}` is not exported"));
                } else if !source_names.contains(base) {
                    problems.push(format!("{from}: `{name}` is not a metric of the source"));
                }
                continue;
            };
            labels_of_expr.extend(have.iter().cloned());
            for label in labels {
                if !have.contains(label) {
                    problems.push(format!("{from}: `{name}` has no label `{label}`"));
                }
            }
        }
        for label in grouping_labels(&expr) {
            let known = labels_of_expr.contains(&label)
                || used.iter().any(|(n, _)| {
                    ONLY_ON_FAILURE.iter().any(|f| n.starts_with(f)) && !series.contains_key(n)
                });
            if !known && !used.is_empty() {
                problems.push(format!(
                    "{from}: groups by `{label}`, which none of its series carries: {expr}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every `scim_gateway_*` name written in the source.
fn source_metric_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (name, _) in selectors(&text) {
                    names.insert(name);
                }
            }
        }
    }
    names
}

/// A gateway process taken through everything that makes its series
/// appear; its `/metrics` page at the end.
async fn drive_a_gateway() -> String {
    let store = TestStore::spawn();
    let (left, right) = (TestStore::spawn(), TestStore::spawn());
    let faulty = FaultyUpstream::spawn();
    let receiver = WebhookReceiver::spawn(&[&secret(3)]);
    let refusing = WebhookReceiver::spawn(&[&secret(4)]);
    refusing.set_mode(Mode::Fail(400));
    let dir = std::env::temp_dir().join(format!("scimgw-monitoring-gw-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (ok_secret, refused_secret) = (dir.join("ok.secret"), dir.join("refused.secret"));
    std::fs::write(&ok_secret, secret(3)).unwrap();
    std::fs::write(&refused_secret, secret(4)).unwrap();
    let hooks = format!(
        "[tenants.cache]\nttl = \"30s\"\n[tenants.dialect]\nprofile = \"generic\"\n\
         [[tenants.webhooks]]\nname = \"hr\"\nurl = \"{}\"\nsecret_file = [\"{}\"]\n\
         [[tenants.webhooks]]\nname = \"refusing\"\nurl = \"{}\"\nsecret_file = [\"{}\"]\n",
        receiver.url(),
        ok_secret.display(),
        refusing.url(),
        refused_secret.display()
    );
    let builder = TestGateway::builder()
        .plaintext()
        .server("auth_failure_limit = 0\nmax_connections_per_ip = 8")
        // Bulk emulated (operation by operation) for this upstream.
        .http(
            "store",
            &store.base_url(),
            "[upstreams.store.capabilities]\nbulk = false\n",
        )
        // Two endpoints: their health and load per endpoint.
        .raw_upstream(&format!(
            "[upstreams.pair]\nkind = \"http\"\nurls = [\"{}\", \"{}\"]\n",
            left.base_url(),
            right.base_url()
        ))
        .http("faulty", &faulty.url(), "")
        .raw_upstream(&format!(
            "[audit]\ndir = \"{}\"\n[events]\npoll_interval = \"20ms\"\n",
            dir.join("audit").display()
        ))
        .tenant_with("acme", &["acme.localhost"], "store", &hooks)
        .tenant_with(
            "limited",
            &["limited.localhost"],
            "store",
            "[tenants.limits]\nrate = 1\nburst = 1\n",
        )
        .tenant("flaky", &["flaky.localhost"], "faulty")
        // Drift reports, and a shadow (the store the other tenants use).
        .tenant_with(
            "pair",
            &["pair.localhost"],
            "pair",
            "[tenants.drift]\nmax_rate = 50\n[tenants.shadow]\nupstream = \"store\"\n",
        );
    let config = dir.join("gateway.toml");
    std::fs::write(&config, builder.config_text(&dir)).unwrap();
    let gw = GatewayProcess::spawn(&config);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let send = |tenant: &str, method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut req = client
            .request(method, format!("http://{}/scim/v2{path}", gw.public))
            .header("host", format!("{tenant}.localhost"))
            .bearer_auth(token_for(tenant));
        if let Some(body) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        async move { req.send().await.unwrap() }
    };
    let user = |name: &str| json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name});

    // Writes, a deactivation and a delete (deprovisions), cached reads.
    let mut ids = Vec::new();
    for name in ["ann", "bob"] {
        let created = send("acme", reqwest::Method::POST, "/Users", Some(user(name))).await;
        assert_eq!(created.status(), 201);
        let body: Value = created.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "value": {"active": false}}]});
    let path0 = format!("/Users/{}", ids[0]);
    assert_eq!(
        send("acme", reqwest::Method::PATCH, &path0, Some(patch))
            .await
            .status(),
        200
    );
    let path1 = format!("/Users/{}", ids[1]);
    assert_eq!(
        send("acme", reqwest::Method::DELETE, &path1, None)
            .await
            .status(),
        204
    );
    for _ in 0..2 {
        assert_eq!(
            send("acme", reqwest::Method::GET, &path0, None)
                .await
                .status(),
            200
        );
    }
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "c", "data": user("cat")},
        {"method": "DELETE", "path": "/Users/does-not-exist"}]});
    assert_eq!(
        send("acme", reqwest::Method::POST, "/Bulk", Some(bulk))
            .await
            .status(),
        200
    );
    // A wrong token, a limited tenant.
    let wrong = client
        .get(format!("http://{}/scim/v2/Users", gw.public))
        .header("host", "acme.localhost")
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let mut limited = 0;
    for _ in 0..5 {
        if send("limited", reqwest::Method::GET, "/Users", None)
            .await
            .status()
            == 429
        {
            limited += 1;
        }
    }
    assert!(limited > 0);
    // An upstream that fails once (retried), then throttles once.
    faulty.script(&[Fault::Status(503), Fault::TooMany(0)]);
    let _ = send("flaky", reqwest::Method::GET, "/Users", None).await;
    let _ = send("flaky", reqwest::Method::GET, "/Users", None).await;
    // A write whose connection is cut: not retried, an upstream error.
    faulty.script(&[Fault::Reset]);
    let cut = send("flaky", reqwest::Method::POST, "/Users", Some(user("dan"))).await;
    assert_eq!(cut.status(), 502);
    assert_eq!(
        send("pair", reqwest::Method::GET, "/Users", None)
            .await
            .status(),
        200
    );
    // Copies to pair's shadow: one matches, one differs (the shadow has
    // acme's "ann" already: 409 there); then a drift run.
    for name in ["eve", "ann"] {
        let created = send("pair", reqwest::Method::POST, "/Users", Some(user(name))).await;
        assert_eq!(created.status(), 201);
    }
    let admin = gw.admin.unwrap();
    let started = client
        .post(format!("http://{admin}/admin/v1/tenants/pair/drift"))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    // One client IP holding more connections than it may: closed at accept.
    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(tokio::net::TcpStream::connect(gw.public).await.unwrap());
    }
    // A reload.
    gw.signal("-HUP");

    // Until the events are delivered, dead-lettered and the reload counted.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = client
            .get(format!("http://{admin}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let all_there = [
            "scim_gateway_events_delivered_total",
            "scim_gateway_events_dead_lettered_total",
            "scim_gateway_config_reloads_total",
            "scim_gateway_upstream_retries_total",
            "scim_gateway_upstream_throttled_total",
            "scim_gateway_connections_refused_total",
            "scim_gateway_metrics_upkeep_total",
            "scim_gateway_shadow_differences_total",
            "scim_gateway_drift_resources",
        ]
        .iter()
        .all(|n| page.contains(&format!("{n}{{")) || page.contains(&format!("{n} ")));
        if all_there {
            drop(held);
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "series missing after 20 s:\n{page}\n{}",
            gw.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn the_selector_reader_finds_names_and_labels() {
    let s = selectors(
        "sum by (tenant) (rate(scim_gateway_requests_total{tenant=~\"$t\",status_class=\"5xx\"}[5m])) / tenant:scim_gateway_x:ratio_rate5m",
    );
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].0, "scim_gateway_requests_total");
    assert_eq!(
        s[0].1,
        BTreeSet::from(["status_class".to_string(), "tenant".to_string()])
    );
    assert_eq!(
        grouping_labels("sum by (tenant, le) (x) - on (tenant) y"),
        BTreeSet::from(["le".to_string(), "tenant".to_string()])
    );
    let page = "# TYPE a counter\na{x=\"1\",y=\"a,b\"} 2\nb 3\n";
    let e = exported(page);
    assert_eq!(e["a"], BTreeSet::from(["x".to_string(), "y".to_string()]));
    assert!(e["b"].is_empty());
}
