//! `[events.kafka.tls]` and `[events.kafka.sasl]` → librdkafka properties:
//! the security.protocol table, the TLS files (read, checked, errors naming
//! key and path), the SASL mechanisms, and no password in any message.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use std::path::{Path, PathBuf};

const PASSWORD: &str = "s3cret-Kafka-pw";

fn settings(extra: &str) -> KafkaSettings {
    toml::from_str(&format!(
        "brokers = [\"127.0.0.1:9093\"]\ntopic = \"scim-events\"\n{extra}"
    ))
    .unwrap()
}

/// A fresh directory with `ca.pem`, `client.pem`, `client.key` (matching),
/// `other.key` (another key) and `password` files.
fn files(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kafka-sec-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ca = rcgen::generate_simple_self_signed(vec!["ca.test".into()]).unwrap();
    let client = rcgen::generate_simple_self_signed(vec!["client.test".into()]).unwrap();
    let other = rcgen::KeyPair::generate().unwrap();
    std::fs::write(dir.join("ca.pem"), ca.cert.pem()).unwrap();
    std::fs::write(dir.join("client.pem"), client.cert.pem()).unwrap();
    std::fs::write(dir.join("client.key"), client.signing_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("other.key"), other.serialize_pem()).unwrap();
    std::fs::write(dir.join("password"), format!("{PASSWORD}\n")).unwrap();
    dir
}

fn path(dir: &Path, file: &str) -> String {
    dir.join(file).display().to_string()
}

fn sasl(mechanism: &str, dir: &Path) -> String {
    format!(
        "[sasl]\nmechanism = \"{mechanism}\"\nusername = \"gw\"\npassword_file = \"{}\"\n",
        path(dir, "password")
    )
}

