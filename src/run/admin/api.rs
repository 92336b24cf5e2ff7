//! The admin API's answers, `GET /admin/v1/...`: plain functions from the
//! process's state to JSON. Nothing here writes; what they read is the
//! live snapshot, the pipeline's state kept across reloads (limiter,
//! cache), the audit journal's head, the outbox directory, the recent
//! errors ring and the metrics page ([`super::stats`]).
//!
//! No secret ever: the config is the redacted document made at load
//! (`config::redact`), upstream URLs lose their credentials, tenants show
//! token names, never hashes.
use super::stats::{self, Stats};
use super::AdminState;
use crate::config::redact::without_url_credentials;
use crate::limit::gcra::Rate;
use crate::limit::Limits;
use crate::tenant::Tenant;
use crate::upstream::emulate::Support;
use crate::upstream::endpoint::{Endpoint, HttpTarget};
use crate::upstream::{Upstream, UpstreamProtocol, UpstreamTarget};
use serde_json::{json, Value};
use std::time::SystemTime;

/// `GET /admin/v1/config`.
pub(super) fn config(state: &AdminState) -> Value {
    let snapshot = state.config.load();
    let (ok, failed) = state.config.reload_outcomes();
    let last_error = state.config.last_reload_error().map(|e| {
        json!({
            "at_ms": unix_ms(e.at),
            "problems": e.problems.iter().map(|p| without_url_credentials(p)).collect::<Vec<_>>(),
        })
    });
    json!({
        "hash": snapshot.loaded.hash,
        "loaded_at_ms": snapshot.loaded.at.map(unix_ms),
        "reloads": { "ok": ok, "failed": failed },
        "last_reload_error": last_error,
        "warnings": snapshot.warnings.iter().map(|w| without_url_credentials(w)).collect::<Vec<_>>(),
        "config": *snapshot.loaded.redacted,
    })
}

/// `GET /admin/v1/tenants` (every tenant) or `tenants/{id}` (`None`: no
/// such tenant).
pub(super) fn tenants(state: &AdminState, id: Option<&str>) -> Option<Value> {
    let snapshot = state.config.load();
    let stats = state.stats();
    let mut all: Vec<&std::sync::Arc<Tenant>> = snapshot.tenants.values().collect();
    all.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    match id {
        Some(id) => all
            .into_iter()
            .find(|t| t.id.as_str() == id)
            .map(|t| tenant(state, t, &stats)),
        None => Some(json!({
            "tenants": all.into_iter().map(|t| tenant(state, t, &stats)).collect::<Vec<_>>(),
        })),
    }
}

fn tenant(state: &AdminState, t: &Tenant, stats: &Stats) -> Value {
    let id = t.id.as_str();
    let auth = &t.auth;
    let mut methods = Vec::new();
    if !auth.tokens.is_empty() {
        methods.push("static_token");
    }
    if auth.jwt.is_some() {
        methods.push("jwt");
    }
    if auth.introspection.is_some() {
        methods.push("introspection");
    }
    if auth.mtls.is_some() {
        methods.push("client_certificate");
    }
    let cache = t.cache.as_ref().map(|c| {
        let (entries, bytes) = state.pipeline.cache().tenant_usage(id).unwrap_or((0, 0));
        json!({
            "ttl_ms": c.ttl.as_millis() as u64,
            "max_bytes": c.max_bytes,
            "entries": entries,
            "bytes": bytes,
            "hit_ratio": stats.tenants.get(id).and_then(|s| s.cache_hit_ratio),
        })
    });
    json!({
        "id": id,
        "hosts": t.hosts,
        "upstream": t.upstream.name,
        "auth": {
            "methods": methods,
            "token_names": auth.tokens.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
            "jwt_issuers": auth.jwt.as_ref().map(|j| j.policy.issuers.clone()),
            "client_certificate_required": auth.mtls.as_ref().map(|m| m.required),
        },
        "dialect": t.dialect.as_ref().map(|d| json!({
            "profile": d.profile.as_str(),
            "enable": d.enable.iter().map(|r| r.name()).collect::<Vec<_>>(),
            "disable": d.disable.iter().map(|r| r.name()).collect::<Vec<_>>(),
            "shadow": d.shadow,
        })),
        "limits": limits(&t.limits),
        "usage": state.pipeline.limiter().usage(&format!("t:{id}")),
        "cache": cache,
        "events": t.journal.events,
        "webhooks": t.journal.webhooks.iter().map(|w| crate::events::Sink::name(w.as_ref()).to_string()).collect::<Vec<_>>(),
    })
}

fn limits(l: &Limits) -> Value {
    json!({
        "rate": l.rate.map(rate),
        "principal_rate": l.principal_rate.map(rate),
        "max_concurrent": l.max_concurrent,
        "queue": l.queue,
        "queue_timeout_ms": l.queue_timeout.as_millis() as u64,
    })
}

fn rate(r: Rate) -> Value {
    let interval = r.interval_ns.max(1) as f64;
    json!({
        "per_second": 1e9 / interval,
        "burst": r.tolerance_ns / r.interval_ns.max(1) + 1,
    })
}

/// `GET /admin/v1/upstreams`.
pub(super) fn upstreams(state: &AdminState) -> Value {
    let snapshot = state.config.load();
    let stats = state.stats();
    let mut all: Vec<&std::sync::Arc<Upstream>> = snapshot.upstreams.values().collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    json!({
        "upstreams": all.into_iter().map(|u| upstream(state, u, &stats)).collect::<Vec<_>>(),
    })
}

