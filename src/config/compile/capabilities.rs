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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use crate::upstream::emulate::Support;
    use std::path::Path;
    use std::time::Duration;

    fn config(capabilities: &str) -> String {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nplaintext = true\n\
             [upstreams.legacy]\nkind = \"http\"\nurl = \"http://127.0.0.1:9/scim/v2\"\n\
             [upstreams.legacy.capabilities]\n{capabilities}\n\
             [[tenants]]\nid = \"acme\"\nhosts = [\"acme.example\"]\nupstream = \"legacy\"\n\
             [[tenants.tokens]]\nname = \"t\"\n\
             hash = \"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"\n"
        )
    }

    #[tokio::test]
    async fn capabilities_compile_with_defaults_and_bounds() {
        let raw = crate::config::parse(
            &config("patch = false\nbulk = true\nfilter = \"auto\"\nfilter_max_pages = 7\ndiscovery_ttl = \"1m\""),
            "t.toml",
        )
        .unwrap();
        let s = crate::config::compile(&raw, Path::new("/t.toml"), None).unwrap();
        let e = &s.upstreams["legacy"].emulation.settings;
        assert_eq!(
            (e.patch, e.bulk, e.filter, e.etag),
            (Support::No, Support::Yes, Support::Auto, Support::Auto)
        );
        assert_eq!(e.filter_max_pages, 7);
        assert_eq!(e.filter_page_size, 100);
        assert_eq!(e.discovery_ttl, Duration::from_secs(60));
    }

    #[tokio::test]
    async fn every_bad_capability_key_is_reported() {
        let raw =
            crate::config::parse(&config("patch = \"maybe\"\nfilter_max_pages = 0"), "t.toml")
                .unwrap();
        let e = crate::config::compile(&raw, Path::new("/t.toml"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("upstreams.legacy.capabilities.patch"), "{e}");
        assert!(e.contains("filter_max_pages"), "{e}");
    }
}
