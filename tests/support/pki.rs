//! Client-certificate PKI for the mTLS tests: the library's test PKI
//! (CAs, client certificates with chosen validity and serials, CRLs),
//! written out as the PEM and DER files a config names.
use base64::Engine;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[path = "../../src/tls/test_pki.rs"]
pub mod test_pki;

pub(crate) use test_pki::{ClientSpec, Leaf, TestCa};

/// What `test_pki` expects from its parent (unused by these tests).
pub(crate) fn server_config_from(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    scim_gateway::tls::server_config_from(certs, key, verifier)
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The CA certificate as a PEM file.
pub fn write_ca(ca: &TestCa, path: &Path) -> PathBuf {
    std::fs::write(path, pem("CERTIFICATE", ca.cert.as_ref())).unwrap();
    path.to_path_buf()
}

/// A CRL as a DER file.
pub fn write_crl(ca: &TestCa, serials: &[u64], path: &Path) -> PathBuf {
    std::fs::write(path, ca.crl(serials).as_ref()).unwrap();
    path.to_path_buf()
}

/// A client identity for reqwest: key and chain in one PEM.
pub fn identity(leaf: &Leaf) -> reqwest::Identity {
    let mut text = pem("PRIVATE KEY", leaf.key.secret_der());
    for c in &leaf.chain {
        text.push_str(&pem("CERTIFICATE", c.as_ref()));
    }
    reqwest::Identity::from_pem(text.as_bytes()).unwrap()
}

/// A certificate chain and its key as PEM files.
pub fn write_leaf(leaf: &Leaf, cert: &Path, key: &Path) {
    let chain: String = leaf
        .chain
        .iter()
        .map(|c| pem("CERTIFICATE", c.as_ref()))
        .collect();
    std::fs::write(cert, chain).unwrap();
    std::fs::write(key, pem("PRIVATE KEY", leaf.key.secret_der())).unwrap();
}
