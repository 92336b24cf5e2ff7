//! `[tenants.drift]`: drift reports, compiled (refused without the audit
//! journal: the digests live beside it and are written with its writes).
use super::{duration, positive, Problems};
use crate::config::raw::TenantDriftSection;
use crate::drift::DriftSettings;

/// The tenant's drift settings (`Ok(None)`: off); `Err` after a problem
/// was added.
pub(super) fn tenant(
    section: Option<&TenantDriftSection>,
    audit_on: bool,
    p: &mut Problems,
    loc: &str,
) -> Result<Option<DriftSettings>, ()> {
    let Some(s) = section else {
        return Ok(None);
    };
    if s.enabled == Some(false) {
        return Ok(None);
    }
    if !audit_on {
        p.add(
            loc,
            "drift reports keep their digests beside the audit journal: remove [audit] enabled = false, or [tenants.drift]",
        );
        return Err(());
    }
    let defaults = DriftSettings::default();
    let before = p.list.len();
    let interval = match s.interval.as_deref() {
        None => None,
        Some(i) => duration(p, &format!("{loc}.interval"), Some(i), "24h"),
    };
    let max_rate = match s.max_rate {
        Some(r) if !(r.is_finite() && r > 0.0 && r <= 1000.0) => {
            p.add(
                format!("{loc}.max_rate"),
                "must be a number of pages per second above 0 and at most 1000",
            );
            defaults.max_rate
        }
        Some(r) => r,
        None => defaults.max_rate,
    };
    let page_size = positive(p, &format!("{loc}.page_size"), s.page_size, 100);
    if page_size > 1000 {
        p.add(format!("{loc}.page_size"), "must be at most 1000");
    }
    let max_duration = duration(
        p,
        &format!("{loc}.max_duration"),
        s.max_duration.as_deref(),
        "1h",
    );
    if p.list.len() > before {
        return Err(());
    }
    Ok(Some(DriftSettings {
        interval,
        max_rate,
        page_size,
        max_duration: max_duration.unwrap_or(defaults.max_duration),
    }))
}
