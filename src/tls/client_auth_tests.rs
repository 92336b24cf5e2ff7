//! `ClientCertPolicy::verify`: one test per `reason()`, pins, files.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::test_pki::{ClientSpec, TestCa};
use super::{CertError, ClientCertPins, ClientCertPolicy, ExpiredCrls};
use rustls::pki_types::{CertificateDer, UnixTime};
use std::path::PathBuf;

fn policy(
    ca: &TestCa,
    crls: Vec<rustls::pki_types::CertificateRevocationListDer<'static>>,
) -> ClientCertPolicy {
    ClientCertPolicy::new(
        vec![ca.cert.clone()],
        crls,
        &ClientCertPins::default(),
        ExpiredCrls::Deny,
    )
    .unwrap()
}

fn reason(r: Result<super::ClientIdentity, CertError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.reason().as_str(),
    }
}

fn okta() -> ClientSpec<'static> {
    ClientSpec {
        cn: "okta",
        org: Some("Acme"),
        dns: vec!["okta.client.example"],
        uri: vec!["spiffe://acme/okta"],
        email: vec!["Ops@acme.example"],
        serial: 7,
        ..ClientSpec::default()
    }
}

#[test]
fn a_valid_certificate_yields_its_identity() {
    let ca = TestCa::root("tenant A CA");
    let leaf = ca.client(&okta());
    let id = policy(&ca, vec![])
        .verify(&leaf.chain, UnixTime::now())
        .unwrap();
    assert_eq!(id.subject, "CN=okta,O=Acme");
    assert_eq!(
        id.sans,
        [
            "DNS:okta.client.example",
            "URI:spiffe://acme/okta",
            "email:Ops@acme.example"
        ]
    );
    assert_eq!(id.sha256.len(), 64);
    assert!(id
        .sha256
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
}

#[test]
fn every_reason_is_reported() {
    let ca = TestCa::root("tenant A CA");
    let other = TestCa::root("tenant B CA");
    let p = policy(&ca, vec![ca.crl(&[13])]);
    let now = UnixTime::now();
    assert_eq!(reason(p.verify(&[], now)), "no_certificate");
    let foreign = other.client(&okta());
    assert_eq!(reason(p.verify(&foreign.chain, now)), "untrusted");
    let expired = ca.client(&ClientSpec {
        years: (2000, 2001),
        ..okta()
    });
    assert_eq!(reason(p.verify(&expired.chain, now)), "expired");
    let future = ca.client(&ClientSpec {
        years: (2900, 2901),
        ..okta()
    });
    assert_eq!(reason(p.verify(&future.chain, now)), "expired");
    let revoked = ca.client(&ClientSpec {
        serial: 13,
        ..okta()
    });
    assert_eq!(reason(p.verify(&revoked.chain, now)), "revoked");
    let garbage = vec![CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00])];
    assert_eq!(reason(p.verify(&garbage, now)), "bad_certificate");
    // Not listed in the CRL: fine.
    assert_eq!(reason(p.verify(&ca.client(&okta()).chain, now)), "ok");
}

/// RFC 5280 §5.1.2.5: past `nextUpdate` a CRL no longer says whether a
/// certificate is revoked. By default that refuses (fail closed); with
/// `ExpiredCrls::Allow` the stale CRL is used as if current.
#[test]
fn an_expired_crl_refuses_unless_allowed() {
    let ca = TestCa::root("tenant A CA");
    let now = UnixTime::now();
    let good = ca.client(&okta());
    let listed = ca.client(&ClientSpec {
        serial: 13,
        ..okta()
    });
    let deny = policy(&ca, vec![ca.crl_expired(&[13])]);
    assert_eq!(reason(deny.verify(&good.chain, now)), "crl_expired");
    assert_eq!(reason(deny.verify(&listed.chain, now)), "crl_expired");
    assert_eq!(deny.expired_crl_issuers(now), ["CN=tenant A CA"]);
    let allow = ClientCertPolicy::new(
        vec![ca.cert.clone()],
        vec![ca.crl_expired(&[13])],
        &ClientCertPins::default(),
        ExpiredCrls::Allow,
    )
    .unwrap();
    assert_eq!(reason(allow.verify(&good.chain, now)), "ok");
    assert_eq!(reason(allow.verify(&listed.chain, now)), "revoked");
    // A current CRL is not reported.
    assert!(policy(&ca, vec![ca.crl(&[])])
        .expired_crl_issuers(now)
        .is_empty());
}

#[test]
fn a_handshake_refused_for_an_expired_crl_has_its_own_reason() {
    use rustls::CertificateError;
    let context =
        rustls::Error::InvalidCertificate(CertificateError::ExpiredRevocationListContext {
            time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(2_000_000_000)),
            next_update: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_600_000_000)),
        });
    let plain = rustls::Error::InvalidCertificate(CertificateError::ExpiredRevocationList);
    for e in [context, plain] {
        let text = std::io::Error::new(std::io::ErrorKind::InvalidData, e).to_string();
        assert_eq!(
            super::handshake_refusal_reason(&text).as_str(),
            "client_certificate_crl_expired",
            "{text}"
        );
    }
    let revoked = rustls::Error::InvalidCertificate(CertificateError::Revoked).to_string();
    assert_eq!(
        super::handshake_refusal_reason(&revoked).as_str(),
        "client_certificate_refused"
    );
}

