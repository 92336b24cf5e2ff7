//! The compile step: raw file types → an immutable [`Snapshot`], checking
//! everything and reporting every problem with its location at once.
//!
//! Relative paths (certificates, CA bundles, secret files) are relative to
//! the directory of the config file, so the gateway behaves the same from
//! any working directory.
//!
//! This file holds the entry points (`load`, `check`, `parse`, `compile`)
//! and the order in which the sections are compiled; each section is
//! compiled in its own file: `server`, `upstream` (with `endpoints`,
//! `capabilities`, `limits`), `tenant` (with `auth`, `tls`, `schema`,
//! `caps`), `events` (audit, outbox, sinks), and the small checked values
//! they share in `values`. It may import the raw types, the snapshot and
//! every settings type it builds; nothing at runtime imports it.
use super::errors::{ConfigError, ConfigErrors};
use super::raw::FileConfig;
use crate::snapshot::Snapshot;
use crate::tenant::Tenant;
use crate::tenant::Tenants;
use crate::upstream::UpstreamTarget;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

mod auth;
mod capabilities;
mod caps;
mod client_identity;
mod drift;
mod endpoints;
mod events;
mod limits;
mod replicas;
mod schema;
mod server;
mod shadow;
mod shared_redis;
mod telemetry;
mod tenant;
mod tls;
mod upstream;
mod values;

use server::compile_server;
use tenant::compile_tenant;
use upstream::{compile_upstream, upstream_url};
use values::{addr, duration, duration_or_zero, positive, resolve, secret};

/// Largest config file read.
const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// Collects problems (the config is refused) and warnings (it is
/// accepted, and the operator is told) with their locations.
struct Problems {
    file: String,
    list: Vec<ConfigError>,
    warnings: Vec<ConfigError>,
}

impl Problems {
    fn add(&mut self, location: impl AsRef<str>, message: impl Into<String>) {
        self.list.push(ConfigError {
            location: format!("{}: {}", self.file, location.as_ref()),
            message: message.into(),
        });
    }

    fn warn(&mut self, location: impl AsRef<str>, message: impl Into<String>) {
        self.warnings.push(ConfigError {
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
    let mut snapshot = compile_with(&raw, path, previous, make_dev_certs)?;
    snapshot.loaded = super::redact::loaded(&text);
    Ok(snapshot)
}

/// `[admin] token_hash`, required when the admin listener is reachable
/// from other hosts: the admin API shows the config and can drain.
fn admin_token(
    section: &super::raw::AdminSection,
    listen: Option<std::net::SocketAddr>,
    p: &mut Problems,
) -> Option<[u8; 32]> {
    match &section.token_hash {
        Some(hash) => {
            let parsed = tenant::parse_hash(hash);
            if parsed.is_none() {
                p.add(
                    "admin.token_hash",
                    "expected \"sha256:<64 hex digits>\" (scim-gateway hash-token makes one)",
                );
            }
            parsed
        }
        None => {
            if listen.is_some_and(|a| !a.ip().is_loopback()) {
                p.add(
                    "admin.token_hash",
                    "the admin listener is not on a loopback address: set token_hash (scim-gateway hash-token) so that the admin API needs a bearer token",
                );
            }
            None
        }
    }
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
        warnings: Vec::new(),
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
    let admin_token = raw
        .admin
        .as_ref()
        .and_then(|a| admin_token(a, admin, &mut p));

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
    let events = events::events(raw, &base_dir, audit_on, &mut p);
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
        crate::tenant::schema::TenantSchema::standard(max_body)
            .with_max_patch_operations(max_patch),
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
        if t.guardrail.is_some() && !audit_on {
            // Held operations are kept beside the journal, and every hold,
            // release and drop is audited.
            p.add(
                format!("{loc}.guardrail"),
                "the guardrail needs the audit journal (held operations are kept beside it): remove [audit] enabled = false",
            );
        }
        if let (Some(tenant), Some(schema), Some(journal)) = (compiled, schema, journal) {
            // What the tenant is offered in front of its upstream (natively
            // or emulated; a SCIM 1.1 backend gets no Bulk).
            let schema = schema::fit_to_upstream(schema, &standard, &tenant.upstream, &mut fitted);
            let tenant = Tenant {
                schema,
                journal,
                ..tenant
            };
            let tenant = match &t.shadow {
                None => tenant,
                Some(s) => {
                    let cx = shadow::Context {
                        base_dir: &base_dir,
                        standard: &standard,
                        limits: (max_body, max_patch),
                        upstreams: &upstreams,
                        audit_on,
                    };
                    match shadow::attach(tenant, t, s, &cx, &mut fitted, &mut p, &loc) {
                        Some(tenant) => tenant,
                        None => continue,
                    }
                }
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
        .and_then(|l| limits::shared_limits(l, &base_dir, previous, &mut p));
    replicas::check(raw, &mut p);
    let traces = telemetry::traces(raw, &base_dir, &mut p);

    match (server, audit, p.list.is_empty()) {
        (Some(server), Some(audit), true) => Ok(Snapshot {
            server,
            admin,
            admin_token,
            loaded: Default::default(),
            tenants,
            upstreams,
            shared_limits,
            audit,
            events,
            traces,
            source: source.to_path_buf(),
            warnings: p.warnings.iter().map(ToString::to_string).collect(),
        }),
        _ => Err(ConfigErrors(p.list)),
    }
}

#[cfg(test)]
mod tests;
