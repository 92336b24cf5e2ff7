//! The compile step for an upstream with several endpoints: `urls`,
//! `[upstreams.NAME.health]` and `[upstreams.NAME.outlier]` → a
//! [`Balancer`] (see `upstream::balance`).
use super::{duration, upstream_url, Problems};
use crate::config::raw::UpstreamSection;
use crate::snapshot::{Upstream, UpstreamTarget};
use crate::upstream::balance::{Balancer, HealthSettings, OutlierSettings, MAX_ENDPOINTS};
use crate::upstream::HttpTarget;
use std::sync::Arc;
use std::time::Duration;

/// The base URLs of a `kind = "http"` upstream: `url`, or the list in
/// `urls` (exactly one of the two).
pub(super) fn urls(u: &UpstreamSection, p: &mut Problems, loc: &str) -> Option<Vec<http::Uri>> {
    let bases = match (&u.url, &u.urls) {
        (Some(_), Some(_)) => {
            p.add(
                format!("{loc}.urls"),
                "set url (one endpoint) or urls (several), not both",
            );
            return None;
        }
        (None, None) => {
            p.add(
                format!("{loc}.url"),
                "kind = \"http\" needs url = \"https://host/scim/v2\" (or urls = [...] for several endpoints)",
            );
            return None;
        }
        (Some(url), None) => {
            return upstream_url(url)
                .map_err(|m| p.add(format!("{loc}.url"), m))
                .ok()
                .map(|b| vec![b]);
        }
        (None, Some(urls)) => urls,
    };
    if bases.is_empty() || bases.len() > MAX_ENDPOINTS {
        p.add(
            format!("{loc}.urls"),
            format!("list between 1 and {MAX_ENDPOINTS} endpoint URLs"),
        );
        return None;
    }
    let mut parsed: Vec<http::Uri> = Vec::with_capacity(bases.len());
    let mut ok = true;
    for (i, url) in bases.iter().enumerate() {
        match upstream_url(url) {
            Ok(b) if parsed.contains(&b) => {
                p.add(
                    format!("{loc}.urls[{i}]"),
                    format!("\"{url}\" is listed twice"),
                );
                ok = false;
            }
            Ok(b) => parsed.push(b),
            Err(m) => {
                p.add(format!("{loc}.urls[{i}]"), m);
                ok = false;
            }
        }
    }
    ok.then_some(parsed)
}

/// The balancer over `bases` when there are several, with its health and
/// outlier settings; `None` for a single endpoint (where `[health]` and
/// `[outlier]` are reported as meaningless).
#[allow(clippy::too_many_arguments)]
pub(super) fn balancer(
    name: &str,
    u: &UpstreamSection,
    bases: Option<&[http::Uri]>,
    tls: &Option<Arc<rustls::ClientConfig>>,
    connect_timeout: Duration,
    pool_max_idle: usize,
    p: &mut Problems,
    loc: &str,
) -> Option<Balancer> {
    let bases = bases?;
    if bases.len() < 2 {
        for (key, set) in [
            ("health", u.health.is_some()),
            ("outlier", u.outlier.is_some()),
        ] {
            if set {
                p.add(
                    format!("{loc}.{key}"),
                    "only applies to an upstream with several endpoints (urls = [...])",
                );
            }
        }
        return None;
    }
    let health = health(u, p, loc)?;
    let outlier = outlier(u, p, loc)?;
    let mut targets = Vec::with_capacity(bases.len());
    for (i, base) in bases.iter().enumerate() {
        match HttpTarget::new(base.clone(), tls.clone(), connect_timeout, pool_max_idle) {
            Ok(t) => targets.push(t),
            Err(e) => p.add(format!("{loc}.urls[{i}]"), e),
        }
    }
    (targets.len() == bases.len()).then(|| Balancer::new(name, targets, health, outlier))
}

fn health(u: &UpstreamSection, p: &mut Problems, loc: &str) -> Option<HealthSettings> {
    let d = HealthSettings::default();
    let Some(h) = &u.health else {
        return Some(d);
    };
    let loc = format!("{loc}.health");
    let interval = duration(p, &format!("{loc}.interval"), h.interval.as_deref(), "10s");
    let timeout = duration(p, &format!("{loc}.timeout"), h.timeout.as_deref(), "2s");
    let path = h.path.clone().unwrap_or(d.path);
    let path_ok = path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#');
    if !path_ok {
        p.add(
            format!("{loc}.path"),
            format!("\"{path}\" must be a path such as \"/ServiceProviderConfig\""),
        );
    }
    let mut count = |key: &str, v: Option<u32>, default: u32| match v {
        Some(0) => {
            p.add(format!("{loc}.{key}"), "must be at least 1");
            None
        }
        other => Some(other.unwrap_or(default)),
    };
    let healthy_after = count("healthy_after", h.healthy_after, d.healthy_after);
    let unhealthy_after = count("unhealthy_after", h.unhealthy_after, d.unhealthy_after);
    let (interval, timeout) = (interval?, timeout?);
    if timeout > interval {
        p.add(
            format!("{loc}.timeout"),
            "must not be longer than the interval",
        );
        return None;
    }
    path_ok.then_some(())?;
    Some(HealthSettings {
        interval,
        timeout,
        path,
        healthy_after: healthy_after?,
        unhealthy_after: unhealthy_after?,
    })
}

fn outlier(u: &UpstreamSection, p: &mut Problems, loc: &str) -> Option<OutlierSettings> {
    let d = OutlierSettings::default();
    let Some(o) = &u.outlier else {
        return Some(d);
    };
    let loc = format!("{loc}.outlier");
    let base = duration(
        p,
        &format!("{loc}.base_ejection_time"),
        o.base_ejection_time.as_deref(),
        "30s",
    );
    let max = duration(
        p,
        &format!("{loc}.max_ejection_time"),
        o.max_ejection_time.as_deref(),
        "300s",
    );
    let pct = o.max_ejected_percent.unwrap_or(d.max_ejected_percent);
    if pct > 100 {
        p.add(
            format!("{loc}.max_ejected_percent"),
            "must be between 0 and 100",
        );
        return None;
    }
    let (base, max) = (base?, max?);
    if max < base {
        p.add(
            format!("{loc}.max_ejection_time"),
            "must not be shorter than base_ejection_time",
        );
        return None;
    }
    Some(OutlierSettings {
        consecutive_failures: o.consecutive_failures.unwrap_or(d.consecutive_failures),
        base_ejection_time: base,
        max_ejection_time: max,
        max_ejected_percent: pct,
    })
}

/// What the previous config's upstream of the same name learned about
/// its endpoints (matched by URL) carries over to the new one.
pub(super) fn carry_over(new: &Upstream, previous: Option<&Arc<Upstream>>) {
    let (UpstreamTarget::Http(new), Some(UpstreamTarget::Http(old))) =
        (&new.target, previous.map(|u| &u.target))
    else {
        return;
    };
    if let (Some(b), Some(old)) = (&new.balancer, &old.balancer) {
        b.carry_over(old);
    }
}
