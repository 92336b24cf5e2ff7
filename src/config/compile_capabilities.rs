//! The compile step for `[upstreams.NAME.capabilities]`: what an upstream
//! supports (`true`, `false`, `"auto"`) and the bounds of the emulation of
//! the rest (see `crate::upstream::emulate`).
use super::{duration, positive, Problems};
use crate::config::raw::{CapabilitiesSection, Toggle};
use crate::upstream::emulate::{EmulationSettings, Support};

pub(super) fn capabilities(
    c: &CapabilitiesSection,
    p: &mut Problems,
    loc: &str,
) -> Option<EmulationSettings> {
    let defaults = EmulationSettings::default();
    let mut toggle = |name: &str, t: &Option<Toggle>| match t {
        None => Support::Auto,
        Some(Toggle::Bool(true)) => Support::Yes,
        Some(Toggle::Bool(false)) => Support::No,
        Some(Toggle::Text(s)) if s == "auto" => Support::Auto,
        Some(Toggle::Text(s)) => {
            p.add(
                format!("{loc}.{name}"),
                format!("\"{s}\" is not one of true, false, \"auto\""),
            );
            Support::Auto
        }
    };
    let (patch, bulk, filter, etag) = (
        toggle("patch", &c.patch),
        toggle("bulk", &c.bulk),
        toggle("filter", &c.filter),
        toggle("etag", &c.etag),
    );
    let mut bound = |name: &str, v: Option<usize>, default: usize| {
        positive(p, &format!("{loc}.{name}"), v, default)
    };
    let bulk_max_operations = bound(
        "bulk_max_operations",
        c.bulk_max_operations,
        defaults.bulk_max_operations,
    );
    let filter_max_pages = bound(
        "filter_max_pages",
        c.filter_max_pages,
        defaults.filter_max_pages,
    );
    let filter_page_size = bound(
        "filter_page_size",
        c.filter_page_size,
        defaults.filter_page_size,
    );
    let filter_max_results = bound(
        "filter_max_results",
        c.filter_max_results,
        defaults.filter_max_results,
    );
    let patch_attempts = bound("patch_attempts", c.patch_attempts, 3);
    let discovery_ttl = duration(
        p,
        &format!("{loc}.discovery_ttl"),
        c.discovery_ttl.as_deref(),
        "10m",
    )?;
    Some(EmulationSettings {
        patch,
        bulk,
        filter,
        etag,
        bulk_max_operations,
        filter_max_pages,
        filter_page_size,
        filter_max_results,
        patch_attempts: u32::try_from(patch_attempts).unwrap_or(u32::MAX),
        discovery_ttl,
    })
}
