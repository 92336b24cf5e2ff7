//! TLS: the server configuration built from PEM files (TLS 1.2 and 1.3,
//! ALPN `h2` and `http/1.1`, the `ring` provider), the client configuration
//! for HTTPS upstreams, and the development PKI ([`dev`]).
//!
//! Per tenant: the listener picks a `ServerConfig` per connection from the
//! ClientHello's SNI ([`TlsSelector`], used by `server::conn`); a tenant's
//! client certificates are checked by its [`ClientCertPolicy`], at the TLS
//! layer (its [`ClientCertPolicy::tls_verifier`]) or, behind a shared host
//! name, after the request path names the tenant
//! ([`DeferredClientCertVerifier`] in the handshake, then
//! [`ClientCertPolicy::verify`]).
mod client_auth;
mod deferred;
pub mod dev;
mod dn;
mod identity;
mod names;
mod select;

pub use client_auth::{
    handshake_refusal_reason, BadCertificate, CertError, CertReason, ClientCertPolicy, ExpiredCrls,
    HandshakeRefusal,
};
pub(crate) use deferred::DeferredClientCertVerifier;
pub(crate) use identity::{ClientCertPins, ClientIdentity};
pub(crate) use names::certificate_host_names;
pub(crate) use select::TlsSelector;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::Path;
use std::sync::Arc;

/// The crypto provider used everywhere.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a PEM certificate chain (at least one certificate).
pub fn load_certs(file: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file)
        .map_err(|e| format!("cannot read certificates from {}: {e}", file.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a valid PEM certificate file: {e}", file.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate found", file.display()));
    }
    Ok(certs)
}

/// Reads a PEM private key (PKCS#8, PKCS#1 or SEC1). The error never
/// contains key material.
pub(crate) fn load_key(file: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(file)
        .map_err(|_| format!("{}: no readable PEM private key", file.display()))
}

/// The server configuration of the public listener.
pub(crate) fn server_config(
    cert_file: &Path,
    key_file: &Path,
) -> Result<Arc<ServerConfig>, String> {
    server_config_with(cert_file, key_file, None)
}

/// A server configuration from PEM certificate and key files, checking
/// client certificates with `client_verifier` (`None`: no client auth).
pub(crate) fn server_config_with(
    cert_file: &Path,
    key_file: &Path,
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
) -> Result<Arc<ServerConfig>, String> {
    let certs = load_certs(cert_file)?;
    let key = load_key(key_file)?;
    server_config_from(certs, key, client_verifier)
        .map_err(|e| format!("{} and {}: {e}", cert_file.display(), key_file.display()))
}

/// A server configuration from a certificate chain and key in memory:
/// TLS 1.3 and 1.2, ALPN `h2` and `http/1.1`.
pub fn server_config_from(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
) -> Result<Arc<ServerConfig>, String> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_client_cert_verifier(
            client_verifier.unwrap_or_else(WebPkiClientVerifier::no_client_auth),
        )
        .with_single_cert(certs, key)
        .map_err(|e| format!("not a usable certificate and key: {e}"))?;
    // `http/1.0` last: a client that offers only it (`curl --http1.0`)
    // is served rather than refused with `no_application_protocol`.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec(), b"http/1.0".to_vec()];
    Ok(Arc::new(config))
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The client configuration for HTTPS upstreams: the public web PKI, or
/// only the CAs of `ca_file` when given.
pub(crate) fn client_config(ca_file: Option<&Path>) -> Result<ClientConfig, String> {
    client_config_with_identity(ca_file, None)
}

/// [`client_config`] presenting a client certificate chain and key (mTLS
/// to an upstream) when `identity` is given.
pub(crate) fn client_config_with_identity(
    ca_file: Option<&Path>,
    identity: Option<(&Path, &Path)>,
) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(file) => {
            for cert in load_certs(file)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: unusable CA certificate: {e}", file.display()))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    // No ALPN here: the connection pool sets it.
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_root_certificates(roots);
    match identity {
        None => Ok(builder.with_no_client_auth()),
        Some((cert_file, key_file)) => builder
            .with_client_auth_cert(load_certs(cert_file)?, load_key(key_file)?)
            .map_err(|e| {
                format!(
                    "{} and {} do not form a usable client certificate and key: {e}",
                    cert_file.display(),
                    key_file.display()
                )
            }),
    }
}

#[cfg(test)]
mod client_auth_tests;
#[cfg(test)]
mod handshake_tests;
#[cfg(test)]
pub(crate) mod test_pki;
