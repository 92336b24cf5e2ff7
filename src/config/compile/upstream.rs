//! The compile step for `[upstreams.NAME]`: the target (the built-in
//! store or an HTTP base with its TLS and endpoints), the credential the
//! gateway presents (bearer, basic, OAuth 2.0 client credentials), limits,
//! resilience, capabilities and the SCIM dialect spoken.
use super::{
    capabilities, duration, duration_or_zero, endpoints, limits, positive, resolve, secret,
    Problems,
};
use crate::config::raw::{UpstreamAuthSection, UpstreamSection};
use crate::store::{Store, StoreConfig};
use crate::upstream::oauth::{ClientAuthMethod, ClientCredentials, TokenSource};
use crate::upstream::HttpTarget;
use crate::upstream::{Upstream, UpstreamAuth, UpstreamTarget};
use std::path::Path;
use std::sync::Arc;

pub(super) fn compile_upstream(
    name: &str,
    u: &UpstreamSection,
    base_dir: &Path,
    reused: Option<Arc<Store>>,
    p: &mut Problems,
    loc: &str,
) -> Option<Upstream> {
    let connect_timeout = duration(
        p,
        &format!("{loc}.connect_timeout"),
        u.connect_timeout.as_deref(),
        "5s",
    );
    let request_timeout = duration(
        p,
        &format!("{loc}.request_timeout"),
        u.request_timeout.as_deref(),
        "30s",
    );
    let pool_max_idle = u.pool_max_idle.unwrap_or(64);
    let (target, auth) = match u.kind.as_str() {
        "builtin" => {
            for (key, set) in [
                ("url", u.url.is_some()),
                ("urls", u.urls.is_some()),
                ("health", u.health.is_some()),
                ("outlier", u.outlier.is_some()),
                ("ca_file", u.ca_file.is_some()),
                ("client_cert_file", u.client_cert_file.is_some()),
                ("auth", u.auth.is_some()),
            ] {
                if set {
                    p.add(
                        format!("{loc}.{key}"),
                        "has no meaning for kind = \"builtin\" (the in-process store)",
                    );
                }
            }
            let max_resources =
                positive(p, &format!("{loc}.max_resources"), u.max_resources, 100_000);
            let store = reused.unwrap_or_else(|| {
                Arc::new(Store::new(StoreConfig {
                    max_resources,
                    ..StoreConfig::default()
                }))
            });
            (
                Some(UpstreamTarget::Builtin(store)),
                Some(UpstreamAuth::None),
            )
        }
        "http" => {
            if u.max_resources.is_some() {
                p.add(
                    format!("{loc}.max_resources"),
                    "only applies to kind = \"builtin\"",
                );
            }
            // `url`, or several endpoints in `urls` (the first is the base).
            let bases = endpoints::urls(u, p, loc);
            let base = bases.as_ref().and_then(|b| b.first().cloned());
            let ca = u.ca_file.as_ref().map(|f| resolve(base_dir, f));
            // TLS settings for https (and a check of the files either way).
            let https = bases
                .iter()
                .flatten()
                .any(|b| b.scheme_str() == Some("https"));
            let identity = match (&u.client_cert_file, &u.client_key_file) {
                (Some(c), Some(k)) => Some((resolve(base_dir, c), resolve(base_dir, k))),
                (None, None) => None,
                _ => {
                    p.add(
                        format!("{loc}.client_cert_file"),
                        "client_cert_file and client_key_file go together",
                    );
                    None
                }
            };
            if identity.is_some() && !https {
                p.add(
                    format!("{loc}.client_cert_file"),
                    "a client certificate needs an https:// upstream url",
                );
            }
            let tls = if https || ca.is_some() || identity.is_some() {
                crate::tls::client_config_with_identity(
                    ca.as_deref(),
                    identity.as_ref().map(|(c, k)| (c.as_path(), k.as_path())),
                )
                .map(|c| Some(Arc::new(c)))
                .map_err(|e| p.add(format!("{loc}.ca_file"), e))
            } else {
                Ok(None)
            };
            let auth = match &u.auth {
                None => Some(UpstreamAuth::None),
                Some(a) => upstream_auth(a, base_dir, p, &format!("{loc}.auth")),
            };
            if auth.as_ref().is_some_and(|a| {
                matches!(a, UpstreamAuth::Bearer(_) | UpstreamAuth::Basic { .. })
                    && a.header_value().is_none()
            }) {
                p.add(
                    format!("{loc}.auth"),
                    "the credential has characters that an Authorization header cannot carry",
                );
            }
            let target = match (base, tls, connect_timeout) {
                (Some(base), Ok(tls), Some(ct)) => {
                    let balancer = endpoints::balancer(
                        name,
                        u,
                        bases.as_deref(),
                        &tls,
                        ct,
                        pool_max_idle,
                        p,
                        loc,
                    );
                    HttpTarget::new(base, tls, ct, pool_max_idle)
                        .map_err(|e| p.add(format!("{loc}.url"), e))
                        .ok()
                        .map(|t| match balancer {
                            Some(b) => t.with_balancer(b),
                            None => t,
                        })
                        .map(|t| UpstreamTarget::Http(Arc::new(t)))
                }
                _ => None,
            };
            (target, auth)
        }
        other => {
            p.add(
                format!("{loc}.kind"),
                format!("\"{other}\" is not an upstream kind; use \"http\" or \"builtin\""),
            );
            (None, None)
        }
    };
    let limits = u.limits.as_ref().map_or(Some(Default::default()), |l| {
        limits::limits(l, false, p, &format!("{loc}.limits"))
    });
    let mut upstream = Upstream::new(name, target?, auth?, connect_timeout?, request_timeout?);
    upstream.limits = limits?;
    if let Some(r) = &u.resilience {
        upstream.resilience_settings = limits::resilience(r, p, &format!("{loc}.resilience"))?;
    }
    if let Some(c) = &u.capabilities {
        upstream.emulation.settings =
            capabilities::capabilities(c, p, &format!("{loc}.capabilities"))?;
    }
    upstream.protocol = match (u.dialect.as_deref(), &upstream.target) {
        (None | Some("scim2"), _) => crate::upstream::UpstreamProtocol::Scim2,
        (Some("scim1.1"), UpstreamTarget::Http(_)) => crate::upstream::UpstreamProtocol::Scim11,
        (Some("scim1.1"), UpstreamTarget::Builtin(_)) => {
            p.add(
                format!("{loc}.dialect"),
                "the built-in store speaks SCIM 2.0; \"scim1.1\" is for kind = \"http\"",
            );
            return None;
        }
        (Some(other), _) => {
            p.add(
                format!("{loc}.dialect"),
                format!("\"{other}\" is not a SCIM dialect; use \"scim2\" or \"scim1.1\""),
            );
            return None;
        }
    };
    Some(upstream)
}

