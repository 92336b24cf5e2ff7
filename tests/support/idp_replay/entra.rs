//! Entra ID's documented requests (tests/fixtures/idp/entra-*.json), in
//! the order a provisioning cycle sends them, each judged by the state
//! read back through the gateway.
use super::{ent, want, ReplayReport, Session, PATCHED};
use serde_json::json;

/// Every Entra fixture, in the order a provisioning cycle sends them.
pub async fn entra(base: &str, auth: &str) -> ReplayReport {
    let mut s = Session::new("entra", base, auth);
    let uid = s
        .step(
            "entra-create-user",
            &[],
            |_| {},
            &[201],
            None,
            want(&[
                (
                    "/userName",
                    json!("Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"),
                ),
                (
                    "/emails[work]/value",
                    json!("Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"),
                ),
                ("/name/givenName", json!("givenName")),
                ("/active", json!(true)),
            ]),
        )
        .await
        .unwrap_or_else(|| "missing-user".into());
    let jid = s
        .step(
            "entra-create-user-sdk",
            &[],
            |_| {},
            &[201],
            None,
            want(&[
                ("/userName", json!("jyoung@testuser.com")),
                ("/displayName", json!("Joy Young")),
                ("/emails[work]/value", json!("jyoung@Contoso.com")),
            ]),
        )
        .await
        .unwrap_or_else(|| "missing-member".into());
    let user = format!("/Users/{uid}");
    let (u, j) = (uid.as_str(), jid.as_str());
    let ids = [
        ("5171a35d82074e068ce2", u),
        ("6764549bef60420686bc", u),
        ("54D382A4-2050-4C03-94D1-E769F1D15682", u),
        ("2819c223-7f76-453a-919d-413861904646", j),
        ("f648f8d5ea4e4cd38e9c", j),
        ("7f4bc1a3-285e-48ae-8202-5accb43efb0e", j),
        ("u1091", j),
    ];
    let r = Some(user.as_str());
    s.step(
        "entra-update-user-multi",
        &ids,
        |_| {},
        PATCHED,
        r,
        want(&[
            ("/emails[work]/value", json!("updatedEmail@microsoft.com")),
            ("/name/familyName", json!("updatedFamilyName")),
        ]),
    )
    .await;
    s.step(
        "entra-update-user-single",
        &ids,
        |_| {},
        PATCHED,
        r,
        want(&[(
            "/userName",
            json!("5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"),
        )]),
    )
    .await;
    s.step(
        "entra-add-attribute-legacy",
        &ids,
        |_| {},
        PATCHED,
        r,
        want(&[("/nickName", json!("Babs"))]),
    )
    .await;
    s.step(
        "entra-replace-attributes-legacy",
        &ids,
        |_| {},
        PATCHED,
        r,
        want(&[
            ("/displayName", json!("Pvlo")),
            (
                "/emails[work]/value",
                json!("TestBcwqnm@test.microsoft.com"),
            ),
            ("/name/givenName", json!("Gtfd")),
            ("/name/familyName", json!("Pkqf")),
            ("/externalId", json!("Eqpj")),
            (&ent("employeeNumber"), json!("Eqpj")),
        ]),
    )
    .await;
    s.step(
        "entra-replace-attributes",
        &ids,
        |_| {},
        PATCHED,
        r,
        want(&[
            (
                "/emails[work]/value",
                json!("TestMhvaes@test.microsoft.com"),
            ),
            ("/displayName", json!("Bjfe")),
            ("/name/givenName", json!("Kkom")),
            ("/name/familyName", json!("Unua")),
            (&ent("employeeNumber"), json!("Aklq")),
        ]),
    )
    .await;
    s.step(
        "entra-update-manager",
        &ids,
        |_| {},
        PATCHED,
        r,
        want(&[(&ent("manager/value"), json!(jid))]),
    )
    .await;
    s.step(
        "entra-disable-user",
        &ids,
        |_| {},
        PATCHED,
        r,
        want(&[("/active", json!(false))]),
    )
    .await;
    // The legacy shape ("False" as a string) on the other user.
    let member = format!("/Users/{jid}");
    let legacy_ids = [("5171a35d82074e068ce2", j)];
    s.step(
        "entra-disable-user-legacy",
        &legacy_ids,
        |_| {},
        PATCHED,
        Some(&member),
        want(&[("/active", json!(false))]),
    )
    .await;

    let gid = s
        .step(
            "entra-create-group",
            &[],
            |_| {},
            &[201],
            None,
            want(&[("/displayName", json!("displayName"))]),
        )
        .await
        .unwrap_or_else(|| "missing-group".into());
    let group = format!("/Groups/{gid}");
    let g = Some(group.as_str());
    let ids: Vec<(&str, &str)> = ids
        .iter()
        .copied()
        .chain([
            ("a99962b9f99d4c4fac67", gid.as_str()),
            ("fa2ce26709934589afc5", gid.as_str()),
        ])
        .collect();
    // Each of the three removal shapes takes out a member just added.
    for remove in [
        "entra-remove-member",
        "entra-remove-member-legacy",
        "entra-remove-member-flagged",
    ] {
        s.step(
            "entra-add-member",
            &ids,
            |_| {},
            PATCHED,
            g,
            want(&[("/members*", json!([jid]))]),
        )
        .await;
        s.step(
            remove,
            &ids,
            |_| {},
            PATCHED,
            g,
            want(&[("/members*", json!([]))]),
        )
        .await;
    }
    s.step(
        "entra-update-group-name",
        &ids,
        |_| {},
        PATCHED,
        g,
        want(&[(
            "/displayName",
            json!("1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"),
        )]),
    )
    .await;
    s.report
}
