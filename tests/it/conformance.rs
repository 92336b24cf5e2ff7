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
    use crate::support::gateway::token_for;
    // The Python peers speak plain HTTP: a plaintext gateway, tenant by
    // path prefix, in front of the built-in store.
    let dir = std::env::temp_dir().join(format!("scimgw-plain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gateway.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nplaintext = true\n[upstreams.store]\nkind = \"builtin\"\n[[tenants]]\nid = \"acme\"\nupstream = \"store\"\n[[tenants.tokens]]\nname = \"t\"\nhash = \"{}\"\n",
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
    eprintln!(
        "scim2-tester through the gateway: {} passed, {} failed, {} skipped, {} other",
        report.passed, report.failed, report.skipped, report.other
    );
    let _ = stop_tx.send(());
    t.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(report.failed, 0, "{}", report.failures.join("\n"));
    assert!(report.passed >= 100);
}
