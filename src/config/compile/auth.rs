//! The compile step for a tenant's inbound authentication and grants:
//! `[tenants.jwt]`, `[tenants.introspection]`, `[[tenants.grants]]`.
use super::{duration, resolve, secret, Problems};
use crate::authn::introspect::{IntrospectionSettings, Introspector};
use crate::authn::jwks::{JwksCache, JwksSettings, JwksSource};
use crate::authn::jwt::{Alg, JwtPolicy};
use crate::authn::JwtAuth;
use crate::authz::{CredentialName, Grant, Grants, Methods, MAX_GRANTS};
use crate::config::raw::{
    DialectSection, GrantSection, IntrospectionSection, JwtSection, LimitsSection,
    ResilienceSection, SharedLimitsSection, UpstreamAuthSection,
};
use crate::limit::gcra::Rate;
use crate::limit::redis::{RedisRates, RedisSettings};
use crate::limit::Limits;
use crate::snapshot::Snapshot;
use crate::upstream::oauth::{ClientAuthMethod, ClientCredentials, TokenSource};
use crate::upstream::resilience::ResilienceSettings;
use std::path::Path;
use std::sync::Arc;

pub(super) fn jwt(j: &JwtSection, base_dir: &Path, p: &mut Problems, loc: &str) -> Option<JwtAuth> {
    let mut ok = true;
    if j.issuers.is_empty() || j.issuers.iter().any(String::is_empty) {
        p.add(
            format!("{loc}.issuers"),
            "list the accepted issuers, e.g. [\"https://login.example.com/\"]",
        );
        ok = false;
    }
    if j.audiences.is_empty() || j.audiences.iter().any(String::is_empty) {
        p.add(
            format!("{loc}.audiences"),
            "list the accepted audiences, e.g. [\"api://scim-gateway\"]",
        );
        ok = false;
    }
    let algorithms: Vec<Alg> = match &j.algorithms {
        None => Alg::ALL.to_vec(),
        Some(names) => {
            let mut algs = Vec::new();
            for (i, name) in names.iter().enumerate() {
                match name.parse::<Alg>() {
                    Ok(a) => algs.push(a),
                    Err(e) => {
                        p.add(format!("{loc}.algorithms[{i}]"), e.to_string());
                        ok = false;
                    }
                }
            }
            if names.is_empty() {
                p.add(
                    format!("{loc}.algorithms"),
                    "list at least one of \"RS256\", \"PS256\", \"ES256\", \"EdDSA\"",
                );
                ok = false;
            }
            algs
        }
    };
    let source = match &j.jwks_uri {
        Some(uri) => match uri.parse::<http::Uri>() {
            Ok(u) if matches!(u.scheme_str(), Some("https" | "http")) && u.host().is_some() => {
                Some(JwksSource::JwksUri(u))
            }
            _ => {
                p.add(
                    format!("{loc}.jwks_uri"),
                    format!("\"{uri}\" is not an http(s) URL"),
                );
                None
            }
        },
        None if j.issuers.len() == 1 => Some(JwksSource::Issuer(j.issuers[0].clone())),
        None => {
            p.add(
                format!("{loc}.jwks_uri"),
                "with several issuers, name the key set URL (discovery needs one issuer)",
            );
            None
        }
    };
    let leeway = duration_or_zero(p, &format!("{loc}.leeway"), j.leeway.as_deref(), "60s");
    let ttl = duration(p, &format!("{loc}.jwks_ttl"), j.jwks_ttl.as_deref(), "10m");
    let min_refresh = duration(
        p,
        &format!("{loc}.jwks_min_refresh_interval"),
        j.jwks_min_refresh_interval.as_deref(),
        "30s",
    );
    let grace = duration_or_zero(
        p,
        &format!("{loc}.jwks_stale_grace"),
        j.jwks_stale_grace.as_deref(),
        "24h",
    );
    let ca_file = j.ca_file.as_ref().map(|f| resolve(base_dir, f));
    if let Some(f) = &ca_file {
        if let Err(e) = crate::tls::client_config(Some(f)) {
            p.add(format!("{loc}.ca_file"), e);
            ok = false;
        }
    }
    let settings = JwksSettings {
        ttl: ttl?,
        min_refresh_interval: min_refresh?,
        stale_grace: grace?,
        ca_file,
        ..JwksSettings::default()
    };
    let keys = JwksCache::new(source?, settings)
        .map_err(|e| p.add(format!("{loc}.jwks_uri"), e.to_string()))
        .ok()?;
    if !ok {
        return None;
    }
    let mut policy = JwtPolicy::new(j.issuers.clone(), j.audiences.clone());
    policy.algorithms = algorithms;
    policy.leeway = leeway?;
    policy.required_claims = j.required_claims.clone();
    Some(JwtAuth {
        policy,
        keys: Arc::new(keys),
        subject_claim: j.subject_claim.clone().unwrap_or_else(|| "sub".into()),
    })
}

