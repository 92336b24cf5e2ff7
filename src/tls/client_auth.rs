//! A tenant's client-certificate policy ([`ClientCertPolicy`]): its client
//! CAs, CRLs and pins, compiled once from files. It verifies a presented
//! chain into a [`ClientIdentity`] or a [`CertError`] with a stable
//! `reason()`, and hands out the matching rustls verifier for the TLS
//! layer. Depends on rustls (webpki) and [`super::identity`]; no I/O after
//! construction.
use super::identity::{ClientCertPins, ClientIdentity, CompiledPins, ParsedCert};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, RootCertStore};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A compiled client-certificate policy. Immutable; cheap to share. A
/// clone is the same policy and keeps its [`ClientCertPolicy::generation`].
#[derive(Debug, Clone)]
pub struct ClientCertPolicy {
    /// Which compilation this is (see [`ClientCertPolicy::generation`]).
    generation: u64,
    /// Client auth required: also what [`ClientCertPolicy::verify`] uses.
    required: Arc<dyn ClientCertVerifier>,
    /// Each CRL's issuer and `nextUpdate` (seconds since the epoch), to
    /// warn about stale ones at load.
    crl_next_updates: Vec<(String, i64)>,
    /// The same roots and CRLs, client auth optional.
    optional: Arc<dyn ClientCertVerifier>,
    pins: CompiledPins,
}

/// What a policy does with a CRL whose `nextUpdate` has passed (RFC 5280
/// §5.1.2.5): its issuer should have published a newer one, so the
/// certificates it covers have an unknown status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExpiredCrls {
    /// Fail closed: refuse every certificate such a CRL covers, listed or
    /// not (`crl_expired = "deny"`, the default).
    #[default]
    Deny,
    /// Keep using it as if current: its listed serials are still refused
    /// (`crl_expired = "allow"`).
    Allow,
}

/// The generation of the next policy compiled. Process-wide and only ever
/// counted up, so no two compilations share a number (a `u64` does not
/// wrap in the life of a process).
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

