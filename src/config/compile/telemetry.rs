//! `[telemetry.traces]` compiled into the exporter's settings (read once
//! at start, like the audit journal's: a change needs a restart).
use super::values::{duration, positive, resolve};
use super::Problems;
use crate::config::raw::FileConfig;
use crate::traces::TraceSettings;
use std::path::Path;

/// The trace settings, or `None` when traces are off (no section, or
/// `enabled = false`); problems are added to `p`.
pub(super) fn traces(raw: &FileConfig, base_dir: &Path, p: &mut Problems) -> Option<TraceSettings> {
    let section = raw.telemetry.as_ref()?.traces.as_ref()?;
    if section.enabled == Some(false) {
        return None;
    }
    let loc = "telemetry.traces";
    let endpoint = match section.endpoint.as_deref() {
        None => {
            p.add(
                format!("{loc}.endpoint"),
                "is required: the OTLP/HTTP traces endpoint, e.g. \"http://127.0.0.1:4318/v1/traces\"",
            );
            None
        }
        Some(s) => match s.parse::<http::Uri>() {
            Ok(uri)
                if matches!(uri.scheme_str(), Some("http" | "https"))
                    && uri.authority().is_some() =>
            {
                Some(uri)
            }
            _ => {
                p.add(
                    format!("{loc}.endpoint"),
                    format!("\"{s}\" is not an http:// or https:// URL"),
                );
                None
            }
        },
    };
    let ratio = section.sampling_ratio.unwrap_or(1.0);
    if !(0.0..=1.0).contains(&ratio) {
        p.add(
            format!("{loc}.sampling_ratio"),
            format!("{ratio} is not between 0.0 and 1.0"),
        );
    }
    let interval = duration(
        p,
        &format!("{loc}.export_interval"),
        section.export_interval.as_deref(),
        "1s",
    );
    let timeout = duration(
        p,
        &format!("{loc}.export_timeout"),
        section.export_timeout.as_deref(),
        "10s",
    );
    let queue = positive(
        p,
        &format!("{loc}.max_queue_spans"),
        section.max_queue_spans,
        4096,
    );
    let batch = positive(
        p,
        &format!("{loc}.max_export_batch_spans"),
        section.max_export_batch_spans,
        512,
    );
    Some(TraceSettings {
        endpoint: endpoint?,
        sampling_ratio: ratio.clamp(0.0, 1.0),
        parent_based: section.parent_based.unwrap_or(true),
        max_queue_spans: queue,
        max_export_batch_spans: batch,
        export_interval: interval?,
        export_timeout: timeout?,
        service_name: section
            .service_name
            .clone()
            .unwrap_or_else(|| "scim-gateway".into()),
        ca_file: section.ca_file.as_deref().map(|f| resolve(base_dir, f)),
    })
}
