//! The compile step for one `[[tenants]]` entry: its id and host names,
//! its upstream, inbound credentials (static tokens, JWT, introspection,
//! mTLS), grants, limits, cache, idempotent creates and IdP dialect. Its schema and journal
//! are compiled beside it (`schema`, `events`) and set by the caller.
use super::{auth, caps, duration, limits, tls, Problems};
use super::{duration_or_zero, positive};
use crate::authn::StaticToken;
use crate::authn::TenantAuth;
use crate::config::raw::{
    CreatesSection, DialectSection, FileConfig, GuardrailSection, TenantSection,
};
use crate::tenant::Tenant;
use crate::tenant_id::TenantId;
use crate::upstream::Upstream;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

pub(super) fn compile_tenant(
    t: &TenantSection,
    loc: &str,
    raw: &FileConfig,
    base_dir: &Path,
    upstreams: &HashMap<String, Arc<Upstream>>,
    host_owner: &mut HashMap<String, String>,
    p: &mut Problems,
) -> Option<Tenant> {
    let id = TenantId::new(&t.id);
    if id.is_none() {
        p.add(
            format!("{loc}.id"),
            "a tenant id is 1 to 64 characters of a-z, 0-9 and \"-\"",
        );
    }
    let mut hosts = Vec::new();
    for (j, h) in t.hosts.iter().enumerate() {
        let host = h.to_ascii_lowercase();
        let valid = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && !host.starts_with(['.', '-']);
        if !valid {
            p.add(
                format!("{loc}.hosts[{j}]"),
                format!("\"{h}\" is not a host name (no scheme, port or path)"),
            );
            continue;
        }
        if let Some(owner) = host_owner.get(&host) {
            p.add(
                format!("{loc}.hosts[{j}]"),
                format!("host \"{host}\" already belongs to tenant \"{owner}\""),
            );
            continue;
        }
        host_owner.insert(host.clone(), t.id.clone());
        hosts.push(host);
    }
    let upstream = upstreams.get(&t.upstream).cloned();
    if upstream.is_none() && !raw.upstreams.contains_key(&t.upstream) {
        let known: Vec<&str> = raw.upstreams.keys().map(String::as_str).collect();
        p.add(
            format!("{loc}.upstream"),
            format!(
                "no upstream named \"{}\" (configured: {known:?})",
                t.upstream
            ),
        );
    }
    if t.tokens.is_empty() && t.jwt.is_none() && t.introspection.is_none() && t.mtls.is_none() {
        p.add(
            format!("{loc}.tokens"),
            "a tenant needs a way to authenticate: [[tenants.tokens]], [tenants.jwt], [tenants.introspection] or [tenants.mtls]",
        );
    }
    let jwt = t
        .jwt
        .as_ref()
        .map(|j| auth::jwt(j, base_dir, p, &format!("{loc}.jwt")));
    let introspection = t
        .introspection
        .as_ref()
        .map(|i| auth::introspection(i, base_dir, p, &format!("{loc}.introspection")));
    let grants = auth::grants(&t.grants, p, loc);
    let mtls = t
        .mtls
        .as_ref()
        .map(|m| tls::tenant_mtls(m, base_dir, p, &format!("{loc}.mtls")));
    let mut names = HashSet::new();
    let mut tokens = Vec::new();
    for (j, tok) in t.tokens.iter().enumerate() {
        let tloc = format!("{loc}.tokens[{j}]");
        if tok.name.is_empty() || !names.insert(tok.name.clone()) {
            p.add(
                format!("{tloc}.name"),
                format!(
                    "token name \"{}\" is empty or used twice in this tenant",
                    tok.name
                ),
            );
        }
        match parse_hash(&tok.hash) {
            Some(sha256) => tokens.push(StaticToken {
                name: tok.name.clone(),
                sha256,
                scopes: tok.scopes.clone(),
            }),
            None => p.add(
                format!("{tloc}.hash"),
                "expected \"sha256:<64 hex digits>\" as printed by `scim-gateway hash-token`",
            ),
        }
    }
    Some(Tenant {
        id: id?,
        hosts,
        upstream: upstream?,
        auth: TenantAuth {
            tokens,
            jwt: jwt.map(|j| j.ok_or(())).transpose().ok()?,
            introspection: introspection.map(|i| i.ok_or(())).transpose().ok()?,
            mtls: mtls.map(|m| m.ok_or(())).transpose().ok()?,
            grants,
        },
        limits: t.limits.as_ref().map_or(Some(Default::default()), |l| {
            limits::limits(l, true, p, &format!("{loc}.limits"))
        })?,
        cache: match &t.cache {
            Some(section) if section.enabled != Some(false) => {
                let ttl = duration(
                    p,
                    &format!("{loc}.cache.ttl"),
                    section.ttl.as_deref(),
                    "30s",
                );
                let discovery = duration(
                    p,
                    &format!("{loc}.cache.discovery_ttl"),
                    section.discovery_ttl.as_deref(),
                    "5m",
                );
                let max_bytes = caps::tenant_cache_max_bytes(section, &raw.server, p, loc);
                Some(crate::cache::CacheSettings {
                    ttl: ttl?,
                    discovery_ttl: discovery?,
                    max_bytes,
                })
            }
            _ => None,
        },
        creates: match &t.creates {
            None => Default::default(),
            Some(c) => creates(c, p, &format!("{loc}.creates"))?,
        },
        dialect: match &t.dialect {
            None => None,
            Some(d) => Some(dialect(d, p, &format!("{loc}.dialect"))?),
        },
        shadow: None,
        guardrail: match &t.guardrail {
            None => None,
            Some(g) => Some(guardrail(g, p, &format!("{loc}.guardrail"))?),
        },
        // Set by the caller (`schema::fit_to_upstream`).
        schema: crate::tenant::schema::TenantSchema::shared_standard(),
        // Set by the caller (`events::tenant`).
        journal: Default::default(),
        metrics: Default::default(),
    })
}

