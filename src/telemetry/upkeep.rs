//! The Prometheus exporter's upkeep on a timer, whether or not anyone
//! scrapes `/metrics`.
//!
//! Histogram samples are held in a bucket per series until the exporter
//! drains them into its aggregated distribution ("upkeep"). A scrape
//! drains them as a side effect, but a gateway whose `/metrics` is never
//! scraped, or that has no `[admin]` listener at all, would keep every
//! latency sample of every request: memory that grows with traffic and is
//! never given back. The exporter spawns such a timer itself only when it
//! also runs its own HTTP listener (`PrometheusBuilder::build`); the
//! gateway builds the bare recorder and serves `/metrics` itself, so it
//! runs the timer here: a thread of its own, started with the recorder,
//! so it needs no runtime and outlives config reloads.
use super::names::METRICS_UPKEEP_TOTAL;
use metrics_exporter_prometheus::PrometheusHandle;
use std::time::Duration;

/// How often the upkeep runs (the exporter's own default).
pub(crate) const EVERY: Duration = Duration::from_secs(5);

/// Starts the timer for `handle` (once per process: called where the
/// recorder is installed).
pub(crate) fn start(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(EVERY);
            run(&handle);
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "the metrics upkeep thread could not start; histograms are drained only when /metrics is scraped");
    }
}

/// One upkeep: histogram samples drained into their distributions, and
/// counted (`scim_gateway_metrics_upkeep_total`), so that the timer's work
/// is visible.
fn run(handle: &PrometheusHandle) {
    handle.run_upkeep();
    metrics::counter!(METRICS_UPKEEP_TOTAL).increment(1);
}
