//! The probe against each upstream kind of the conformance matrix
//! (tests/it/matrix.rs, docs/conformance.md): `scim-gateway probe`'s
//! verdict per capability, next to what a gateway tenant in front of the
//! same upstream, capabilities left `"auto"`, then does with a request of
//! that kind (passes it through, or emulates it:
//! `scim_gateway_emulated_total{capability}` moves).
use super::gateway::{token_for, TestGateway};
use super::matrix::{spawn_upstream, Upstream};
use scim_gateway::probe::{self, Area, FlagAuth, Outcome, Scorecard, Setting};
use serde_json::{json, Value};
use std::time::Duration;

/// The capabilities compared, in table order. Sorting has no setting of
/// its own: the gateway sorts itself only when it emulates the filter
/// (docs/emulation.md), and counts it as `filter`. `bulk+patch` is a Bulk
/// with a PATCH operation: natively only where both work (the gateway
/// runs it itself, counted as `bulk`, where PATCH does not).
pub const CAPABILITIES: [&str; 6] = ["patch", "filter", "sort", "etag", "bulk", "bulk+patch"];

/// One cell of the second table.
pub struct Row {
    pub upstream: &'static str,
    pub capability: &'static str,
    /// `true`: the probe says it works (pass through).
    pub verdict: Option<bool>,
    /// The gateway emulated the request (its counter moved).
    pub emulated: bool,
    /// The request through the gateway gave the right answer.
    pub ok: bool,
    pub detail: String,
}

impl Row {
    pub fn agrees(&self) -> bool {
        self.ok && self.verdict == Some(!self.emulated)
    }
}

/// What one upstream gave: its rows, and its problems (cleanup, checks).
pub struct Probed {
    pub rows: Vec<Row>,
    pub problems: Vec<String>,
    /// The probe's table, for the record.
    pub table: String,
}

fn verdicts(card: &Scorecard) -> [Option<bool>; 6] {
    let of = |s: Setting| match s {
        Setting::True => Some(true),
        Setting::False => Some(false),
        Setting::Auto => None,
    };
    let sort: Vec<Outcome> = card
        .checks
        .iter()
        .filter(|c| c.area == Area::Sort && c.outcome != Outcome::Skip)
        .map(|c| c.outcome)
        .collect();
    let sort = (!sort.is_empty()).then(|| sort.iter().all(|o| *o == Outcome::Pass));
    let c = &card.capabilities;
    let both = match (of(c.bulk), of(c.patch)) {
        (Some(b), Some(p)) => Some(b && p),
        _ => None,
    };
    [
        of(c.patch),
        of(c.filter),
        sort,
        of(c.etag),
        of(c.bulk),
        both,
    ]
}

/// `totalResults` of `/Users` and `/Groups`, read from the upstream itself.
async fn held(url: &str) -> Result<(u64, u64), String> {
    let client = reqwest::Client::new();
    let mut counts = Vec::new();
    for endpoint in ["Users", "Groups"] {
        let body: Value = client
            .get(format!("{url}/{endpoint}"))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        counts.push(body["totalResults"].as_u64().unwrap_or(u64::MAX));
    }
    Ok((counts[0], counts[1]))
}

