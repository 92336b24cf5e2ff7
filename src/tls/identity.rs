//! What a client certificate says about its holder ([`ClientIdentity`]:
//! subject, SANs, SHA-256 fingerprint) and the pins a tenant may put on it
//! ([`ClientCertPins`]). Pure parsing and comparison over DER bytes with
//! `x509-parser`; no TLS, no I/O. Chain validation lives in
//! [`super::client_auth`].
use rustls::pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::net::IpAddr;
use x509_parser::extensions::GeneralName;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

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

/// A DN as a sorted list of `(attribute OID, normalized value)`.
type NormalizedName = Vec<(String, String)>;

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

/// RFC 4514 §3 short names, plus `emailAddress` as OpenSSL prints it.
const ATTRIBUTE_NAMES: &[(&str, &str)] = &[
    ("CN", "2.5.4.3"),
    ("C", "2.5.4.6"),
    ("L", "2.5.4.7"),
    ("ST", "2.5.4.8"),
    ("STREET", "2.5.4.9"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("SERIALNUMBER", "2.5.4.5"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("UID", "0.9.2342.19200300.100.1.1"),
    ("emailAddress", "1.2.840.113549.1.9.1"),
];

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

/// Parses an RFC 4514-ish DN string into its normalized form.
fn parse_dn(text: &str) -> Result<NormalizedName, String> {
    let mut out = Vec::new();
    for part in split_unescaped(text) {
        let part = part.trim();
        if part.is_empty() {
            return Err("empty attribute".into());
        }
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not TYPE=value"))?;
        let oid = attribute_oid(name.trim())
            .ok_or_else(|| format!("unknown attribute type {:?}", name.trim()))?;
        out.push((oid, normalize_value(&unescape(value.trim())?)));
    }
    if out.is_empty() {
        return Err("empty DN".into());
    }
    out.sort();
    Ok(out)
}

/// Splits at `,`, `;` and `+` not preceded by a backslash: multi-valued
/// RDNs are compared attribute by attribute like the rest.
fn split_unescaped(text: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut escaped = false;
    for c in text.chars() {
        let last = parts.len() - 1;
        if escaped {
            parts[last].push(c);
            escaped = false;
        } else if c == '\\' {
            parts[last].push(c);
            escaped = true;
        } else if matches!(c, ',' | ';' | '+') {
            parts.push(String::new());
        } else {
            parts[last].push(c);
        }
    }
    parts
}

/// RFC 4514 §3: `\` followed by a special character or two hex digits.
fn unescape(value: &str) -> Result<String, String> {
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    let mut bytes = Vec::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some(h) if h.is_ascii_hexdigit() => {
                let l = chars
                    .next()
                    .filter(char::is_ascii_hexdigit)
                    .ok_or("bad \\XX escape")?;
                let byte = u8::from_str_radix(&format!("{h}{l}"), 16)
                    .map_err(|_| "bad \\XX escape".to_string())?;
                bytes.push(byte);
            }
            Some(c) => {
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            None => return Err("trailing backslash".into()),
        }
    }
    String::from_utf8(bytes).map_err(|_| "escapes do not form UTF-8".into())
}

/// caseIgnoreMatch, roughly: trimmed, inner white space collapsed, lower
/// case.
fn normalize_value(value: &str) -> String {
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn attribute_oid(name: &str) -> Option<String> {
    if name.chars().all(|c| c.is_ascii_digit() || c == '.') && name.contains('.') {
        return Some(name.to_string());
    }
    if name.eq_ignore_ascii_case("E") {
        return Some("1.2.840.113549.1.9.1".into());
    }
    ATTRIBUTE_NAMES
        .iter()
        .find(|(short, _)| short.eq_ignore_ascii_case(name))
        .map(|(_, oid)| (*oid).to_string())
}

fn attribute_name(oid: &str) -> String {
    ATTRIBUTE_NAMES
        .iter()
        .find(|(_, o)| *o == oid)
        .map_or_else(|| oid.to_string(), |(short, _)| (*short).to_string())
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
        let mut subject: NormalizedName = subject_name
            .iter_rdn()
            .flat_map(|rdn| rdn.iter())
            .map(|a| {
                (
                    a.attr_type().to_id_string(),
                    normalize_value(&value_text(a)),
                )
            })
            .collect();
        subject.sort();
        Ok(Self {
            identity,
            subject,
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

/// RFC 4514 §2.1: RDNs in reverse order of the DER sequence.
fn rfc4514(name: &X509Name<'_>) -> String {
    let rdns: Vec<_> = name.iter_rdn().collect();
    rdns.iter()
        .rev()
        .map(|rdn| {
            rdn.iter()
                .map(|a| {
                    format!(
                        "{}={}",
                        attribute_name(&a.attr_type().to_id_string()),
                        escape(&value_text(a))
                    )
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The value as text; RFC 4514 §2.4 `#hex` of the DER value when it is
/// not a string type.
fn value_text(a: &AttributeTypeAndValue<'_>) -> String {
    match a.as_str() {
        Ok(s) => s.to_string(),
        Err(_) => format!("#{}", hex(a.attr_value().data)),
    }
}

/// RFC 4514 §2.4 escaping of the special characters.
fn escape(value: &str) -> String {
    if value.starts_with('#') && value.len() > 1 {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let edge_space = c == ' ' && (i == 0 || i == last);
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';') || edge_space {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dn_pins_ignore_order_case_and_spacing() {
        let a = parse_dn("CN=okta, O=Acme  Corp").unwrap();
        let b = parse_dn("o=acme corp;cn=OKTA").unwrap();
        assert_eq!(a, b);
        assert_eq!(
            parse_dn(r"CN=a\,b").unwrap(),
            vec![("2.5.4.3".into(), "a,b".into())]
        );
        assert_eq!(
            parse_dn(r"CN=\41").unwrap(),
            vec![("2.5.4.3".into(), "a".into())]
        );
        assert!(parse_dn("XX=1").is_err());
        assert!(parse_dn("CN").is_err());
        assert!(parse_dn("").is_err());
    }

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
