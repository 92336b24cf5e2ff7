//! The upstream to probe: from command-line flags (a URL and a
//! credential), or a named upstream of a gateway config (its URL, TLS
//! settings and credential, OAuth 2.0 included, exactly as the gateway
//! would use them).
use crate::secret::Secret;
use crate::upstream::HttpTarget;
use crate::upstream::{Upstream, UpstreamAuth, UpstreamTarget};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The credential given on the command line.
#[derive(Debug, Clone)]
pub enum FlagAuth {
    None,
    /// `--bearer-file FILE`: the token is the file's content.
    BearerFile(PathBuf),
    /// `--basic USER:FILE`: the password is the file's content.
    Basic {
        username: String,
        file: PathBuf,
    },
}

/// An upstream for `url` with `auth`, HTTPS trusting `ca_file` (else the
/// public web roots). No retries and no circuit breaker: each check's
/// request is sent once, as written.
pub fn from_flags(
    url: &str,
    auth: &FlagAuth,
    ca_file: Option<&Path>,
    timeout: Duration,
) -> Result<Arc<Upstream>, String> {
    let base: http::Uri = url
        .trim_end_matches('/')
        .parse()
        .map_err(|e| format!("\"{url}\" is not a URL: {e}"))?;
    match base.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(format!(
                "\"{url}\": the URL must start with http:// or https://"
            ))
        }
    }
    let tls = if base.scheme_str() == Some("https") || ca_file.is_some() {
        Some(Arc::new(crate::tls::client_config(ca_file)?))
    } else {
        None
    };
    let target = HttpTarget::new(base, tls, timeout, 4)?;
    let auth = match auth {
        FlagAuth::None => UpstreamAuth::None,
        FlagAuth::BearerFile(file) => UpstreamAuth::Bearer(Secret::new(read_secret(file)?)),
        FlagAuth::Basic { username, file } => UpstreamAuth::Basic {
            username: username.clone(),
            password: Secret::new(read_secret(file)?),
        },
    };
    if !matches!(auth, UpstreamAuth::None) && auth.header_value().is_none() {
        return Err("the credential has characters an Authorization header cannot carry".into());
    }
    let mut upstream = Upstream::new(
        "probe",
        UpstreamTarget::Http(Arc::new(target)),
        auth,
        timeout,
        timeout,
    );
    upstream.resilience_settings.attempts = 1;
    upstream.resilience_settings.failures = 0;
    Ok(Arc::new(upstream))
}

/// The upstream `name` of the gateway config at `path`, and its URL. The
/// config must pass `check-config`.
pub fn from_config(path: &Path, name: &str) -> Result<(Arc<Upstream>, String), String> {
    let snapshot = crate::config::check(path).map_err(|errors| {
        let lines: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
        format!(
            "{} has problems (see check-config):\n{}",
            path.display(),
            lines.join("\n")
        )
    })?;
    let Some(upstream) = snapshot.upstreams.get(name) else {
        let mut names: Vec<&String> = snapshot.upstreams.keys().collect();
        names.sort();
        return Err(format!(
            "{} has no upstream \"{name}\" (it has: {})",
            path.display(),
            names
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    let url = match &upstream.target {
        UpstreamTarget::Http(http) => http.base().to_string(),
        UpstreamTarget::Builtin(_) => "builtin (in-process)".to_string(),
    };
    Ok((upstream.clone(), url))
}

/// A secret file's content without the trailing newline.
fn read_secret(file: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let secret = text.trim_end_matches(['\n', '\r']).to_string();
    if secret.is_empty() {
        return Err(format!("{} is empty", file.display()));
    }
    Ok(secret)
}
