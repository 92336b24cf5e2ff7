//! Telemetry: JSON logs, the Prometheus recorder, metric names, and one
//! named event per thing that happens, whose `emit()` logs and counts
//! together (vector's internal events).
//!
//! Label values are bounded: tenants and upstreams come from the config,
//! resource types and methods from fixed lists; nothing a client sends
//! verbatim becomes a label, and no secret ever does.
pub(crate) mod admin;
pub(crate) mod emit;
pub(crate) mod handles;
pub(crate) mod names;
pub(crate) mod recent_errors;
pub(crate) mod sd_notify;
pub(crate) mod upkeep;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

/// Installs the global tracing subscriber (level from `RUST_LOG`, default
/// `info`). Safe to call more than once: later calls do nothing.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let buckets = [
            0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            5.0, 10.0, 30.0,
        ];
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (tests): then this
        // handle renders an empty page, which is still valid.
        let _ = metrics::set_global_recorder(recorder);
        names::describe();
        // Histograms are drained on a timer, not only by scrapes.
        upkeep::start(handle.clone());
        handle
    })
}

/// The `/metrics` page.
pub(crate) fn render_metrics() -> String {
    metrics_handle().render()
}

#[cfg(test)]
mod tests {
    use super::emit::RequestCompleted;
    use super::names::*;
    use std::time::Duration;

    #[test]
    fn labels_are_bounded() {
        assert_eq!(resource_type_label(Some("users")), "Users");
        assert_eq!(resource_type_label(Some("<script>")), "other");
        assert_eq!(resource_type_label(None), "base");
        assert_eq!(
            method_label(&http::Method::from_bytes(b"BREW").unwrap_or_default()),
            "other"
        );
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(999), "5xx");
    }

    #[test]
    fn a_request_shows_up_on_the_metrics_page() {
        super::metrics_handle();
        let snapshot = crate::tenant::tests::snapshot(false);
        let tenant = &snapshot.tenants["acme"];
        RequestCompleted {
            request_id: "r1",
            tenant: Some(tenant.id.as_str()),
            tenant_metrics: Some(&tenant.metrics),
            principal: Some("quickstart"),
            auth_method: Some("static_token"),
            subject: Some("quickstart"),
            method: &http::Method::GET,
            resource_type: Some("Users"),
            resource_label: "Users",
            status: 200,
            upstream: Some(&tenant.upstream.name),
            upstream_metrics: Some(&tenant.upstream.metrics),
            upstream_status: Some(200),
            latency: Duration::from_millis(3),
            upstream_latency: Some(Duration::from_millis(2)),
            error: None,
            cause: None,
            peer: std::net::IpAddr::from([127, 0, 0, 1]),
            via: None,
        }
        .emit();
        let page = super::render_metrics();
        assert!(page.contains(REQUESTS_TOTAL), "{page}");
        assert!(page.contains("tenant=\"acme\""), "{page}");
        assert!(page.contains("upstream=\"store\""), "{page}");
        assert!(page.contains(REQUEST_DURATION_SECONDS), "{page}");
    }
}
