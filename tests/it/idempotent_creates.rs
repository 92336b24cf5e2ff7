//! Idempotent creates (docs/safety.md), through a real gateway over TLS:
//! a create the upstream refuses with 409 `uniqueness` answered with the
//! existing resource (by `userName`, by `externalId`, a Group by
//! `displayName`, through a mapping table) when the tenant enables it, and
//! audited as such; the same create retried within the replay window made
//! once against an upstream that would make duplicates (one after the
//! other, and two at once); tenants never answered from each other's
//! window.
use crate::support::audit_log::{read_records, writes_by_request_id};
use crate::support::gateway::{token_for, TestGateway};
use crate::support::quirky::{Quirks, QuirkyStore};
use crate::support::webhook::{secret, WebhookReceiver};
use serde_json::{json, Value};
use std::time::Duration;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

async fn post(
    gw: &TestGateway,
    tenant: &str,
    path: &str,
    body: &Value,
    rid: &str,
) -> (u16, Value, String) {
    let resp = gw
        .client()
        .post(format!("{}{path}", gw.base(&format!("{tenant}.localhost"))))
        .bearer_auth(token_for(tenant))
        .header("content-type", "application/scim+json")
        .header("x-request-id", rid)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, resp.json().await.unwrap_or(Value::Null), location)
}

async fn list(gw: &TestGateway, tenant: &str, path: &str) -> Value {
    gw.client()
        .get(format!("{}{path}", gw.base(&format!("{tenant}.localhost"))))
        .bearer_auth(token_for(tenant))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn record<'a>(records: &'a [Value], rid: &str) -> &'a Value {
    let by = writes_by_request_id(records);
    let found = by
        .get(rid)
        .unwrap_or_else(|| panic!("no audit record for {rid}"));
    assert_eq!(found.len(), 1);
    records.iter().find(|r| r["request_id"] == rid).unwrap()
}

