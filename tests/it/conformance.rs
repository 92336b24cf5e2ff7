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
