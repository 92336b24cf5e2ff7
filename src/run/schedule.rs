//! Periodic drift runs: a tenant with `[tenants.drift] interval` gets a
//! run every interval (the first one interval after start-up or after
//! the interval is configured: a restart does not page every backend at
//! once). A run asked for meanwhile does not move the schedule; a run
//! still going when the next is due is left to finish (one at a time).
use crate::stack::drift_run;
use crate::stack::Pipeline;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

pub(super) async fn drift_runs(pipeline: Arc<Pipeline>, closing: impl Future<Output = ()>) {
    tokio::pin!(closing);
    // Per tenant: (its interval, when its next run is due).
    let mut due: HashMap<String, (Duration, Instant)> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut closing => return,
            _ = tick.tick() => {}
        }
        let snapshot = pipeline.config().load();
        let now = Instant::now();
        let mut live = HashMap::new();
        for tenant in snapshot.tenants.values() {
            let Some(interval) = tenant.journal.drift.as_ref().and_then(|d| d.interval) else {
                continue;
            };
            let id = tenant.id.as_str();
            let next = match due.get(id) {
                Some((i, at)) if *i == interval => *at,
                _ => now + interval,
            };
            let next = if next <= now {
                if let Err(running) = drift_run::start(&pipeline, id) {
                    tracing::debug!(
                        tenant = id,
                        run = running.run_id,
                        "a periodic drift run is due while one runs"
                    );
                }
                now + interval
            } else {
                next
            };
            live.insert(id.to_string(), (interval, next));
        }
        due = live;
    }
}
