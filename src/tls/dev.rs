//! A development PKI: a throwaway CA, a server certificate for
//! `localhost` and the tenant host names, and client certificates. For
//! quickstarts and tests only; a real deployment brings its own
//! certificates, and no private key of one is ever committed.
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use std::fs;
use std::path::{Path, PathBuf};

/// The CA's distinguished name. Fixed, so that the CA key alone re-creates
/// the issuer (new server certificates chain to an existing `ca.crt`).
const CA_NAME: &str = "scim-gateway development CA";

/// PEM texts of a development PKI.
#[derive(Clone)]
pub struct DevPkiPem {
    pub ca_cert: String,
    pub ca_key: String,
    pub server_cert: String,
    pub server_key: String,
    /// `(name, certificate, key)` per client.
    pub clients: Vec<(String, String, String)>,
}

impl std::fmt::Debug for DevPkiPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevPkiPem")
            .field("keys", &"<redacted>")
            .finish()
    }
}

/// Files written by [`make_dev_pki`].
#[derive(Debug, Clone)]
pub struct DevPki {
    pub files: Vec<PathBuf>,
}

fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    dn.push(DnType::OrganizationName, "scim-gateway development");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p
}

/// Every name a server certificate covers: localhost, loopback addresses,
/// `*.localhost` and the given hosts.
fn server_names(hosts: &[String]) -> Vec<String> {
    let mut names: Vec<String> = ["localhost", "*.localhost", "127.0.0.1", "::1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for h in hosts {
        let h = h.to_ascii_lowercase();
        if !names.contains(&h) {
            names.push(h);
        }
    }
    names
}

fn leaf(
    names: Vec<String>,
    cn: &str,
    eku: ExtendedKeyUsagePurpose,
) -> Result<CertificateParams, String> {
    let mut p = CertificateParams::new(names).map_err(|e| format!("certificate names: {e}"))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![eku];
    p.use_authority_key_identifier_extension = true;
    Ok(p)
}

/// A server certificate for localhost and `hosts`: PEM certificate and key.
fn server_certificate(
    hosts: &[String],
    issuer: &Issuer<'_, &KeyPair>,
) -> Result<(String, String), String> {
    let key = KeyPair::generate().map_err(|e| format!("server key: {e}"))?;
    let cert = leaf(
        server_names(hosts),
        "scim-gateway development server",
        ExtendedKeyUsagePurpose::ServerAuth,
    )?
    .signed_by(&key, issuer)
    .map_err(|e| format!("server certificate: {e}"))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Makes a whole PKI in memory (tests use it directly).
pub fn dev_pki_in_memory(hosts: &[String], clients: &[&str]) -> Result<DevPkiPem, String> {
    let ca_key = KeyPair::generate().map_err(|e| format!("CA key: {e}"))?;
    let ca_cert = ca_params()
        .self_signed(&ca_key)
        .map_err(|e| format!("CA certificate: {e}"))?;
    let issuer = Issuer::new(ca_params(), &ca_key);
    let (server_cert, server_key) = server_certificate(hosts, &issuer)?;
    let mut out = Vec::new();
    for name in clients {
        let key = KeyPair::generate().map_err(|e| format!("client key: {e}"))?;
        let cert = leaf(
            vec![format!("{name}.client.localhost")],
            name,
            ExtendedKeyUsagePurpose::ClientAuth,
        )?
        .signed_by(&key, &issuer)
        .map_err(|e| format!("client certificate: {e}"))?;
        out.push((name.to_string(), cert.pem(), key.serialize_pem()));
    }
    Ok(DevPkiPem {
        ca_cert: ca_cert.pem(),
        ca_key: ca_key.serialize_pem(),
        server_cert,
        server_key,
        clients: out,
    })
}

/// Writes `ca.crt`/`ca.key`, `server.crt`/`server.key` and
/// `client-NAME.crt`/`.key` into `dir`.
pub fn make_dev_pki(dir: &Path, hosts: &[String], clients: &[&str]) -> Result<DevPki, String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let pki = dev_pki_in_memory(hosts, clients)?;
    let mut files = Vec::new();
    let mut put = |name: &str, text: &str, secret: bool| -> Result<(), String> {
        let path = dir.join(name);
        write_file(&path, text, secret)?;
        files.push(path);
        Ok(())
    };
    put("ca.crt", &pki.ca_cert, false)?;
    put("ca.key", &pki.ca_key, true)?;
    put("server.crt", &pki.server_cert, false)?;
    put("server.key", &pki.server_key, true)?;
    for (name, cert, key) in &pki.clients {
        put(&format!("client-{name}.crt"), cert, false)?;
        put(&format!("client-{name}.key"), key, true)?;
    }
    Ok(DevPki { files })
}

