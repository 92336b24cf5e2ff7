#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use http::HeaderValue;

const DEACTIVATE: &str = include_str!("../../tests/fixtures/okta-hooks/user-deactivate.json");
const MEMBERSHIP: &str = include_str!("../../tests/fixtures/okta-hooks/group-membership.json");
const MIXED: &str = include_str!("../../tests/fixtures/okta-hooks/mixed.json");

fn settings() -> OktaHookSettings {
    OktaHookSettings::new(
        Some("Authorization"),
        &Secret::new("Basic czNjcjN0OnBhc3M="),
        Some(64 * 1024),
    )
    .unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn authed() -> HeaderMap {
    headers(&[
        ("authorization", "Basic czNjcjN0OnBhc3M="),
        ("content-type", "application/json"),
    ])
}

fn post(body: &str) -> HookOutcome {
    handle(
        &settings(),
        &Method::POST,
        &authed(),
        body.as_bytes(),
        "acme",
    )
}

#[test]
fn verification_echoes_the_challenge() {
    let h = headers(&[(VERIFICATION_HEADER, "X1AbC-9_challenge")]);
    let out = handle(&settings(), &Method::GET, &h, b"", "acme");
    assert_eq!(out.status, StatusCode::OK);
    assert_eq!(out.body, json!({"verification": "X1AbC-9_challenge"}));
    assert!(out.events.is_empty());
}

#[test]
fn verification_with_the_secret_works_and_with_a_wrong_one_is_refused() {
    let mut h = authed();
    h.insert(VERIFICATION_HEADER, HeaderValue::from_static("abc"));
    let out = handle(&settings(), &Method::GET, &h, b"", "acme");
    assert_eq!(out.body["verification"], "abc");

    let h = headers(&[
        (VERIFICATION_HEADER, "abc"),
        ("authorization", "Basic bm9wZQ=="),
    ]);
    let out = handle(&settings(), &Method::GET, &h, b"", "acme");
    assert_eq!(out.status, StatusCode::UNAUTHORIZED);
    assert_eq!(out.body["status"], "401");
}

#[test]
fn get_without_a_challenge_is_a_bad_request() {
    let out = handle(&settings(), &Method::GET, &authed(), b"", "acme");
    assert_eq!(out.status, StatusCode::BAD_REQUEST);
    assert!(out.body["detail"]
        .as_str()
        .unwrap()
        .contains(VERIFICATION_HEADER));
}

#[test]
fn deliveries_need_exactly_the_secret() {
    for h in [
        headers(&[]),
        headers(&[("authorization", "Basic czNjcjN0OnBhc3M")]),
        headers(&[("authorization", "basic czNjcjN0OnBhc3M=")]),
        headers(&[("x-other", "Basic czNjcjN0OnBhc3M=")]),
        // Two copies (one right) are refused: which one counts is ambiguous.
        headers(&[
            ("authorization", "Basic czNjcjN0OnBhc3M="),
            ("authorization", "nope"),
        ]),
    ] {
        let out = handle(
            &settings(),
            &Method::POST,
            &h,
            DEACTIVATE.as_bytes(),
            "acme",
        );
        assert_eq!(out.status, StatusCode::UNAUTHORIZED, "{h:?}");
        assert!(out.events.is_empty());
        let detail = out.body["detail"].as_str().unwrap();
        assert!(detail.contains("authorization"), "{detail}");
        assert!(!detail.contains("czNjcjN0"), "the secret leaked: {detail}");
    }
}

#[test]
fn a_custom_header_name_is_honoured() {
    let s =
        OktaHookSettings::new(Some("X-Okta-Hook-Secret"), &Secret::new("s3cr3t"), None).unwrap();
    let h = headers(&[("x-okta-hook-secret", "s3cr3t")]);
    let out = handle(&s, &Method::POST, &h, DEACTIVATE.as_bytes(), "acme");
    assert_eq!(out.status, StatusCode::OK);
    assert_eq!(s.max_body_bytes(), DEFAULT_MAX_BODY_BYTES);
}

#[test]
fn bad_settings_are_refused() {
    let secret = Secret::new("x");
    assert!(OktaHookSettings::new(Some("bad header"), &secret, None)
        .unwrap_err()
        .contains("auth_header"));
    assert!(OktaHookSettings::new(None, &Secret::new(String::new()), None).is_err());
    assert!(OktaHookSettings::new(None, &secret, Some(0)).is_err());
}

#[test]
fn other_methods_are_not_allowed() {
    let out = handle(&settings(), &Method::PUT, &authed(), b"{}", "acme");
    assert_eq!(out.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[test]
fn a_deactivation_becomes_one_cloud_event() {
    let out = post(DEACTIVATE);
    assert_eq!(out.status, StatusCode::OK);
    assert_eq!(out.skipped, 0);
    assert_eq!(
        out.body,
        json!({"received": 1, "accepted": 1, "skipped": 0})
    );
    let [ce] = out.events.as_slice() else {
        panic!("one event expected: {:?}", out.events)
    };
    assert_eq!(ce["specversion"], "1.0");
    assert_eq!(ce["id"], "5c3b2a9e-7e4a-11ee-9a7c-1b2f2c3d4e5f");
    assert_eq!(ce["source"], "/tenants/acme/okta");
    assert_eq!(ce["tenant"], "acme");
    assert_eq!(ce["type"], "okta.user.deactivated");
    assert_eq!(ce["subject"], "00ub0oNGTSWTBKOLGLNR");
    assert_eq!(ce["time"], "2026-11-23T10:15:42.031Z");
    assert_eq!(ce["datacontenttype"], "application/json");
    assert_eq!(ce["oktaeventtype"], "user.lifecycle.deactivate");
    assert_eq!(ce["data"]["actor"]["alternateId"], "admin@example.com");
    assert_eq!(ce["data"]["target"][0]["alternateId"], "leaver@example.com");
    // What the sinks do not need stays behind (client IPs, debug context).
    assert!(ce["data"].get("client").is_none());
    assert!(ce["data"].get("debugContext").is_none());
}

#[test]
fn membership_events_have_the_group_as_subject() {
    let out = post(MEMBERSHIP);
    assert_eq!(out.events.len(), 2);
    assert_eq!(out.events[0]["type"], "okta.group.membership.added");
    assert_eq!(out.events[0]["subject"], "00g3vcxkvkIPY52jL4x7");
    assert_eq!(out.events[0]["data"]["userId"], "00ufh433fil4JtjEw4x7");
    assert_eq!(out.events[1]["type"], "okta.group.membership.removed");
    assert_eq!(out.events[1]["subject"], "00g9sales0000000x4x7");
}

#[test]
fn unknown_failed_targetless_and_repeated_events_are_skipped_and_counted() {
    let out = post(MIXED);
    assert_eq!(out.status, StatusCode::OK);
    let types: Vec<&str> = out
        .events
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "okta.user.created",
            "okta.user.activated",
            "okta.user.updated"
        ]
    );
    // user.session.start (unknown), the FAILURE suspend, the repeated uuid,
    // and the delete without a User target.
    assert_eq!(out.skipped, 4);
    assert_eq!(
        out.body,
        json!({"received": 7, "accepted": 3, "skipped": 4})
    );
}

#[test]
fn malformed_deliveries_are_400_scim_errors() {
    for body in [
        "{",
        "[]",
        "{\"data\": {}}",
        "{\"data\": {\"events\": {}}}",
        "\u{0}",
    ] {
        let out = post(body);
        assert_eq!(out.status, StatusCode::BAD_REQUEST, "{body:?}");
        assert_eq!(out.body["scimType"], "invalidSyntax");
        assert_eq!(
            out.body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        assert!(out.events.is_empty());
    }
}

#[test]
fn oversized_deliveries_are_413() {
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(64 * 1024));
    let out = post(&big);
    assert_eq!(out.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[test]
fn the_event_type_table() {
    for (okta, ce) in [
        ("user.lifecycle.create", "okta.user.created"),
        ("user.lifecycle.activate", "okta.user.activated"),
        ("user.lifecycle.reactivate", "okta.user.activated"),
        ("user.lifecycle.deactivate", "okta.user.deactivated"),
        ("user.lifecycle.suspend", "okta.user.suspended"),
        ("user.lifecycle.unsuspend", "okta.user.unsuspended"),
        ("user.lifecycle.delete.initiated", "okta.user.deleted"),
        ("user.account.update_profile", "okta.user.updated"),
        ("group.user_membership.add", "okta.group.membership.added"),
        (
            "group.user_membership.remove",
            "okta.group.membership.removed",
        ),
    ] {
        assert_eq!(cloud_event_type(okta), Some(ce), "{okta}");
    }
    assert_eq!(cloud_event_type("user.session.start"), None);
    assert_eq!(cloud_event_type("USER.LIFECYCLE.CREATE"), None);
}

#[test]
fn arbitrary_bytes_never_panic() {
    for body in [
        &b"\xff\xfe"[..],
        b"{\"data\":{\"events\":[1,null,\"x\",{}]}}",
        b"",
    ] {
        let out = handle(&settings(), &Method::POST, &authed(), body, "acme");
        assert!(out.status == StatusCode::OK || out.status == StatusCode::BAD_REQUEST);
    }
    let out = post("{\"data\":{\"events\":[1,null,\"x\",{}]}}");
    assert_eq!(out.skipped, 4);
}

#[test]
fn precheck_decides_from_the_method_and_headers_alone() {
    let s = settings();
    let status = |method: Method, h: &HeaderMap| precheck(&s, &method, h).map_err(|e| e.status());
    let wrong = headers(&[("authorization", "Basic d3Jvbmc=")]);
    let none = headers(&[]);
    assert_eq!(status(Method::POST, &authed()), Ok(()));
    assert_eq!(status(Method::POST, &wrong), Err(401));
    assert_eq!(status(Method::POST, &none), Err(401));
    // The verification GET: no secret needed, a wrong one refused.
    assert_eq!(status(Method::GET, &none), Ok(()));
    assert_eq!(status(Method::GET, &authed()), Ok(()));
    assert_eq!(status(Method::GET, &wrong), Err(401));
    assert_eq!(status(Method::PUT, &authed()), Err(405));
}
