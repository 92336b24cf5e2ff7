//! Shadow upstreams (docs/safety.md, "Shadow upstream") over real sockets:
//! a tenant in front of one store with a second store behind it as its
//! shadow. Every write reaches the shadow after the IdP's answer, in the
//! shadow's own ids (a Group's members, a PATCH's member filter); the
//! answers are compared with ids mapped and volatile fields ignored, and
//! what differs is counted by attribute path without any value; a
//! backfill copies what the shadow lacks; a cutover is a config change
//! (the IdP keeps its ids), and so is the way back.
use crate::support::gateway::TestGateway;
use crate::support::quirky::{Quirks, QuirkyStore};
use crate::support::store::TestStore;
use crate::support::tenant_http::{direct, send};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn create_user(gw: &TestGateway, tenant: &str, user_name: &str) -> String {
    let body = json!({"schemas": [USER], "userName": user_name, "title": "Tour Guide"});
    let (status, body) = send(gw, tenant, reqwest::Method::POST, "/Users", Some(body)).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn report(gw: &TestGateway, tenant: &str) -> Value {
    let url = gw.admin_url(&format!("/admin/v1/tenants/{tenant}/shadow"));
    let resp = gw.client().get(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    resp.json().await.unwrap()
}

/// The report once the shadow has taken `n` copies (or failed them).
async fn settled(gw: &TestGateway, tenant: &str, n: u64) -> Value {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let r = report(gw, tenant).await;
        if r["mirrored"].as_u64().unwrap() >= n {
            assert_eq!(r["mirrored"].as_u64().unwrap(), n, "{r}");
            return r;
        }
        assert!(Instant::now() < until, "the shadow did not catch up: {r}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn cli(gw: &TestGateway, args: &[&str]) -> std::process::Output {
    let admin = gw.admin_url("");
    let mut all = vec!["shadow"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--admin", admin.as_str()]);
    std::process::Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
        .args(&all)
        .output()
        .unwrap()
}

#[tokio::test]
async fn writes_reach_a_shadow_in_its_own_ids_and_differences_are_counted_by_path() {
    let primary = TestStore::spawn();
    // The second store behaves differently: no uniqueness check (it
    // suffixes every userName it gets, and takes a duplicate).
    let shadow = QuirkyStore::spawn(Quirks {
        no_uniqueness: true,
        ..Quirks::default()
    });
    let other = TestStore::spawn();
    let gw = TestGateway::builder()
        .http("primary", &primary.base_url(), "")
        .http("shadow", &shadow.url(), "")
        .http("other", &other.base_url(), "")
        .tenant_with(
            "acme",
            &["acme.localhost"],
            "primary",
            "[tenants.shadow]\nupstream = \"shadow\"\n",
        )
        .tenant_with(
            "beta",
            &["beta.localhost"],
            "other",
            "[tenants.shadow]\nupstream = \"shadow\"\nignore = [\"userName\", \"displayName\"]\n",
        )
        .tenant("plain", &["plain.localhost"], "other")
        .spawn();

    let barbara = create_user(&gw, "acme", "barbara.jensen@example.com").await;
    let kim = create_user(&gw, "acme", "kim.lee@example.com").await;
    let group = json!({"schemas": [GROUP], "displayName": "Tour Guides",
        "members": [{"value": barbara}, {"value": kim}]});
    let (status, g) = send(&gw, "acme", reqwest::Method::POST, "/Groups", Some(group)).await;
    assert_eq!(status, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    let r = settled(&gw, "acme", 3).await;
    // The group at the shadow holds the shadow's ids of its members.
    let (_, users) = direct(&shadow.url(), reqwest::Method::GET, "/Users", None).await;
    let shadow_ids: Vec<String> = users["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(shadow_ids.len(), 2, "{users}");
    assert!(!shadow_ids.contains(&barbara) && !shadow_ids.contains(&kim));
    let (_, groups) = direct(&shadow.url(), reqwest::Method::GET, "/Groups", None).await;
    let shadow_group = &groups["Resources"][0];
    let mut members: Vec<String> = shadow_group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect();
    members.sort();
    let mut expected = shadow_ids.clone();
    expected.sort();
    assert_eq!(members, expected, "members in the shadow's ids");
    // Compared in keys (the members match): each differs by its name
    // only, which the shadow suffixed.
    assert_eq!(r["matched"], 0, "{r}");
    assert_eq!(r["differed"], 3, "{r}");
    assert_eq!(r["paths"], json!({"displayname": 1, "username": 2}), "{r}");
    assert_eq!(r["id_map_entries"], 3, "{r}");

    // A PATCH of a member filter is sent in the shadow's ids.
    let remove = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "remove", "path": format!("members[value eq \"{kim}\"]")}]});
    let (status, _) = send(
        &gw,
        "acme",
        reqwest::Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(remove),
    )
    .await;
    assert!(status == 200 || status == 204, "{status}");
    settled(&gw, "acme", 4).await;
    let shadow_gid = shadow_group["id"].as_str().unwrap();
    let (_, g) = direct(
        &shadow.url(),
        reqwest::Method::GET,
        &format!("/Groups/{shadow_gid}"),
        None,
    )
    .await;
    let left = g["members"].as_array().unwrap().clone();
    assert_eq!(left.len(), 1, "{g}");
    let member = left[0]["value"].as_str().unwrap();
    let (_, copy) = direct(
        &shadow.url(),
        reqwest::Method::GET,
        &format!("/Users/{member}"),
        None,
    )
    .await;
    assert!(
        copy["userName"].as_str().unwrap().starts_with("barbara."),
        "kim's copy removed: {copy}"
    );
    // A duplicate: the primary refuses it, the shadow makes it.
    let dup = json!({"schemas": [USER], "userName": "kim.lee@example.com"});
    let (status, _) = send(&gw, "acme", reqwest::Method::POST, "/Users", Some(dup)).await;
    assert_eq!(status, 409);
    // A delete: both, and the id map forgets it.
    let (status, _) = send(
        &gw,
        "acme",
        reqwest::Method::DELETE,
        &format!("/Users/{barbara}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    // A read is not copied (reads = false).
    let (status, _) = send(
        &gw,
        "acme",
        reqwest::Method::GET,
        &format!("/Users/{kim}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let r = settled(&gw, "acme", 6).await;
    // The PATCH (answered 204: only the statuses compare) and the DELETE.
    assert_eq!(r["matched"], 2, "{r}");
    assert_eq!(
        r["paths"],
        json!({"displayname": 1, "status": 1, "username": 2}),
        "{r}"
    );
    assert_eq!(
        r["by_method"],
        json!({"DELETE": 1, "PATCH": 1, "POST": 4}),
        "{r}"
    );
    assert_eq!(r["id_map_entries"], 2, "{r}");
    let last = r["recent"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["method"], "POST", "{r}");
    assert_eq!(last["primary_status"], 409);
    assert_eq!(last["shadow_status"], 201);
    // No value of any resource in the report.
    let text = r.to_string();
    for value in ["jensen", "kim.lee", "example.com", "Tour"] {
        assert!(!text.contains(value), "{value} in {text}");
    }
    // (Metrics are the test process's: other tests' tenants count too.)
    let metrics = gw.metrics().await;
    let differ = metrics
        .lines()
        .find(|l| {
            l.starts_with("scim_gateway_shadow_requests_total{")
                && l.contains("tenant=\"acme\"")
                && l.contains("outcome=\"differ\"")
        })
        .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok());
    assert!(differ.is_some_and(|n| n >= 4), "{differ:?}");
    // Tenant beta ignores userName: its copies match; acme's ids and
    // counts are not in its report.
    create_user(&gw, "beta", "beta.user@example.com").await;
    let b = settled(&gw, "beta", 1).await;
    assert_eq!(b["matched"], 1, "{b}");
    assert!(!b.to_string().contains(&kim));

    // The command.
    let out = cli(&gw, &["status", "--tenant", "acme"]);
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(3), "{table}");
    assert!(table.contains("6 copies, 2 matched, 4 differed"), "{table}");
    assert!(table.contains("username"), "{table}");
    assert!(!table.contains("example.com"), "{table}");
    println!("scim-gateway shadow status --tenant acme:\n{table}");

    // A tenant without a shadow, and one that does not exist.
    let plain = gw
        .client()
        .get(gw.admin_url("/admin/v1/tenants/plain/shadow"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status().as_u16(), 409);
    let nobody = gw
        .client()
        .get(gw.admin_url("/admin/v1/tenants/nobody/shadow"))
        .send()
        .await
        .unwrap();
    assert_eq!(nobody.status().as_u16(), 404);
}

#[tokio::test]
async fn a_backfill_then_a_cutover_and_back_by_config_the_idp_keeping_its_ids() {
    let old = TestStore::spawn();
    let new = TestStore::spawn();
    let gw = TestGateway::builder()
        .http("old", &old.base_url(), "")
        .http("new", &new.base_url(), "")
        .tenant("acme", &["acme.localhost"], "old")
        .spawn();
    // Before the shadow: two users and a group, on the old backend only.
    let u1 = create_user(&gw, "acme", "one@example.com").await;
    let u2 = create_user(&gw, "acme", "two@example.com").await;
    let group = json!({"schemas": [GROUP], "displayName": "Both", "members": [{"value": u1}, {"value": u2}]});
    let (status, g) = send(&gw, "acme", reqwest::Method::POST, "/Groups", Some(group)).await;
    assert_eq!(status, 201);
    let gid = g["id"].as_str().unwrap().to_string();

    // The shadow added by a reload, then backfilled with the command.
    let path = gw.dir.join("gateway.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let shadowed = text.replace(
        "upstream = \"old\"\n",
        "upstream = \"old\"\n[tenants.shadow]\nupstream = \"new\"\n",
    );
    std::fs::write(&path, &shadowed).unwrap();
    gw.config.reload().unwrap();
    // One already at the shadow (made directly): linked by userName.
    let (status, _) = direct(
        &new.base_url(),
        reqwest::Method::POST,
        "/Users",
        Some(json!({"schemas": [USER], "userName": "two@example.com", "title": "Tour Guide"})),
    )
    .await;
    assert_eq!(status, 201);
    let out = cli(&gw, &["backfill", "--tenant", "acme", "--wait"]);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("done; read 3, created 2, already there 0, linked 1, failed 0"),
        "{said}"
    );
    let (_, ng) = direct(&new.base_url(), reqwest::Method::GET, "/Groups", None).await;
    assert_eq!(ng["totalResults"], 1);
    let new_gid = ng["Resources"][0]["id"].as_str().unwrap().to_string();
    assert_ne!(new_gid, gid);
    assert_eq!(ng["Resources"][0]["members"].as_array().unwrap().len(), 2);
    // A second backfill finds everything there.
    let out = cli(&gw, &["backfill", "--tenant", "acme", "--wait"]);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(said.contains("created 0, already there 3"), "{said}");

    // Writes now reach both, and match.
    let op = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "Guide"}]});
    let (status, _) = send(
        &gw,
        "acme",
        reqwest::Method::PATCH,
        &format!("/Users/{u1}"),
        Some(op),
    )
    .await;
    assert_eq!(status, 200);
    let r = settled(&gw, "acme", 1).await;
    assert_eq!(r["matched"], 1, "{r}");

    // The cutover: one line. The IdP's ids are served by the new backend.
    std::fs::write(
        &path,
        shadowed.replace(
            "upstream = \"new\"\n",
            "upstream = \"new\"\ncutover = true\n",
        ),
    )
    .unwrap();
    gw.config.reload().unwrap();
    let (status, got) = send(
        &gw,
        "acme",
        reqwest::Method::GET,
        &format!("/Users/{u1}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["id"], u1.as_str(), "the IdP's id");
    assert_eq!(got["title"], "Guide");
    let (status, got) = send(
        &gw,
        "acme",
        reqwest::Method::GET,
        &format!("/Groups/{gid}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["id"], gid.as_str());
    let mut members: Vec<&str> = got["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    members.sort();
    let mut keys = vec![u1.as_str(), u2.as_str()];
    keys.sort();
    assert_eq!(members, keys, "members in the IdP's ids");
    // Served by the new backend: a change made there directly shows.
    let (_, new_users) = direct(
        &new.base_url(),
        reqwest::Method::GET,
        "/Users?filter=userName%20eq%20%22one%40example.com%22",
        None,
    )
    .await;
    let new_u1 = new_users["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = direct(&new.base_url(), reqwest::Method::PATCH, &format!("/Users/{new_u1}"),
        Some(json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "nickName", "value": "New"}]}))).await;
    assert_eq!(status, 200);
    let (_, got) = send(
        &gw,
        "acme",
        reqwest::Method::GET,
        &format!("/Users/{u1}"),
        None,
    )
    .await;
    assert_eq!(got["nickName"], "New", "{got}");
    // A Bulk request naming the IdP's id: the new backend's resource.
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "PATCH", "path": format!("/Users/{u1}"),
            "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "One"}]}}]});
    let (status, answer) = send(&gw, "acme", reqwest::Method::POST, "/Bulk", Some(bulk)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["Operations"][0]["status"], "200", "{answer}");
    let location = answer["Operations"][0]["location"].as_str().unwrap();
    assert!(location.ends_with(&format!("/Users/{u1}")), "{location}");
    let (_, at_new) = direct(
        &new.base_url(),
        reqwest::Method::GET,
        &format!("/Users/{new_u1}"),
        None,
    )
    .await;
    assert_eq!(at_new["displayName"], "One", "{at_new}");
    // A user created after the cutover, added to the group in its id; the
    // old backend (now the shadow) gets both in its own ids.
    let u3 = create_user(&gw, "acme", "three@example.com").await;
    let add = json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": u3}]}]});
    let (status, _) = send(
        &gw,
        "acme",
        reqwest::Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(add),
    )
    .await;
    assert!(status == 200 || status == 204, "{status}");
    // The IdP sets u3's manager to u1 (its id of u1): the new backend gets
    // its own id of u1, the IdP reads back its own.
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let mgr = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "Add", "path": format!("{ent}:manager"), "value": {"value": u1}}]});
    let (status, got) = send(
        &gw,
        "acme",
        reqwest::Method::PATCH,
        &format!("/Users/{u3}"),
        Some(mgr),
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got[ent]["manager"]["value"], u1.as_str(), "{got}");
    let (_, at_new) = direct(
        &new.base_url(),
        reqwest::Method::GET,
        &format!("/Users/{u3}"),
        None,
    )
    .await;
    assert_eq!(at_new[ent]["manager"]["value"], new_u1.as_str(), "{at_new}");
    let r = settled(&gw, "acme", 5).await;
    assert_eq!(r["shadow_upstream"], "old");
    let (_, og) = direct(
        &old.base_url(),
        reqwest::Method::GET,
        &format!("/Groups/{gid}"),
        None,
    )
    .await;
    assert_eq!(og["members"].as_array().unwrap().len(), 3, "{og}");
    let (_, ou) = direct(
        &old.base_url(),
        reqwest::Method::GET,
        "/Users?filter=userName%20eq%20%22three%40example.com%22",
        None,
    )
    .await;
    let old_u3 = ou["Resources"][0]["id"].as_str().unwrap().to_string();
    assert_ne!(old_u3, u3);
    assert!(og["members"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["value"] == old_u3.as_str()));

    // And back: the old backend answers again, for every id the IdP has.
    std::fs::write(&path, &shadowed).unwrap();
    gw.config.reload().unwrap();
    let (status, got) = send(
        &gw,
        "acme",
        reqwest::Method::GET,
        &format!("/Users/{u3}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["id"], u3.as_str());
    assert!(got["nickName"].is_null(), "the old backend's copy: {got}");
    let (status, _) = send(
        &gw,
        "acme",
        reqwest::Method::DELETE,
        &format!("/Users/{u3}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let r = settled(&gw, "acme", 6).await;
    assert_eq!(r["failed"], 0, "{r}");
    let (status, _) = direct(
        &new.base_url(),
        reqwest::Method::GET,
        &format!("/Users/{u3}"),
        None,
    )
    .await;
    assert_eq!(status, 404, "deleted at the new backend too, in its id");
    println!("{}", serde_json::to_string_pretty(&r).unwrap());

    // The old backend retired: no copies, the IdP's old ids still served.
    let retired = shadowed.replace(
        "upstream = \"new\"\n",
        "upstream = \"new\"\ncutover = true\nmirror = false\n",
    );
    std::fs::write(&path, retired).unwrap();
    gw.config.reload().unwrap();
    let op = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "Retired"}]});
    let (status, got) = send(
        &gw,
        "acme",
        reqwest::Method::PATCH,
        &format!("/Users/{u1}"),
        Some(op),
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["id"], u1.as_str());
    let (_, at_old) = direct(
        &old.base_url(),
        reqwest::Method::GET,
        &format!("/Users/{u1}"),
        None,
    )
    .await;
    assert_eq!(at_old["title"], "Guide", "no copy: {at_old}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(report(&gw, "acme").await["mirrored"], 6);
}