#[tokio::test]
async fn a_refused_duplicate_is_answered_with_the_existing_resource_and_audited() {
    let gw = TestGateway::builder()
        .builtin("store")
        .tenant_with(
            "found",
            &["found.localhost"],
            "store",
            "[tenants.creates]\non_conflict = \"existing\"\n",
        )
        .builtin("store2")
        .tenant("plain", &["plain.localhost"], "store2")
        .spawn();
    // A userName with quotes, a backslash and filter syntax of its own.
    let hostile = r#"o"brien\x") or (userName pr"#;
    let ada = json!({"schemas": [USER], "userName": hostile, "externalId": "e-1"});
    // A decoy the lookup must not match.
    let decoy = json!({"schemas": [USER], "userName": "o\"brien\\x"});
    assert_eq!(post(&gw, "found", "/Users", &decoy, "decoy").await.0, 201);
    let (status, first, location) = post(&gw, "found", "/Users", &ada, "first").await;
    assert_eq!(status, 201, "{first}");
    let id = first["id"].as_str().unwrap().to_string();
    // The same user again: the existing one, 200, with its Location.
    let (status, again, again_location) = post(&gw, "found", "/Users", &ada, "again").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["userName"], hostile);
    assert_eq!(again_location, location);
    // Differently spelled (userName ignores case): still the same.
    let upper = json!({"schemas": [USER], "userName": hostile.to_uppercase()});
    let (status, upper, _) = post(&gw, "found", "/Users", &upper, "upper").await;
    assert_eq!((status, upper["id"].as_str()), (200, Some(id.as_str())));
    // Another person with the same userName (another externalId): the 409.
    let other = json!({"schemas": [USER], "userName": hostile, "externalId": "e-2"});
    let (status, refused, _) = post(&gw, "found", "/Users", &other, "other").await;
    assert_eq!(
        (status, refused["scimType"].as_str()),
        (409, Some("uniqueness"))
    );
    // A Group by displayName.
    let ops = json!({"schemas": [GROUP], "displayName": "Ops \"night\""});
    let (status, group, _) = post(&gw, "found", "/Groups", &ops, "g1").await;
    assert_eq!(status, 201);
    let (status, again, _) = post(&gw, "found", "/Groups", &ops, "g2").await;
    assert_eq!((status, again["id"].clone()), (200, group["id"].clone()));
    // Off by default: the 409 passes through.
    let bob = json!({"schemas": [USER], "userName": "bob"});
    assert_eq!(post(&gw, "plain", "/Users", &bob, "p1").await.0, 201);
    let (status, refused, _) = post(&gw, "plain", "/Users", &bob, "p2").await;
    assert_eq!(
        (status, refused["scimType"].as_str()),
        (409, Some("uniqueness"))
    );
    // Nothing was created twice.
    let users = list(&gw, "found", "/Users").await;
    assert_eq!(users["totalResults"], 2, "{users}");
    // The records tell an auditor the upstream created nothing.
    let records = read_records(&gw.dir.join("audit"));
    let first = record(&records, "first");
    assert_eq!(first["outcome"]["status"], 201);
    assert!(first["outcome"].get("create").is_none());
    let again = record(&records, "again");
    assert_eq!(again["outcome"]["status"], 200);
    assert_eq!(again["outcome"]["upstream_status"], 409);
    assert_eq!(again["outcome"]["create"], "existing");
    assert_eq!(again["resource_id"], id.as_str());
    assert_eq!(record(&records, "g2")["outcome"]["create"], "existing");
    assert!(record(&records, "other")["outcome"].get("create").is_none());
    assert!(record(&records, "p2")["outcome"].get("create").is_none());
    let metrics = gw.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("scim_gateway_creates_idempotent_total{")
                && l.contains("tenant=\"found\"")
                && l.contains("outcome=\"existing\"")
                && l.ends_with(" 3")),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_user_is_found_by_external_id_when_the_backend_refuses_on_it() {
    let upstream = QuirkyStore::spawn(Quirks {
        unique_external_id: true,
        ..Quirks::default()
    });
    let gw = TestGateway::builder()
        .http("quirky", &upstream.url(), "")
        .tenant_with(
            "ext",
            &["ext.localhost"],
            "quirky",
            "[tenants.creates]\non_conflict = \"existing\"\n",
        )
        .spawn();
    let first = json!({"schemas": [USER], "userName": "ada", "externalId": "x\\\"1"});
    let (status, made, _) = post(&gw, "ext", "/Users", &first, "e1").await;
    assert_eq!(status, 201, "{made}");
    // Renamed at the IdP, same externalId: no userName matches, the
    // externalId does.
    let renamed = json!({"schemas": [USER], "userName": "ada.lovelace", "externalId": "x\\\"1"});
    let (status, found, location) = post(&gw, "ext", "/Users", &renamed, "e2").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["id"], made["id"]);
    assert_eq!(found["userName"], "ada");
    // Located at the gateway, never at the upstream.
    assert!(
        location.starts_with(&gw.base("ext.localhost")),
        "{location}"
    );
}

#[tokio::test]
async fn a_mapped_tenant_looks_up_in_its_own_view() {
    let table = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mapping/store-login-swap.toml");
    let gw = TestGateway::builder()
        .builtin("store")
        .tenant_with(
            "swap",
            &["swap.localhost"],
            "store",
            &format!(
                "[tenants.schema]\nmapping = \"{}\"\n[tenants.creates]\non_conflict = \"existing\"\n",
                table.display()
            ),
        )
        .spawn();
    // The tenant's userName is the backend's displayName (and the other
    // way round): the backend refuses a second "Ada L" as its userName.
    let ada = json!({"schemas": [USER], "userName": "ada", "displayName": "Ada L"});
    let (status, made, _) = post(&gw, "swap", "/Users", &ada, "m1").await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["userName"], "ada");
    // A filter sent unmapped (`userName eq "ada"` upstream) finds nothing.
    let (status, found, _) = post(&gw, "swap", "/Users", &ada, "m2").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["id"], made["id"]);
    assert_eq!(
        (found["userName"].as_str(), found["displayName"].as_str()),
        (Some("ada"), Some("Ada L"))
    );
}