/// Why a client certificate was refused. `reason()` is stable (metrics,
/// audit); `Display` is safe to show the client; the cause, if any, is the
/// `source()` for logs.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("a client certificate is required")]
    NoCertificate,
    #[error("the client certificate is not issued by a trusted authority")]
    Untrusted(#[source] rustls::Error),
    #[error("the client certificate has expired or is not yet valid")]
    Expired(#[source] rustls::Error),
    #[error("the client certificate has been revoked")]
    Revoked(#[source] rustls::Error),
    /// The tenant's CRL for the certificate's issuer is past its
    /// `nextUpdate`: its revocation status is unknown.
    #[error("the certificate revocation list of its issuer has expired, so its revocation status is unknown")]
    CrlExpired(#[source] rustls::Error),
    #[error("the client certificate is not allowed for this tenant")]
    NotPinned,
    #[error("the client certificate cannot be parsed")]
    BadCertificate(#[source] BadCertificate),
}

/// The parser's complaint about a malformed certificate.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadCertificate(String);

// === impl ClientCertPolicy ===

impl ClientCertPolicy {
    /// Compiles a policy from PEM CA bundles, CRL files (PEM or DER),
    /// pins, and what to do with expired CRLs. The error names the file or
    /// pin and the problem.
    pub fn from_files(
        ca_files: &[PathBuf],
        crl_files: &[PathBuf],
        pins: &ClientCertPins,
        expired_crls: ExpiredCrls,
    ) -> Result<Self, String> {
        let mut cas = Vec::new();
        for file in ca_files {
            cas.extend(super::load_certs(file)?);
        }
        let mut crls = Vec::new();
        for file in crl_files {
            crls.extend(load_crls(file)?);
        }
        Self::new(cas, crls, pins, expired_crls)
    }

    /// Compiles a policy from DER objects already in memory.
    pub fn new(
        cas: Vec<CertificateDer<'static>>,
        crls: Vec<CertificateRevocationListDer<'static>>,
        pins: &ClientCertPins,
        expired_crls: ExpiredCrls,
    ) -> Result<Self, String> {
        if cas.is_empty() {
            return Err("no client CA certificate given".into());
        }
        let mut roots = RootCertStore::empty();
        for (i, ca) in cas.into_iter().enumerate() {
            roots
                .add(ca)
                .map_err(|e| format!("client CA certificate #{}: unusable: {e}", i + 1))?;
        }
        let roots = Arc::new(roots);
        let crls = newest_per_issuer(crls)?;
        let crl_next_updates = crls.iter().filter_map(next_update).collect();
        let build = |required: bool| {
            let builder =
                WebPkiClientVerifier::builder_with_provider(roots.clone(), super::provider())
                    .with_crls(crls.iter().cloned())
                    // A CRL usually covers the issuing CA only; the status of the
                    // other certificates in the chain is then unknown, which is
                    // no reason to refuse. A listed serial still fails.
                    .allow_unknown_revocation_status();
            // webpki ignores `nextUpdate` unless told: a stale CRL would
            // keep admitting certificates revoked since it was issued.
            let builder = match expired_crls {
                ExpiredCrls::Deny => builder.enforce_revocation_expiration(),
                ExpiredCrls::Allow => builder,
            };
            let builder = if required {
                builder
            } else {
                builder.allow_unauthenticated()
            };
            builder
                .build()
                .map_err(|e| format!("client certificate verifier: {e}"))
        };
        Ok(Self {
            generation: NEXT_GENERATION.fetch_add(1, Ordering::Relaxed),
            crl_next_updates,
            required: build(true)?,
            optional: build(false)?,
            pins: CompiledPins::compile(pins)?,
        })
    }

    /// This policy's identity for caches of its verdicts: unique to one
    /// compilation, never reused. Unlike the policy's address, which the
    /// allocator hands to a policy compiled by a later reload once the old
    /// one is freed, a newer policy always has a new generation, so a
    /// verdict cached under an old policy never answers for a new one.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Verifies a client's chain (end entity first) at `now`: it must
    /// chain to one of the tenant's CAs, not be revoked by a given CRL, be
    /// within its validity period, carry the client-auth purpose if it
    /// names any, and satisfy the pins (see [`ClientCertPins`]).
    pub fn verify(
        &self,
        chain: &[CertificateDer<'static>],
        now: UnixTime,
    ) -> Result<ClientIdentity, CertError> {
        let (end_entity, intermediates) = chain.split_first().ok_or(CertError::NoCertificate)?;
        self.required
            .verify_client_cert(end_entity, intermediates, now)
            .map_err(classify)?;
        let parsed = ParsedCert::parse(end_entity)
            .map_err(|e| CertError::BadCertificate(BadCertificate(e)))?;
        if !self.pins.admit(&parsed) {
            return Err(CertError::NotPinned);
        }
        Ok(parsed.identity)
    }

    /// The issuers of this policy's CRLs whose `nextUpdate` is before
    /// `now`: with [`ExpiredCrls::Deny`] every certificate they cover is
    /// refused until a fresh CRL is loaded.
    pub fn expired_crl_issuers(&self, now: UnixTime) -> Vec<&str> {
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        self.crl_next_updates
            .iter()
            .filter(|(_, next)| *next < now)
            .map(|(issuer, _)| issuer.as_str())
            .collect()
    }

    /// The verifier for this tenant's TLS handshakes: the same CAs and
    /// CRLs, the CA names offered as hints; a client without a certificate
    /// is refused when `required`, let through otherwise. Pins are not
    /// checked at the TLS layer: call [`ClientCertPolicy::verify`] too.
    pub fn tls_verifier(&self, required: bool) -> Arc<dyn ClientCertVerifier> {
        if required {
            self.required.clone()
        } else {
            self.optional.clone()
        }
    }
}

/// Reads CRLs from `file`, PEM (one or more `X509 CRL` blocks) or DER.
fn load_crls(file: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    let bytes =
        std::fs::read(file).map_err(|e| format!("cannot read CRL file {}: {e}", file.display()))?;
    let crls: Vec<CertificateRevocationListDer<'static>> =
        if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
            CertificateRevocationListDer::pem_slice_iter(&bytes)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{}: not a valid PEM CRL file: {e}", file.display()))?
        } else {
            vec![CertificateRevocationListDer::from(bytes)]
        };
    if crls.is_empty() {
        return Err(format!("{}: no CRL found", file.display()));
    }
    for crl in &crls {
        x509_parser::parse_x509_crl(crl.as_ref())
            .map_err(|e| format!("{}: not a valid CRL: {e}", file.display()))?;
    }
    Ok(crls)
}

/// webpki consults only the first CRL whose issuer matches, so of several
/// complete CRLs from one issuer only the newest (latest `thisUpdate`, then
/// highest CRL number) is kept: it supersedes the older ones (RFC 5280
/// §5.1.2.4, §5.2.3). Delta CRLs are not supported.
fn newest_per_issuer(
    crls: Vec<CertificateRevocationListDer<'static>>,
) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    let mut newest = Vec::new();
    for (i, crl) in crls.into_iter().enumerate() {
        let (_, parsed) = x509_parser::parse_x509_crl(crl.as_ref())
            .map_err(|e| format!("CRL #{}: not a valid CRL: {e}", i + 1))?;
        let issuer = parsed.issuer().as_raw().to_vec();
        let rank = (parsed.last_update(), parsed.crl_number().cloned());

        drop(parsed);
        match newest.iter_mut().find(|(k, _, _)| *k == issuer) {
            Some(slot) => {
                if rank > slot.1 {
                    *slot = (issuer, rank, crl);
                }
            }
            None => newest.push((issuer, rank, crl)),
        }
    }
    Ok(newest.into_iter().map(|(_, _, crl)| crl).collect())
}

/// Why a client certificate was refused in a TLS handshake, from the
/// handshake error's text (rustls hands the server only that).
pub fn handshake_refusal_reason(error: &str) -> HandshakeRefusal {
    if error.contains("revocation list expired") || error.contains("ExpiredRevocationList") {
        HandshakeRefusal::CrlExpired
    } else {
        HandshakeRefusal::Refused
    }
}

/// Why a client certificate was refused in a TLS handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeRefusal {
    /// The tenant's CRL was past its `nextUpdate` (the operator's to fix).
    CrlExpired,
    /// Missing, foreign CA, expired or revoked.
    Refused,
}

impl HandshakeRefusal {
    /// The metric and audit reason.
    pub const fn as_str(self) -> &'static str {
        match self {
            HandshakeRefusal::CrlExpired => "client_certificate_crl_expired",
            HandshakeRefusal::Refused => "client_certificate_refused",
        }
    }
}

/// A CRL's issuer (RFC 4514 text) and `nextUpdate`; `None` without one
/// (RFC 5280 §5.1.2.5 requires it; such a CRL never expires).
fn next_update(crl: &CertificateRevocationListDer<'static>) -> Option<(String, i64)> {
    let (_, parsed) = x509_parser::parse_x509_crl(crl.as_ref()).ok()?;
    let next = parsed.next_update()?.timestamp();
    Some((parsed.issuer().to_string(), next))
}

/// Maps webpki's verdict onto the stable reasons.
fn classify(error: rustls::Error) -> CertError {
    let rustls::Error::InvalidCertificate(cert) = &error else {
        return CertError::Untrusted(error);
    };
    match cert {
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => CertError::Expired(error),
        CertificateError::Revoked => CertError::Revoked(error),
        CertificateError::ExpiredRevocationList
        | CertificateError::ExpiredRevocationListContext { .. } => CertError::CrlExpired(error),
        CertificateError::BadEncoding | CertificateError::UnhandledCriticalExtension => {
            CertError::BadCertificate(BadCertificate(error.to_string()))
        }
        // Unknown issuer, bad signature, wrong purpose, and whatever
        // rustls adds (the enum is non-exhaustive): not trusted.
        _ => CertError::Untrusted(error),
    }
}

// === impl CertError ===

impl CertError {
    /// Why, without the cause (a verdict a connection caches).
    pub fn reason(&self) -> CertReason {
        match self {
            CertError::NoCertificate => CertReason::NoCertificate,
            CertError::Untrusted(_) => CertReason::Untrusted,
            CertError::Expired(_) => CertReason::Expired,
            CertError::Revoked(_) => CertReason::Revoked,
            CertError::CrlExpired(_) => CertReason::CrlExpired,
            CertError::NotPinned => CertReason::NotPinned,
            CertError::BadCertificate(_) => CertReason::BadCertificate,
        }
    }
}

/// Why a client certificate was refused, as [`CertError`] says it
/// without its cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertReason {
    NoCertificate,
    Untrusted,
    Expired,
    Revoked,
    CrlExpired,
    NotPinned,
    BadCertificate,
}

impl CertReason {
    /// A stable, low-cardinality label: `no_certificate`, `untrusted`,
    /// `expired`, `revoked`, `crl_expired`, `not_pinned`,
    /// `bad_certificate`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CertReason::NoCertificate => "no_certificate",
            CertReason::Untrusted => "untrusted",
            CertReason::Expired => "expired",
            CertReason::Revoked => "revoked",
            CertReason::CrlExpired => "crl_expired",
            CertReason::NotPinned => "not_pinned",
            CertReason::BadCertificate => "bad_certificate",
        }
    }
}