#[test]
fn a_crl_for_the_issuing_ca_only_does_not_fail_the_rest_of_the_chain() {
    let root = TestCa::root("tenant A root");
    let issuing = root.intermediate("tenant A issuing CA");
    // CRL of the issuing CA only: the intermediate's own status (its
    // issuer's CRL) is unknown, and that is allowed.
    let p = policy(&root, vec![issuing.crl(&[13])]);
    let now = UnixTime::now();
    let good = issuing.client(&okta());
    assert_eq!(good.chain.len(), 2);
    assert_eq!(reason(p.verify(&good.chain, now)), "ok");
    let revoked = issuing.client(&ClientSpec {
        serial: 13,
        ..okta()
    });
    assert_eq!(reason(p.verify(&revoked.chain, now)), "revoked");
    // Without the intermediate the chain does not reach the root.
    assert_eq!(reason(p.verify(&good.chain[..1], now)), "untrusted");
}

fn pinned(ca: &TestCa, pins: ClientCertPins) -> ClientCertPolicy {
    ClientCertPolicy::new(vec![ca.cert.clone()], vec![], &pins, Default::default()).unwrap()
}

#[test]
fn pins_by_subject_san_and_fingerprint() {
    let ca = TestCa::root("tenant A CA");
    let okta = ca.client(&okta());
    let other = ca.client(&ClientSpec {
        cn: "azure",
        org: Some("Acme"),
        dns: vec!["azure.client.example"],
        ..ClientSpec::default()
    });
    let now = UnixTime::now();
    let check = |pins: ClientCertPins| {
        let p = pinned(&ca, pins);
        (
            reason(p.verify(&okta.chain, now)),
            reason(p.verify(&other.chain, now)),
        )
    };
    let subjects = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    // Subject: order, case and spacing do not matter.
    let by_subject = ClientCertPins {
        subjects: subjects(&["o=ACME,  cn=okta"]),
        ..Default::default()
    };
    assert_eq!(check(by_subject), ("ok", "not_pinned"));

    // SAN: bare or typed.
    let by_san = ClientCertPins {
        sans: subjects(&["spiffe://acme/okta"]),
        ..Default::default()
    };
    assert_eq!(check(by_san), ("ok", "not_pinned"));
    let by_dns = ClientCertPins {
        sans: subjects(&["DNS:AZURE.client.example", "DNS:spiffe://acme/okta"]),
        ..Default::default()
    };
    assert_eq!(check(by_dns), ("not_pinned", "ok"));

    // Fingerprint, with colons and upper case.
    let fp = pinned(&ca, ClientCertPins::default())
        .verify(&okta.chain, now)
        .unwrap()
        .sha256;
    let colons = fp
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    let by_fp = ClientCertPins {
        sha256: vec![colons],
        ..Default::default()
    };
    assert_eq!(check(by_fp), ("ok", "not_pinned"));

    // Every configured kind must match: the right subject with the wrong
    // fingerprint fails.
    let both = ClientCertPins {
        subjects: subjects(&["CN=azure,O=Acme", "CN=okta,O=Acme"]),
        sha256: vec![fp],
        ..Default::default()
    };
    assert_eq!(check(both), ("ok", "not_pinned"));
}

#[test]
fn display_is_client_safe_and_the_cause_is_the_source() {
    let ca = TestCa::root("tenant A CA");
    let other = TestCa::root("tenant B CA");
    let err = policy(&ca, vec![])
        .verify(&other.client(&okta()).chain, UnixTime::now())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the client certificate is not issued by a trusted authority"
    );
    assert!(std::error::Error::source(&err).is_some());
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scimgw-mtls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

#[test]
fn from_files_reads_pem_and_der_crls_and_names_bad_files() {
    let dir = temp_dir("files");
    let ca = TestCa::root("tenant A CA");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, pem("CERTIFICATE", &ca.cert)).unwrap();
    // An older PEM CRL and a newer DER one from the same CA: the newer
    // wins whatever the order (webpki reads one CRL per issuer).
    let old_pem = dir.join("old.crl.pem");
    std::fs::write(&old_pem, pem("X509 CRL", &ca.crl_issued(&[13], 2020, 1))).unwrap();
    let new_der = dir.join("new.crl");
    std::fs::write(&new_der, ca.crl_issued(&[13, 14], 2021, 2).as_ref()).unwrap();
    let now = UnixTime::now();
    for crls in [
        [old_pem.clone(), new_der.clone()],
        [new_der.clone(), old_pem.clone()],
    ] {
        let p = ClientCertPolicy::from_files(
            std::slice::from_ref(&ca_file),
            &crls,
            &ClientCertPins::default(),
            Default::default(),
        )
        .unwrap();
        for (serial, want) in [(12, "ok"), (13, "revoked"), (14, "revoked")] {
            let leaf = ca.client(&ClientSpec { serial, ..okta() });
            assert_eq!(reason(p.verify(&leaf.chain, now)), want, "serial {serial}");
        }
    }

    let missing = dir.join("missing.pem");
    let err = ClientCertPolicy::from_files(
        &[missing],
        &[],
        &ClientCertPins::default(),
        Default::default(),
    )
    .unwrap_err();
    assert!(err.contains("missing.pem"), "{err}");
    let junk = dir.join("junk.crl");
    std::fs::write(&junk, b"not a crl").unwrap();
    let err = ClientCertPolicy::from_files(
        std::slice::from_ref(&ca_file),
        &[junk],
        &ClientCertPins::default(),
        Default::default(),
    )
    .unwrap_err();
    assert!(
        err.contains("junk.crl") && err.contains("not a valid CRL"),
        "{err}"
    );
    let err =
        ClientCertPolicy::from_files(&[], &[], &ClientCertPins::default(), Default::default())
            .unwrap_err();
    assert!(err.contains("no client CA"), "{err}");
    let bad_pin = ClientCertPins {
        sha256: vec!["abc".into()],
        ..Default::default()
    };
    let err =
        ClientCertPolicy::from_files(&[ca_file], &[], &bad_pin, Default::default()).unwrap_err();
    assert!(err.contains("sha256 pin"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