fn upstream(state: &AdminState, u: &Upstream, stats: &Stats) -> Value {
    let (kind, endpoints) = match &u.target {
        UpstreamTarget::Builtin(_) => ("builtin", Vec::new()),
        UpstreamTarget::Http(target) => ("http", endpoints(target)),
    };
    let declared = &u.emulation.settings;
    let discovered =
        u.emulation.discovery.known().map(
            |s| json!({ "patch": s.patch, "bulk": s.bulk, "filter": s.filter, "etag": s.etag }),
        );
    json!({
        "name": u.name,
        "kind": kind,
        "protocol": match u.protocol {
            UpstreamProtocol::Scim2 => "scim2",
            UpstreamProtocol::Scim11 => "scim11",
        },
        "endpoints": endpoints,
        "breaker": u.resilience.state_label(),
        "limits": limits(&u.limits),
        "usage": state.pipeline.limiter().usage(&format!("u:{}", u.name)),
        "capabilities": {
            "declared": {
                "patch": support(declared.patch),
                "bulk": support(declared.bulk),
                "filter": support(declared.filter),
                "etag": support(declared.etag),
            },
            "discovered": discovered,
        },
        "stats": stats.upstreams.get(&u.name),
        // `scim-gateway probe` runs as a command of its own and leaves no
        // scorecard in the gateway's process.
        "probe": Value::Null,
    })
}

fn endpoints(target: &HttpTarget) -> Vec<Value> {
    let one = |e: &Endpoint, healthy: bool, available: bool, outstanding: Option<usize>| {
        json!({
            "url": without_url_credentials(&e.base.to_string()),
            "healthy": healthy,
            "available": available,
            "outstanding": outstanding,
            "idle_connections": e.pool.idle_count(),
        })
    };
    match target {
        HttpTarget::Single(e) => vec![one(e, true, true, None)],
        HttpTarget::Balanced { balancer, .. } => balancer
            .endpoints()
            .iter()
            .enumerate()
            .map(|(i, m)| {
                one(
                    &m.endpoint,
                    m.is_healthy(),
                    balancer.is_available(i),
                    Some(m.outstanding()),
                )
            })
            .collect(),
    }
}

fn support(s: Support) -> &'static str {
    match s {
        Support::Yes => "yes",
        Support::No => "no",
        Support::Auto => "auto",
    }
}

/// `GET /admin/v1/events`.
pub(super) fn events(state: &AdminState) -> Value {
    let stats = state.stats();
    let outbox =
        state
            .audit_dir
            .as_deref()
            .map(|dir| match crate::events::admin::outbox_status(dir) {
                Ok(s) => json!(s),
                Err(_) => {
                    json!({ "error": "the outbox could not be read (see the gateway's log)" })
                }
            });
    json!({
        "enabled": state.audit_dir.is_some(),
        "outbox": outbox,
        "outbox_depth": stats.outbox_depth,
        "sinks": stats.sinks,
    })
}

/// `GET /admin/v1/audit`.
pub(super) fn audit(state: &AdminState) -> Value {
    match &state.journal {
        None => json!({ "enabled": false }),
        Some(journal) => {
            let (seq, hash) = journal.head();
            json!({
                "enabled": true,
                "open": journal.is_open(),
                "head": { "seq": seq, "hash": hash },
                // Asked for with `?verify=true` (this process only).
                "last_verify": state.last_verify.get(),
            })
        }
    }
}

/// `GET /admin/v1/errors`.
pub(super) fn errors() -> Value {
    json!({
        "capacity": crate::telemetry::recent_errors::CAPACITY,
        "errors": crate::telemetry::recent_errors::recent(),
    })
}

/// `GET /admin/v1/stats`: the metrics' indicators with the breaker and
/// health states of the live snapshot.
pub(super) fn stats(state: &AdminState) -> Value {
    let stats = state.stats();
    let snapshot = state.config.load();
    let mut states = serde_json::Map::new();
    let mut names: Vec<&String> = snapshot.upstreams.keys().collect();
    names.sort();
    for name in names {
        let Some(u) = snapshot.upstreams.get(name) else {
            continue;
        };
        let (healthy, total) = match &u.target {
            UpstreamTarget::Http(t) => match t.as_ref() {
                HttpTarget::Balanced { balancer, .. } => (
                    balancer
                        .endpoints()
                        .iter()
                        .filter(|m| m.is_healthy())
                        .count(),
                    balancer.endpoints().len(),
                ),
                HttpTarget::Single(_) => (1, 1),
            },
            UpstreamTarget::Builtin(_) => (1, 1),
        };
        states.insert(
            name.clone(),
            json!({
                "breaker": u.resilience.state_label(),
                "endpoints_healthy": healthy,
                "endpoints": total,
            }),
        );
    }
    let mut tenants: Vec<&str> = snapshot.tenants.values().map(|t| t.id.as_str()).collect();
    tenants.sort_unstable();
    json!({
        "at_ms": unix_ms(SystemTime::now()),
        "configured_tenants": tenants,
        "stats": stats,
        "upstream_states": states,
    })
}

/// The metrics page's indicators now.
pub(super) fn current_stats() -> Stats {
    stats::compute(&crate::telemetry::render_metrics())
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
