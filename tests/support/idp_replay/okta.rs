//! Okta's documented requests (tests/fixtures/idp/okta-*.json), in the
//! order a provisioning cycle sends them, each judged by the state read
//! back through the gateway.
use super::{want, ReplayReport, Session, PATCHED};
use serde_json::{json, Value};

/// Every Okta fixture, in the order a provisioning cycle sends them.
pub async fn okta(base: &str, auth: &str) -> ReplayReport {
    let mut s = Session::new("okta", base, auth);
    let uid = s
        .step(
            "okta-create-user",
            &[],
            |_| {},
            &[201],
            None,
            want(&[
                ("/userName", json!("test.user@okta.local")),
                ("/emails[work]/value", json!("test.user@okta.local")),
                ("/name/familyName", json!("User")),
                ("/active", json!(true)),
                ("/password", Value::Null),
            ]),
        )
        .await
        .unwrap_or_else(|| "missing-user".into());
    let oid = s
        .step(
            "okta-create-user",
            &[],
            |b| {
                b["userName"] = json!("other.user@okta.local");
                b["emails"][0]["value"] = json!("other.user@okta.local");
                b["externalId"] = json!("00ujl29u0le5T6Aj10h8");
            },
            &[201],
            None,
            want(&[("/userName", json!("other.user@okta.local"))]),
        )
        .await
        .unwrap_or_else(|| "missing-other".into());
    let user = format!("/Users/{uid}");
    let ids = [
        ("23a35c27-23d3-4c03-b4c5-6443c09e7173", uid.as_str()),
        ("89bb1940-b905-4575-9e7f-6f887cfb368e", oid.as_str()),
    ];
    let r = Some(user.as_str());
    s.step(
        "okta-replace-user",
        &ids,
        |_| {},
        &[200],
        r,
        want(&[
            ("/name/givenName", json!("Another")),
            ("/name/middleName", json!("Excited")),
            ("/active", json!(true)),
        ]),
    )
    .await;
    s.step(
        "okta-deactivate-user",
        &ids,
        |_| {},
        PATCHED,
        r,
        want(&[("/active", json!(false))]),
    )
    .await;

    let gid = s
        .step(
            "okta-create-group",
            &[],
            |_| {},
            &[201],
            None,
            want(&[
                ("/displayName", json!("Test SCIMv2")),
                ("/members*", json!([])),
            ]),
        )
        .await
        .unwrap_or_else(|| "missing-group".into());
    let group = format!("/Groups/{gid}");
    let g = Some(group.as_str());
    let ids: Vec<(&str, &str)> = ids
        .iter()
        .copied()
        .chain([("abf4dd94-a4c0-4f67-89c9-76b03340cb9b", gid.as_str())])
        .collect();
    let mut both = [uid.clone(), oid.clone()];
    both.sort_unstable();
    s.step(
        "okta-replace-members",
        &ids,
        |_| {},
        PATCHED,
        g,
        want(&[("/members*", json!(both))]),
    )
    .await;
    s.step(
        "okta-update-members",
        &ids,
        |_| {},
        PATCHED,
        g,
        want(&[("/members*", json!([uid]))]),
    )
    .await;
    // Okta's documented rename sends the name the group already has; a
    // new one makes the read-back tell whether the rename took.
    s.step(
        "okta-rename-group",
        &ids,
        |b| {
            b["Operations"][0]["value"]["displayName"] = json!("Test SCIMv2 renamed");
        },
        PATCHED,
        g,
        want(&[
            ("/displayName", json!("Test SCIMv2 renamed")),
            ("/members*", json!([uid])),
        ]),
    )
    .await;
    s.step(
        "okta-replace-group",
        &ids,
        |_| {},
        &[200],
        g,
        want(&[
            ("/displayName", json!("Test SCIMv2")),
            ("/members*", json!([uid])),
        ]),
    )
    .await;
    s.report
}
