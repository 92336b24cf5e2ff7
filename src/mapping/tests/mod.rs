//! Tests of the mapping engine: every rule kind both ways ([`rules`]), the
//! fixture tables of `config/mappings/` ([`fixtures`]), compile errors,
//! PATCH and filter rewrites, queries, and round-trip property tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::{compile, CompiledMapping, MappingTable, ResourceMapping};
use crate::scim::schema::SchemaRegistry;
use std::path::PathBuf;

mod compile_errors;
mod filter;
mod fixtures;
mod flat;
mod members;
mod patch;
mod prop;
mod query;
mod rules;

pub(super) const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A fixture table from `config/mappings/`, compiled for the built-in schemas.
pub(super) fn fixture(name: &str) -> CompiledMapping {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("config/mappings")
        .join(format!("{name}.toml"));
    CompiledMapping::load(&path, &SchemaRegistry::builtin())
        .unwrap_or_else(|e| panic!("{name}: {e:#?}"))
}

/// A table written inline, compiled for the built-in schemas.
pub(super) fn inline(text: &str) -> CompiledMapping {
    try_inline(text).unwrap_or_else(|e| panic!("{e:#?}"))
}

pub(super) fn try_inline(text: &str) -> Result<CompiledMapping, Vec<String>> {
    let table = MappingTable::from_toml(text).map_err(|e| vec![e])?;
    compile("test", &table, &SchemaRegistry::builtin())
}

pub(super) fn users(m: &CompiledMapping) -> &ResourceMapping {
    m.resource("User").expect("a User mapping")
}
