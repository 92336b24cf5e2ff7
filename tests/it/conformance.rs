//! Conformance of the built-in store against suites no one here wrote:
//! scim2-tester (an RFC 7643/7644 compliance checker) and a scim2-client
//! round trip.
use crate::support::peers;
use crate::support::store::TestStore;

#[test]
fn scim2_tester_reports_no_failures_against_the_store() {
    let store = TestStore::spawn();
    let report = peers::run_scim2_tester(&store.base_url());
    eprintln!(
        "scim2-tester against the built-in store: {} passed, {} failed, {} skipped, {} other",
        report.passed, report.failed, report.skipped, report.other
    );
    assert_eq!(
        report.failed,
        0,
        "scim2-tester failures:\n{}\n\nraw output:\n{}",
        report.failures.join("\n"),
        report.raw
    );
    assert!(report.passed >= 100, "too few checks ran: {}", report.raw);
}

#[test]
fn scim2_client_round_trip_against_the_store() {
    let store = TestStore::spawn();
    if let Err(e) = peers::run_scim2_client_roundtrip(&store.base_url()) {
        panic!("scim2-client round trip failed: {e}");
    }
}

#[test]
fn scim2_tester_passes_through_the_gateway() {
    let report = tester_through_gateway("[upstreams.store]\nkind = \"builtin\"\n", "", |_, _| {});
    eprintln!(
        "scim2-tester through the gateway: {} passed, {} failed, {} skipped, {} other",
        report.passed, report.failed, report.skipped, report.other
    );
    assert_eq!(report.failed, 0, "{}", report.failures.join("\n"));
    assert!(report.passed >= 100);
}

/// The same suite through tenants with Entra's dialect, in front of the
/// in-process store and of a store without PATCH (emulated): Entra's
/// rules (the filtered-path upsert among them) must not break a
/// compliant client.
#[test]
fn scim2_tester_passes_through_entra_tenants() {
    let legacy = TestStore::spawn_with(scim_gateway::store::StoreConfig {
        patch: false,
        ..scim_gateway::store::StoreConfig::default()
    });
    for (name, upstream) in [
        (
            "builtin",
            "[upstreams.store]\nkind = \"builtin\"\n".to_string(),
        ),
        (
            "no-PATCH store",
            format!(
                "[upstreams.store]\nkind = \"http\"\nurl = \"{}\"\n\
                 [upstreams.store.capabilities]\npatch = false\n",
                legacy.base_url()
            ),
        ),
    ] {
        let report = tester_through_gateway(
            &upstream,
            "[tenants.dialect]\nprofile = \"entra\"\n",
            |_, _| {},
        );
        eprintln!(
            "scim2-tester through an Entra tenant ({name}): {} passed, {} failed, {} skipped, {} other",
            report.passed, report.failed, report.skipped, report.other
        );
        assert_eq!(report.failed, 0, "{name}: {}", report.failures.join("\n"));
        assert!(report.passed >= 100, "{name}");
    }
}

/// The same suite through a tenant whose mapping table moves standard
/// attributes (core, sub-attribute, enterprise extension) into the
/// backend's own extension: the IdP must not be able to tell.
#[test]
fn scim2_tester_passes_through_a_mapped_tenant() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mapping");
    let mut registry = scim_gateway::scim::schema::SchemaRegistry::builtin();
    registry.load_schema_dir(&fixtures).unwrap();
    registry
        .extend_resource_type("User", "urn:example:legacy:2.0:User", false)
        .unwrap();
    let store = TestStore::spawn_with_registry(registry);
    let report = tester_through_gateway(
        &format!(
            "[upstreams.store]\nkind = \"http\"\nurl = \"{}\"\n",
            store.base_url()
        ),
        &format!(
            "[tenants.schema]\nmapping = \"{}\"\n",
            fixtures.join("store-legacy.toml").display()
        ),
        |base, auth| {
            // A user through the gateway lands in the backend's names.
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let client = reqwest::Client::new();
                let created: serde_json::Value = client
                    .post(format!("{base}/Users"))
                    .header("authorization", auth)
                    .header("content-type", "application/scim+json")
                    .body(
                        serde_json::json!({
                            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                            "userName": "mapped.check", "title": "Engineer",
                            "name": {"givenName": "M", "middleName": "Q"}
                        })
                        .to_string(),
                    )
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(created["title"], "Engineer", "{created}");
                let id = created["id"].as_str().unwrap();
                let held: serde_json::Value = client
                    .get(format!("{}/Users/{id}", store.base_url()))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(
                    held["urn:example:legacy:2.0:User"]["jobTitle"], "Engineer",
                    "{held}"
                );
                assert_eq!(held["urn:example:legacy:2.0:User"]["middle"], "Q", "{held}");
                assert!(held.get("title").is_none(), "{held}");
            });
        },
    );
    eprintln!(
        "scim2-tester through a mapped tenant: {} passed, {} failed, {} skipped, {} other",
        report.passed, report.failed, report.skipped, report.other
    );
    assert_eq!(report.failed, 0, "{}", report.failures.join("\n"));
    assert!(report.passed >= 100);
}

