//! The compile step for per-tenant TLS: `[tenants.tls]` (the tenant's own
//! certificate for its host names) and `[tenants.mtls]` (client
//! certificates from the tenant's CAs), assembled into one
//! [`TlsSelector`] that the listener consults by SNI.
use super::{resolve, Problems};
use crate::authn::TenantMtls;
use crate::config::raw::{FileConfig, MtlsSection};
use crate::tenant::Tenants;
use crate::tls::{
    ClientCertPins, ClientCertPolicy, DeferredClientCertVerifier, ExpiredCrls, TlsSelector,
};
use rustls::server::danger::ClientCertVerifier;
use std::path::Path;
use std::sync::Arc;

pub(super) fn tenant_mtls(
    m: &MtlsSection,
    base_dir: &Path,
    p: &mut Problems,
    loc: &str,
) -> Option<TenantMtls> {
    if m.ca_files.is_empty() {
        p.add(
            format!("{loc}.ca_files"),
            "name the PEM bundle(s) of the CAs that issue this tenant's client certificates",
        );
        return None;
    }
    let cas: Vec<_> = m.ca_files.iter().map(|f| resolve(base_dir, f)).collect();
    let crls: Vec<_> = m.crl_files.iter().map(|f| resolve(base_dir, f)).collect();
    let expired_crls = match m.crl_expired.as_deref() {
        None | Some("deny") => ExpiredCrls::Deny,
        Some("allow") => ExpiredCrls::Allow,
        Some(other) => {
            p.add(
                format!("{loc}.crl_expired"),
                format!("\"{other}\" is not \"deny\" (refuse certificates while a CRL is past its nextUpdate) or \"allow\""),
            );
            return None;
        }
    };
    let pins = ClientCertPins {
        subjects: m.subjects.clone(),
        sans: m.sans.clone(),
        sha256: m.sha256.clone(),
    };
    match ClientCertPolicy::from_files(&cas, &crls, &pins, expired_crls) {
        Ok(policy) => {
            for issuer in policy.expired_crl_issuers(rustls::pki_types::UnixTime::now()) {
                let what = match expired_crls {
                    ExpiredCrls::Deny => {
                        "every certificate it covers is refused until a fresh CRL is loaded"
                    }
                    ExpiredCrls::Allow => "it is used anyway (crl_expired = \"allow\")",
                };
                tracing::warn!(
                    config = loc,
                    issuer,
                    "the CRL of a client CA is past its nextUpdate: {what}"
                );
            }
            Some(TenantMtls {
                policy: Arc::new(policy),
                required: m.required.unwrap_or(true),
            })
        }
        Err(e) => {
            p.add(loc, e);
            None
        }
    }
}

/// The listener's TLS: the default certificate for every host, and per
/// tenant host a configuration with the tenant's own certificate and
/// client-certificate verifier. When path-routed tenants require mTLS,
/// the shared (default) configuration asks every client for a
/// certificate, checks only that the client holds its key, and leaves the
/// chain to the HTTP layer, which knows the tenant from the path.
pub(super) fn selector(
    raw: &FileConfig,
    base_dir: &Path,
    default: &Arc<TlsSelector>,
    tenants: &Tenants,
    path_routing: bool,
    p: &mut Problems,
) -> Option<Arc<TlsSelector>> {
    let server_tls = raw.server.tls.as_ref()?;
    let cert = resolve(base_dir, &server_tls.cert_file);
    let key = resolve(base_dir, &server_tls.key_file);
    let deferred = path_routing && tenants.values().any(|t| t.auth.mtls.is_some());
    let mut selector = if deferred {
        let verifier: Arc<dyn ClientCertVerifier> = DeferredClientCertVerifier::new();
        match crate::tls::server_config_with(&cert, &key, Some(verifier)) {
            Ok(config) => TlsSelector::new(config),
            Err(e) => {
                p.add("server.tls", e);
                return None;
            }
        }
    } else {
        TlsSelector::new(default.default_config().clone())
    };
    for (i, t) in raw.tenants.iter().enumerate() {
        let Some(tenant) = tenants.by_id(t.id.as_str()) else {
            continue;
        };
        if t.tls.is_none() && tenant.auth.mtls.is_none() {
            continue;
        }
        let loc = format!("tenants[{i}] (id \"{}\")", t.id);
        if tenant.hosts.is_empty() && t.tls.is_some() {
            p.add(
                format!("{loc}.tls"),
                "a tenant certificate is served for the tenant's hosts; this tenant has none",
            );
            continue;
        }
        let (cert, key) = match &t.tls {
            Some(own) => (
                resolve(base_dir, &own.cert_file),
                resolve(base_dir, &own.key_file),
            ),
            None => (cert.clone(), key.clone()),
        };
        let verifier = tenant
            .auth
            .mtls
            .as_ref()
            .map(|m| m.policy.tls_verifier(m.required));
        match crate::tls::server_config_with(&cert, &key, verifier) {
            Ok(config) => {
                for host in &tenant.hosts {
                    selector.insert_host(host, config.clone());
                }
            }
            Err(e) => p.add(format!("{loc}.tls"), e),
        }
    }
    Some(Arc::new(selector))
}