/// A gateway whose tenants replay creates within `window` in front of an
/// upstream that makes a new resource for every POST (and takes 300 ms),
/// the first tenant's events going to `receiver`.
fn replaying(
    upstream: &QuirkyStore,
    receiver: &WebhookReceiver,
    key: &str,
    window: &str,
) -> TestGateway {
    let dir = std::env::temp_dir().join(format!(
        "scimgw-idem-{}-{}",
        std::process::id(),
        receiver.addr.port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let secret_file = dir.join("hook.secret");
    std::fs::write(&secret_file, key).unwrap();
    let creates = format!("[tenants.creates]\nreplay_window = \"{window}\"\n");
    TestGateway::builder()
        .http("dupes", &upstream.url(), "")
        .raw_upstream("[events]\npoll_interval = \"20ms\"\n")
        .tenant_with(
            "idem",
            &["idem.localhost"],
            "dupes",
            &format!(
                "{creates}[[tenants.webhooks]]\nname = \"main\"\nurl = \"{}\"\nsecret_file = [\"{}\"]\ninitial_backoff = \"50ms\"\nmax_backoff = \"200ms\"\n",
                receiver.url(),
                secret_file.display()
            ),
        )
        .tenant_with("other", &["other.localhost"], "dupes", &creates)
        .spawn()
}

fn duplicating() -> QuirkyStore {
    QuirkyStore::spawn(Quirks {
        no_uniqueness: true,
        slow_create: Some(Duration::from_millis(300)),
        ..Quirks::default()
    })
}

#[tokio::test]
async fn a_retried_create_is_made_once_within_the_window() {
    let upstream = duplicating();
    let key = secret(7);
    let receiver = WebhookReceiver::spawn(&[&key]);
    let gw = replaying(&upstream, &receiver, &key, "10m");
    let ada = json!({"schemas": [USER], "userName": "ada", "name": {"givenName": "Ada", "familyName": "L"}});
    let (status, first, location) = post(&gw, "idem", "/Users", &ada, "r1").await;
    assert_eq!(status, 201, "{first}");
    // The same create in another layout: the first one's answer.
    let relaid = json!({"name": {"familyName": "L", "givenName": "Ada"}, "userName": "ada", "schemas": [USER]});
    let (status, again, again_location) = post(&gw, "idem", "/Users", &relaid, "r2").await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again_location, location);
    // Two identical creates at once: one resource.
    let bob = json!({"schemas": [USER], "userName": "bob"});
    let (a, b) = tokio::join!(
        post(&gw, "idem", "/Users", &bob, "c1"),
        post(&gw, "idem", "/Users", &bob, "c2")
    );
    assert_eq!((a.0, b.0), (201, 201), "{} {}", a.1, b.1);
    assert_eq!(a.1["id"], b.1["id"]);
    // Another tenant posting the same body is not answered from this
    // tenant's window: it makes its own.
    let (status, theirs, _) = post(&gw, "other", "/Users", &ada, "t1").await;
    assert_eq!(status, 201);
    assert_ne!(theirs["id"], first["id"]);
    // The upstream made one ada and one bob for "idem", one ada for "other".
    let made = |prefix: &str| {
        let users = list_store(&upstream);
        users.iter().filter(|u| u.starts_with(prefix)).count()
    };
    assert_eq!(made("ada~"), 2, "{:?}", list_store(&upstream));
    assert_eq!(made("bob~"), 1, "{:?}", list_store(&upstream));
    // Deleted since: the same create makes a new one.
    let id = first["id"].as_str().unwrap();
    let deleted = gw
        .client()
        .delete(format!("{}/Users/{id}", gw.base("idem.localhost")))
        .bearer_auth(token_for("idem"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let (status, remade, _) = post(&gw, "idem", "/Users", &ada, "r3").await;
    assert_eq!(status, 201);
    assert_ne!(remade["id"], first["id"]);
    // Audited as replays; one "created" event per resource made.
    let records = read_records(&gw.dir.join("audit"));
    assert!(record(&records, "r1")["outcome"].get("create").is_none());
    assert_eq!(record(&records, "r2")["outcome"]["create"], "replayed");
    let replays = ["c1", "c2"]
        .iter()
        .filter(|rid| record(&records, rid)["outcome"]["create"] == "replayed")
        .count();
    assert_eq!(replays, 1);
    assert!(record(&records, "r3")["outcome"].get("create").is_none());
    // r1, bob, the delete and r3: four events, none for the replays.
    receiver.wait_for_distinct(4, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = receiver.received();
    let created: Vec<&Value> = events
        .iter()
        .map(|e| &e.body)
        .filter(|b| b["type"].as_str().is_some_and(|t| t.ends_with("created")))
        .collect();
    assert_eq!(created.len(), 3, "{events:?}");
}

#[tokio::test]
async fn after_the_window_the_same_create_is_sent_again() {
    let upstream = duplicating();
    let key = secret(8);
    let receiver = WebhookReceiver::spawn(&[&key]);
    let gw = replaying(&upstream, &receiver, &key, "500ms");
    let ada = json!({"schemas": [USER], "userName": "ada"});
    let (status, first, _) = post(&gw, "idem", "/Users", &ada, "w1").await;
    assert_eq!(status, 201);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (status, second, _) = post(&gw, "idem", "/Users", &ada, "w2").await;
    assert_eq!(status, 201);
    assert_ne!(second["id"], first["id"]);
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_not_made_twice() {
    // Without the audit journal (creates would otherwise run in the
    // connection's task), an upstream that takes 600 ms, an IdP that gives
    // up after 150 ms and retries.
    let upstream = QuirkyStore::spawn(Quirks {
        no_uniqueness: true,
        slow_create: Some(Duration::from_millis(600)),
        ..Quirks::default()
    });
    let gw = TestGateway::builder()
        .http("dupes", &upstream.url(), "")
        .raw_upstream("[audit]\nenabled = false\n")
        .tenant_with(
            "lost",
            &["lost.localhost"],
            "dupes",
            "[tenants.creates]\nreplay_window = \"1m\"\n",
        )
        .spawn();
    let ada = json!({"schemas": [USER], "userName": "ada"});
    let impatient = gw
        .client_builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let gave_up = impatient
        .post(format!("{}/Users", gw.base("lost.localhost")))
        .bearer_auth(token_for("lost"))
        .header("content-type", "application/scim+json")
        .body(ada.to_string())
        .send()
        .await;
    assert!(gave_up.is_err(), "the IdP should have given up");
    // The retry, while the first create may still be upstream, and again
    // after it was made: the resource the first one made, each time.
    let (status, retried, _) = post(&gw, "lost", "/Users", &ada, "l1").await;
    assert_eq!(status, 201, "{retried}");
    let (status, again, _) = post(&gw, "lost", "/Users", &ada, "l2").await;
    assert_eq!((status, again["id"].clone()), (201, retried["id"].clone()));
    assert_eq!(
        list_store(&upstream).len(),
        1,
        "{:?}",
        list_store(&upstream)
    );
}

/// The userNames the upstream store holds.
fn list_store(upstream: &QuirkyStore) -> Vec<String> {
    let req = http::Request::builder()
        .uri("/scim/v2/Users")
        .body(bytes::Bytes::new())
        .unwrap();
    let resp = upstream.store.handle(&req);
    let list: Value = serde_json::from_slice(resp.body()).unwrap();
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap().to_string())
        .collect()
}