/// The mapped tenant of the test above in front of the same backend with
/// PATCH switched off (`scim-gateway store --no-patch --schemas
/// tests/fixtures/mapping --extend User=urn:example:legacy:2.0:User`):
/// every PATCH is emulated, in the tenant's schema (issue 17), with
/// `dialect` (TOML under the tenant, or "") on the same tenant.
fn tester_through_a_mapped_tenant_without_patch(dialect: &str) -> peers::TesterReport {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mapping");
    let mut registry = scim_gateway::scim::schema::SchemaRegistry::builtin();
    registry.load_schema_dir(&fixtures).unwrap();
    registry
        .extend_resource_type("User", "urn:example:legacy:2.0:User", false)
        .unwrap();
    let config = scim_gateway::store::StoreConfig {
        patch: false,
        ..scim_gateway::store::StoreConfig::default()
    };
    let store = TestStore::spawn_with_config_and_registry(config, registry);
    tester_through_gateway(
        &format!(
            "[upstreams.store]\nkind = \"http\"\nurl = \"{}\"\n",
            store.base_url()
        ),
        &format!(
            "{dialect}[tenants.schema]\nmapping = \"{}\"\n",
            fixtures.join("store-legacy.toml").display()
        ),
        |_, _| {},
    )
}

#[test]
fn scim2_tester_passes_through_a_mapped_tenant_of_a_backend_without_patch() {
    let report = tester_through_a_mapped_tenant_without_patch("");
    eprintln!(
        "scim2-tester through a mapped tenant, backend without PATCH: {} passed, {} failed, {} skipped, {} other",
        report.passed, report.failed, report.skipped, report.other
    );
    assert_eq!(report.failed, 0, "{}", report.failures.join("\n"));
    assert!(report.passed >= 100);
}

#[test]
fn scim2_tester_passes_through_a_mapped_entra_tenant_of_a_backend_without_patch() {
    let report =
        tester_through_a_mapped_tenant_without_patch("[tenants.dialect]\nprofile = \"entra\"\n");
    eprintln!(
        "scim2-tester through a mapped Entra tenant, backend without PATCH: {} passed, {} failed, {} skipped, {} other",
        report.passed, report.failed, report.skipped, report.other
    );
    assert_eq!(report.failed, 0, "{}", report.failures.join("\n"));
    assert!(report.passed >= 100);
}

/// An unmapped tenant in front of a backend without PATCH: the emulated
/// PATCH applies the client's PatchOp in the tenant's schema.
#[test]
fn scim2_tester_passes_through_a_tenant_of_a_backend_without_patch() {
    let store = TestStore::spawn_with(scim_gateway::store::StoreConfig {
        patch: false,
        ..scim_gateway::store::StoreConfig::default()
    });
    let report = tester_through_gateway(
        &format!(
            "[upstreams.store]\nkind = \"http\"\nurl = \"{}\"\n",
            store.base_url()
        ),
        "",
        |_, _| {},
    );
    eprintln!(
        "scim2-tester through a tenant, backend without PATCH: {} passed, {} failed, {} skipped, {} other",
        report.passed, report.failed, report.skipped, report.other
    );
    assert_eq!(report.failed, 0, "{}", report.failures.join("\n"));
    assert!(report.passed >= 100);
}

/// Runs scim2-tester against a plaintext gateway (the Python peers speak
/// plain HTTP), tenant `acme` by path prefix, with `upstream` (a TOML
/// `[upstreams.store]` section) and `tenant_extra` (TOML under the tenant).
/// `after(base, authorization)` runs before the gateway stops.
fn tester_through_gateway(
    upstream: &str,
    tenant_extra: &str,
    after: impl FnOnce(&str, &str),
) -> peers::TesterReport {
    use crate::support::gateway::token_for;
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("scimgw-plain-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gateway.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nplaintext = true\n{upstream}[[tenants]]\nid = \"acme\"\nupstream = \"store\"\n[[tenants.tokens]]\nname = \"t\"\nhash = \"{}\"\n{tenant_extra}",
            scim_gateway::authn::static_token::hash_token_hex(&token_for("acme"))
        ),
    )
    .unwrap();
    let config = std::sync::Arc::new(scim_gateway::config::ConfigHandle::new(&path).unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let t = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(scim_gateway::run::run(
            config,
            async {
                let _ = stop_rx.await;
            },
            move |b| tx.send(b).unwrap(),
        ))
        .unwrap();
    });
    let bound = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
    let base = format!("http://{}/tenants/acme/scim/v2", bound.public);
    let auth = format!("Bearer {}", token_for("acme"));
    let report = peers::run_scim2_tester_with_headers(&base, &[("Authorization", auth.as_str())]);
    after(&base, &auth);
    let _ = stop_tx.send(());
    t.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    report
}
