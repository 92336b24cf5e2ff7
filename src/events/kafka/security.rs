//! How the Kafka sink talks to the brokers: `[events.kafka.tls]` (TLS, mutual
//! TLS optional) and `[events.kafka.sasl]` (PLAIN, SCRAM-SHA-256,
//! SCRAM-SHA-512), turned into librdkafka's `security.protocol`, `ssl.*` and
//! `sasl.*` properties, plus the warnings `check-config` prints about them.
//!
//! Every file is read here, once, bounded in size and checked (PEM that
//! holds what it should), so that a bad file is a config error naming the
//! key and the path, not a handshake failure at 3 a.m. librdkafka gets the
//! contents (`ssl.*.pem`), never the paths: what was checked is what is used.
use std::io::Read;
use std::path::Path;

use rdkafka::config::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use super::{KafkaError, KafkaSettings};

/// Largest PEM file read (a CA bundle such as Debian's is about 200 KiB).
const MAX_PEM_BYTES: u64 = 1024 * 1024;
/// Largest password file read.
const MAX_PASSWORD_BYTES: u64 = 64 * 1024;

/// `[events.kafka.tls]`: TLS to every broker. Its presence turns TLS on
/// (`security.protocol` `SSL`, or `SASL_SSL` with `[events.kafka.sasl]`).
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaTls {
    /// PEM bundle of CAs to trust instead of the system's trust store.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// A client certificate chain (PEM) for brokers that require mutual TLS.
    #[serde(default)]
    pub client_cert_file: Option<String>,
    /// The unencrypted key of `client_cert_file` (PEM).
    #[serde(default)]
    pub client_key_file: Option<String>,
    /// Check that the broker's certificate names the host it was reached
    /// at (default `true`). `false` still verifies the chain.
    #[serde(default = "default_true")]
    pub verify_server_name: bool,
}

/// `[events.kafka.sasl]`: credentials, the password named by environment
/// variable or file, never inline.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaSasl {
    /// `"PLAIN"`, `"SCRAM-SHA-256"` or `"SCRAM-SHA-512"`.
    pub mechanism: String,
    pub username: String,
    /// Environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// File holding the password (trailing newline ignored).
    #[serde(default)]
    pub password_file: Option<String>,
}

fn default_true() -> bool {
    true
}