#[test]
fn security_protocol_follows_tls_and_sasl() {
    let dir = files("protocol");
    let tls = "[tls]\n";
    let cases = [
        (String::new(), "plaintext"),
        (tls.to_string(), "ssl"),
        (sasl("SCRAM-SHA-512", &dir), "sasl_plaintext"),
        (format!("{tls}{}", sasl("SCRAM-SHA-512", &dir)), "sasl_ssl"),
    ];
    for (extra, protocol) in cases {
        let (c, _) = client_config(&settings(&extra)).unwrap();
        assert_eq!(c.get("security.protocol"), Some(protocol), "{extra}");
        let has_tls = extra.contains("[tls]");
        assert_eq!(
            c.get("ssl.endpoint.identification.algorithm").is_some(),
            has_tls
        );
        assert_eq!(c.get("sasl.mechanism").is_some(), extra.contains("[sasl]"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_sasl_mechanism_maps_to_librdkafka_spelling() {
    let dir = files("mechanisms");
    for (given, want) in [
        ("PLAIN", "PLAIN"),
        ("plain", "PLAIN"),
        ("SCRAM-SHA-256", "SCRAM-SHA-256"),
        ("scram-sha-512", "SCRAM-SHA-512"),
    ] {
        let (c, _) = client_config(&settings(&sasl(given, &dir))).unwrap();
        assert_eq!(c.get("sasl.mechanism"), Some(want));
        assert_eq!(c.get("sasl.username"), Some("gw"));
        assert_eq!(
            c.get("sasl.password"),
            Some(PASSWORD),
            "trailing newline dropped"
        );
    }
    for bad in ["GSSAPI", "OAUTHBEARER", "SCRAM-SHA-1", ""] {
        let e = client_config(&settings(&sasl(bad, &dir))).unwrap_err();
        assert!(!e.retryable);
        assert!(e.detail.contains("sasl.mechanism"), "{e}");
        assert!(
            e.detail.contains("SCRAM-SHA-512"),
            "lists what is supported: {e}"
        );
        assert!(!e.detail.contains(PASSWORD));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_password_comes_from_env_or_file_and_is_never_in_a_message() {
    let dir = files("password");
    // From the environment: a variable that is always set (setting one
    // would race with other threads reading the environment).
    let var = "PATH";
    let from_env = std::env::var(var).unwrap();
    let s = settings(&format!(
        "[sasl]\nmechanism = \"SCRAM-SHA-256\"\nusername = \"gw\"\npassword_env = \"{var}\"\n"
    ));
    assert_eq!(
        client_config(&s).unwrap().0.get("sasl.password"),
        Some(from_env.as_str())
    );
    // Both, neither, empty, missing, NUL, a bad username: errors without it.
    let both = format!(
        "[sasl]\nmechanism = \"PLAIN\"\nusername = \"gw\"\npassword_env = \"{var}\"\npassword_file = \"{}\"\n",
        path(&dir, "password")
    );
    let neither = "[sasl]\nmechanism = \"PLAIN\"\nusername = \"gw\"\n".to_string();
    std::fs::write(dir.join("empty"), "\n").unwrap();
    std::fs::write(dir.join("nul"), format!("{PASSWORD}\0x")).unwrap();
    let file = |f: &str| {
        format!(
            "[sasl]\nmechanism = \"PLAIN\"\nusername = \"gw\"\npassword_file = \"{}\"\n",
            path(&dir, f)
        )
    };
    let bad_user = sasl("PLAIN", &dir).replace("\"gw\"", "\"g\\u0000w\"");
    for (extra, says) in [
        (both, "exactly one"),
        (neither, "exactly one"),
        (file("empty"), "is empty"),
        (file("missing"), "cannot read"),
        (file("nul"), "NUL"),
        (bad_user, "sasl.username"),
    ] {
        let e = settings(&extra).validate().unwrap_err();
        assert!(e.detail.contains(says), "{extra}: {e}");
        assert!(!e.detail.contains(PASSWORD), "{e}");
        assert!(!e.retryable);
    }
    // No inline password: the key does not exist.
    let inline = toml::from_str::<KafkaSettings>(
        "brokers = [\"k:1\"]\ntopic = \"t\"\n[sasl]\nmechanism = \"PLAIN\"\nusername = \"gw\"\npassword = \"x\"\n",
    )
    .unwrap_err();
    assert!(inline.to_string().contains("password"), "{inline}");
    // Settings (what the snapshot keeps and Debug prints) hold no password.
    let s = settings(&sasl("PLAIN", &dir));
    assert!(!format!("{s:?}").contains(PASSWORD));
    assert!(!format!("{:?}", KafkaSink::new(&s).unwrap()).contains(PASSWORD));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tls_files_are_read_checked_and_passed_as_pem() {
    let dir = files("tls");
    let s = settings(&format!(
        "[tls]\nca_file = \"{}\"\nclient_cert_file = \"{}\"\nclient_key_file = \"{}\"\n",
        path(&dir, "ca.pem"),
        path(&dir, "client.pem"),
        path(&dir, "client.key")
    ));
    let (c, _) = client_config(&s).unwrap();
    let ca = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
    assert_eq!(c.get("ssl.ca.pem"), Some(ca.as_str()));
    assert_eq!(c.get("ssl.ca.location"), None);
    assert!(c
        .get("ssl.certificate.pem")
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    assert!(c.get("ssl.key.pem").unwrap().contains("PRIVATE KEY"));
    assert_eq!(
        c.get("ssl.endpoint.identification.algorithm"),
        Some("https")
    );
    // librdkafka accepts the whole TLS configuration (key matches cert).
    KafkaSink::new(&s).unwrap();

    // No ca_file: the system's trust store, found by probing.
    let (c, _) = client_config(&settings("[tls]\n")).unwrap();
    assert_eq!(c.get("ssl.ca.location"), Some("probe"));
    let (c, _) = client_config(&settings("[tls]\nverify_server_name = false\n")).unwrap();
    assert_eq!(c.get("ssl.endpoint.identification.algorithm"), Some("none"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_tls_files_are_config_errors_naming_key_and_path() {
    let dir = files("badtls");
    std::fs::write(dir.join("junk.pem"), "not a certificate\n").unwrap();
    std::fs::write(dir.join("big.pem"), vec![b'a'; 2 * 1024 * 1024]).unwrap();
    let tls = |ca: &str, cert: Option<&str>, key: Option<&str>| {
        let mut t = format!("[tls]\nca_file = \"{}\"\n", path(&dir, ca));
        if let Some(c) = cert {
            t.push_str(&format!("client_cert_file = \"{}\"\n", path(&dir, c)));
        }
        if let Some(k) = key {
            t.push_str(&format!("client_key_file = \"{}\"\n", path(&dir, k)));
        }
        t
    };
    for (extra, key, file) in [
        (
            tls("missing.pem", None, None),
            "tls.ca_file",
            Some("missing.pem"),
        ),
        (tls("junk.pem", None, None), "tls.ca_file", Some("junk.pem")),
        (tls("big.pem", None, None), "tls.ca_file", Some("big.pem")),
        (
            tls("client.key", None, None),
            "tls.ca_file",
            Some("client.key"),
        ),
        (tls(".", None, None), "tls.ca_file", None),
        (
            tls("ca.pem", Some("client.pem"), None),
            "client_key_file",
            None,
        ),
        (
            tls("ca.pem", None, Some("client.key")),
            "client_cert_file",
            None,
        ),
        (
            tls("ca.pem", Some("junk.pem"), Some("client.key")),
            "tls.client_cert_file",
            Some("junk.pem"),
        ),
        (
            tls("ca.pem", Some("client.pem"), Some("client.pem")),
            "tls.client_key_file",
            Some("client.pem"),
        ),
    ] {
        let e = settings(&extra).validate().unwrap_err();
        assert!(!e.retryable);
        assert!(e.detail.contains(key), "{extra}: {e}");
        if let Some(file) = file {
            assert!(e.detail.contains(&path(&dir, file)), "{extra}: {e}");
        }
    }
    // A key that is not the certificate's: librdkafka refuses the producer.
    let s = settings(&tls("ca.pem", Some("client.pem"), Some("other.key")));
    let e = KafkaSink::new(&s).unwrap_err();
    assert!(!e.retryable, "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plain_without_tls_warns_and_nothing_else_does() {
    let dir = files("warn");
    let plain = settings(&sasl("PLAIN", &dir));
    let w = plain.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].0, "sasl");
    assert!(w[0].1.starts_with("PLAIN without"), "{w:?}");
    assert!(!w[0].1.contains(PASSWORD));
    assert!(settings(&format!("[tls]\n{}", sasl("PLAIN", &dir)))
        .warnings()
        .is_empty());
    assert!(settings(&sasl("SCRAM-SHA-512", &dir)).warnings().is_empty());
    assert!(settings("").warnings().is_empty());
    let w = settings("[tls]\nverify_server_name = false\n").warnings();
    assert_eq!(w[0].0, "tls.verify_server_name", "{w:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn relative_files_are_resolved_against_the_config_directory() {
    let mut s = settings(
        "[tls]\nca_file = \"ca.pem\"\nclient_cert_file = \"/abs/c.pem\"\nclient_key_file = \"k/c.key\"\n\
         [sasl]\nmechanism = \"PLAIN\"\nusername = \"gw\"\npassword_file = \"pw\"\n",
    );
    s.resolve_paths(Path::new("/etc/gw"));
    let tls = s.tls.as_ref().unwrap();
    assert_eq!(tls.ca_file.as_deref(), Some("/etc/gw/ca.pem"));
    assert_eq!(tls.client_cert_file.as_deref(), Some("/abs/c.pem"));
    assert_eq!(tls.client_key_file.as_deref(), Some("/etc/gw/k/c.key"));
    assert_eq!(
        s.sasl.as_ref().unwrap().password_file.as_deref(),
        Some("/etc/gw/pw")
    );
}