pub(super) fn introspection(
    i: &IntrospectionSection,
    base_dir: &Path,
    p: &mut Problems,
    loc: &str,
) -> Option<Introspector> {
    let endpoint = match i.endpoint.parse::<http::Uri>() {
        Ok(u) if matches!(u.scheme_str(), Some("https" | "http")) && u.host().is_some() => Some(u),
        _ => {
            p.add(
                format!("{loc}.endpoint"),
                format!("\"{}\" is not an http(s) URL", i.endpoint),
            );
            None
        }
    };
    if i.client_id.is_empty() {
        p.add(format!("{loc}.client_id"), "must not be empty");
    }
    let client_secret = secret(
        i.client_secret_env.as_deref(),
        i.client_secret_file.as_deref(),
        base_dir,
        p,
        loc,
        "client_secret",
    );
    let max_ttl = duration(
        p,
        &format!("{loc}.cache_max_ttl"),
        i.cache_max_ttl.as_deref(),
        "5m",
    );
    let negative_ttl = duration_or_zero(
        p,
        &format!("{loc}.negative_ttl"),
        i.negative_ttl.as_deref(),
        "10s",
    );
    let timeout = duration(p, &format!("{loc}.timeout"), i.timeout.as_deref(), "5s");
    let mut settings = IntrospectionSettings::new(
        endpoint?,
        i.client_id.clone(),
        crate::upstream::oauth::Secret::new(client_secret?.expose()),
    );
    settings.cache_max_ttl = max_ttl?;
    settings.negative_ttl = negative_ttl?;
    settings.timeout = timeout?;
    settings.ca_file = i.ca_file.as_ref().map(|f| resolve(base_dir, f));
    settings.issuer = i.issuer.clone();
    settings.audiences = i.audiences.clone();
    Introspector::new(settings)
        .map_err(|e| p.add(format!("{loc}.ca_file"), e.to_string()))
        .ok()
}

pub(super) fn grants(sections: &[GrantSection], p: &mut Problems, loc: &str) -> Grants {
    if sections.len() > MAX_GRANTS {
        p.add(
            format!("{loc}.grants"),
            format!("at most {MAX_GRANTS} grants per tenant"),
        );
    }
    let mut out = Vec::new();
    for (i, g) in sections.iter().enumerate() {
        let gloc = format!("{loc}.grants[{i}]");
        if g.scopes.is_empty() && g.claim.is_none() && g.credentials.is_empty() {
            p.add(
                &gloc,
                "say whom the grant is for: scopes, claim with values, or credentials",
            );
        }
        let claim = match (&g.claim, g.values.is_empty()) {
            (Some(c), false) => Some((c.clone(), g.values.clone())),
            (Some(_), true) => {
                p.add(
                    format!("{gloc}.values"),
                    "a claim needs the values that qualify",
                );
                None
            }
            (None, false) => {
                p.add(
                    format!("{gloc}.claim"),
                    "values need the claim they are read from",
                );
                None
            }
            (None, true) => None,
        };
        if g.resources.is_empty() {
            p.add(
                format!("{gloc}.resources"),
                "list resource types, e.g. [\"Users\", \"Groups\"], or [\"*\"]",
            );
        }
        let resources = if g.resources.iter().any(|r| r == "*") {
            None
        } else {
            Some(g.resources.clone())
        };
        let mut methods = Methods::default();
        for (j, m) in g.methods.iter().enumerate() {
            match Methods::parse(m) {
                Some(set) => methods = methods.union(set),
                None => p.add(
                    format!("{gloc}.methods[{j}]"),
                    format!("\"{m}\" is not GET, HEAD, POST, PUT, PATCH, DELETE, SEARCH, read, write or *"),
                ),
            }
        }
        if g.methods.is_empty() {
            p.add(
                format!("{gloc}.methods"),
                "list methods, e.g. [\"read\"], [\"GET\", \"PATCH\"] or [\"*\"]",
            );
        }
        let mut credentials = Vec::new();
        for (j, c) in g.credentials.iter().enumerate() {
            match CredentialName::parse(c) {
                Ok(name) => credentials.push(name),
                Err(e) => p.add(format!("{gloc}.credentials[{j}]"), e),
            }
        }
        out.push(Grant {
            scopes: g.scopes.clone(),
            claim,
            credentials,
            resources,
            methods,
        });
    }
    Grants::new(out)
}

