//! The raw form of a mapping table: a serde mirror of one
//! `config/mappings/NAME.toml` file, with `deny_unknown_fields` everywhere.
//!
//! Nothing here is checked beyond its shape; [`super::compile`] turns a
//! [`MappingTable`] into a [`super::CompiledMapping`] and reports every
//! inconsistency at once. Every key is documented in `docs/mapping.md`.
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One mapping table file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingTable {
    /// Free text for operators; never used by the engine.
    #[serde(default)]
    pub description: String,
    /// What happens to attributes no rule names; per resource type
    /// overridable. Default `pass`.
    #[serde(default)]
    pub unmapped: Unmapped,
    /// A filter naming an attribute without an upstream equivalent yields
    /// "needs emulation" instead of 400 `invalidFilter`.
    #[serde(default)]
    pub emulate: bool,
    /// Per resource type, by its tenant-facing name (`User`, `Group`).
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceTable>,
}

/// The rules of one resource type.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceTable {
    /// Overrides the table-wide `unmapped`.
    pub unmapped: Option<Unmapped>,
    /// The upstream's own schema for this resource type.
    #[serde(default)]
    pub upstream: UpstreamTable,
    /// The rules, applied in order.
    #[serde(default)]
    pub rules: Vec<RuleTable>,
}

/// The upstream's schema, as far as the rules need it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTable {
    /// The core schema URN the upstream expects in `schemas`; default: the
    /// tenant-facing core schema.
    pub schema: Option<String>,
    /// Upstream attributes by path: `firstName`, or `urn:...:dept` for an
    /// attribute inside an upstream extension object.
    #[serde(default)]
    pub attributes: BTreeMap<String, UpstreamAttr>,
}

/// An upstream attribute: a bare type name, or a table.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum UpstreamAttr {
    /// `firstName = "string"`.
    Type(String),
    /// `roles = { type = "string", multi_valued = true }`.
    Full(UpstreamAttrTable),
}

/// The long form of an upstream attribute.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamAttrTable {
    /// `string`, `boolean`, `integer`, `decimal`, `dateTime`, `reference`,
    /// `binary` or `complex`.
    #[serde(rename = "type")]
    pub attr_type: String,
    #[serde(default)]
    pub multi_valued: bool,
    /// For `complex`: sub-attribute name → type.
    #[serde(default)]
    pub sub_attributes: BTreeMap<String, String>,
}

/// One rule. Which keys are set decides its kind (see `docs/mapping.md`):
/// `from` + `to` moves, `to` + `value` is a constant, `to` + `hidden` hides
/// an upstream attribute, `from` + `never_upstream` drops a tenant one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTable {
    /// The tenant-facing path: `name.givenName`,
    /// `urn:...:enterprise:2.0:User:department`, `emails[type eq "work"].value`.
    pub from: Option<String>,
    /// The upstream path, same syntax.
    pub to: Option<String>,
    /// A constant written upstream on create and replace.
    pub value: Option<Value>,
    /// Written upstream (as is) when a created or replaced resource lacks `from`.
    pub default: Option<Value>,
    /// Value transforms, applied in order on the way in and undone in reverse
    /// order on the way out.
    #[serde(default)]
    pub transform: Vec<Transform>,
    /// The element rebuilt on the way out carries `"primary": true`.
    #[serde(default)]
    pub primary: bool,
    /// An upstream attribute the IdP never sees.
    #[serde(default)]
    pub hidden: bool,
    /// A tenant attribute accepted from the IdP but never sent upstream.
    #[serde(default)]
    pub never_upstream: bool,
}

/// A value transform, written `"trim"` or `{ case = "upper" }` and so on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// Strips surrounding white space on the way in.
    Trim,
    /// Changes letter case on the way in.
    Case(Case),
    /// A reversible value map; values it does not list pass unchanged.
    Map(BTreeMap<String, String>),
    /// Like `map`, but a value it does not list is 400 `invalidValue`.
    MapStrict(BTreeMap<String, String>),
    /// A boolean as `[true_value, false_value]`: `["Y", "N"]`, `[1, 0]`.
    Bool([Value; 2]),
    /// A list of strings as one string joined by this separator.
    Join(String),
}

/// Letter case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Case {
    Upper,
    Lower,
}

/// What happens to attributes no rule names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unmapped {
    /// They pass through unchanged, both ways.
    #[default]
    Pass,
    /// They are dropped, both ways.
    Drop,
}

// === impl MappingTable ===

impl MappingTable {
    /// Parses TOML text; the error names the line and the key at fault.
    pub fn from_toml(text: &str) -> Result<MappingTable, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Reads and parses a table file.
    pub fn load(path: &Path) -> Result<MappingTable, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}
