//! The compile step for `[server]`: the public listener's address, TLS,
//! timeouts, body and header bounds, and the host names it answers for.
use super::{addr, caps, duration, duration_or_zero, positive, resolve, Problems};
use crate::config::raw::{FileConfig, ServerSection};
use crate::snapshot::ServerSettings;
use std::path::Path;
use std::sync::Arc;

pub(super) fn compile_server(
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
    let drain_delay = duration_or_zero(p, "server.drain_delay", s.drain_delay.as_deref(), "5s");
    let max_header_bytes = positive(p, "server.max_header_bytes", s.max_header_bytes, 16 * 1024);
    let max_connections = positive(p, "server.max_connections", s.max_connections, 16384);
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
    let identity = super::client_identity::compile_identity(s, p);
    Some(ServerSettings {
        listen: listen?,
        reuse_port: s.reuse_port,
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
        drain_delay: drain_delay?,
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
        identity,
    })
}

/// `[server] hosts`, or the names of the listener's certificate (those
/// the development certificate will have, when it is yet to be made), or
/// the loopback names of a plaintext listener.
fn listener_hosts(
    s: &ServerSection,
    base_dir: &Path,
    tenant_hosts: &[String],
    p: &mut Problems,
) -> Vec<String> {
    if let Some(list) = &s.hosts {
        let mut out = Vec::with_capacity(list.len());
        for (i, h) in list.iter().enumerate() {
            let name = h.to_ascii_lowercase();
            let bare = name.strip_prefix("*.").unwrap_or(&name);
            if crate::tenant::valid_host_name(bare) {
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