/// An upstream base URL: http(s), with a host, no query or fragment; the
/// trailing slash trimmed.
pub(super) fn upstream_url(url: &str) -> Result<http::Uri, String> {
    let uri: http::Uri = url.parse().map_err(|_| format!("\"{url}\" is not a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(format!("\"{url}\" must start with http:// or https://")),
    }
    if uri.authority().is_none() {
        return Err(format!("\"{url}\" has no host"));
    }
    if uri.query().is_some() || url.contains('#') {
        return Err(format!("\"{url}\" must not have a query or fragment"));
    }
    let trimmed = url.trim_end_matches('/');
    trimmed
        .parse()
        .map_err(|_| format!("\"{url}\" is not a URL"))
}

fn upstream_auth(
    a: &UpstreamAuthSection,
    base_dir: &Path,
    p: &mut Problems,
    loc: &str,
) -> Option<UpstreamAuth> {
    match a.kind.as_str() {
        "none" => Some(UpstreamAuth::None),
        "bearer" => secret(
            a.token_env.as_deref(),
            a.token_file.as_deref(),
            base_dir,
            p,
            loc,
            "token",
        )
        .map(UpstreamAuth::Bearer),
        "basic" => {
            let username = a.username.clone();
            if username.is_none() {
                p.add(
                    format!("{loc}.username"),
                    "kind = \"basic\" needs a username",
                );
            }
            let password = secret(
                a.password_env.as_deref(),
                a.password_file.as_deref(),
                base_dir,
                p,
                loc,
                "password",
            );
            Some(UpstreamAuth::Basic {
                username: username?,
                password: password?,
            })
        }
        "oauth2" => upstream_oauth2(a, base_dir, p, loc).map(UpstreamAuth::OAuth2),
        other => {
            p.add(
                format!("{loc}.kind"),
                format!("\"{other}\" is not an auth kind; use \"bearer\", \"basic\", \"oauth2\" or \"none\""),
            );
            None
        }
    }
}

/// `[upstreams.NAME.auth]` with `kind = "oauth2"`: the client credentials
/// grant.
fn upstream_oauth2(
    a: &UpstreamAuthSection,
    base_dir: &Path,
    p: &mut Problems,
    loc: &str,
) -> Option<TokenSource> {
    let token_url = match a.token_url.as_deref() {
        None => {
            p.add(
                format!("{loc}.token_url"),
                "kind = \"oauth2\" needs the token endpoint",
            );
            None
        }
        Some(u) => match u.parse::<http::Uri>() {
            // RFC 6749 §3.2: the token endpoint is TLS; plain http only
            // on loopback (tests, sidecars).
            Ok(uri)
                if uri.scheme_str() == Some("https")
                    || (uri.scheme_str() == Some("http")
                        && matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]"))) =>
            {
                Some(uri)
            }
            _ => {
                p.add(
                    format!("{loc}.token_url"),
                    format!("\"{u}\" must be an https URL (http only on loopback)"),
                );
                None
            }
        },
    };
    let client_id = a.client_id.clone().filter(|c| !c.is_empty());
    if client_id.is_none() {
        p.add(
            format!("{loc}.client_id"),
            "kind = \"oauth2\" needs a client_id",
        );
    }
    let client_secret = secret(
        a.client_secret_env.as_deref(),
        a.client_secret_file.as_deref(),
        base_dir,
        p,
        loc,
        "client_secret",
    );
    let auth_method = match a.auth_method.as_deref() {
        None => Some(ClientAuthMethod::ClientSecretBasic),
        Some(name) => ClientAuthMethod::from_name(name).or_else(|| {
            p.add(
                format!("{loc}.auth_method"),
                format!("\"{name}\" is not \"client_secret_basic\" or \"client_secret_post\""),
            );
            None
        }),
    };
    let refresh_before = duration_or_zero(
        p,
        &format!("{loc}.refresh_before"),
        a.refresh_before.as_deref(),
        "60s",
    );
    let mut settings = ClientCredentials::new(
        token_url?,
        client_id?,
        crate::secret::Secret::new(client_secret?.expose()),
    );
    settings.scopes = a.scopes.clone();
    settings.audience = a.audience.clone();
    settings.resource = a.resource.clone();
    settings.auth_method = auth_method?;
    settings.refresh_before = refresh_before?;
    settings.ca_file = a.ca_file.as_ref().map(|f| resolve(base_dir, f));
    TokenSource::new(settings)
        .map_err(|e| p.add(format!("{loc}.ca_file"), e.to_string()))
        .ok()
}