/// `sha256:<64 hex>` → the digest.
pub(super) fn parse_hash(s: &str) -> Option<[u8; 32]> {
    let hex = s.strip_prefix("sha256:")?;
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// `[tenants.guardrail]`.
fn guardrail(
    g: &GuardrailSection,
    p: &mut Problems,
    loc: &str,
) -> Option<crate::guardrail::GuardrailSettings> {
    use crate::guardrail::Mode;
    let mut ok = true;
    if g.max_deprovisions == 0 {
        p.add(
            format!("{loc}.max_deprovisions"),
            "at least 1 (0 would hold every deprovision: use a small number and release by hand)",
        );
        ok = false;
    }
    let window = duration(p, &format!("{loc}.window"), g.window.as_deref(), "1h");
    let retry_after = duration(
        p,
        &format!("{loc}.retry_after"),
        g.retry_after.as_deref(),
        "10m",
    );
    let mode = match g.mode.as_deref() {
        None | Some("hold") => Some(Mode::Hold),
        Some("dry_run") => Some(Mode::DryRun),
        Some(other) => {
            p.add(
                format!("{loc}.mode"),
                format!("\"{other}\" is not a mode: \"hold\" or \"dry_run\""),
            );
            None
        }
    };
    let mut privileged_groups = Vec::new();
    for (j, id) in g.privileged_groups.iter().enumerate() {
        if id.is_empty() || id.len() > 1024 || id.chars().any(char::is_control) {
            p.add(
                format!("{loc}.privileged_groups[{j}]"),
                "a group id: 1 to 1024 characters, no control characters",
            );
            ok = false;
        } else if !privileged_groups.contains(id) {
            privileged_groups.push(id.clone());
        }
    }
    let settings = crate::guardrail::GuardrailSettings {
        max_deprovisions: g.max_deprovisions,
        window: window?,
        mode: mode?,
        privileged_groups,
        retry_after: retry_after?,
    };
    ok.then_some(settings)
}

/// `[tenants.creates]`.
fn creates(
    c: &CreatesSection,
    p: &mut Problems,
    loc: &str,
) -> Option<crate::creates::CreateSettings> {
    use crate::creates::{CreateSettings, OnConflict, REPLAY_MAX_ENTRIES};
    let on_conflict = match c.on_conflict.as_deref() {
        None | Some("error") => Some(OnConflict::Error),
        Some("existing") => Some(OnConflict::Existing),
        Some(other) => {
            p.add(
                format!("{loc}.on_conflict"),
                format!("\"{other}\" is not \"error\" or \"existing\""),
            );
            None
        }
    };
    let window = duration_or_zero(
        p,
        &format!("{loc}.replay_window"),
        c.replay_window.as_deref(),
        "0s",
    );
    let max = positive(
        p,
        &format!("{loc}.replay_max_entries"),
        c.replay_max_entries,
        REPLAY_MAX_ENTRIES,
    );
    Some(CreateSettings {
        on_conflict: on_conflict?,
        replay_window: Some(window?).filter(|d| !d.is_zero()),
        replay_max_entries: max,
    })
}

/// `[tenants.dialect]`.
fn dialect(
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::config::compile::{compile, parse};
    use crate::creates::{CreateSettings, OnConflict};
    use std::path::Path;
    use std::time::Duration;

    const HASH: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn compiled(creates: &str) -> Result<crate::snapshot::Snapshot, String> {
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nplaintext = true\n\
             [upstreams.store]\nkind = \"builtin\"\n\
             [[tenants]]\nid = \"acme\"\nhosts = [\"acme.example\"]\nupstream = \"store\"\n\
             [[tenants.tokens]]\nname = \"okta\"\nhash = \"{HASH}\"\n{creates}\n"
        );
        let raw = parse(&text, "g.toml").unwrap();
        compile(&raw, Path::new("g.toml"), None).map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn creates_are_off_unless_configured_and_each_check_names_its_key() {
        let creates = |section: &str| compiled(section).unwrap().tenant("acme").unwrap().creates;
        assert_eq!(creates(""), CreateSettings::default());
        assert!(!creates("[tenants.creates]").is_on());
        let on = creates(
            "[tenants.creates]\non_conflict = \"existing\"\nreplay_window = \"10m\"\nreplay_max_entries = 5",
        );
        assert_eq!(on.on_conflict, OnConflict::Existing);
        assert_eq!(on.replay_window, Some(Duration::from_secs(600)));
        assert_eq!(on.replay_max_entries, 5);
        for (section, needle) in [
            ("on_conflict = \"merge\"", "creates.on_conflict"),
            ("replay_window = \"soon\"", "creates.replay_window"),
            ("replay_max_entries = 0", "creates.replay_max_entries"),
        ] {
            let e = compiled(&format!("[tenants.creates]\n{section}"))
                .map(|_| ())
                .unwrap_err();
            assert!(e.contains(needle), "expected {needle:?} in {e}");
        }
    }
}
