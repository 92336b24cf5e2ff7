//! Distinguished names: RFC 4514 strings from certificates, and DN pins
//! parsed and normalized so that attribute order, case and white space do
//! not matter. Pure string handling over `x509-parser` names.
use super::hex;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// A DN as a sorted list of `(attribute OID, normalized value)`.
pub(super) type NormalizedName = Vec<(String, String)>;

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

/// Parses an RFC 4514-ish DN string into its normalized form.
pub(super) fn parse_dn(text: &str) -> Result<NormalizedName, String> {
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

/// The certificate's name in comparable form.
pub(super) fn normalized(name: &X509Name<'_>) -> NormalizedName {
    let mut out: NormalizedName = name
        .iter_rdn()
        .flat_map(|rdn| rdn.iter())
        .map(|a| {
            (
                a.attr_type().to_id_string(),
                normalize_value(&value_text(a)),
            )
        })
        .collect();
    out.sort();
    out
}

/// RFC 4514 §2.1: RDNs in reverse order of the DER sequence.
pub(super) fn rfc4514(name: &X509Name<'_>) -> String {
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
}
