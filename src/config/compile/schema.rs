//! `[tenants.schema]` → the tenant's [`TenantSchema`]: the tenant-facing
//! registry (core schemas, custom schemas from `schemas_dir`, extensions
//! per resource type) and the mapping table compiled against it. Every
//! problem of the table is reported with its location.
use super::{resolve, Problems};
use crate::config::raw::SchemaSection;
use crate::mapping::CompiledMapping;
use crate::scim::schema::SchemaRegistry;
use crate::tenant::schema::TenantSchema;
use crate::upstream::Upstream;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The tenant's schema fitted to its upstream (the capabilities it
/// advertises: see [`TenantSchema::capabilities_for`]). Unchanged, it stays
/// the same `Arc`; the shared standard schema is fitted once per upstream
/// (`fitted` remembers it), so tenants that configure nothing still share.
pub(super) fn fit_to_upstream(
    schema: Arc<TenantSchema>,
    standard: &Arc<TenantSchema>,
    upstream: &Upstream,
    fitted: &mut HashMap<String, Arc<TenantSchema>>,
) -> Arc<TenantSchema> {
    let shared = Arc::ptr_eq(&schema, standard);
    if shared {
        if let Some(done) = fitted.get(&upstream.name) {
            return done.clone();
        }
    }
    let (capabilities, bulk) = schema.capabilities_for(upstream);
    let out = if capabilities == schema.capabilities && bulk == schema.bulk {
        schema
    } else {
        Arc::new(schema.for_upstream(upstream))
    };
    if shared {
        fitted.insert(upstream.name.clone(), out.clone());
    }
    out
}

/// The tenant's schema; `standard` is shared by tenants that configure
/// nothing. `None` after reporting problems.
pub(super) fn tenant_schema(
    section: Option<&SchemaSection>,
    base_dir: &Path,
    standard: &Arc<TenantSchema>,
    (max_body, max_patch): (usize, usize),
    p: &mut Problems,
    loc: &str,
) -> Option<Arc<TenantSchema>> {
    let Some(s) = section else {
        return Some(standard.clone());
    };
    let loc = format!("{loc}.schema");
    let mut registry = SchemaRegistry::builtin();
    let mut ok = true;
    if let Some(dir) = &s.schemas_dir {
        let path = resolve(base_dir, dir);
        if let Err(e) = registry.load_schema_dir(&path) {
            p.add(format!("{loc}.schemas_dir"), e.detail().to_string());
            ok = false;
        }
    }
    for (rt, urns) in &s.extensions {
        for (i, urn) in urns.iter().enumerate() {
            if let Err(e) = registry.extend_resource_type(rt, urn, false) {
                p.add(
                    format!("{loc}.extensions.{rt}[{i}]"),
                    format!("{} (declare it in a file of schemas_dir)", e.detail()),
                );
                ok = false;
            }
        }
    }
    let mapping = match &s.mapping {
        None => None,
        Some(file) => {
            let path = resolve(base_dir, file);
            match CompiledMapping::load(&path, &registry) {
                Ok(m) => Some(m),
                Err(errors) => {
                    for e in errors {
                        p.add(format!("{loc}.mapping"), e);
                    }
                    ok = false;
                    None
                }
            }
        }
    };
    ok.then(|| {
        Arc::new(
            TenantSchema::new(registry, mapping, s.validate.unwrap_or(true), max_body)
                .with_max_patch_operations(max_patch),
        )
    })
}
