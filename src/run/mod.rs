//! Start-up of the whole gateway: bind the listeners, serve, reload the
//! config on change, report readiness, and drain on shutdown.
//!
//! Owns the wiring of the process: it may import everything (config,
//! snapshot, server, stack, audit, events); nothing imports it but
//! `main.rs`. The event delivery as the gateway runs it (its sinks taken
//! from the live config) is in [`delivery`]; the admin listener's API and
//! console in [`admin`].
use crate::config::ConfigHandle;
use crate::server::{self, Drain, Listening, SettingsSource};
use crate::stack::Pipeline;
use crate::telemetry::admin::Readiness;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub(crate) mod admin;
pub mod admin_client;
pub(crate) mod delivery;
pub mod drift_cli;
pub mod guardrail_cli;
mod schedule;
pub mod shadow_cli;

/// The addresses the gateway listens on (useful with port 0).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub public: SocketAddr,
    pub admin: Option<SocketAddr>,
}

/// Runs the gateway until `shutdown` completes, then drains: readiness
/// fails at once, the listeners stop accepting `server.drain_delay` later,
/// in-flight requests finish within `server.shutdown_timeout`, and it
/// returns. `on_bound` learns the bound addresses once listening.
pub async fn run(
    config: Arc<ConfigHandle>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(Bound),
) -> std::io::Result<()> {
    // Install the metrics recorder before anything is counted.
    crate::telemetry::metrics_handle();
    let snapshot = config.load();
    let listener = bind(snapshot.server.listen, snapshot.server.reuse_port)?;
    let admin_listener = match snapshot.admin {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    let bound = Bound {
        public: listener.local_addr()?,
        admin: admin_listener.as_ref().and_then(|l| l.local_addr().ok()),
    };
    let readiness = Arc::new(Readiness::default());
    // SIGTERM/SIGINT and the admin API's drain both go through `drain`:
    // readiness fails first, the listeners close `drain_delay` later.
    let drain = Drain::new(readiness.clone(), {
        let config = config.clone();
        Box::new(move || config.load().server.drain_delay)
    });
    {
        let drain = drain.clone();
        tokio::spawn(async move {
            shutdown.await;
            drain.begin_drain();
        });
    }
    let watcher = tokio::spawn(config.clone().watch(drain.closing()));
    let settings: SettingsSource = {
        let config = config.clone();
        Arc::new(move || {
            let s = config.load();
            Listening {
                tls: s.server.tls.clone(),
                header_read_timeout: s.server.header_read_timeout,
                max_header_bytes: s.server.max_header_bytes,
                idle_timeout: s.server.idle_timeout,
                identity: s.server.identity.clone(),
            }
        })
    };
    // The audit journal (and the events outbox) opens before the first
    // request: a gateway that cannot audit does not start.
    let journal = match &snapshot.audit {
        Some(settings) => Some(
            crate::audit::Journal::open(settings.clone())
                .map_err(|e| std::io::Error::other(format!("the audit journal: {e}")))?,
        ),
        None => {
            tracing::warn!("the audit log is off ([audit] enabled = false): writes are not audited and no events are sent");
            None
        }
    };
    let delivery = match (&journal, &snapshot.audit) {
        (Some(journal), Some(settings)) => Some(tokio::spawn(delivery::run(
            config.clone(),
            settings.dir.clone(),
            journal.outbox_watch(),
            journal.recent_events(),
            drain.closing(),
        ))),
        _ => None,
    };
    // Traces, when configured: the exporter runs until the gateway stops.
    let tracer = match &snapshot.traces {
        Some(settings) => Some(
            crate::traces::Tracer::start(settings)
                .map_err(|e| std::io::Error::other(format!("the trace exporter: {e}")))?,
        ),
        None => None,
    };
    // Drift digests live beside the journal (`<audit dir>/drift/`).
    let drift = snapshot
        .audit
        .as_ref()
        .map(|a| Arc::new(crate::drift::Drift::new(a.dir.join("drift"))));
    let pipeline = Arc::new(
        Pipeline::with_journal(config.clone(), journal.clone())
            .traced(tracer.clone())
            .with_drift(drift.clone()),
    );
    // Held operations from before a restart, read now: a bad guardrail
    // directory stops the start, and the pending gauge starts right.
    if snapshot.tenants.values().any(|t| t.guardrail.is_some()) {
        pipeline
            .guardrail()
            .open_now()
            .map_err(std::io::Error::other)?;
    }
    // Shadowed tenants' id maps, read now: after a cutover the IdP's ids
    // depend on them, so an unreadable map stops the start.
    for t in snapshot.tenants.values() {
        if let Some(shadow) = &t.shadow {
            pipeline
                .shadow()
                .tenant(t.id.as_str(), &shadow.settings.upstream)
                .map_err(std::io::Error::other)?;
        }
    }
    if drift.is_some() {
        tokio::spawn(schedule::drift_runs(pipeline.clone(), drain.closing()));
    }
    let gateway = crate::stack::Gateway::new(pipeline.clone());
    // The admin listener serves once the pipeline exists (its API reads
    // the pipeline's state); until then its connections wait in the
    // backlog.
    let admin = admin_listener.map(|l| {
        let handler = Arc::new(admin::AdminState {
            config: config.clone(),
            pipeline,
            journal: journal.clone(),
            audit_dir: snapshot.audit.as_ref().map(|a| a.dir.clone()),
            drain: drain.clone(),
            last_verify: Default::default(),
        });
        let settings: SettingsSource = Arc::new(|| Listening {
            identity: Default::default(),
            tls: None,
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            idle_timeout: Duration::from_secs(30),
        });
        tokio::spawn(server::serve(
            l,
            settings,
            server::ConnectionCaps::total(64),
            Duration::from_secs(1),
            handler,
            drain.closing(),
        ))
    });

    for warning in &snapshot.warnings {
        tracing::warn!(warning = %warning, "the config works, but note");
    }
    drain.mark_ready();
    tracing::info!(
        address = %bound.public,
        admin = ?bound.admin,
        tls = snapshot.server.tls.is_some(),
        tenants = snapshot.tenants.len(),
        config = %config.path().display(),
        "scim-gateway listening"
    );
    let (caps, shutdown_timeout) = (
        snapshot.server.connections,
        snapshot.server.shutdown_timeout,
    );
    // Not held while serving: a reload must be able to drop the first
    // snapshot (and stop what belongs to it, e.g. health checks).
    drop(snapshot);
    on_bound(bound);
    crate::telemetry::sd_notify::notify("READY=1");
    let result = server::serve(
        listener,
        settings,
        caps,
        shutdown_timeout,
        Arc::new(gateway.clone()),
        drain.closing(),
    )
    .await;
    if let Some(a) = admin {
        let _ = a.await;
    }
    // Requests are done (writes whose client left may still run, bounded
    // by their deadline): what they journaled is made durable before exit.
    gateway.drained(shutdown_timeout).await;
    if let Some(tracer) = &tracer {
        tracer.flush(Duration::from_secs(2)).await;
    }
    if let Some(journal) = &journal {
        if let Err(e) = journal.shutdown().await {
            tracing::error!(error = %e, "the audit journal did not close cleanly");
        }
    }
    if let Some(d) = delivery {
        let _ = d.await;
    }
    let _ = watcher.await;
    result
}

/// The public listener: as `TcpListener::bind` does it (SO_REUSEADDR, a
/// backlog of 1024), plus SO_REUSEPORT when several processes are to share
/// the port.
fn bind(addr: std::net::SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(addr)?;
    socket.listen(1024)
}