/// A duration that may be zero (`"0s"` turns the thing off).
fn duration_or_zero(
    p: &mut Problems,
    loc: &str,
    s: Option<&str>,
    default: &str,
) -> Option<std::time::Duration> {
    let s = s.unwrap_or(default);
    match humantime::parse_duration(s) {
        Ok(d) => Some(d),
        Err(_) => {
            p.add(
                loc,
                format!("\"{s}\" is not a duration such as \"30s\" or \"5m\""),
            );
            None
        }
    }
}

/// `[upstreams.NAME.auth]` with `kind = "oauth2"`: the client credentials
/// grant.
pub(super) fn upstream_oauth2(
    a: &UpstreamAuthSection,
    base_dir: &Path,
    p: &mut Problems,
    loc: &str,
) -> Option<TokenSource> {
    let token_url = match a.token_url.as_deref() {
        None => {
            p.add(
                format!("{loc}.token_url"),
                "kind = \"oauth2\" needs the token endpoint",
            );
            None
        }
        Some(u) => match u.parse::<http::Uri>() {
            // RFC 6749 §3.2: the token endpoint is TLS; plain http only
            // on loopback (tests, sidecars).
            Ok(uri)
                if uri.scheme_str() == Some("https")
                    || (uri.scheme_str() == Some("http")
                        && matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]"))) =>
            {
                Some(uri)
            }
            _ => {
                p.add(
                    format!("{loc}.token_url"),
                    format!("\"{u}\" must be an https URL (http only on loopback)"),
                );
                None
            }
        },
    };
    let client_id = a.client_id.clone().filter(|c| !c.is_empty());
    if client_id.is_none() {
        p.add(
            format!("{loc}.client_id"),
            "kind = \"oauth2\" needs a client_id",
        );
    }
    let client_secret = secret(
        a.client_secret_env.as_deref(),
        a.client_secret_file.as_deref(),
        base_dir,
        p,
        loc,
        "client_secret",
    );
    let auth_method = match a.auth_method.as_deref() {
        None => Some(ClientAuthMethod::ClientSecretBasic),
        Some(name) => ClientAuthMethod::from_name(name).or_else(|| {
            p.add(
                format!("{loc}.auth_method"),
                format!("\"{name}\" is not \"client_secret_basic\" or \"client_secret_post\""),
            );
            None
        }),
    };
    let refresh_before = duration_or_zero(
        p,
        &format!("{loc}.refresh_before"),
        a.refresh_before.as_deref(),
        "60s",
    );
    let mut settings = ClientCredentials::new(
        token_url?,
        client_id?,
        crate::upstream::oauth::Secret::new(client_secret?.expose()),
    );
    settings.scopes = a.scopes.clone();
    settings.audience = a.audience.clone();
    settings.resource = a.resource.clone();
    settings.auth_method = auth_method?;
    settings.refresh_before = refresh_before?;
    settings.ca_file = a.ca_file.as_ref().map(|f| resolve(base_dir, f));
    TokenSource::new(settings)
        .map_err(|e| p.add(format!("{loc}.ca_file"), e.to_string()))
        .ok()
}

/// `[tenants.limits]` / `[upstreams.NAME.limits]`.
pub(super) fn limits(
    l: &LimitsSection,
    tenant: bool,
    p: &mut Problems,
    loc: &str,
) -> Option<Limits> {
    let mut ok = true;
    let mut rate = |name: &str, r: Option<f64>, burst: Option<u32>, p: &mut Problems| match r {
        None => {
            if burst.is_some() {
                p.add(
                    format!("{loc}.{name}_burst"),
                    format!("a burst needs {name}"),
                );
                ok = false;
            }
            None
        }
        Some(r) if r.is_finite() && r > 0.0 => {
            if burst == Some(0) {
                p.add(format!("{loc}.{name}_burst"), "must be at least 1");
                ok = false;
            }
            // Default burst: one second's worth.
            let burst = burst.unwrap_or_else(|| (r.ceil() as u32).max(1));
            Some(Rate::new(r, burst))
        }
        Some(r) => {
            p.add(
                format!("{loc}.{name}"),
                format!("{r} is not a positive number of requests per second"),
            );
            ok = false;
            None
        }
    };
    let main = rate("rate", l.rate, l.burst, p);
    let principal = rate("principal_rate", l.principal_rate, l.principal_burst, p);
    if !tenant && (l.principal_rate.is_some() || l.principal_burst.is_some()) {
        p.add(
            format!("{loc}.principal_rate"),
            "per-principal limits apply to tenants, not upstreams",
        );
        ok = false;
    }
    if l.max_concurrent == Some(0) {
        p.add(format!("{loc}.max_concurrent"), "must be at least 1");
        ok = false;
    }
    if l.queue.is_some_and(|q| q > 0) && l.max_concurrent.is_none() {
        p.add(format!("{loc}.queue"), "a queue needs max_concurrent");
        ok = false;
    }
    let queue_timeout = duration_or_zero(
        p,
        &format!("{loc}.queue_timeout"),
        l.queue_timeout.as_deref(),
        "1s",
    );
    (ok).then_some(())?;
    Some(Limits {
        rate: main,
        principal_rate: principal,
        max_concurrent: l.max_concurrent,
        queue: l.queue.unwrap_or(0),
        queue_timeout: queue_timeout?,
    })
}

