//! The compile step: raw file types → an immutable [`Snapshot`], checking
//! everything and reporting every problem with its location at once.
//!
//! Relative paths (certificates, CA bundles, secret files) are relative to
//! the directory of the config file, so the gateway behaves the same from
//! any working directory.
use super::errors::{ConfigError, ConfigErrors};
use super::raw::{FileConfig, TenantSection, UpstreamAuthSection, UpstreamSection};
use crate::snapshot::{
    Secret, ServerSettings, Snapshot, StaticToken, Tenant, TenantId, Upstream, UpstreamAuth,
    UpstreamTarget,
};
use crate::store::{Store, StoreConfig};
use crate::tenant::Tenants;
use crate::upstream::HttpTarget;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[path = "compile_auth.rs"]
mod auth;
#[path = "compile_capabilities.rs"]
mod capabilities;
#[path = "compile_caps.rs"]
mod caps;
#[path = "compile_endpoints.rs"]
mod endpoints;
#[path = "compile_events.rs"]
mod events;
#[path = "compile_schema.rs"]
mod schema;
#[path = "compile_tls.rs"]
mod tls;

/// Largest config file read.
const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// Collects problems with their locations.
struct Problems {
    file: String,
    list: Vec<ConfigError>,
}

impl Problems {
    fn add(&mut self, location: impl AsRef<str>, message: impl Into<String>) {
        self.list.push(ConfigError {
            location: format!("{}: {}", self.file, location.as_ref()),
            message: message.into(),
        });
    }
}

/// Reads, parses and compiles a config file.
pub fn load(path: &Path, previous: Option<&Snapshot>) -> Result<Snapshot, ConfigErrors> {
    load_with(path, previous, true)
}

/// Checks a config file without side effects: with `dev_certs = true`
/// and no certificate yet, nothing is written and the snapshot has no TLS
/// (it is for reporting only and must never serve).
pub fn check(path: &Path) -> Result<Snapshot, ConfigErrors> {
    load_with(path, None, false)
}