#[tokio::test]
async fn bulk_operations_and_reads_reach_the_shadow_one_by_one_in_its_ids() {
    let primary = TestStore::spawn();
    let shadow = TestStore::spawn();
    let gw = TestGateway::builder()
        .http("primary", &primary.base_url(), "")
        .http("shadow", &shadow.base_url(), "")
        .tenant_with(
            "acme",
            &["acme.localhost"],
            "primary",
            "[tenants.shadow]\nupstream = \"shadow\"\nreads = true\n",
        )
        .spawn();
    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "u1",
             "data": {"schemas": [USER], "userName": "bulk.one@example.com"}},
            {"method": "POST", "path": "/Groups", "bulkId": "g1",
             "data": {"schemas": [GROUP], "displayName": "Bulk", "members": [{"value": "bulkId:u1"}]}},
            {"method": "PATCH", "path": "/Users/bulkId:u1",
             "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "Lead"}]}},
        ]
    });
    let (status, answer) = send(&gw, "acme", reqwest::Method::POST, "/Bulk", Some(bulk)).await;
    assert_eq!(status, 200, "{answer}");
    let r = settled(&gw, "acme", 3).await;
    assert_eq!(r["matched"], 3, "{r}");
    assert_eq!(r["id_map_entries"], 2, "{r}");
    let (_, groups) = direct(&shadow.base_url(), reqwest::Method::GET, "/Groups", None).await;
    let member = groups["Resources"][0]["members"][0]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, copy) = direct(
        &shadow.base_url(),
        reqwest::Method::GET,
        &format!("/Users/{member}"),
        None,
    )
    .await;
    assert_eq!(copy["userName"], "bulk.one@example.com");
    assert_eq!(copy["title"], "Lead", "the PATCH reached the shadow's id");
    let u1 = answer["Operations"][0]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert_ne!(u1, member);

    // Reads: a resource, a list by filter (on its id too), a search.
    let (status, _) = send(
        &gw,
        "acme",
        reqwest::Method::GET,
        &format!("/Users/{u1}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(
        &gw,
        "acme",
        reqwest::Method::GET,
        &format!("/Users?filter=id%20eq%20%22{u1}%22"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": format!("members[value eq \"{u1}\"]")});
    let (status, found) = send(
        &gw,
        "acme",
        reqwest::Method::POST,
        "/Groups/.search",
        Some(search),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(found["totalResults"], 1, "{found}");
    let r = settled(&gw, "acme", 6).await;
    assert_eq!(r["matched"], 6, "{r}");
    assert_eq!(
        r["by_method"],
        json!({"GET": 2, "PATCH": 1, "POST": 3}),
        "{r}"
    );
}

#[tokio::test]
async fn a_slow_shadow_never_delays_the_idp_and_a_full_queue_drops_and_counts() {
    let primary = TestStore::spawn();
    let shadow = QuirkyStore::spawn(Quirks {
        slow_create: Some(Duration::from_secs(3)),
        ..Quirks::default()
    });
    let gw = TestGateway::builder()
        .http("primary", &primary.base_url(), "")
        .http("shadow", &shadow.url(), "request_timeout = \"10s\"\n")
        .tenant_with(
            "acme",
            &["acme.localhost"],
            "primary",
            "[tenants.shadow]\nupstream = \"shadow\"\nqueue = 1\n",
        )
        .spawn();
    let started = Instant::now();
    for n in 0..4 {
        create_user(&gw, "acme", &format!("slow.{n}@example.com")).await;
    }
    // Four creates answered while the shadow still works on its first
    // copy (3 s each): the IdP never waited for it.
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    let r = report(&gw, "acme").await;
    // One copy at the shadow, one waiting, the others dropped.
    assert_eq!(r["dropped"], 2, "{r}");
    let r = settled(&gw, "acme", 2).await;
    assert_eq!(r["matched"], 2, "{r}");
    assert_eq!(r["recent"][0]["outcome"], "dropped", "{r}");
    assert_eq!(r["recent"][0]["error"], "the shadow's queue is full", "{r}");
}

#[tokio::test]
async fn a_mapped_legacy_backend_and_its_unmapped_replacement_compare_in_the_tenants_view() {
    let legacy = crate::support::recorder::legacy_backend();
    let modern = TestStore::spawn();
    let table = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mapping/store-legacy.toml");
    let extra = format!(
        "[tenants.schema]\nmapping = \"{}\"\n[tenants.dialect]\nprofile = \"entra\"\n[tenants.shadow]\nupstream = \"modern\"\nmapping = \"none\"\n",
        table.display()
    );
    let gw = TestGateway::builder()
        .http("legacy", &legacy.url(), "")
        .http("modern", &modern.base_url(), "")
        .tenant_with("acme", &["acme.localhost"], "legacy", &extra)
        .spawn();
    let user = json!({"schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": "lee@example.com", "title": "Engineer", "active": true,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}});
    let (status, created) = send(&gw, "acme", reqwest::Method::POST, "/Users", Some(user)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    // Entra's PATCH (a "False" string, a path-less value): emulated in
    // front of the legacy backend (GET and PUT in its names), native at
    // the modern one.
    let op = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "Replace", "path": "title", "value": "Lead"},
        {"op": "Replace", "value": {"active": "False"}}]});
    let (status, patched) = send(
        &gw,
        "acme",
        reqwest::Method::PATCH,
        &format!("/Users/{id}"),
        Some(op),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    let r = settled(&gw, "acme", 2).await;
    assert_eq!(r["matched"], 2, "the same in the tenant's view: {r}");
    // The legacy backend holds its own names, the modern one the standard.
    let recorded = legacy.take();
    assert!(
        recorded
            .iter()
            .any(|r| r.body.to_string().contains("jobTitle")),
        "legacy names upstream"
    );
    let (_, users) = direct(&modern.base_url(), reqwest::Method::GET, "/Users", None).await;
    let copy = &users["Resources"][0];
    assert_eq!(copy["title"], "Lead", "{copy}");
    assert_eq!(copy["active"], false, "{copy}");
    assert_eq!(
        copy["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "R&D"
    );
}

#[tokio::test]
async fn copies_wait_for_the_shadows_upstream_limits_and_never_count_against_the_tenants() {
    let primary = TestStore::spawn();
    let shadow = TestStore::spawn();
    let gw = TestGateway::builder()
        .http("primary", &primary.base_url(), "")
        .http(
            "shadow",
            &shadow.base_url(),
            "[upstreams.shadow.limits]\nrate = 4\nburst = 1\n",
        )
        .tenant_with(
            "acme",
            &["acme.localhost"],
            "primary",
            // The tenant's own limit: one request per second after a burst
            // of six; the copies must not take from it.
            "[tenants.limits]\nrate = 1\nburst = 6\n[tenants.shadow]\nupstream = \"shadow\"\n",
        )
        .spawn();
    let started = Instant::now();
    for n in 0..6 {
        create_user(&gw, "acme", &format!("limited.{n}@example.com")).await;
    }
    let r = settled(&gw, "acme", 6).await;
    assert_eq!(r["matched"], 6, "{r}");
    // Four a second at the shadow, one at once: the sixth copy went at
    // least 1.25 s after the first.
    assert!(
        started.elapsed() >= Duration::from_millis(1250),
        "{:?}",
        started.elapsed()
    );
}
