#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::tenant_id::TenantId;
use serde_json::json;

fn grants() -> Grants {
    Grants::new(vec![
        // Auditors read users and groups.
        Grant {
            scopes: vec!["scim.read".into()],
            claim: None,
            credentials: vec![CredentialName::parse("static:auditor").unwrap()],
            resources: Some(vec!["Users".into(), "Groups".into()]),
            methods: Methods::READ,
        },
        // Provisioning clients (by app role) do everything.
        Grant {
            scopes: vec!["scim.write".into()],
            claim: Some(("roles".into(), vec!["Provisioner".into()])),
            credentials: vec![],
            resources: None,
            methods: Methods::ALL,
        },
    ])
}

fn principal(scopes: &[&str], claims: Option<serde_json::Value>, credential: &str) -> Principal {
    principal_by(AuthMethod::Jwt, scopes, claims, credential)
}

fn principal_by(
    method: AuthMethod,
    scopes: &[&str],
    claims: Option<serde_json::Value>,
    credential: &str,
) -> Principal {
    let g = grants();
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    let claims = claims.map(|c| c.as_object().unwrap().clone());
    let applying = g.applying(Qualities {
        scopes: &scopes,
        claims: claims.as_ref(),
        method,
        credential,
    });
    Principal {
        tenant: TenantId::new("acme").unwrap(),
        method,
        subject: "s".into(),
        credential: credential.into(),
        scopes,
        grants: applying,
        issuer: None,
    }
}

fn route(path: &str) -> crate::scim::route::Route {
    crate::scim::route::Route::parse(path, &crate::scim::schema::SchemaRegistry::builtin()).unwrap()
}

fn check(p: &Principal, method: Method, path: &str) -> Result<(), u16> {
    authorize(&grants(), p, &method, &route(path)).map_err(|e| e.status())
}

#[test]
fn read_only_scope_reads_and_cannot_write() {
    let p = principal(&["scim.read"], None, "client-1");
    assert_eq!(check(&p, Method::GET, "/Users/1"), Ok(()));
    assert_eq!(check(&p, Method::GET, "/groups"), Ok(()));
    assert_eq!(check(&p, Method::POST, "/Users/.search"), Ok(()));
    assert_eq!(check(&p, Method::POST, "/Users"), Err(403));
    assert_eq!(check(&p, Method::PATCH, "/Groups/1"), Err(403));
    assert_eq!(check(&p, Method::DELETE, "/Users/1"), Err(403));
    // Not granted for other types, nor for a search across all of them.
    assert_eq!(check(&p, Method::GET, "/Devices"), Err(403));
    assert_eq!(check(&p, Method::POST, "/.search"), Err(403));
    assert_eq!(check(&p, Method::POST, "/Bulk"), Err(403));
    // Discovery is open to every authenticated principal.
    assert_eq!(check(&p, Method::GET, "/Schemas"), Ok(()));
    assert_eq!(check(&p, Method::GET, "/ServiceProviderConfig"), Ok(()));
}

#[test]
fn claims_and_credentials_qualify_too() {
    let by_role = principal(&[], Some(json!({"roles": ["Other", "Provisioner"]})), "app");
    assert_eq!(check(&by_role, Method::DELETE, "/Users/1"), Ok(()));
    assert_eq!(check(&by_role, Method::POST, "/.search"), Ok(()));
    assert_eq!(check(&by_role, Method::POST, "/Bulk"), Ok(()));
    let by_name = principal_by(AuthMethod::StaticToken, &[], None, "auditor");
    assert_eq!(check(&by_name, Method::GET, "/Users"), Ok(()));
    assert_eq!(check(&by_name, Method::PUT, "/Users/1"), Err(403));
    let nobody = principal(&["profile"], Some(json!({"roles": "Reader"})), "x");
    assert_eq!(check(&nobody, Method::GET, "/Users"), Err(403));
}

/// A grant to `static:auditor` is for the static token named `auditor`
/// only: not for a JWT, an introspected token or a certificate whose
/// credential has the same name.
#[test]
fn a_credential_name_qualifies_only_with_its_method() {
    for method in [
        AuthMethod::Jwt,
        AuthMethod::Introspection,
        AuthMethod::ClientCertificate,
    ] {
        let namesake = principal_by(method, &[], None, "auditor");
        assert_eq!(
            check(&namesake, Method::GET, "/Users"),
            Err(403),
            "{method:?}"
        );
    }
}

#[test]
fn credential_names_carry_their_method() {
    for (text, method, name) in [
        ("static:okta-2025", AuthMethod::StaticToken, "okta-2025"),
        ("jwt:0oa1b2c3", AuthMethod::Jwt, "0oa1b2c3"),
        (
            "introspection:audit-tool",
            AuthMethod::Introspection,
            "audit-tool",
        ),
        (
            "cert:CN=okta,O=Acme",
            AuthMethod::ClientCertificate,
            "CN=okta,O=Acme",
        ),
        ("jwt:urn:app:1", AuthMethod::Jwt, "urn:app:1"),
    ] {
        assert_eq!(
            CredentialName::parse(text),
            Ok(CredentialName {
                method,
                name: name.into()
            })
        );
    }
    let bare = CredentialName::parse("auditor").unwrap_err();
    assert!(bare.contains("\"static:auditor\""), "{bare}");
    assert!(bare.contains("\"jwt:auditor\""), "{bare}");
    let unknown = CredentialName::parse("token:auditor").unwrap_err();
    assert!(
        unknown.contains("\"token\" is not an authentication method"),
        "{unknown}"
    );
    assert!(CredentialName::parse("static:").is_err());
    assert!(CredentialName::parse("CN=okta,O=Acme").is_err());
}

#[test]
fn forbidden_carries_insufficient_scope() {
    let p = principal(&["scim.read"], None, "c");
    let e = authorize(&grants(), &p, &Method::POST, &route("/Users")).unwrap_err();
    assert_eq!(
        (e.status(), e.reason().as_str()),
        (403, "insufficient_scope")
    );
    let resp = e.into_response();
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"acme\", error=\"insufficient_scope\""
    );
}

#[test]
fn no_grants_allow_everything() {
    let p = principal(&[], None, "c");
    assert!(authorize(&Grants::default(), &p, &Method::DELETE, &route("/Users/1")).is_ok());
}

#[test]
fn method_names_parse() {
    assert_eq!(Methods::parse("read"), Some(Methods::READ));
    assert_eq!(Methods::parse("patch"), Some(Methods::PATCH));
    assert_eq!(Methods::parse("*"), Some(Methods::ALL));
    assert_eq!(Methods::parse("BREW"), None);
}
