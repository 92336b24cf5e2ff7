//! The "any certificate, verified later" client verifier, for a shared
//! host name whose path-prefix tenants (`/tenants/{id}/scim/v2`) require
//! mTLS: which tenant, and so which CAs, is known only from the request
//! path, after the handshake. The TLS layer therefore proves possession of
//! the key (the handshake signature) and nothing else; the HTTP layer then
//! calls [`super::ClientCertPolicy::verify`] for the resolved tenant.
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};
use std::sync::Arc;

/// Accepts any client certificate chain at the TLS layer, but still checks
/// the client's handshake signature against the presented certificate.
/// Client auth is optional and no CA names are hinted (the tenant is not
/// known yet). Never use it without a later
/// [`super::ClientCertPolicy::verify`].
#[derive(Debug)]
pub(crate) struct DeferredClientCertVerifier {
    algorithms: WebPkiSupportedAlgorithms,
}

// === impl DeferredClientCertVerifier ===

impl DeferredClientCertVerifier {
    /// The verifier, with the signature algorithms of [`super::provider`].
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            algorithms: super::provider().signature_verification_algorithms,
        })
    }
}

impl ClientCertVerifier for DeferredClientCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        // Chain, expiry, revocation and pins: checked per tenant later.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
