//! What a client certificate says about its holder ([`ClientIdentity`]:
//! subject, SANs, SHA-256 fingerprint) and the pins a tenant may put on it
//! ([`ClientCertPins`]). Pure parsing and comparison over DER bytes with
//! `x509-parser`; no TLS, no I/O. Chain validation lives in
//! [`super::client_auth`].
use super::dn::{normalized, parse_dn, rfc4514, NormalizedName};
use super::hex;
use rustls::pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use x509_parser::extensions::GeneralName;

/// Who presented a client certificate, as the principal shows it. Holds
/// only public certificate data, never key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The subject DN as an RFC 4514 string, most specific RDN first
    /// (`CN=okta,O=Acme`).
    pub subject: String,
    /// The subject alternative names, typed as OpenSSL prints them:
    /// `DNS:host`, `URI:spiffe://…`, `email:a@b`, `IP:192.0.2.1`.
    pub sans: Vec<String>,
    /// Lower-case hex SHA-256 of the end-entity certificate's DER.
    pub sha256: String,
}

/// The pins a tenant puts on its client certificates, as written in the
/// config. Each kind that lists at least one value must be satisfied by at
/// least one of its values; kinds left empty are not checked. So
/// `subjects = [A, B]` with `sha256 = [F]` admits a certificate whose
/// subject is A or B *and* whose fingerprint is F.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCertPins {
    /// Allowed subject DNs (`CN=okta,O=Acme`). Compared as a set of
    /// attribute-value pairs: attribute order, case, and surrounding or
    /// repeated white space do not matter.
    pub subjects: Vec<String>,
    /// Allowed SAN values. A bare value (`okta.example`,
    /// `spiffe://acme/okta`) matches any DNS, URI, email or IP SAN; a typed
    /// one (`DNS:okta.example`, `URI:…`, `email:…`, `IP:…`) only that type.
    /// DNS names and email domains compare case-insensitively.
    pub sans: Vec<String>,
    /// Allowed SHA-256 fingerprints of the end-entity certificate, hex,
    /// with or without colons, any case.
    pub sha256: Vec<String>,
}

/// Pins in comparable form.
#[derive(Debug, Clone, Default)]
pub(crate) struct CompiledPins {
    subjects: Vec<NormalizedName>,
    sans: Vec<SanPin>,
    sha256: Vec<String>,
}

#[derive(Debug, Clone)]
struct SanPin {
    kind: Option<SanKind>,
    value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SanKind {
    Dns,
    Uri,
    Email,
    Ip,
}

/// A certificate parsed for identity and pinning.
pub(crate) struct ParsedCert {
    pub(crate) identity: ClientIdentity,
    subject: NormalizedName,
    sans: Vec<(SanKind, String)>,
}

// === impl CompiledPins ===

impl CompiledPins {
    /// Checks every pin; the error names the offending one.
    pub(crate) fn compile(pins: &ClientCertPins) -> Result<Self, String> {
        let subjects = pins
            .subjects
            .iter()
            .map(|s| parse_dn(s).map_err(|e| format!("subject pin {s:?}: {e}")))
            .collect::<Result<_, _>>()?;
        let sans = pins
            .sans
            .iter()
            .map(|s| parse_san_pin(s).map_err(|e| format!("SAN pin {s:?}: {e}")))
            .collect::<Result<_, _>>()?;
        let sha256 = pins
            .sha256
            .iter()
            .map(|s| normalize_fingerprint(s).map_err(|e| format!("sha256 pin {s:?}: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            subjects,
            sans,
            sha256,
        })
    }

    /// Every configured pin kind has a matching value.
    pub(crate) fn admit(&self, cert: &ParsedCert) -> bool {
        let subject_ok = self.subjects.is_empty() || self.subjects.contains(&cert.subject);
        let san_ok = self.sans.is_empty()
            || self
                .sans
                .iter()
                .any(|pin| cert.sans.iter().any(|san| pin.matches(san)));
        let sha_ok = self.sha256.is_empty() || self.sha256.contains(&cert.identity.sha256);
        subject_ok && san_ok && sha_ok
    }
}

// === impl SanPin ===

impl SanPin {
    fn matches(&self, (kind, value): &(SanKind, String)) -> bool {
        if self.kind.is_some_and(|k| k != *kind) {
            return false;
        }
        match kind {
            SanKind::Dns => self.value.eq_ignore_ascii_case(value),
            // RFC 5321 §2.4: the local part may be case-sensitive, the
            // domain is not.
            SanKind::Email => match (self.value.rsplit_once('@'), value.rsplit_once('@')) {
                (Some((pl, pd)), Some((vl, vd))) => pl == vl && pd.eq_ignore_ascii_case(vd),
                _ => self.value == *value,
            },
            SanKind::Uri => self.value == *value,
            SanKind::Ip => match (self.value.parse::<IpAddr>(), value.parse::<IpAddr>()) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            },
        }
    }
}

fn parse_san_pin(pin: &str) -> Result<SanPin, String> {
    let pin = pin.trim();
    let typed = [
        ("dns:", SanKind::Dns),
        ("uri:", SanKind::Uri),
        ("email:", SanKind::Email),
        ("ip:", SanKind::Ip),
    ]
    .into_iter()
    .find(|(prefix, _)| {
        pin.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    });
    let (kind, value) = match typed {
        Some((prefix, kind)) => (Some(kind), pin[prefix.len()..].trim()),
        None => (None, pin),
    };
    if value.is_empty() {
        return Err("empty value".into());
    }
    if kind == Some(SanKind::Ip) && value.parse::<IpAddr>().is_err() {
        return Err("not an IP address".into());
    }
    Ok(SanPin {
        kind,
        value: value.to_string(),
    })
}

/// Lower-case hex without separators; exactly 32 bytes.
fn normalize_fingerprint(pin: &str) -> Result<String, String> {
    let hex: String = pin
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("expected 64 hex digits (32 bytes), colons allowed".into());
    }
    Ok(hex)
}

