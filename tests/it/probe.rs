//! `scim-gateway probe` against real upstreams on real sockets: the
//! built-in store over HTTP (with and without PATCH) and the third-party
//! Python scim2-server. The verdicts must be right, nothing may be left
//! behind, `--json` must parse and `--dry-run` must send nothing.
use crate::support::audited::temp_dir;
use crate::support::peers::spawn_scim2_server_with;
use crate::support::quirky::{Quirks, QuirkyStore};
use crate::support::store::TestStore;
use scim_gateway::probe::{self, Action, Area, FlagAuth, Outcome, Scorecard, Setting};
use scim_gateway::store::StoreConfig;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

fn options() -> probe::Options {
    probe::Options {
        timeout: Duration::from_secs(5),
        max_time: Duration::from_secs(60),
        dry_run: false,
        name: "under_test".into(),
    }
}

async fn probe_url(url: &str, auth: &FlagAuth) -> Scorecard {
    let upstream = probe::from_flags(url, auth, None, Duration::from_secs(5)).unwrap();
    let card = probe::run(
        upstream,
        url.to_string(),
        &options(),
        std::future::pending(),
    )
    .await;
    // The table, for the record (`--nocapture`).
    println!("{}", probe::render_table(&card));
    card
}

/// `totalResults` of `/Users` and `/Groups`.
async fn remaining(base: &str, token: Option<&str>) -> (u64, u64) {
    let client = reqwest::Client::new();
    let mut counts = Vec::new();
    for endpoint in ["Users", "Groups"] {
        let mut req = client.get(format!("{base}/{endpoint}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let body: Value = req.send().await.unwrap().json().await.unwrap();
        counts.push(body["totalResults"].as_u64().unwrap());
    }
    (counts[0], counts[1])
}

fn failures(card: &Scorecard) -> Vec<String> {
    card.checks
        .iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .map(|c| format!("{:?} {}: {}", c.area, c.name, c.detail))
        .collect()
}

#[tokio::test]
async fn probe_of_the_store_passes_everything_and_cleans_up() {
    let store = TestStore::spawn();
    let card = probe_url(&store.base_url(), &FlagAuth::None).await;
    assert_eq!(card.scim_version, "2.0");
    assert_eq!(failures(&card), Vec::<String>::new());
    assert!(card.passed() >= 40, "{} passed", card.passed());
    let caps = &card.capabilities;
    assert_eq!(
        (caps.patch, caps.bulk, caps.filter, caps.etag),
        (Setting::True, Setting::True, Setting::True, Setting::True)
    );
    assert!(card
        .checks
        .iter()
        .filter(|c| c.area == Area::Patch)
        .all(|c| c.action == Action::PassThrough));
    assert!(card.left_behind.is_empty());
    assert!(
        store.store().is_empty(),
        "{} resources left",
        store.store().len()
    );
    assert_eq!(remaining(&store.base_url(), None).await, (0, 0));
}

#[tokio::test]
async fn probe_of_a_patchless_store_says_emulate_and_patch_false() {
    let store = TestStore::spawn_with(StoreConfig {
        patch: false,
        ..StoreConfig::default()
    });
    let card = probe_url(&store.base_url(), &FlagAuth::None).await;
    assert_eq!(card.capabilities.patch, Setting::False);
    assert_eq!(card.capabilities.filter, Setting::True);
    assert_eq!(card.capabilities.bulk, Setting::True);
    let patch: Vec<_> = card
        .checks
        .iter()
        .filter(|c| c.area == Area::Patch)
        .collect();
    assert!(patch.len() >= 10, "{} PATCH checks", patch.len());
    for c in &patch {
        assert_eq!(c.outcome, Outcome::Fail, "{}", c.name);
        assert_eq!(c.action, Action::Emulate, "{}", c.name);
        assert!(c.detail.contains("501"), "{}", c.detail);
    }
    // The store says so itself: its discovery tells the truth.
    let claim = card
        .checks
        .iter()
        .find(|c| c.name == "claims: patch")
        .unwrap();
    assert_eq!(claim.outcome, Outcome::Pass, "{}", claim.detail);
    // Only PATCH fails.
    assert!(
        failures(&card).iter().all(|f| f.starts_with("Patch ")),
        "{:?}",
        failures(&card)
    );
    let block = probe::capabilities_block(&card);
    assert!(
        block.starts_with("[upstreams.under_test.capabilities]\n"),
        "{block}"
    );
    assert!(block.contains("\npatch = false"), "{block}");
    assert!(block.contains("\nfilter = true"), "{block}");
    assert!(
        store.store().is_empty(),
        "{} resources left",
        store.store().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_of_scim2_server_with_its_bearer_token_leaves_nothing_behind() {
    let server = tokio::task::spawn_blocking(|| {
        spawn_scim2_server_with(&["--bearer-token", "probe-secret"])
    })
    .await
    .unwrap();
    let dir = temp_dir("probe-scim2");
    let token = dir.join("token");
    std::fs::write(&token, "probe-secret\n").unwrap();
    let card = probe_url(&server.base_url(), &FlagAuth::BearerFile(token)).await;
    assert_eq!(card.scim_version, "2.0");
    // Authenticated: the creates worked.
    let create = card
        .checks
        .iter()
        .find(|c| c.name == "create User (POST)")
        .unwrap();
    assert_eq!(create.outcome, Outcome::Pass, "{}", create.detail);
    assert!(
        card.passed() >= 30,
        "{} passed:\n{}",
        card.passed(),
        probe::render_table(&card)
    );
    // Each capability's verdict follows from its checks.
    for (setting, area) in [
        (card.capabilities.patch, Area::Patch),
        (card.capabilities.filter, Area::Filter),
        (card.capabilities.etag, Area::Etag),
        (card.capabilities.bulk, Area::Bulk),
    ] {
        let failed = card
            .checks
            .iter()
            .any(|c| c.area == area && c.outcome == Outcome::Fail);
        assert_eq!(setting == Setting::False, failed, "{area:?}");
    }
    assert!(card.left_behind.is_empty(), "{:?}", card.left_behind);
    assert_eq!(
        remaining(&server.base_url(), Some("probe-secret")).await,
        (0, 0)
    );
}

#[tokio::test]
async fn an_interrupted_probe_still_deletes_what_it_made() {
    let store = TestStore::spawn();
    let upstream = probe::from_flags(
        &store.base_url(),
        &FlagAuth::None,
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    let watched = store.store();
    // "Ctrl-C" once the probe has made its users and group.
    let interrupt = async {
        while watched.len() < 3 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let card = probe::run(upstream, store.base_url(), &options(), interrupt).await;
    assert_eq!(card.stopped.as_deref(), Some("interrupted"));
    assert!(card.checks.len() < 20, "{} checks ran", card.checks.len());
    assert!(card.left_behind.is_empty());
    assert!(
        store.store().is_empty(),
        "{} resources left",
        store.store().len()
    );
}

fn gateway_bin(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
        .arg("probe")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn probe_json_parses_and_the_cli_exits_zero() {
    let store = TestStore::spawn();
    let url = store.base_url();
    let out = gateway_bin(&[&url, "--json", "--name", "hr", "--timeout", "5s"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let card: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(card["scim_version"], "2.0");
    assert_eq!(card["upstream"], "hr");
    assert_eq!(card["capabilities"]["patch"], "true");
    assert_eq!(card["left_behind"], Value::Array(vec![]));
    let checks = card["checks"].as_array().unwrap();
    assert!(checks
        .iter()
        .all(|c| c["action"].is_string() && c["outcome"].is_string()));
    assert!(store.store().is_empty());
}

#[test]
fn probe_dry_run_lists_requests_and_sends_nothing() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/scim/v2", listener.local_addr().unwrap());
    let out = gateway_bin(&[&url, "--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "GET /ServiceProviderConfig",
        "POST /Users",
        "PATCH /Users/",
        "POST /Bulk",
        "DELETE /Users/",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    // The process has exited: any connection it made would be waiting.
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the dry run connected: {accepted:?}"
    );
}

#[test]
fn probe_reuses_a_config_upstream_and_its_credential() {
    let server = spawn_scim2_server_with(&["--bearer-token", "cfg-secret"]);
    let dir = temp_dir("probe-config");
    std::fs::write(dir.join("token"), "cfg-secret").unwrap();
    let hash = scim_gateway::authn::static_token::hash_token_hex("tenant-token-0123456789abcdef");
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nplaintext = true\n\n[audit]\nenabled = false\n\n\
         [upstreams.legacy]\nkind = \"http\"\nurl = \"{}\"\n[upstreams.legacy.auth]\nkind = \"bearer\"\ntoken_file = \"token\"\n\n\
         [[tenants]]\nid = \"t\"\nhosts = [\"t.localhost\"]\nupstream = \"legacy\"\n[[tenants.tokens]]\nname = \"test\"\nhash = \"{hash}\"\n",
        server.base_url()
    );
    let path = dir.join("gateway.toml");
    std::fs::write(&path, config).unwrap();
    let out = gateway_bin(&[
        "--config",
        path.to_str().unwrap(),
        "--upstream",
        "legacy",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let card: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(card["upstream"], "legacy");
    let create = card["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "create User (POST)")
        .unwrap()
        .clone();
    assert_eq!(create["outcome"], "pass", "{create}");
    let missing = gateway_bin(&["--config", path.to_str().unwrap(), "--upstream", "nope"]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no upstream \"nope\" (it has: legacy)")
    );
}

#[tokio::test]
async fn probe_of_a_scim11_service_says_dialect_and_writes_nothing() {
    let service = crate::support::scim11::Scim11Service::spawn();
    let card = probe_url(&service.url(), &FlagAuth::None).await;
    assert_eq!(card.scim_version, "1.1");
    let version = card
        .checks
        .iter()
        .find(|c| c.area == Area::Version)
        .unwrap();
    assert_eq!(version.action, Action::Normalize);
    let block = probe::capabilities_block(&card);
    assert!(
        block.contains("[upstreams.under_test]\ndialect = \"scim1.1\""),
        "{block}"
    );
    // The 2.0 checks are not run against it: no write was sent.
    let writes: Vec<_> = service
        .take()
        .into_iter()
        .filter(|s| s.method != "GET")
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
}

fn check<'c>(card: &'c Scorecard, name: &str) -> &'c probe::Check {
    card.checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name}"))
}

#[tokio::test]
async fn a_discovery_that_claims_patch_it_lacks_is_caught_and_pinned() {
    let upstream = QuirkyStore::spawn(Quirks {
        lying_patch: true,
        ..Quirks::default()
    });
    let card = probe_url(&upstream.url(), &FlagAuth::None).await;
    assert_eq!(card.advertised.patch, Some(true));
    let claim = check(&card, "claims: patch");
    assert_eq!(claim.outcome, Outcome::Fail, "{}", claim.detail);
    assert_eq!(claim.action, Action::Normalize);
    // "auto" would believe the claim: the block pins it.
    assert_eq!(card.capabilities.patch, Setting::False);
    assert!(probe::capabilities_block(&card).contains("\npatch = false"));
    assert!(upstream.store.is_empty());
}

#[tokio::test]
async fn a_patch_without_value_filter_paths_is_patch_false_not_true() {
    let upstream = QuirkyStore::spawn(Quirks {
        no_value_filter_patch: true,
        ..Quirks::default()
    });
    let card = probe_url(&upstream.url(), &FlagAuth::None).await;
    for name in ["replace with a value filter", "remove with a value filter"] {
        let c = check(&card, name);
        assert_eq!(c.outcome, Outcome::Fail, "{name}: {}", c.detail);
        assert!(c.detail.contains("400"), "{}", c.detail);
    }
    assert_eq!(check(&card, "replace with path").outcome, Outcome::Pass);
    // Partial PATCH: the gateway would pass the refused forms through and
    // the client would get the 400; only emulation makes them work.
    assert_eq!(card.capabilities.patch, Setting::False);
    assert!(card
        .checks
        .iter()
        .filter(|c| c.area == Area::Patch)
        .all(|c| c.action == Action::Emulate));
    assert!(upstream.store.is_empty());
}

#[tokio::test]
async fn an_upstream_that_ignores_filters_gets_filter_false_and_keeps_its_own_data() {
    let upstream = QuirkyStore::spawn(Quirks {
        ignore_filter: true,
        ..Quirks::default()
    });
    // Somebody else's user, which every unfiltered list returns too.
    let theirs = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "someone.else"
    });
    let created = reqwest::Client::new()
        .post(format!("{}/Users", upstream.url()))
        .header("content-type", "application/scim+json")
        .body(theirs.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let card = probe_url(&upstream.url(), &FlagAuth::None).await;
    let eq = check(&card, "filter eq");
    assert_eq!(eq.outcome, Outcome::Fail, "{}", eq.detail);
    assert_eq!(eq.action, Action::Emulate);
    assert_eq!(card.capabilities.filter, Setting::False);
    assert_eq!(check(&card, "claims: filter").outcome, Outcome::Fail);
    assert!(card.left_behind.is_empty());
    // Only the other user is left.
    assert_eq!(upstream.store.len(), 1);
    assert_eq!(remaining(&upstream.url(), None).await, (1, 0));
}

/// The printed block, pasted into a gateway config, makes the gateway do
/// what the scorecard says: PATCH and filters work through it in front of
/// an upstream where they do not. (Without the block, `"auto"` believes
/// the upstream's discovery and passes the filter through: 2 results.)
#[tokio::test]
async fn the_printed_block_makes_the_gateway_emulate_what_the_upstream_lacks() {
    use crate::support::gateway::{token_for, TestGateway};
    let upstream = QuirkyStore::spawn(Quirks {
        lying_patch: true,
        ignore_filter: true,
        ..Quirks::default()
    });
    let mut opts = options();
    opts.name = "legacy".into();
    let target = probe::from_flags(
        &upstream.url(),
        &FlagAuth::None,
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    let card = probe::run(target, upstream.url(), &opts, std::future::pending()).await;
    let block = probe::capabilities_block(&card);
    assert!(
        block.contains("\npatch = false") && block.contains("\nfilter = false"),
        "{block}"
    );

    let gw = TestGateway::builder()
        .http("legacy", &upstream.url(), &block)
        .tenant("legacy", &["legacy.localhost"], "legacy")
        .spawn();
    let base = gw.base("legacy.localhost");
    let client = gw.client();
    let send = |req: reqwest::RequestBuilder| async move {
        let resp = req
            .bearer_auth(token_for("legacy"))
            .header("content-type", "application/scim+json")
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap_or(Value::Null))
    };
    for name in ["ann", "ben"] {
        let user = serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name});
        let (status, _) = send(client.post(format!("{base}/Users")).body(user.to_string())).await;
        assert_eq!(status, 201);
    }
    // The upstream ignores filters; the gateway filters.
    let (status, list) = send(
        client
            .get(format!("{base}/Users"))
            .query(&[("filter", "userName eq \"ann\"")]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["totalResults"], 1, "{list}");
    let id = list["Resources"][0]["id"].as_str().unwrap().to_string();
    // The upstream has no PATCH (whatever it claims); the gateway emulates.
    let patch = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Ann"}]
    });
    let (status, patched) = send(
        client
            .patch(format!("{base}/Users/{id}"))
            .body(patch.to_string()),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["displayName"], "Ann");
}

#[test]
fn an_upstream_that_never_answers_is_an_error_with_the_cause_in_the_table() {
    // A port nobody listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/scim/v2");
    let out = gateway_bin(&[&url, "--timeout", "2s"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("never answered"), "{stderr}");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("could not be reached") && table.contains("refused"),
        "{table}"
    );
}