/// The SASL mechanisms librdkafka (built with OpenSSL) speaks, as spelled
/// in `sasl.mechanism`.
const MECHANISMS: [&str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

// === impl KafkaSettings ===

impl KafkaSettings {
    /// What is allowed but unwise: (key under `events.kafka`, message)
    /// pairs for the config compiler's warnings (`check-config` prints them,
    /// `run` logs them). Never a secret.
    pub fn warnings(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(sasl) = &self.sasl {
            if self.tls.is_none() && sasl.mechanism.eq_ignore_ascii_case("PLAIN") {
                out.push((
                    "sasl",
                    "PLAIN without [events.kafka.tls] sends the password in clear text \
                     to every broker: add [events.kafka.tls] or use SCRAM-SHA-512"
                        .to_string(),
                ));
            }
        }
        if self.tls.as_ref().is_some_and(|t| !t.verify_server_name) {
            out.push((
                "tls.verify_server_name",
                "false: any certificate from the trusted CAs is accepted for every broker"
                    .to_string(),
            ));
        }
        out
    }

    /// Makes the files named relative to the config file's directory
    /// absolute (`base_dir`), as everywhere else in the config.
    pub fn resolve_paths(&mut self, base_dir: &Path) {
        let resolve = |f: &mut Option<String>| {
            if let Some(path) = f.as_mut() {
                if Path::new(path.as_str()).is_relative() {
                    *path = base_dir.join(path.as_str()).display().to_string();
                }
            }
        };
        if let Some(sasl) = self.sasl.as_mut() {
            resolve(&mut sasl.password_file);
        }
        if let Some(tls) = self.tls.as_mut() {
            resolve(&mut tls.ca_file);
            resolve(&mut tls.client_cert_file);
            resolve(&mut tls.client_key_file);
        }
    }
}

/// Sets `security.protocol` and the TLS and SASL properties.
pub(super) fn apply(s: &KafkaSettings, c: &mut ClientConfig) -> Result<(), KafkaError> {
    let protocol = match (&s.tls, &s.sasl) {
        (None, None) => "plaintext",
        (Some(_), None) => "ssl",
        (None, Some(_)) => "sasl_plaintext",
        (Some(_), Some(_)) => "sasl_ssl",
    };
    c.set("security.protocol", protocol);
    if let Some(tls) = &s.tls {
        apply_tls(tls, c)?;
    }
    if let Some(sasl) = &s.sasl {
        apply_sasl(sasl, c)?;
    }
    Ok(())
}

fn apply_tls(tls: &KafkaTls, c: &mut ClientConfig) -> Result<(), KafkaError> {
    match &tls.ca_file {
        Some(path) => {
            let pem = read_pem("tls.ca_file", path)?;
            certificates("tls.ca_file", path, &pem)?;
            c.set("ssl.ca.pem", pem);
        }
        // The OpenSSL inside is built from source: its compiled-in CA
        // directory is not the system's. `probe` makes librdkafka look in
        // the usual places (/etc/ssl/certs/ca-certificates.crt, ...).
        None => {
            c.set("ssl.ca.location", "probe");
        }
    }
    match (&tls.client_cert_file, &tls.client_key_file) {
        (None, None) => {}
        (Some(cert_path), Some(key_path)) => {
            let cert = read_pem("tls.client_cert_file", cert_path)?;
            certificates("tls.client_cert_file", cert_path, &cert)?;
            let key = read_pem("tls.client_key_file", key_path)?;
            if PrivateKeyDer::from_pem_slice(key.as_bytes()).is_err() {
                return Err(KafkaError::config(&format!(
                    "tls.client_key_file: {key_path} holds no unencrypted PEM private key"
                )));
            }
            c.set("ssl.certificate.pem", cert).set("ssl.key.pem", key);
        }
        _ => {
            return Err(KafkaError::config(
                "tls: set both client_cert_file and client_key_file, or neither",
            ))
        }
    }
    c.set(
        "ssl.endpoint.identification.algorithm",
        if tls.verify_server_name {
            "https"
        } else {
            "none"
        },
    );
    Ok(())
}

fn apply_sasl(sasl: &KafkaSasl, c: &mut ClientConfig) -> Result<(), KafkaError> {
    let Some(mechanism) = MECHANISMS
        .iter()
        .find(|m| m.eq_ignore_ascii_case(&sasl.mechanism))
    else {
        return Err(KafkaError::config(&format!(
            "sasl.mechanism: {:?} is not supported (one of {})",
            sasl.mechanism,
            MECHANISMS.join(", ")
        )));
    };
    let username = &sasl.username;
    if username.is_empty() || username.len() > 256 || username.chars().any(char::is_control) {
        return Err(KafkaError::config(
            "sasl.username: 1 to 256 characters, no control characters",
        ));
    }
    let password = sasl_password(sasl)?;
    c.set("sasl.mechanism", *mechanism)
        .set("sasl.username", username)
        .set("sasl.password", password);
    Ok(())
}

fn sasl_password(sasl: &KafkaSasl) -> Result<String, KafkaError> {
    let password = match (&sasl.password_env, &sasl.password_file) {
        (Some(var), None) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => v,
            _ => {
                return Err(KafkaError::config(&format!(
                    "sasl.password_env: environment variable {var} is not set or empty"
                )))
            }
        },
        (None, Some(path)) => {
            let text = read_bounded("sasl.password_file", path, MAX_PASSWORD_BYTES)?;
            let v = text.trim_end_matches(['\n', '\r']);
            if v.is_empty() {
                return Err(KafkaError::config(&format!(
                    "sasl.password_file: {path} is empty"
                )));
            }
            v.to_string()
        }
        _ => {
            return Err(KafkaError::config(
                "sasl: set exactly one of password_env or password_file",
            ))
        }
    };
    // librdkafka takes C strings; the message says where, never what.
    if password.contains('\0') {
        return Err(KafkaError::config("sasl: the password contains a NUL byte"));
    }
    Ok(password)
}

fn read_pem(key: &str, path: &str) -> Result<String, KafkaError> {
    let text = read_bounded(key, path, MAX_PEM_BYTES)?;
    if text.contains('\0') {
        return Err(KafkaError::config(&format!(
            "{key}: {path} is not a PEM file"
        )));
    }
    Ok(text)
}

/// At least one certificate, and no malformed PEM block.
fn certificates(key: &str, path: &str, pem: &str) -> Result<(), KafkaError> {
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        if cert.is_err() {
            return Err(KafkaError::config(&format!(
                "{key}: {path} holds a malformed PEM block"
            )));
        }
        count += 1;
    }
    if count == 0 {
        return Err(KafkaError::config(&format!(
            "{key}: {path} holds no PEM CERTIFICATE"
        )));
    }
    Ok(())
}

/// Reads a UTF-8 file of at most `max` bytes.
fn read_bounded(key: &str, path: &str, max: u64) -> Result<String, KafkaError> {
    let cannot =
        |e: &dyn std::fmt::Display| KafkaError::config(&format!("{key}: cannot read {path}: {e}"));
    // Not a FIFO or a device: opening one could block or never end.
    let meta = std::fs::metadata(path).map_err(|e| cannot(&e))?;
    if !meta.is_file() {
        return Err(cannot(&"not a regular file"));
    }
    let file = std::fs::File::open(path).map_err(|e| cannot(&e))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(&e))?;
    if bytes.len() as u64 > max {
        return Err(KafkaError::config(&format!(
            "{key}: {path} is larger than {max} bytes"
        )));
    }
    String::from_utf8(bytes).map_err(|_| cannot(&"not UTF-8 text"))
}