/// Probes `kind` once, then checks a gateway in front of it. The builtin
/// store has no URL to probe: it takes the verdicts of `store` (the same
/// store code over HTTP), and its gateway must pass everything through
/// (`"auto"` on `kind = "builtin"` needs no look, discover.rs).
pub async fn probe_and_compare(
    kind: Upstream,
    store_verdicts: Option<[Option<bool>; 6]>,
) -> (Probed, [Option<bool>; 6]) {
    let (holder, url) = tokio::task::spawn_blocking(move || spawn_upstream(kind))
        .await
        .unwrap();
    let mut problems = Vec::new();
    let (verdicts, table) = match &url {
        Some(url) => {
            let before = held(url).await;
            let target =
                probe::from_flags(url, &FlagAuth::None, None, Duration::from_secs(5)).unwrap();
            let options = probe::Options {
                timeout: Duration::from_secs(5),
                max_time: Duration::from_secs(60),
                dry_run: false,
                name: kind.name().to_string(),
            };
            let card = probe::run(target, url.clone(), &options, std::future::pending()).await;
            // The probe leaves nothing behind: by its own account, and
            // by the upstream's.
            if !card.left_behind.is_empty() {
                problems.push(format!("probe left behind {:?}", card.left_behind));
            }
            let after = held(url).await;
            if after != before || before.is_err() {
                problems.push(format!(
                    "probe cleanup: (Users, Groups) {before:?} before, {after:?} after"
                ));
            }
            if card.stopped.is_some() {
                problems.push(format!("probe stopped early: {:?}", card.stopped));
            }
            (verdicts(&card), probe::render_table(&card))
        }
        None => (
            store_verdicts.unwrap_or([None; 6]),
            "builtin: no URL; the verdicts of the store over HTTP\n".to_string(),
        ),
    };
    let rows = compare(kind, url.as_deref(), &verdicts).await;
    if let Some(url) = &url {
        let left = held(url).await;
        if left != Ok((0, 0)) {
            problems.push(format!("(Users, Groups) left after the run: {left:?}"));
        }
    }
    drop(holder);
    (
        Probed {
            rows,
            problems,
            table,
        },
        verdicts,
    )
}

