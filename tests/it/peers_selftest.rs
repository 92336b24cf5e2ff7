//! Proves the third-party peer harness (tests/support/peers.rs) against
//! scim2-server, a complete SCIM server no one here wrote: if these fail, the
//! harness is broken, not the gateway.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::peers::{
    free_port, run_scim2_client_roundtrip, run_scim2_tester, spawn_scim2_server,
};

#[test]
fn scim2_tester_passes_every_check_against_scim2_server() {
    let server = spawn_scim2_server();
    let report = run_scim2_tester(&server.base_url());
    assert_eq!(report.failed, 0, "{report}\nserver log:\n{}", server.log());
    // scim2-server passes all of scim2-tester's ~135 checks.
    assert!(report.passed > 100, "{report}");
    assert_eq!(report.other, 0, "{report}");
}

#[test]
fn scim2_tester_reports_failures_when_no_server_answers() {
    let port = free_port().unwrap();
    let report = run_scim2_tester(&format!("http://127.0.0.1:{port}/v2"));
    assert!(report.failed > 0, "{report}");
    assert_eq!(report.passed, 0, "{report}");
    assert_eq!(report.failures.len(), report.failed, "{report}");
}

#[test]
fn scim2_client_round_trip_against_scim2_server() {
    let server = spawn_scim2_server();
    if let Err(why) = run_scim2_client_roundtrip(&server.base_url()) {
        panic!("{why}\nserver log:\n{}", server.log());
    }
    // The round trip went through the server: its access log shows each verb.
    let log = server.log();
    for verb in ["POST /v2/Users", "PATCH /v2/Users/", "DELETE /v2/Users/"] {
        assert!(log.contains(verb), "no {verb:?} in the server log:\n{log}");
    }
}

#[test]
fn scim2_client_round_trip_fails_when_no_server_answers() {
    let port = free_port().unwrap();
    let err = run_scim2_client_roundtrip(&format!("http://127.0.0.1:{port}/v2"))
        .expect_err("a round trip against a closed port must fail");
    assert!(err.contains("FAIL"), "{err}");
}
