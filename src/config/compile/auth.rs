//! The compile step for a tenant's inbound authentication and grants:
//! `[tenants.jwt]`, `[tenants.introspection]`, `[[tenants.grants]]`.
use super::{duration, duration_or_zero, resolve, secret, Problems};
use crate::authn::grants::{CredentialName, Grant, Grants, Methods, MAX_GRANTS};
use crate::authn::introspect::{IntrospectionSettings, Introspector};
use crate::authn::jwks::{JwksCache, JwksSettings, JwksSource};
use crate::authn::jwt::{Alg, JwtPolicy};
use crate::authn::JwtAuth;
use crate::config::raw::{GrantSection, IntrospectionSection, JwtSection};
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
        crate::secret::Secret::new(client_secret?.expose()),
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
