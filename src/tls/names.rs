//! The host names a server certificate is for: the default list of names
//! on which the listener serves path-routed tenants (`[server] hosts`).
use std::net::IpAddr;
use std::path::Path;
use x509_parser::extensions::GeneralName;

/// The DNS names (lower case) and IP addresses (IPv6 in brackets, as a
/// `Host` header writes them) of the first certificate in `cert_file`.
pub(crate) fn certificate_host_names(cert_file: &Path) -> Result<Vec<String>, String> {
    let certs = super::load_certs(cert_file)?;
    let Some(first) = certs.first() else {
        return Ok(Vec::new());
    };
    let (_, cert) = x509_parser::parse_x509_certificate(first.as_ref())
        .map_err(|e| format!("{}: certificate: {e}", cert_file.display()))?;
    let san = cert
        .subject_alternative_name()
        .map_err(|e| format!("{}: subjectAltName: {e}", cert_file.display()))?;
    let mut names = Vec::new();
    for name in san.iter().flat_map(|s| s.value.general_names.iter()) {
        match name {
            GeneralName::DNSName(v) => names.push(v.to_ascii_lowercase()),
            GeneralName::IPAddress(b) => {
                let ip = match b.len() {
                    4 => <[u8; 4]>::try_from(*b).ok().map(IpAddr::from),
                    16 => <[u8; 16]>::try_from(*b).ok().map(IpAddr::from),
                    _ => None,
                };
                match ip {
                    Some(IpAddr::V4(v4)) => names.push(v4.to_string()),
                    Some(IpAddr::V6(v6)) => names.push(format!("[{v6}]")),
                    None => {}
                }
            }
            _ => {}
        }
    }
    Ok(names)
}
