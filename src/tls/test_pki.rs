//! A throwaway PKI for the TLS tests: CAs (with intermediates), server and
//! client certificates with chosen names, serials and validity, and CRLs.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use rcgen::string::Ia5String;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertificateRevocationListParams,
    DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair,
    KeyUsagePurpose, RevocationReason, RevokedCertParams, SanType, SerialNumber,
};
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use std::sync::Arc;

pub(crate) struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    pub(crate) cert: CertificateDer<'static>,
    /// What a client sends after its own certificate: this CA and the
    /// CAs above it, up to (not including) the root.
    sent_chain: Vec<CertificateDer<'static>>,
}

/// A certificate and its key.
pub(crate) struct Leaf {
    /// End entity first, then any intermediates.
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
}

/// What a client certificate says.
pub(crate) struct ClientSpec<'a> {
    pub(crate) cn: &'a str,
    pub(crate) org: Option<&'a str>,
    pub(crate) dns: Vec<&'a str>,
    pub(crate) uri: Vec<&'a str>,
    pub(crate) email: Vec<&'a str>,
    pub(crate) serial: u64,
    /// `(not_before, not_after)` years.
    pub(crate) years: (i32, i32),
}

impl Default for ClientSpec<'_> {
    fn default() -> Self {
        Self {
            cn: "client",
            org: None,
            dns: Vec::new(),
            uri: Vec::new(),
            email: Vec::new(),
            serial: 1,
            years: (2000, 2999),
        }
    }
}

fn ca_params(name: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p
}

impl TestCa {
    pub(crate) fn root(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(name);
        let cert = params.self_signed(&key).unwrap().der().clone();
        Self {
            params,
            key,
            cert,
            sent_chain: Vec::new(),
        }
    }

    /// An intermediate CA signed by this one.
    pub(crate) fn intermediate(&self, name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = ca_params(name);
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(&key, &self.issuer())
            .unwrap()
            .der()
            .clone();
        let mut sent_chain = vec![cert.clone()];
        sent_chain.extend(self.sent_chain.iter().cloned());
        Self {
            params,
            key,
            cert,
            sent_chain,
        }
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::new(self.params.clone(), &self.key)
    }

    fn sign(&self, params: &CertificateParams) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer()).unwrap();
        let mut chain = vec![cert.der().clone()];
        chain.extend(self.sent_chain.iter().cloned());
        Leaf {
            chain,
            key: PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        }
    }

    /// A server certificate for `host`.
    pub(crate) fn server(&self, host: &str) -> Leaf {
        let mut p = CertificateParams::new(vec![host.to_string()]).unwrap();
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, host);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.use_authority_key_identifier_extension = true;
        self.sign(&p)
    }

    pub(crate) fn client(&self, spec: &ClientSpec<'_>) -> Leaf {
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        if let Some(org) = spec.org {
            dn.push(DnType::OrganizationName, org);
        }
        dn.push(DnType::CommonName, spec.cn);
        p.distinguished_name = dn;
        for d in &spec.dns {
            p.subject_alt_names
                .push(SanType::DnsName(Ia5String::try_from(*d).unwrap()));
        }
        for u in &spec.uri {
            p.subject_alt_names
                .push(SanType::URI(Ia5String::try_from(*u).unwrap()));
        }
        for e in &spec.email {
            p.subject_alt_names
                .push(SanType::Rfc822Name(Ia5String::try_from(*e).unwrap()));
        }
        p.serial_number = Some(SerialNumber::from(spec.serial));
        p.not_before = date_time_ymd(spec.years.0, 1, 1);
        p.not_after = date_time_ymd(spec.years.1, 1, 1);
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.use_authority_key_identifier_extension = true;
        self.sign(&p)
    }

    /// A CRL by this CA revoking `serials`.
    pub(crate) fn crl(&self, serials: &[u64]) -> CertificateRevocationListDer<'static> {
        self.crl_issued(serials, 2020, 1)
    }

    /// A CRL issued in `year` with CRL number `number`.
    pub(crate) fn crl_issued(
        &self,
        serials: &[u64],
        year: i32,
        number: u64,
    ) -> CertificateRevocationListDer<'static> {
        self.crl_valid(serials, (year, 2999), number)
    }

    /// A CRL whose `nextUpdate` passed in 2021: expired.
    pub(crate) fn crl_expired(&self, serials: &[u64]) -> CertificateRevocationListDer<'static> {
        self.crl_valid(serials, (2020, 2021), 1)
    }

    /// A CRL valid for `(thisUpdate, nextUpdate)` years, number `number`.
    pub(crate) fn crl_valid(
        &self,
        serials: &[u64],
        years: (i32, i32),
        number: u64,
    ) -> CertificateRevocationListDer<'static> {
        let params = CertificateRevocationListParams {
            this_update: date_time_ymd(years.0, 1, 1),
            next_update: date_time_ymd(years.1, 1, 1),
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from(*s),
                    revocation_time: date_time_ymd(2021, 1, 1),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params.signed_by(&self.issuer()).unwrap().der().clone()
    }
}

impl Leaf {
    /// A server config serving this certificate.
    pub(crate) fn server_config(
        &self,
        verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
    ) -> Arc<rustls::ServerConfig> {
        super::server_config_from(self.chain.clone(), self.key.clone_key(), verifier).unwrap()
    }
}