/// When `cert_file` or `key_file` is missing, makes a server certificate
/// for localhost and `hosts`, signed by the development CA in the same
/// directory (created, or reused when `ca.key` exists). `Ok(true)` when it
/// wrote files.
pub(crate) fn ensure_dev_certs(
    cert_file: &Path,
    key_file: &Path,
    hosts: &[String],
) -> Result<bool, String> {
    if cert_file.exists() && key_file.exists() {
        return Ok(false);
    }
    let dir = cert_file.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let ca_key_file = dir.join("ca.key");
    let ca_cert_file = dir.join("ca.crt");
    let ca_key = match fs::read_to_string(&ca_key_file) {
        Ok(pem) if ca_cert_file.exists() => KeyPair::from_pem(&pem)
            .map_err(|_| format!("{}: not a usable CA key", ca_key_file.display()))?,
        _ => {
            let key = KeyPair::generate().map_err(|e| format!("CA key: {e}"))?;
            let cert = ca_params()
                .self_signed(&key)
                .map_err(|e| format!("CA certificate: {e}"))?;
            write_file(&ca_cert_file, &cert.pem(), false)?;
            write_file(&ca_key_file, &key.serialize_pem(), true)?;
            key
        }
    };
    let issuer = Issuer::new(ca_params(), &ca_key);
    let (server_cert, server_key) = server_certificate(hosts, &issuer)?;
    write_file(cert_file, &server_cert, false)?;
    write_file(key_file, &server_key, true)?;
    Ok(true)
}

fn write_file(path: &Path, text: &str, secret: bool) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("cannot restrict {}: {e}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_certs_are_made_once_and_chain_to_a_reused_ca() {
        let dir = std::env::temp_dir().join(format!("scimgw-devcerts-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
        assert_eq!(
            ensure_dev_certs(&cert, &key, &["acme.localhost".into()]),
            Ok(true)
        );
        assert_eq!(ensure_dev_certs(&cert, &key, &[]), Ok(false));
        let ca_before = fs::read_to_string(dir.join("ca.crt")).unwrap_or_default();
        fs::remove_file(&cert).unwrap_or_default();
        assert_eq!(ensure_dev_certs(&cert, &key, &[]), Ok(true));
        assert_eq!(
            fs::read_to_string(dir.join("ca.crt")).unwrap_or_default(),
            ca_before,
            "CA reused"
        );
        assert!(super::super::server_config(&cert, &key).is_ok());
        // The CA file still loads as a trust root (chaining is exercised
        // over real TLS in the gateway integration tests).
        let roots = super::super::client_config(Some(&dir.join("ca.crt")));
        assert!(roots.is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&key)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0);
            assert_eq!(mode, 0o600);
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn pki_in_memory_has_clients() {
        let pki = dev_pki_in_memory(&[], &["okta"]);
        let pki = pki.as_ref().map(|p| {
            (
                p.clients.len(),
                p.server_cert.starts_with("-----BEGIN CERTIFICATE"),
            )
        });
        assert_eq!(pki, Ok((1, true)));
    }
}