// === impl ParsedCert ===

impl ParsedCert {
    /// Parses the end-entity certificate. `Err` carries the parser's
    /// complaint (public data only).
    pub(crate) fn parse(der: &CertificateDer<'_>) -> Result<Self, String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
            .map_err(|e| format!("certificate: {e}"))?;
        let subject_name = cert.subject();
        let mut sans = Vec::new();
        let san = cert
            .subject_alternative_name()
            .map_err(|e| format!("subjectAltName: {e}"))?;
        for name in san.iter().flat_map(|s| s.value.general_names.iter()) {
            match name {
                GeneralName::DNSName(v) => sans.push((SanKind::Dns, (*v).to_string())),
                GeneralName::URI(v) => sans.push((SanKind::Uri, (*v).to_string())),
                GeneralName::RFC822Name(v) => sans.push((SanKind::Email, (*v).to_string())),
                GeneralName::IPAddress(b) => {
                    if let Some(ip) = ip_from_bytes(b) {
                        sans.push((SanKind::Ip, ip.to_string()));
                    }
                }
                // Other name forms are neither shown nor pinnable.
                _ => {}
            }
        }
        let identity = ClientIdentity {
            subject: rfc4514(subject_name),
            sans: sans
                .iter()
                .map(|(kind, v)| format!("{}:{v}", kind.label()))
                .collect(),
            sha256: hex(&Sha256::digest(der.as_ref())),
        };
        Ok(Self {
            identity,
            subject: normalized(subject_name),
            sans,
        })
    }
}

impl SanKind {
    fn label(self) -> &'static str {
        match self {
            SanKind::Dns => "DNS",
            SanKind::Uri => "URI",
            SanKind::Email => "email",
            SanKind::Ip => "IP",
        }
    }
}

fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fingerprints_accept_colons_and_case() {
        let hexed = "AB".repeat(32);
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(
            normalize_fingerprint(&hexed),
            normalize_fingerprint(&colons)
        );
        assert!(normalize_fingerprint("abcd").is_err());
        assert!(normalize_fingerprint(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn san_pins_respect_type_and_case_rules() {
        let dns = (SanKind::Dns, "okta.example".to_string());
        let email = (SanKind::Email, "Ops@acme.example".to_string());
        assert!(parse_san_pin("OKTA.example").unwrap().matches(&dns));
        assert!(parse_san_pin("dns:okta.example").unwrap().matches(&dns));
        assert!(!parse_san_pin("URI:okta.example").unwrap().matches(&dns));
        assert!(parse_san_pin("email:Ops@ACME.example")
            .unwrap()
            .matches(&email));
        assert!(!parse_san_pin("ops@acme.example").unwrap().matches(&email));
        assert!(parse_san_pin("IP:not-an-ip").is_err());
        assert!(parse_san_pin("DNS:").is_err());
    }
}
