//! Schema mapping (src/mapping/) with the tables of config/mappings/. The
//! first byte picks a table and what the rest is: a body to map both ways,
//! a filter, a PatchOp, a Bulk request or response, an upstream answer, or
//! a mapping table itself. Properties: a mapped filter round-trips through
//! its text; a mapped PatchOp written as JSON parses back to itself; a
//! validated body maps to the upstream as an object (or an error) and back
//! without panicking; a fuzzed table compiles or is refused, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scim_gateway::mapping::{compile, patch_to_json, CompiledMapping, MappingTable};
use scim_gateway::scim::filter::Filter;
use scim_gateway::scim::patch::PatchRequest;
use scim_gateway::scim::path::AttrPath;
use scim_gateway::scim::validate::validate_resource;
use scim_gateway_fuzz::{registry, resource_type, split_first};
use serde_json::Value;
use std::sync::LazyLock;

const TABLES: [(&str, &str); 5] = [
    (
        "crm-extension",
        include_str!("../../config/mappings/crm-extension.toml"),
    ),
    ("ldap", include_str!("../../config/mappings/ldap.toml")),
    (
        "legacy-hr",
        include_str!("../../config/mappings/legacy-hr.toml"),
    ),
    (
        "payroll",
        include_str!("../../config/mappings/payroll.toml"),
    ),
    (
        "saas-app",
        include_str!("../../config/mappings/saas-app.toml"),
    ),
];

fn tables() -> &'static [CompiledMapping] {
    static COMPILED: LazyLock<Vec<CompiledMapping>> = LazyLock::new(|| {
        TABLES
            .iter()
            .map(|(name, text)| {
                let table = MappingTable::from_toml(text).unwrap_or_else(|e| panic!("{name}: {e}"));
                compile(name, &table, registry()).unwrap_or_else(|e| panic!("{name}: {e:?}"))
            })
            .collect()
    });
    &COMPILED
}

fn json(data: &[u8]) -> Option<Value> {
    serde_json::from_slice(data).ok()
}

fuzz_target!(|data: &[u8]| {
    let (selector, rest) = split_first(data);
    let mapping = &tables()[usize::from(selector & 7) % TABLES.len()];
    let Some(m) = mapping.resources().next() else {
        return;
    };
    let rt = resource_type(m.name());
    match (selector >> 3) & 7 {
        0 => {
            let Some(body) = json(rest) else { return };
            let Ok(valid) = validate_resource(registry(), rt, &body, None) else {
                return;
            };
            if let Ok(up) = m.to_upstream(&valid) {
                assert!(up.is_object(), "{valid} maps to {up}");
                let back = m.to_tenant(&up);
                assert!(back.is_object(), "{up} maps back to {back}");
            }
        }
        1 => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            let Ok(f) = Filter::parse(text) else { return };
            if let Ok(up) = m.filter_to_upstream(&f) {
                let printed = up.to_string();
                assert_eq!(
                    Filter::parse(&printed).ok().as_ref(),
                    Some(&up),
                    "{text:?} maps to {printed:?}, which does not round-trip"
                );
            }
        }
        2 => {
            let Some(body) = json(rest) else { return };
            let Ok(request) = PatchRequest::parse(&body) else {
                return;
            };
            let Ok(up) = m.patch_to_upstream(&request) else {
                return;
            };
            // A request whose every operation stays with the gateway maps
            // to no operation at all; the schema stage refuses it (there is
            // no empty PatchOp, RFC 7644 §3.5.2), so it has no JSON form.
            if up.operations.is_empty() {
                return;
            }
            let written = patch_to_json(&up);
            assert_eq!(
                PatchRequest::parse(&written).ok().as_ref(),
                Some(&up),
                "{body} maps to {written}, which does not parse back"
            );
        }
        3 => {
            let Some(body) = json(rest) else { return };
            let _ = mapping.bulk_request_to_upstream(&body);
            let _ = mapping.bulk_response_to_tenant(&body);
        }
        4 => {
            let Some(body) = json(rest) else { return };
            let _ = m.to_tenant(&body);
            let _ = m.list_to_tenant(&body);
            let _ = mapping.error_to_tenant(&body, Some(m));
            let _ = mapping.error_to_tenant(&body, None);
        }
        5 => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(path) = AttrPath::parse(text) {
                let _ = m.sort_by_to_upstream(&path);
                let _ = m.attributes_to_upstream(std::slice::from_ref(&path));
            }
            let _ = m.error_detail_to_tenant(text);
        }
        _ => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(table) = MappingTable::from_toml(text) {
                let _ = compile("fuzz", &table, registry());
            }
        }
    }
});
