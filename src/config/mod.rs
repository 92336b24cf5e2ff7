//! Configuration: the raw file types ([`raw`]), the compile step that
//! checks everything and reports every problem with its location
//! ([`compile`]), and the reload that swaps in a new
//! [`crate::snapshot::Snapshot`] or keeps the old one ([`reload`]).
pub(crate) mod compile;
pub(crate) mod errors;
pub(crate) mod raw;
pub(crate) mod redact;
pub(crate) mod reload;
mod watch;

pub use compile::{check, compile, load, parse};
pub use reload::ConfigHandle;

/// A JSON Schema (draft 2020-12) of the config file, from the raw types:
/// every key with its doc comment as description, unknown keys refused.
/// For editors (TOML language servers take JSON Schemas) and CI checks;
/// the compile step stays the authority on values (an address, a
/// duration, a file that exists).
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(raw::FileConfig);
    schema.insert("title".into(), "scim-gateway configuration".into());
    schema.to_value()
}
