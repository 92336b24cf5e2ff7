//! Client certificates from a tenant's own CAs: the tenant's requirement
//! ([`TenantMtls`]) and the check of a connection's certificate chain
//! against it, once per connection and policy.
//!
//! Depends on `tls` (the compiled policy and its verdicts), `conn_info`
//! (the chain and the per-connection verdict cache), `tenant_id` and
//! `error` (the refusal's [`crate::error::Reason`]).
use crate::conn_info::ConnInfo;
use crate::error::{GatewayError, Reason};
use crate::tenant_id::TenantId;
use crate::tls::{CertError, CertReason, ClientCertPolicy, ClientIdentity};
use rustls::pki_types::UnixTime;
use std::sync::Arc;

/// A tenant's client-certificate requirement.
#[derive(Debug, Clone)]
pub struct TenantMtls {
    pub policy: Arc<ClientCertPolicy>,
    /// Whether every request needs a certificate (else only checked when
    /// one was sent).
    pub required: bool,
}

/// The verified identity of the connection's client certificate for
/// tenant `tenant`; `None` when none was sent and none is required.
pub(super) fn client_certificate(
    tenant: &TenantId,
    mtls: &TenantMtls,
    conn: &ConnInfo,
) -> Result<Option<ClientIdentity>, GatewayError> {
    let Some(chain) = &conn.peer_certificates else {
        return if mtls.required {
            Err(cert_refused(
                CertReason::NoCertificate,
                &format!("tenant \"{tenant}\" requires a client certificate from its own CA"),
            ))
        } else {
            Ok(None)
        };
    };
    conn.cert_checks
        .get_or(mtls.policy.generation(), || {
            mtls.policy.verify(chain, UnixTime::now()).map_err(|e| {
                if let CertError::CrlExpired(_) = e {
                    // The operator's to fix, not the client's: say so.
                    tracing::warn!(
                        tenant = tenant.as_str(),
                        "client certificate refused: the tenant's CRL for its issuer is past its nextUpdate; publish a fresh CRL and reload (or set crl_expired = \"allow\")"
                    );
                }
                (e.reason(), e.to_string())
            })
        })
        .map(Some)
        .map_err(|(reason, detail)| cert_refused(reason, &detail))
}

/// 403: the client certificate is not one this tenant accepts.
pub(super) fn cert_refused(reason: CertReason, detail: &str) -> GatewayError {
    let reason = match reason {
        CertReason::NoCertificate => Reason::ClientCertificateMissing,
        CertReason::Untrusted => Reason::ClientCertificateUntrusted,
        CertReason::Expired => Reason::ClientCertificateExpired,
        CertReason::Revoked => Reason::ClientCertificateRevoked,
        CertReason::CrlExpired => Reason::ClientCertificateCrlExpired,
        CertReason::NotPinned => Reason::ClientCertificateNotPinned,
        CertReason::BadCertificate => Reason::ClientCertificateInvalid,
    };
    GatewayError::certificate_refused(
        &format!("the client certificate was refused: {detail}"),
        reason,
    )
}
