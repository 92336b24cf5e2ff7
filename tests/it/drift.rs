//! Drift reports (docs/safety.md, "Drift reports") over real sockets: the
//! gateway in front of real stores, resources written through it, then
//! changed, created and deleted directly in the store (its own port,
//! bypassing the gateway); a run started with the admin API lists exactly
//! those as changed, created outside and missing, a PATCH answered 204 as
//! unverified, the rest as clean; the report names no attribute value; a
//! second tenant's run never shows the first's resources; a mapped tenant
//! compares in its own view; the digests survive a restart.
use crate::support::gateway::TestGateway;
use crate::support::quirky::{Quirks, QuirkyStore};
use crate::support::store::TestStore;
use crate::support::tenant_http::{direct, send};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn create(gw: &TestGateway, tenant: &str, user_name: &str) -> String {
    let body = json!({"schemas": [USER], "userName": user_name, "displayName": "Person"});
    let (status, body) = send(gw, tenant, reqwest::Method::POST, "/Users", Some(body)).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// Starts a run (202) and waits for its report.
async fn run(gw: &TestGateway, tenant: &str) -> Value {
    let url = gw.admin_url(&format!("/admin/v1/tenants/{tenant}/drift"));
    let resp = gw.client().post(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let started: Value = resp.json().await.unwrap();
    let id = started["run_id"].as_u64().unwrap();
    report(gw, tenant, id).await
}

async fn report(gw: &TestGateway, tenant: &str, id: u64) -> Value {
    let url = gw.admin_url(&format!("/admin/v1/tenants/{tenant}/drift"));
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let got: Value = gw
            .client()
            .get(&url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if got["run"]["run_id"] == id && got["run"]["state"] != "running" {
            assert_eq!(got["run"]["state"], "done", "{got}");
            return got["run"].clone();
        }
        assert!(Instant::now() < until, "the run did not finish: {got}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ids(report: &Value, list: &str) -> Vec<String> {
    let mut ids: Vec<String> = report[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_run_lists_what_changed_outside_the_gateway_and_nothing_else() {
    let store = QuirkyStore::spawn(Quirks {
        patch_no_content: true,
        ..Quirks::default()
    });
    let other = TestStore::spawn();
    // One page per second: the run takes a second, long enough to see a
    // second request refused while it runs.
    let drift = "[tenants.drift]\nmax_rate = 1\npage_size = 2\n";
    let gw = TestGateway::builder()
        .http("quirky", &store.url(), "")
        .http("other", &other.base_url(), "")
        .tenant_with("acme", &["acme.localhost"], "quirky", drift)
        .tenant_with(
            "beta",
            &["beta.localhost"],
            "other",
            "[tenants.drift]\nmax_rate = 50\n",
        )
        .tenant("plain", &["plain.localhost"], "other")
        .spawn();
    let keep = create(&gw, "acme", "keep.jensen@example.com").await;
    let changed = create(&gw, "acme", "changed.jensen@example.com").await;
    let removed = create(&gw, "acme", "removed.jensen@example.com").await;
    let patched = create(&gw, "acme", "patched.jensen@example.com").await;
    let gone = create(&gw, "acme", "gone.jensen@example.com").await;
    let (status, group) = send(
        &gw,
        "acme",
        reqwest::Method::POST,
        "/Groups",
        Some(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Ops", "members": [{"value": keep}]}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{group}");
    // Through the gateway: a PATCH the backend answers 204 (no body to
    // digest), a delete (a tombstone, not "missing").
    let op = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "P"}]});
    let (status, _) = send(
        &gw,
        "acme",
        reqwest::Method::PATCH,
        &format!("/Users/{patched}"),
        Some(op.clone()),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = send(
        &gw,
        "acme",
        reqwest::Method::DELETE,
        &format!("/Users/{gone}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    // Behind its back: one changed, one created, one deleted.
    let base = store.url();
    let (status, _) = direct(
        &base,
        reqwest::Method::PATCH,
        &format!("/Users/{changed}"),
        Some(op),
    )
    .await;
    assert_eq!(status, 204);
    let (status, outside) = direct(
        &base,
        reqwest::Method::POST,
        "/Users",
        Some(json!({"schemas": [USER], "userName": "outside.jensen@example.com"})),
    )
    .await;
    assert_eq!(status, 201);
    let outside = outside["id"].as_str().unwrap().to_string();
    let (status, _) = direct(
        &base,
        reqwest::Method::DELETE,
        &format!("/Users/{removed}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    // Tenant beta, on its own store: its one user.
    let beta_user = create(&gw, "beta", "beta.user@example.com").await;

    let url = gw.admin_url("/admin/v1/tenants/acme/drift");
    let first = gw.client().post(&url).send().await.unwrap();
    assert_eq!(first.status().as_u16(), 202);
    let first: Value = first.json().await.unwrap();
    let second = gw.client().post(&url).send().await.unwrap();
    assert_eq!(second.status().as_u16(), 409, "one run at a time");
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["run_id"], first["run_id"]);
    let report = report(&gw, "acme", first["run_id"].as_u64().unwrap()).await;

    assert_eq!(ids(&report, "changed"), vec![changed.clone()], "{report}");
    assert_eq!(
        ids(&report, "created_outside"),
        vec![outside.clone()],
        "{report}"
    );
    assert_eq!(ids(&report, "missing"), vec![removed.clone()], "{report}");
    assert_eq!(
        ids(&report, "unverified"),
        vec![patched.clone()],
        "{report}"
    );
    // keep and the group.
    assert_eq!(report["counts"]["clean"], 2, "{report}");
    assert_eq!(report["changed"][0]["resource_type"], "User");
    let text = report.to_string();
    for value in ["jensen", "example.com", "Person", "Ops"] {
        assert!(!text.contains(value), "a value in the report: {text}");
    }
    assert!(
        !text.contains(&gone),
        "a resource the gateway deleted is not drift"
    );
    println!(
        "drift report of the changed store:\n{}",
        serde_json::to_string_pretty(&report).unwrap()
    );

    // The gauges of the last run.
    let metrics = gw.metrics().await;
    for kind in ["changed", "created_outside", "missing", "unverified"] {
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with("scim_gateway_drift_resources{")
                    && l.contains("tenant=\"acme\"")
                    && l.contains(&format!("kind=\"{kind}\""))
            })
            .unwrap_or_else(|| panic!("no gauge for {kind}: {metrics}"));
        assert!(line.ends_with(" 1"), "{line}");
    }
    assert!(
        metrics.contains("scim_gateway_drift_last_run_timestamp_seconds{"),
        "{metrics}"
    );

    // The command: a run through the admin API, a table of ids, exit 3.
    let admin = gw.admin_url("");
    let cli = |extra: &[&str]| {
        let mut args = vec![
            "drift",
            "--tenant",
            "acme",
            "--admin",
            admin.as_str(),
            "--wait",
        ];
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
            .args(&args)
            .output()
            .unwrap()
    };
    let out = cli(&[]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{table} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        format!("changed          User   {changed}"),
        format!("created_outside  User   {outside}"),
        format!("missing          User   {removed}"),
        format!("unverified       User   {patched}"),
    ] {
        assert!(table.contains(&line), "{line} in {table}");
    }
    assert!(!table.contains("jensen"), "{table}");
    let out = cli(&["--json"]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["counts"]["changed"], 1, "{json}");
    println!("scim-gateway drift --tenant acme --wait:\n{table}");

    // Tenant beta's run sees its own store and digests only.
    let beta = run(&gw, "beta").await;
    assert_eq!(beta["counts"]["clean"], 1, "{beta}");
    assert_eq!(beta["counts"]["changed"], 0, "{beta}");
    assert_eq!(beta["counts"]["missing"], 0, "{beta}");
    let text = beta.to_string();
    for id in [&keep, &changed, &removed, &patched, &outside] {
        assert!(
            !text.contains(id.as_str()),
            "acme's {id} in beta's report: {text}"
        );
    }
    assert!(!report.to_string().contains(&beta_user));

    // A tenant without drift reports, and one that does not exist.
    let plain = gw
        .client()
        .post(gw.admin_url("/admin/v1/tenants/plain/drift"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status().as_u16(), 409);
    let nobody = gw
        .client()
        .get(gw.admin_url("/admin/v1/tenants/nobody/drift"))
        .send()
        .await
        .unwrap();
    assert_eq!(nobody.status().as_u16(), 404);

    // Written through the gateway again: clean again, and the tombstone
    // of the confirmed delete is forgotten.
    let (status, _) = send(
        &gw,
        "acme",
        reqwest::Method::PUT,
        &format!("/Users/{changed}"),
        Some(json!({"schemas": [USER], "userName": "changed.jensen@example.com"})),
    )
    .await;
    assert_eq!(status, 200);
    let again = run(&gw, "acme").await;
    assert!(!ids(&again, "changed").contains(&changed), "{again}");
    let log = std::fs::read_to_string(gw.dir.join("audit/drift/acme.log")).unwrap();
    assert!(!log.contains(&gone), "the confirmed tombstone stays: {log}");
    assert!(!log.contains("jensen"), "a value in the digest log: {log}");
}

fn mapping() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mapping/store-dept-codes.toml")
}

/// A gateway whose audit directory (and so its digests and key) is `audit`.
fn mapped_gateway(store: &TestStore, audit: &Path) -> TestGateway {
    let tenant = format!(
        "[tenants.schema]\nmapping = \"{}\"\n[tenants.drift]\nmax_rate = 50\n",
        mapping().display()
    );
    TestGateway::builder()
        .http("coded", &store.base_url(), "")
        .raw_upstream(&format!("[audit]\ndir = \"{}\"\n", audit.display()))
        .tenant_with("mapped", &["mapped.localhost"], "coded", &tenant)
        .spawn()
}

#[tokio::test]
async fn a_mapped_tenant_compares_in_its_view_and_digests_survive_a_restart() {
    let store = TestStore::spawn();
    let audit = std::env::temp_dir().join(format!("scimgw-drift-audit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&audit);
    let gw = mapped_gateway(&store, &audit);
    let body = json!({"schemas": [USER, ENTERPRISE], "userName": "sales.person@example.com",
        "name": {"givenName": "Sal"}, ENTERPRISE: {"department": "Sales"}});
    let (status, created) = send(&gw, "mapped", reqwest::Method::POST, "/Users", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    // The store keeps the department as a code: not what the tenant sees.
    let (_, stored) = direct(
        &store.base_url(),
        reqwest::Method::GET,
        &format!("/Users/{id}"),
        None,
    )
    .await;
    assert_eq!(stored["title"], "S01", "{stored}");
    let clean = run(&gw, "mapped").await;
    assert_eq!(clean["counts"]["clean"], 1, "{clean}");
    assert_eq!(clean["counts"]["changed"], 0, "{clean}");
    gw.stop();

    // The key and the digests are private to the gateway's user.
    use std::os::unix::fs::PermissionsExt;
    for file in ["drift/key", "drift/mapped.log"] {
        let mode = std::fs::metadata(audit.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }

    // Restarted with the same directory: still clean, then a change of the
    // code behind the gateway's back is a change in the tenant's view.
    let gw = mapped_gateway(&store, &audit);
    let after = run(&gw, "mapped").await;
    assert_eq!(after["counts"]["clean"], 1, "{after}");
    assert_eq!(after["counts"]["created_outside"], 0, "{after}");
    let op = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "E01"}]});
    let (status, _) = direct(
        &store.base_url(),
        reqwest::Method::PATCH,
        &format!("/Users/{id}"),
        Some(op),
    )
    .await;
    assert_eq!(status, 200);
    let changed = run(&gw, "mapped").await;
    assert_eq!(ids(&changed, "changed"), vec![id], "{changed}");
    gw.stop();
    let _ = std::fs::remove_dir_all(&audit);
}

#[tokio::test]
async fn a_tenant_with_an_interval_is_compared_on_its_own() {
    let gw = TestGateway::builder()
        .builtin("store")
        .tenant_with(
            "cron",
            &["cron.localhost"],
            "store",
            "[tenants.drift]\ninterval = \"1s\"\nmax_rate = 50\n",
        )
        .spawn();
    create(&gw, "cron", "cron.user@example.com").await;
    let url = gw.admin_url("/admin/v1/tenants/cron/drift");
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let got: Value = gw
            .client()
            .get(&url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // The first run is one interval after start-up, the next ones follow.
        if got["run"]["state"] == "done" && got["run"]["counts"]["clean"] == 1 {
            assert!(got["run"]["run_id"].as_u64().unwrap() >= 1);
            break;
        }
        assert!(Instant::now() < until, "no periodic run: {got}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn resources_written_by_bulk_are_unverified_not_created_outside() {
    let gw = TestGateway::builder()
        .builtin("store")
        .tenant_with(
            "bulk",
            &["bulk.localhost"],
            "store",
            "[tenants.drift]\nmax_rate = 50\n",
        )
        .spawn();
    let doomed = create(&gw, "bulk", "doomed.user@example.com").await;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a",
             "data": {"schemas": [USER], "userName": "bulk.user@example.com"}},
            {"method": "DELETE", "path": format!("/Users/{doomed}")}
        ]
    });
    let (status, answer) = send(&gw, "bulk", reqwest::Method::POST, "/Bulk", Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    let location = answer["Operations"][0]["location"].as_str().unwrap();
    let created = location.rsplit('/').next().unwrap().to_string();
    let report = run(&gw, "bulk").await;
    assert_eq!(ids(&report, "unverified"), vec![created], "{report}");
    assert_eq!(report["counts"]["created_outside"], 0, "{report}");
    assert_eq!(
        report["counts"]["missing"], 0,
        "the Bulk delete is the gateway's: {report}"
    );
}
