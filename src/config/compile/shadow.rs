//! The compile step for `[tenants.shadow]`: the shadow's upstream and the
//! schema it is spoken to in (the tenant's own mapping, none, or a table
//! of its own), fitted to that upstream like the tenant's; a cutover
//! swaps the two roles here, so the pipeline knows nothing of it.
use super::{schema, Problems};
use crate::config::raw::{SchemaSection, ShadowSection, TenantSection};
use crate::shadow::ShadowSettings;
use crate::tenant::schema::TenantSchema;
use crate::tenant::{ShadowTarget, Tenant};
use crate::upstream::Upstream;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// What the tenant's schema is compiled with, for the shadow's.
pub(super) struct Context<'a> {
    pub base_dir: &'a Path,
    pub standard: &'a Arc<TenantSchema>,
    pub limits: (usize, usize),
    pub upstreams: &'a HashMap<String, Arc<Upstream>>,
    pub audit_on: bool,
}

/// The tenant with its shadow set (roles swapped for a cutover); `None`
/// after reporting problems.
pub(super) fn attach(
    tenant: Tenant,
    t: &TenantSection,
    s: &ShadowSection,
    cx: &Context<'_>,
    fitted: &mut HashMap<String, Arc<TenantSchema>>,
    p: &mut Problems,
    loc: &str,
) -> Option<Tenant> {
    let loc = format!("{loc}.shadow");
    let mut ok = true;
    if !cx.audit_on {
        p.add(
            loc.clone(),
            "a shadow upstream needs the audit journal (its id map is kept beside it): remove [audit] enabled = false",
        );
        ok = false;
    }
    let upstream = cx.upstreams.get(&s.upstream).cloned();
    if upstream.is_none() {
        let mut known: Vec<&str> = cx.upstreams.keys().map(String::as_str).collect();
        known.sort_unstable();
        p.add(
            format!("{loc}.upstream"),
            format!(
                "no upstream named \"{}\" (configured: {known:?})",
                s.upstream
            ),
        );
        ok = false;
    }
    if s.upstream == t.upstream {
        p.add(
            format!("{loc}.upstream"),
            "the shadow must be another upstream than the tenant's own",
        );
        ok = false;
    }
    let queue = s.queue.unwrap_or(10_000);
    if !(1..=1_000_000).contains(&queue) {
        p.add(format!("{loc}.queue"), "between 1 and 1000000");
        ok = false;
    }
    let mut ignore = Vec::new();
    for (i, path) in s.ignore.iter().enumerate() {
        let valid = !path.is_empty()
            && path.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'_' | b'-' | b'$')
            });
        if !valid {
            p.add(
                format!("{loc}.ignore[{i}]"),
                format!("\"{path}\" is not an attribute path (e.g. \"title\", \"name.givenName\")"),
            );
            ok = false;
        }
        ignore.push(path.to_ascii_lowercase());
    }
    // The schema the shadow is spoken to in: the tenant's own section
    // with the shadow's mapping.
    let section = match s.mapping.as_deref() {
        None => t.schema.clone(),
        Some(m) => {
            let mut section = t.schema.clone().unwrap_or(SchemaSection {
                validate: None,
                schemas_dir: None,
                extensions: Default::default(),
                mapping: None,
            });
            section.mapping = (!m.eq_ignore_ascii_case("none")).then(|| m.to_string());
            Some(section)
        }
    };
    let shadow_schema = schema::tenant_schema(
        section.as_ref(),
        cx.base_dir,
        cx.standard,
        cx.limits,
        p,
        &loc,
    );
    let (upstream, shadow_schema) = (upstream?, shadow_schema?);
    if !ok {
        return None;
    }
    let shadow_schema = schema::fit_to_upstream(shadow_schema, cx.standard, &upstream, fitted);
    let cutover = s.cutover.unwrap_or(false);
    let mut tenant = tenant;
    let mut mirror = Tenant::new(tenant.id.clone(), Vec::new(), upstream, Vec::new());
    mirror.schema = shadow_schema;
    if cutover {
        // The IdP is answered by the shadow's upstream; the former primary
        // gets the copies.
        std::mem::swap(&mut tenant.upstream, &mut mirror.upstream);
        std::mem::swap(&mut tenant.schema, &mut mirror.schema);
    }
    let settings = ShadowSettings {
        upstream: mirror.upstream.name.clone(),
        reads: s.reads.unwrap_or(false),
        queue,
        ignore,
        cutover,
        mirror: s.mirror.unwrap_or(true),
    };
    tenant.shadow = Some(Arc::new(ShadowTarget {
        settings,
        tenant: mirror,
    }));
    Some(tenant)
}
