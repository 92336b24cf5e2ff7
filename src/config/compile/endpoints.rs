//! The compile step for an upstream with several endpoints: `urls`,
//! `[upstreams.NAME.health]` and `[upstreams.NAME.outlier]` → a
//! [`Balancer`] (see `upstream::balance`).
use super::{duration, upstream_url, Problems};
use crate::config::raw::UpstreamSection;
use crate::upstream::balance::{Balancer, HealthSettings, OutlierSettings, MAX_ENDPOINTS};
use crate::upstream::Endpoint;
use crate::upstream::{Upstream, UpstreamTarget};
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
    // Both checked before giving up: every problem is reported at once.
    let (health, outlier) = (health(u, p, loc), outlier(u, p, loc));
    let (health, outlier) = (health?, outlier?);
    let mut targets = Vec::with_capacity(bases.len());
    for (i, base) in bases.iter().enumerate() {
        match Endpoint::new(base.clone(), tls.clone(), connect_timeout, pool_max_idle) {
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
    if let (Some(b), Some(old)) = (new.balancer(), old.balancer()) {
        b.carry_over(old);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::super::{compile, parse};
    use crate::upstream::UpstreamTarget;
    use std::path::Path;
    use std::time::Duration;

    fn config(upstream: &str) -> String {
        format!(
            r#"
[server]
listen = "127.0.0.1:0"
plaintext = true

[upstreams.app]
kind = "http"
{upstream}

[[tenants]]
id = "acme"
hosts = ["acme.example"]
upstream = "app"
[[tenants.tokens]]
name = "idp"
hash = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
"#
        )
    }

    #[test]
    fn several_urls_make_a_balancer() {
        let text = config(
            "urls = [\"http://127.0.0.1:9/scim/v2\", \"http://127.0.0.2:9/v2/\"]\n\
             [upstreams.app.health]\ninterval = \"5s\"\nhealthy_after = 1\n\
             [upstreams.app.outlier]\nconsecutive_failures = 3\nmax_ejected_percent = 100\n",
        );
        let s = compile(&parse(&text, "t.toml").unwrap(), Path::new("t.toml"), None).unwrap();
        let UpstreamTarget::Http(http) = &s.upstreams["app"].target else {
            panic!("http expected");
        };
        assert_eq!(
            http.base().to_string(),
            "http://127.0.0.1:9/scim/v2",
            "the first is the base"
        );
        let b = http.balancer().expect("a balancer");
        let labels: Vec<&str> = b.endpoints().iter().map(|e| e.label.as_str()).collect();
        assert_eq!(labels, ["127.0.0.1:9", "127.0.0.2:9"]);
        assert_eq!(b.health.interval, Duration::from_secs(5));
        assert_eq!(b.health.healthy_after, 1);
        assert_eq!(b.health.unhealthy_after, 2);
        assert_eq!(b.health.path, "/ServiceProviderConfig");
        assert_eq!(b.outlier.consecutive_failures, 3);
        assert_eq!(b.outlier.base_ejection_time, Duration::from_secs(30));

        let one = config("urls = [\"http://127.0.0.1:9/scim/v2\"]\n");
        let s = compile(&parse(&one, "t.toml").unwrap(), Path::new("t.toml"), None).unwrap();
        let UpstreamTarget::Http(http) = &s.upstreams["app"].target else {
            panic!("http expected");
        };
        assert!(http.balancer().is_none(), "one URL: no balancer");
    }

    #[test]
    fn the_replicas_example_compiles() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples/replicas.toml");
        let s = super::super::check(&path).unwrap_or_else(|e| panic!("{e}"));
        let UpstreamTarget::Http(http) = &s.upstreams["hr"].target else {
            panic!("http expected");
        };
        assert_eq!(http.balancer().unwrap().endpoints().len(), 2);
        assert!(s.shared_limits.is_some());
    }

    #[test]
    fn every_endpoint_mistake_is_reported() {
        let errors = |upstream: &str| {
            let text = config(upstream);
            compile(&parse(&text, "t.toml").unwrap(), Path::new("t.toml"), None)
                .unwrap_err()
                .to_string()
        };
        let e = errors("url = \"http://a/x\"\nurls = [\"http://b/x\", \"http://c/x\"]\n");
        assert!(
            e.contains("upstreams.app.urls: set url (one endpoint) or urls"),
            "{e}"
        );
        let e = errors("urls = [\"http://a/x\", \"ftp://b/x\", \"http://a/x/\"]\n");
        assert!(e.contains("upstreams.app.urls[1]"), "{e}");
        assert!(
            e.contains("upstreams.app.urls[2]: \"http://a/x/\" is listed twice"),
            "{e}"
        );
        let e = errors("url = \"http://a/x\"\n[upstreams.app.health]\ninterval = \"1s\"\n");
        assert!(e.contains("upstreams.app.health: only applies"), "{e}");
        let e = errors(
            "urls = [\"http://a/x\", \"http://b/x\"]\n\
             [upstreams.app.health]\ninterval = \"1s\"\ntimeout = \"2s\"\n\
             [upstreams.app.outlier]\nmax_ejected_percent = 150\n",
        );
        assert!(
            e.contains("upstreams.app.health.timeout: must not be longer"),
            "{e}"
        );
        assert!(
            e.contains("upstreams.app.outlier.max_ejected_percent"),
            "{e}"
        );
        let e = errors(
            "urls = [\"http://a/x\", \"http://b/x\"]\n\
             [upstreams.app.health]\nhealthy_after = 0\npath = \"no-slash\"\n",
        );
        assert!(
            e.contains("upstreams.app.health.healthy_after: must be at least 1"),
            "{e}"
        );
        assert!(e.contains("upstreams.app.health.path"), "{e}");
        let e = errors("urls = []\n");
        assert!(
            e.contains("upstreams.app.urls: list between 1 and 16"),
            "{e}"
        );
    }
}
