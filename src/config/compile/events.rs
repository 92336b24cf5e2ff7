//! `[audit]`, `[events]` and the tenants' `webhooks`, `[tenants.events]`,
//! `[tenants.audit]` and `[tenants.okta_hook]` compiled: every problem
//! reported with its location, secrets loaded, webhook clients built.
use super::{duration, resolve, secret, Problems};
use crate::audit::AuditSettings;
use crate::config::raw::{AuditSection, FileConfig, TenantSection};
use crate::events::okta_hook::OktaHookSettings;
use crate::events::WebhookSink;
use crate::snapshot::EventsSettings;
use crate::tenant::TenantJournal;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

/// `[audit]`: `Some(None)` when turned off, `None` after a problem.
pub(super) fn audit(
    raw: &FileConfig,
    base_dir: &Path,
    p: &mut Problems,
) -> Option<Option<AuditSettings>> {
    let default = AuditSection::default();
    let section = raw.audit.as_ref().unwrap_or(&default);
    if section.enabled == Some(false) {
        return Some(None);
    }
    let defaults = AuditSettings::default();
    let settings = AuditSettings {
        dir: resolve(base_dir, section.dir.as_deref().unwrap_or("audit")),
        fsync: section.fsync.unwrap_or(defaults.fsync),
        fsync_interval: duration(
            p,
            "audit.fsync_interval",
            section.fsync_interval.as_deref(),
            "100ms",
        )?,
        max_file_bytes: section.max_file_bytes.unwrap_or(defaults.max_file_bytes),
        max_file_age: duration(
            p,
            "audit.max_file_age",
            section.max_file_age.as_deref(),
            "24h",
        )?,
        outbox_segment_bytes: section
            .outbox_segment_bytes
            .unwrap_or(defaults.outbox_segment_bytes),
        queue: section.queue.unwrap_or(defaults.queue),
    };
    let problems = settings.problems();
    for problem in &problems {
        // Each names its key already (`audit.<key>: ...`).
        let (key, message) = problem.split_once(": ").unwrap_or(("audit", problem));
        p.add(key, message);
    }
    problems.is_empty().then_some(Some(settings))
}

/// `[events]`.
pub(super) fn events(
    raw: &FileConfig,
    base_dir: &Path,
    audit_on: bool,
    p: &mut Problems,
) -> EventsSettings {
    let mut section = raw.events.clone().unwrap_or_default();
    if let Some(kafka) = section.kafka.as_mut() {
        // Files named relative to the config file.
        kafka.resolve_paths(base_dir);
    }
    let poll_interval = duration(
        p,
        "events.poll_interval",
        section.poll_interval.as_deref(),
        "250ms",
    )
    .unwrap_or(std::time::Duration::from_millis(250));
    if let Some(kafka) = &section.kafka {
        if let Err(e) = kafka.validate() {
            p.add("events.kafka", e.detail);
        }
        for (key, warning) in kafka.warnings() {
            p.warn(format!("events.kafka.{key}"), warning);
        }
        if !audit_on {
            p.add(
                "events.kafka",
                "events are written by the audit journal: remove [audit] enabled = false",
            );
        }
    }
    EventsSettings {
        poll_interval,
        kafka: section.kafka,
    }
}

/// A tenant's webhooks, event data, audit allow-list and Okta hook.
pub(super) fn tenant(
    t: &TenantSection,
    base_dir: &Path,
    audit_on: bool,
    kafka_on: bool,
    p: &mut Problems,
    loc: &str,
) -> Option<TenantJournal> {
    let mut ok = true;
    let mut names = HashSet::new();
    let mut webhooks = Vec::new();
    for (i, w) in t.webhooks.iter().enumerate() {
        let wloc = format!("{loc}.webhooks[{i}]");
        if !names.insert(w.name.clone()) {
            p.add(
                format!("{wloc}.name"),
                format!("webhook name \"{}\" is used twice in this tenant", w.name),
            );
            ok = false;
            continue;
        }
        // Files named relative to the config file.
        let mut w = w.clone();
        let relative = |f: &String| resolve(base_dir, f).display().to_string();
        w.secret_file = w.secret_file.iter().map(relative).collect();
        w.ca_file = w.ca_file.as_ref().map(relative);
        let built = w
            .compile(&t.id)
            .and_then(|config| WebhookSink::new(config).map_err(|e| vec![e]));
        match built {
            Ok(sink) => webhooks.push(Arc::new(sink)),
            Err(problems) => {
                ok = false;
                for problem in problems {
                    p.add(&wloc, problem);
                }
            }
        }
    }
    let okta_hook = match &t.okta_hook {
        None => None,
        Some(hook) => {
            let hloc = format!("{loc}.okta_hook");
            let secret = secret(
                hook.secret_env.as_deref(),
                hook.secret_file.as_deref(),
                base_dir,
                p,
                &hloc,
                "secret",
            );
            match secret.map(|s| {
                OktaHookSettings::new(hook.auth_header.as_deref(), &s, hook.max_body_bytes)
            }) {
                Some(Ok(settings)) => Some(settings),
                Some(Err(e)) => {
                    p.add(&hloc, e);
                    ok = false;
                    None
                }
                None => {
                    ok = false;
                    None
                }
            }
        }
    };
    if !audit_on && (!t.webhooks.is_empty() || t.okta_hook.is_some()) {
        p.add(
            loc,
            "webhooks and the Okta hook need the audit journal (events are written by it): remove [audit] enabled = false",
        );
        ok = false;
    }
    let drift = super::drift::tenant(t.drift.as_ref(), audit_on, p, &format!("{loc}.drift"));
    ok &= drift.is_ok();
    ok.then(|| TenantJournal {
        drift: drift.ok().flatten(),
        audit_values: t
            .audit
            .as_ref()
            .map(|a| a.values.clone())
            .unwrap_or_default(),
        data: t.events.as_ref().and_then(|e| e.data).unwrap_or_default(),
        events: audit_on && (!webhooks.is_empty() || kafka_on),
        webhooks,
        okta_hook,
    })
}