fn load_with(
    path: &Path,
    previous: Option<&Snapshot>,
    make_dev_certs: bool,
) -> Result<Snapshot, ConfigErrors> {
    let file = path.display().to_string();
    let one = |message: String| {
        ConfigErrors(vec![ConfigError {
            location: file.clone(),
            message,
        }])
    };
    let size = std::fs::metadata(path)
        .map_err(|e| one(format!("cannot read the config file: {e}")))?
        .len();
    if size > MAX_CONFIG_BYTES {
        return Err(one(format!(
            "the config file is larger than {MAX_CONFIG_BYTES} bytes"
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| one(format!("cannot read the config file: {e}")))?;
    let raw = parse(&text, &file)?;
    compile_with(&raw, path, previous, make_dev_certs)
}

/// Parses TOML into the raw types; syntax errors and unknown keys are
/// reported with line and column.
pub fn parse(text: &str, file: &str) -> Result<FileConfig, ConfigErrors> {
    toml::from_str(text).map_err(|e| {
        let location = match e.span() {
            Some(span) => {
                let before = text.get(..span.start).unwrap_or("");
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("{file}:{line}:{column}")
            }
            None => file.to_string(),
        };
        ConfigErrors(vec![ConfigError {
            location,
            message: e.message().to_string(),
        }])
    })
}

/// Compiles raw config into a snapshot. A `builtin` upstream that was
/// `builtin` under the same name in `previous` keeps its store (its data
/// survives reloads).
pub fn compile(
    raw: &FileConfig,
    source: &Path,
    previous: Option<&Snapshot>,
) -> Result<Snapshot, ConfigErrors> {
    compile_with(raw, source, previous, true)
}

fn compile_with(
    raw: &FileConfig,
    source: &Path,
    previous: Option<&Snapshot>,
    make_dev_certs: bool,
) -> Result<Snapshot, ConfigErrors> {
    let file = source.file_name().map_or_else(
        || source.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let base_dir = source.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut p = Problems {
        file,
        list: Vec::new(),
    };

    let all_hosts: Vec<String> = raw
        .tenants
        .iter()
        .flat_map(|t| t.hosts.iter().map(|h| h.to_ascii_lowercase()))
        .collect();
    let server = compile_server(raw, &base_dir, &all_hosts, make_dev_certs, &mut p);
    let admin = raw
        .admin
        .as_ref()
        .and_then(|a| addr(&mut p, "admin.listen", &a.listen));

    let mut upstreams = HashMap::new();
    for (name, section) in &raw.upstreams {
        let loc = format!("upstreams.{name}");
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            p.add(
                &loc,
                "an upstream name may contain only letters, digits, \"-\" and \"_\"",
            );
            continue;
        }
        let reused = previous
            .and_then(|s| s.upstreams.get(name))
            .and_then(|u| match &u.target {
                UpstreamTarget::Builtin(store) => Some(store.clone()),
                UpstreamTarget::Http { .. } => None,
            });
        if let Some(u) = compile_upstream(name, section, &base_dir, reused, &mut p, &loc) {
            endpoints::carry_over(&u, previous.and_then(|s| s.upstreams.get(name)));
            upstreams.insert(name.clone(), Arc::new(u));
        }
    }

    let audit = events::audit(raw, &base_dir, &mut p);
    let audit_on = matches!(audit, Some(Some(_)));
    let events = events::events(raw, audit_on, &mut p);
    let kafka_on = events.kafka.is_some();

    let mut tenants = Tenants::new();
    let mut host_owner: HashMap<String, String> = HashMap::new();
    let max_body = server
        .as_ref()
        .map_or(2 * 1024 * 1024, |s| s.max_request_body_bytes);
    let max_patch = server
        .as_ref()
        .map_or(crate::scim::patch::DEFAULT_MAX_OPERATIONS, |s| {
            s.max_patch_operations
        });
    let standard = Arc::new(
        crate::tenant_schema::TenantSchema::standard(max_body).with_max_patch_operations(max_patch),
    );
    let mut fitted = HashMap::new();
    for (i, t) in raw.tenants.iter().enumerate() {
        let loc = format!("tenants[{i}] (id \"{}\")", t.id);
        let schema = schema::tenant_schema(
            t.schema.as_ref(),
            &base_dir,
            &standard,
            (max_body, max_patch),
            &mut p,
            &loc,
        );
        let compiled = compile_tenant(t, &loc, raw, &base_dir, &upstreams, &mut host_owner, &mut p);
        let journal = events::tenant(t, &base_dir, audit_on, kafka_on, &mut p, &loc);
        if let (Some(tenant), Some(schema), Some(journal)) = (compiled, schema, journal) {
            // What the tenant is offered in front of its upstream (natively
            // or emulated; a SCIM 1.1 backend gets no Bulk).
            let schema = schema::fit_to_upstream(schema, &standard, &tenant.upstream, &mut fitted);
            let tenant = Tenant {
                schema,
                journal,
                ..tenant
            };
            if !tenants.insert(Arc::new(tenant)) {
                p.add(
                    format!("{loc}.id"),
                    format!("tenant id \"{}\" is used twice", t.id),
                );
                continue;
            }
        }
    }
    if raw.tenants.is_empty() {
        p.add(
            "tenants",
            "no tenant is configured; add at least one [[tenants]] section",
        );
    }

    // Per-tenant certificates and client-certificate checks, by SNI.
    let server = server.map(|mut server| {
        if let Some(selector) = &server.tls {
            server.tls = tls::selector(raw, &base_dir, selector, &tenants, server.path_routing, &mut p);
        } else if let Some((i, _)) = raw
            .tenants
            .iter()
            .enumerate()
            .find(|(_, t)| t.tls.is_some() || t.mtls.is_some())
        {
            if !raw.server.plaintext || raw.server.tls.is_some() {
                // Checking only (certificates pending): nothing to build.
            } else {
                p.add(
                    format!("tenants[{i}]"),
                    "[tenants.tls] and [tenants.mtls] need [server.tls] (the gateway must terminate TLS)",
                );
            }
        }
        server
    });

    let shared_limits = raw
        .limits
        .as_ref()
        .and_then(|l| auth::shared_limits(l, previous, &mut p));

    match (server, audit, p.list.is_empty()) {
        (Some(server), Some(audit), true) => Ok(Snapshot {
            server,
            admin,
            tenants,
            upstreams,
            shared_limits,
            audit,
            events,
            source: source.to_path_buf(),
        }),
        _ => Err(ConfigErrors(p.list)),
    }
}

fn compile_server(
    raw: &FileConfig,
    base_dir: &Path,
    hosts: &[String],
    make_dev_certs: bool,
    p: &mut Problems,
) -> Option<ServerSettings> {
    let s = &raw.server;
    let listen = addr(
        p,
        "server.listen",
        s.listen.as_deref().unwrap_or("127.0.0.1:8443"),
    );
    let tls = match (&s.tls, s.plaintext) {
        (Some(_), true) => {
            p.add(
                "server.plaintext",
                "plaintext = true and [server.tls] exclude each other; remove one",
            );
            None
        }
        (None, false) => {
            p.add("server.tls", "TLS is required: add [server.tls] with cert_file and key_file (or plaintext = true behind a TLS-terminating load balancer)");
            None
        }
        (None, true) => Some(None),
        (Some(tls), false) => {
            let cert = resolve(base_dir, &tls.cert_file);
            let key = resolve(base_dir, &tls.key_file);
            let mut ok = true;
            let pending = tls.dev_certs && !make_dev_certs && !(cert.exists() && key.exists());
            if tls.dev_certs && make_dev_certs {
                match crate::tls::dev::ensure_dev_certs(&cert, &key, hosts) {
                    Ok(true) => {
                        tracing::warn!(cert = %cert.display(), "made development certificates (never use them in production)")
                    }
                    Ok(false) => {}
                    Err(e) => {
                        p.add("server.tls.dev_certs", e);
                        ok = false;
                    }
                }
            }
            if pending {
                // Checking only: the certificates will be made on start.
                Some(None)
            } else if ok {
                match crate::tls::server_config(&cert, &key) {
                    Ok(c) => Some(Some(Arc::new(crate::tls::TlsSelector::new(c)))),
                    Err(e) => {
                        p.add("server.tls", e);
                        None
                    }
                }
            } else {
                None
            }
        }
    };
    let header_read_timeout = duration(
        p,
        "server.header_read_timeout",
        s.header_read_timeout.as_deref(),
        "10s",
    );
    let idle_timeout = duration(p, "server.idle_timeout", s.idle_timeout.as_deref(), "60s");
    let request_timeout = duration(
        p,
        "server.request_timeout",
        s.request_timeout.as_deref(),
        "60s",
    );
    let shutdown_timeout = duration(
        p,
        "server.shutdown_timeout",
        s.shutdown_timeout.as_deref(),
        "20s",
    );
    let max_header_bytes = positive(p, "server.max_header_bytes", s.max_header_bytes, 16 * 1024);
    let max_connections = positive(p, "server.max_connections", s.max_connections, 4096);
    let connections = caps::connections(s, max_connections, p);
    let cache_max_bytes = caps::cache_max_bytes(s, p);
    let max_request_body_bytes = positive(
        p,
        "server.max_request_body_bytes",
        s.max_request_body_bytes,
        2 * 1024 * 1024,
    );
    let max_response_body_bytes = positive(
        p,
        "server.max_response_body_bytes",
        s.max_response_body_bytes,
        32 * 1024 * 1024,
    );
    let max_patch_operations = positive(
        p,
        "server.max_patch_operations",
        s.max_patch_operations,
        crate::scim::patch::DEFAULT_MAX_OPERATIONS,
    );
    let auth_failure_window = duration(
        p,
        "server.auth_failure_window",
        s.auth_failure_window.as_deref(),
        "1m",
    );
    let base_path = s.base_path.clone().unwrap_or_else(|| "/scim/v2".into());
    if !base_path.starts_with('/')
        || (base_path.len() > 1 && base_path.ends_with('/'))
        || base_path.contains(['?', '#', ' '])
    {
        p.add(
            "server.base_path",
            format!(
                "\"{base_path}\" must start with \"/\" and not end with one, e.g. \"/scim/v2\""
            ),
        );
    }
    let listener_hosts = listener_hosts(s, base_dir, hosts, p);
    Some(ServerSettings {
        listen: listen?,
        tls: tls?,
        header_read_timeout: header_read_timeout?,
        max_header_bytes,
        max_connections,
        connections: connections?,
        idle_timeout: idle_timeout?,
        request_timeout: request_timeout?,
        max_request_body_bytes,
        max_response_body_bytes,
        max_patch_operations,
        shutdown_timeout: shutdown_timeout?,
        path_routing: s.path_routing.unwrap_or(true),
        base_path: if base_path == "/" {
            String::new()
        } else {
            base_path
        },
        hosts: listener_hosts,
        auth_damping: crate::authn::damping::DampingSettings {
            max_failures: s.auth_failure_limit.unwrap_or(20),
            window: auth_failure_window?,
        },
        cache_max_bytes: cache_max_bytes as u64,
    })
}

/// `[server] hosts`, or the names of the listener's certificate (those
/// the development certificate will have, when it is yet to be made), or
/// the loopback names of a plaintext listener.
fn listener_hosts(
    s: &crate::config::raw::ServerSection,
    base_dir: &Path,
    tenant_hosts: &[String],
    p: &mut Problems,
) -> Vec<String> {
    if let Some(list) = &s.hosts {
        let mut out = Vec::with_capacity(list.len());
        for (i, h) in list.iter().enumerate() {
            let name = h.to_ascii_lowercase();
            let bare = name.strip_prefix("*.").unwrap_or(&name);
            if crate::snapshot::valid_host_name(bare) {
                out.push(name);
            } else {
                p.add(
                    format!("server.hosts[{i}]"),
                    format!("\"{h}\" is not a host name or IP address (no port, no scheme)"),
                );
            }
        }
        return out;
    }
    let Some(tls) = &s.tls else {
        return ["localhost", "127.0.0.1", "[::1]"]
            .map(String::from)
            .to_vec();
    };
    let cert = resolve(base_dir, &tls.cert_file);
    if tls.dev_certs && !cert.exists() {
        let mut names: Vec<String> = ["localhost", "*.localhost", "127.0.0.1", "[::1]"]
            .map(String::from)
            .to_vec();
        names.extend(tenant_hosts.iter().cloned());
        return names;
    }
    // A certificate that cannot be read is reported where it is loaded.
    crate::tls::certificate_host_names(&cert).unwrap_or_default()
}

fn compile_upstream(
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
        auth::limits(l, false, p, &format!("{loc}.limits"))
    });
    let mut upstream = Upstream::new(name, target?, auth?, connect_timeout?, request_timeout?);
    upstream.limits = limits?;
    if let Some(r) = &u.resilience {
        upstream.resilience_settings = auth::resilience(r, p, &format!("{loc}.resilience"))?;
    }
    if let Some(c) = &u.capabilities {
        upstream.emulation.settings =
            capabilities::capabilities(c, p, &format!("{loc}.capabilities"))?;
    }
    upstream.protocol = match (u.dialect.as_deref(), &upstream.target) {
        (None | Some("scim2"), _) => crate::snapshot::UpstreamProtocol::Scim2,
        (Some("scim1.1"), UpstreamTarget::Http(_)) => crate::snapshot::UpstreamProtocol::Scim11,
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
fn upstream_url(url: &str) -> Result<http::Uri, String> {
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
        "oauth2" => auth::upstream_oauth2(a, base_dir, p, loc).map(UpstreamAuth::OAuth2),
        other => {
            p.add(
                format!("{loc}.kind"),
                format!("\"{other}\" is not an auth kind; use \"bearer\", \"basic\", \"oauth2\" or \"none\""),
            );
            None
        }
    }
}

/// A secret from exactly one of an environment variable or a file.
fn secret(
    env: Option<&str>,
    file: Option<&str>,
    base_dir: &Path,
    p: &mut Problems,
    loc: &str,
    what: &str,
) -> Option<Secret> {
    match (env, file) {
        (Some(var), None) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => Some(Secret::new(v)),
            _ => {
                p.add(
                    format!("{loc}.{what}_env"),
                    format!("environment variable {var} is not set or empty"),
                );
                None
            }
        },
        (None, Some(f)) => {
            let path = resolve(base_dir, f);
            match std::fs::read_to_string(&path) {
                Ok(v) if !v.trim_end_matches(['\n', '\r']).is_empty() => {
                    Some(Secret::new(v.trim_end_matches(['\n', '\r']).to_string()))
                }
                Ok(_) => {
                    p.add(
                        format!("{loc}.{what}_file"),
                        format!("{} is empty", path.display()),
                    );
                    None
                }
                Err(e) => {
                    p.add(
                        format!("{loc}.{what}_file"),
                        format!("cannot read {}: {e}", path.display()),
                    );
                    None
                }
            }
        }
        _ => {
            p.add(loc, format!("set exactly one of {what}_env or {what}_file"));
            None
        }
    }
}

fn compile_tenant(
    t: &TenantSection,
    loc: &str,
    raw: &FileConfig,
    base_dir: &Path,
    upstreams: &HashMap<String, Arc<Upstream>>,
    host_owner: &mut HashMap<String, String>,
    p: &mut Problems,
) -> Option<Tenant> {
    let id = TenantId::new(&t.id);
    if id.is_none() {
        p.add(
            format!("{loc}.id"),
            "a tenant id is 1 to 64 characters of a-z, 0-9 and \"-\"",
        );
    }
    let mut hosts = Vec::new();
    for (j, h) in t.hosts.iter().enumerate() {
        let host = h.to_ascii_lowercase();
        let valid = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && !host.starts_with(['.', '-']);
        if !valid {
            p.add(
                format!("{loc}.hosts[{j}]"),
                format!("\"{h}\" is not a host name (no scheme, port or path)"),
            );
            continue;
        }
        if let Some(owner) = host_owner.get(&host) {
            p.add(
                format!("{loc}.hosts[{j}]"),
                format!("host \"{host}\" already belongs to tenant \"{owner}\""),
            );
            continue;
        }
        host_owner.insert(host.clone(), t.id.clone());
        hosts.push(host);
    }
    let upstream = upstreams.get(&t.upstream).cloned();
    if upstream.is_none() && !raw.upstreams.contains_key(&t.upstream) {
        let known: Vec<&str> = raw.upstreams.keys().map(String::as_str).collect();
        p.add(
            format!("{loc}.upstream"),
            format!(
                "no upstream named \"{}\" (configured: {known:?})",
                t.upstream
            ),
        );
    }
    if t.tokens.is_empty() && t.jwt.is_none() && t.introspection.is_none() && t.mtls.is_none() {
        p.add(
            format!("{loc}.tokens"),
            "a tenant needs a way to authenticate: [[tenants.tokens]], [tenants.jwt], [tenants.introspection] or [tenants.mtls]",
        );
    }
    let jwt = t
        .jwt
        .as_ref()
        .map(|j| auth::jwt(j, base_dir, p, &format!("{loc}.jwt")));
    let introspection = t
        .introspection
        .as_ref()
        .map(|i| auth::introspection(i, base_dir, p, &format!("{loc}.introspection")));
    let grants = auth::grants(&t.grants, p, loc);
    let mtls = t
        .mtls
        .as_ref()
        .map(|m| tls::tenant_mtls(m, base_dir, p, &format!("{loc}.mtls")));
    let mut names = HashSet::new();
    let mut tokens = Vec::new();
    for (j, tok) in t.tokens.iter().enumerate() {
        let tloc = format!("{loc}.tokens[{j}]");
        if tok.name.is_empty() || !names.insert(tok.name.clone()) {
            p.add(
                format!("{tloc}.name"),
                format!(
                    "token name \"{}\" is empty or used twice in this tenant",
                    tok.name
                ),
            );
        }
        match parse_hash(&tok.hash) {
            Some(sha256) => tokens.push(StaticToken {
                name: tok.name.clone(),
                sha256,
                scopes: tok.scopes.clone(),
            }),
            None => p.add(
                format!("{tloc}.hash"),
                "expected \"sha256:<64 hex digits>\" as printed by `scim-gateway hash-token`",
            ),
        }
    }
    Some(Tenant {
        id: id?,
        hosts,
        upstream: upstream?,
        tokens,
        jwt: jwt.map(|j| j.ok_or(())).transpose().ok()?,
        introspection: introspection.map(|i| i.ok_or(())).transpose().ok()?,
        grants,
        mtls: mtls.map(|m| m.ok_or(())).transpose().ok()?,
        limits: t.limits.as_ref().map_or(Some(Default::default()), |l| {
            auth::limits(l, true, p, &format!("{loc}.limits"))
        })?,
        cache: match &t.cache {
            Some(section) if section.enabled != Some(false) => {
                let ttl = duration(
                    p,
                    &format!("{loc}.cache.ttl"),
                    section.ttl.as_deref(),
                    "30s",
                );
                let discovery = duration(
                    p,
                    &format!("{loc}.cache.discovery_ttl"),
                    section.discovery_ttl.as_deref(),
                    "5m",
                );
                let max_bytes = caps::tenant_cache_max_bytes(section, &raw.server, p, loc);
                Some(crate::cache::CacheSettings {
                    ttl: ttl?,
                    discovery_ttl: discovery?,
                    max_bytes,
                })
            }
            _ => None,
        },
        dialect: match &t.dialect {
            None => None,
            Some(d) => Some(auth::dialect(d, p, &format!("{loc}.dialect"))?),
        },
        // Set by the caller (compile_schema.rs).
        schema: crate::tenant_schema::TenantSchema::shared_standard(),
        // Set by the caller (compile_events.rs).
        journal: Default::default(),
        metrics: Default::default(),
    })
}

/// `sha256:<64 hex>` → the digest.
fn parse_hash(s: &str) -> Option<[u8; 32]> {
    let hex = s.strip_prefix("sha256:")?;
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn addr(p: &mut Problems, loc: &str, s: &str) -> Option<SocketAddr> {
    s.parse()
        .map_err(|_| {
            p.add(
                loc,
                format!("\"{s}\" is not an address such as \"127.0.0.1:8443\""),
            )
        })
        .ok()
}

fn duration(p: &mut Problems, loc: &str, s: Option<&str>, default: &str) -> Option<Duration> {
    let s = s.unwrap_or(default);
    match humantime::parse_duration(s) {
        Ok(d) if !d.is_zero() => Some(d),
        _ => {
            p.add(
                loc,
                format!("\"{s}\" is not a positive duration such as \"10s\" or \"250ms\""),
            );
            None
        }
    }
}

fn positive(p: &mut Problems, loc: &str, v: Option<usize>, default: usize) -> usize {
    match v {
        Some(0) => {
            p.add(loc, "must be greater than 0");
            default
        }
        Some(n) => n,
        None => default,
    }
}

fn resolve(base_dir: &Path, file: &str) -> PathBuf {
    let path = Path::new(file);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    }
}

#[cfg(test)]
#[path = "compile_tests.rs"]
mod tests;