/// The sum of `scim_gateway_emulated_total` for `upstream`, `capability`.
async fn emulated(gw: &TestGateway, upstream: &str, capability: &str) -> f64 {
    let text = reqwest::get(gw.admin_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let upstream = format!("upstream=\"{upstream}\"");
    let capability = format!("capability=\"{capability}\"");
    text.lines()
        .filter(|l| l.starts_with("scim_gateway_emulated_total{"))
        .filter(|l| l.contains(&upstream) && l.contains(&capability))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A gateway tenant in front of the upstream, capabilities `"auto"`; one
/// request per capability, each with its counter read before and after.
async fn compare(kind: Upstream, url: Option<&str>, verdicts: &[Option<bool>; 6]) -> Vec<Row> {
    // One upstream name per kind: the metrics registry is one per process.
    let name = format!("probed-{}", kind.name());
    let upstream_toml = match url {
        None => format!("[upstreams.{name}]\nkind = \"builtin\"\n"),
        Some(url) => format!(
            "[upstreams.{name}]\nkind = \"http\"\nurl = \"{url}\"\nrequest_timeout = \"10s\"\n"
        ),
    } + "[audit]\nenabled = false\n";
    let id = format!("probed-{}", kind.name());
    let gw = tokio::task::spawn_blocking({
        let (name, id) = (name.clone(), id.clone());
        move || {
            TestGateway::builder()
                .plaintext()
                .raw_upstream(&upstream_toml)
                .tenant_with(&id, &[], &name, "")
                .spawn()
        }
    })
    .await
    .unwrap();
    let base = format!("http://{}/tenants/{id}/scim/v2", gw.bound.public);
    let client = reqwest::Client::new();
    let token = token_for(&id);
    let send = |method: reqwest::Method,
                path: String,
                body: Option<Value>,
                header: Option<(&'static str, String)>| {
        let mut req = client
            .request(method, format!("{base}{path}"))
            .bearer_auth(&token);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        if let Some((h, v)) = header {
            req = req.header(h, v);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let etag = resp
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = resp.json::<Value>().await.unwrap_or(Value::Null);
            (status, body, etag)
        }
    };
    let user = |n: &str| json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("pmx-{n}")});
    let mut ids = Vec::new();
    for n in ["a", "b"] {
        let (status, body, _) =
            send(reqwest::Method::POST, "/Users".into(), Some(user(n)), None).await;
        assert_eq!(status, 201, "create through {name}: {body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    let mut rows = Vec::new();
    for (i, capability) in CAPABILITIES.into_iter().enumerate() {
        // Sorting is emulated (and counted) with the filter.
        let counter = match capability {
            "sort" => "filter",
            "bulk+patch" => "bulk",
            c => c,
        };
        let before = emulated(&gw, &name, counter).await;
        let (ok, detail) = match capability {
            "patch" => {
                let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "displayName", "value": "Patched"}]});
                let path = format!("/Users/{}", ids[0]);
                let (s, b, _) = send(reqwest::Method::PATCH, path.clone(), Some(patch), None).await;
                // 200 with the resource, or 204 (RFC 7644 §3.5.2): read it.
                let (_, read, _) = send(reqwest::Method::GET, path, None, None).await;
                let applied = read["displayName"] == "Patched";
                (
                    (s == 200 && b["displayName"] == "Patched") || (s == 204 && applied),
                    format!("PATCH: {s}, applied: {applied}"),
                )
            }
            "filter" => {
                let (s, b, _) = send(
                    reqwest::Method::GET,
                    "/Users?filter=userName%20eq%20%22pmx-a%22".into(),
                    None,
                    None,
                )
                .await;
                (
                    s == 200 && b["totalResults"] == 1,
                    format!("filter eq: {s}, {} results", b["totalResults"]),
                )
            }
            "sort" => {
                let (s, b, _) = send(
                    reqwest::Method::GET,
                    "/Users?filter=userName%20sw%20%22pmx-%22&sortBy=userName&sortOrder=descending"
                        .into(),
                    None,
                    None,
                )
                .await;
                let names: Vec<&str> = b["Resources"]
                    .as_array()
                    .map(|r| r.iter().filter_map(|u| u["userName"].as_str()).collect())
                    .unwrap_or_default();
                (
                    s == 200 && names == ["pmx-b", "pmx-a"],
                    format!("sortBy descending: {s}, {names:?}"),
                )
            }
            "etag" => {
                let path = format!("/Users/{}", ids[1]);
                let (_, _, etag) = send(reqwest::Method::GET, path.clone(), None, None).await;
                let etag = etag.unwrap_or_default();
                let (s, _, _) = send(
                    reqwest::Method::GET,
                    path,
                    None,
                    Some(("if-none-match", etag.clone())),
                )
                .await;
                (s == 304, format!("If-None-Match {etag}: {s}"))
            }
            "bulk+patch" => {
                let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "displayName", "value": "Bulk"}]});
                let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                    "Operations": [{"method": "PATCH", "path": format!("/Users/{}", ids[1]), "data": patch}]});
                let (s, b, _) = send(reqwest::Method::POST, "/Bulk".into(), Some(bulk), None).await;
                let op = &b["Operations"][0]["status"];
                let (_, read, _) = send(
                    reqwest::Method::GET,
                    format!("/Users/{}", ids[1]),
                    None,
                    None,
                )
                .await;
                let applied = read["displayName"] == "Bulk";
                (
                    s == 200 && (op == "200" || op == "204") && applied,
                    format!("Bulk PATCH: {s}, operation {op}, applied: {applied}"),
                )
            }
            _ => {
                let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                    "Operations": [{"method": "POST", "path": "/Users", "bulkId": "c", "data": user("c")}]});
                let (s, b, _) = send(reqwest::Method::POST, "/Bulk".into(), Some(bulk), None).await;
                let op = &b["Operations"][0];
                if let Some(id) = op["location"].as_str().and_then(|l| l.rsplit('/').next()) {
                    ids.push(id.to_string());
                }
                (
                    s == 200 && op["status"] == "201",
                    format!("Bulk POST: {s}, operation {}", op["status"]),
                )
            }
        };
        let moved = emulated(&gw, &name, counter).await > before;
        rows.push(Row {
            upstream: kind.name(),
            capability,
            verdict: verdicts[i],
            emulated: moved,
            ok,
            detail,
        });
    }
    for id in &ids {
        let (s, b, _) = send(reqwest::Method::DELETE, format!("/Users/{id}"), None, None).await;
        assert_eq!(s, 204, "delete through {name}: {b}");
    }
    rows
}