/// `[limits]`: the shared backend, reused from the previous config when
/// its settings did not change (keeping its connection).
pub(super) fn shared_limits(
    l: &SharedLimitsSection,
    previous: Option<&Snapshot>,
    p: &mut Problems,
) -> Option<Arc<RedisRates>> {
    match l.backend.as_str() {
        "local" => {
            if l.redis_url.is_some() {
                p.add("limits.redis_url", "only applies to backend = \"redis\"");
            }
            None
        }
        "redis" => {
            let Some(url) = l.redis_url.clone() else {
                p.add(
                    "limits.redis_url",
                    "backend = \"redis\" needs redis_url = \"redis://host:6379\"",
                );
                return None;
            };
            if l.replicas == Some(0) {
                p.add("limits.replicas", "must be at least 1");
            }
            let timeout = duration(p, "limits.timeout", l.timeout.as_deref(), "50ms")?;
            let settings = RedisSettings {
                url,
                replicas: l.replicas.unwrap_or(1).max(1),
                timeout,
                prefix: l.key_prefix.clone().unwrap_or_else(|| "scimgw".into()),
            };
            if let Some(old) = previous.and_then(|s| s.shared_limits.as_ref()) {
                if *old.settings() == settings {
                    return Some(old.clone());
                }
            }
            RedisRates::new(settings)
                .map(Arc::new)
                .map_err(|e| p.add("limits.redis_url", e))
                .ok()
        }
        other => {
            p.add(
                "limits.backend",
                format!("\"{other}\" is not a limits backend; use \"local\" or \"redis\""),
            );
            None
        }
    }
}

/// `[upstreams.NAME.resilience]`.
pub(super) fn resilience(
    r: &ResilienceSection,
    p: &mut Problems,
    loc: &str,
) -> Option<ResilienceSettings> {
    let d = ResilienceSettings::default();
    if r.attempts == Some(0) {
        p.add(
            format!("{loc}.attempts"),
            "must be at least 1 (1 = no retries)",
        );
    }
    if r.retry_budget.is_some_and(|b| !(b.is_finite() && b >= 0.0)) {
        p.add(format!("{loc}.retry_budget"), "must be a number from 0 up");
    }
    let dur =
        |p: &mut Problems, key: &str, v: &Option<String>, default: std::time::Duration| match v {
            None => Some(default),
            Some(_) => duration(p, &format!("{loc}.{key}"), v.as_deref(), "0s"),
        };
    let backoff = dur(p, "backoff", &r.backoff, d.backoff);
    let max_backoff = dur(p, "max_backoff", &r.max_backoff, d.max_backoff);
    let retry_after_cap = dur(p, "retry_after_cap", &r.retry_after_cap, d.retry_after_cap);
    let open_for = dur(p, "breaker_open_for", &r.breaker_open_for, d.open_for);
    Some(ResilienceSettings {
        attempts: r.attempts.unwrap_or(d.attempts).max(1),
        backoff: backoff?,
        max_backoff: max_backoff?,
        budget: r.retry_budget.unwrap_or(d.budget),
        retry_after_cap: retry_after_cap?,
        failures: r.breaker_failures.unwrap_or(d.failures),
        open_for: open_for?,
    })
}

/// `[tenants.dialect]`.
pub(super) fn dialect(
    d: &DialectSection,
    p: &mut Problems,
    loc: &str,
) -> Option<crate::dialect::TenantDialect> {
    use crate::dialect::{Profile, Rule};
    let profile = match d.profile.as_deref().unwrap_or("generic").parse::<Profile>() {
        Ok(profile) => Some(profile),
        Err(e) => {
            p.add(format!("{loc}.profile"), e.to_string());
            None
        }
    };
    let rules = |key: &str, names: &[String], p: &mut Problems| {
        let mut out = Vec::new();
        for (i, name) in names.iter().enumerate() {
            match name.parse::<Rule>() {
                Ok(rule) => out.push(rule),
                Err(e) => p.add(format!("{loc}.{key}[{i}]"), e.to_string()),
            }
        }
        out
    };
    let enable = rules("enable", &d.enable, p);
    let disable = rules("disable", &d.disable, p);
    Some(crate::dialect::TenantDialect {
        profile: profile?,
        enable,
        disable,
        shadow: d.shadow,
    })
}
