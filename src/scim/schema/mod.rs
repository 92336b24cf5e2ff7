//! The schema model of RFC 7643 §2 and §7.
//!
//! A [`Schema`] is a list of [`Attribute`]s with their characteristics
//! (type, multiValued, required, caseExact, mutability, returned, uniqueness,
//! canonicalValues, referenceTypes, subAttributes). Schemas are read from and
//! written to the RFC 7643 §7 JSON representation, so extension schemas can
//! be loaded from files and served from `/Schemas` unchanged.
//!
//! Attribute names are case-insensitive (RFC 7643 §2.1): every lookup here
//! ignores ASCII case. Depends on serde_json and std only.
use crate::scim::error::{ScimError, ScimResult};
use serde_json::{json, Map, Value};

pub(crate) mod builtin;
mod registry;

pub(crate) use builtin::{core_group, core_user, enterprise_user};
pub use registry::{
    common_attributes, ResolvedAttr, ResourceType, SchemaExtension, SchemaRegistry,
};

/// URN of the core User schema (RFC 7643 §4.1).
pub(crate) const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// URN of the core Group schema (RFC 7643 §4.2).
pub(crate) const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// URN of the Enterprise User extension (RFC 7643 §4.3).
pub(crate) const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// URN of the Schema resource schema (RFC 7643 §7).
pub(crate) const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// URN of the ResourceType schema (RFC 7643 §6).
pub(crate) const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Reference,
    Complex,
    Binary,
}

/// Whether and how an attribute may be written (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// When an attribute is returned in a response (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

/// How unique an attribute's value must be (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

/// One attribute definition with all its characteristics.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub attr_type: AttrType,
    pub multi_valued: bool,
    pub description: String,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: Vec<String>,
    pub reference_types: Vec<String>,
    pub sub_attributes: Vec<Attribute>,
}

/// A schema: its URN, name, description and attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub id: String,
    pub name: String,
    pub description: String,
    pub attributes: Vec<Attribute>,
}

// === impl AttrType ===

impl AttrType {
    /// The keyword used in schema JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
            AttrType::Binary => "binary",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            AttrType::String,
            AttrType::Boolean,
            AttrType::Decimal,
            AttrType::Integer,
            AttrType::DateTime,
            AttrType::Reference,
            AttrType::Complex,
            AttrType::Binary,
        ]
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

// === impl Mutability ===

impl Mutability {
    /// The keyword used in schema JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            Mutability::ReadOnly,
            Mutability::ReadWrite,
            Mutability::Immutable,
            Mutability::WriteOnly,
        ]
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

// === impl Returned ===

impl Returned {
    /// The keyword used in schema JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            Returned::Always,
            Returned::Never,
            Returned::Default,
            Returned::Request,
        ]
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

// === impl Uniqueness ===

impl Uniqueness {
    /// The keyword used in schema JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Uniqueness::None, Uniqueness::Server, Uniqueness::Global]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

// === impl Attribute ===

impl Attribute {
    /// A single-valued, optional, readWrite, caseExact=false attribute with the
    /// RFC 7643 §2.2 defaults; refine with the builder methods.
    pub fn new(name: &str, attr_type: AttrType) -> Self {
        Attribute {
            name: name.to_string(),
            attr_type,
            multi_valued: false,
            description: String::new(),
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        }
    }

    /// Finds a sub-attribute by name, ignoring case (RFC 7643 §2.1).
    pub fn sub_attribute(&self, name: &str) -> Option<&Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// True for a complex attribute.
    pub fn is_complex(&self) -> bool {
        self.attr_type == AttrType::Complex
    }

    /// Reads one attribute definition from RFC 7643 §7 JSON. `at` names the
    /// place for error messages.
    pub fn from_json(v: &Value, at: &str) -> ScimResult<Attribute> {
        let obj = v
            .as_object()
            .ok_or_else(|| schema_err(at, "attribute definition is not an object"))?;
        let name = str_field(obj, "name", at)?
            .ok_or_else(|| schema_err(at, "attribute has no \"name\""))?;
        let here = format!("{at}.{name}");
        let ty = str_field(obj, "type", &here)?.unwrap_or("string");
        let attr_type = AttrType::parse(ty)
            .ok_or_else(|| schema_err(&here, &format!("unknown type \"{ty}\"")))?;
        let mut a = Attribute::new(name, attr_type);
        a.multi_valued = bool_field(obj, "multiValued", &here)?.unwrap_or(false);
        a.required = bool_field(obj, "required", &here)?.unwrap_or(false);
        a.case_exact = bool_field(obj, "caseExact", &here)?.unwrap_or(false);
        a.description = str_field(obj, "description", &here)?
            .unwrap_or_default()
            .to_string();
        if let Some(m) = str_field(obj, "mutability", &here)? {
            a.mutability = Mutability::parse(m)
                .ok_or_else(|| schema_err(&here, &format!("unknown mutability \"{m}\"")))?;
        }
        if let Some(r) = str_field(obj, "returned", &here)? {
            a.returned = Returned::parse(r)
                .ok_or_else(|| schema_err(&here, &format!("unknown returned \"{r}\"")))?;
        }
        if let Some(u) = str_field(obj, "uniqueness", &here)? {
            a.uniqueness = Uniqueness::parse(u)
                .ok_or_else(|| schema_err(&here, &format!("unknown uniqueness \"{u}\"")))?;
        }
        a.canonical_values = str_list(obj, "canonicalValues", &here)?;
        a.reference_types = str_list(obj, "referenceTypes", &here)?;
        if let Some(subs) = obj.get("subAttributes") {
            let subs = subs
                .as_array()
                .ok_or_else(|| schema_err(&here, "subAttributes is not an array"))?;
            for s in subs {
                let sub = Attribute::from_json(s, &here)?;
                if sub.is_complex() {
                    // RFC 7643 §2.3.8: a complex attribute has no complex
                    // sub-attributes.
                    return Err(schema_err(&here, "complex sub-attributes are not allowed"));
                }
                a.sub_attributes.push(sub);
            }
        }
        if a.is_complex() && a.sub_attributes.is_empty() {
            return Err(schema_err(&here, "complex attribute has no subAttributes"));
        }
        Ok(a)
    }

    /// The RFC 7643 §7 JSON representation.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.attr_type.as_str()));
        if self.is_complex() {
            let subs: Vec<Value> = self.sub_attributes.iter().map(Attribute::to_json).collect();
            m.insert("subAttributes".into(), Value::Array(subs));
        }
        m.insert("multiValued".into(), json!(self.multi_valued));
        m.insert("description".into(), json!(self.description));
        m.insert("required".into(), json!(self.required));
        if !self.canonical_values.is_empty() {
            m.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if matches!(
            self.attr_type,
            AttrType::String | AttrType::Reference | AttrType::Binary
        ) {
            m.insert("caseExact".into(), json!(self.case_exact));
        }
        m.insert("mutability".into(), json!(self.mutability.as_str()));
        m.insert("returned".into(), json!(self.returned.as_str()));
        if !self.is_complex() {
            m.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        }
        if self.attr_type == AttrType::Reference {
            m.insert("referenceTypes".into(), json!(self.reference_types));
        }
        Value::Object(m)
    }
}

// === impl Schema ===

impl Schema {
    /// Finds a top-level attribute by name, ignoring case (RFC 7643 §2.1).
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Reads a schema from its RFC 7643 §7 JSON representation (as in the
    /// files under `config/schemas/`).
    pub fn from_json(v: &Value) -> ScimResult<Schema> {
        let obj = v
            .as_object()
            .ok_or_else(|| schema_err("schema", "schema is not a JSON object"))?;
        let id = str_field(obj, "id", "schema")?
            .ok_or_else(|| schema_err("schema", "schema has no \"id\""))?;
        if !id.to_ascii_lowercase().starts_with("urn:") {
            return Err(schema_err(id, "schema id must be a URN"));
        }
        let name = str_field(obj, "name", id)?.unwrap_or_default().to_string();
        let description = str_field(obj, "description", id)?
            .unwrap_or_default()
            .to_string();
        let attrs = obj
            .get("attributes")
            .and_then(Value::as_array)
            .ok_or_else(|| schema_err(id, "schema has no \"attributes\" array"))?;
        let mut attributes: Vec<Attribute> = Vec::with_capacity(attrs.len());
        for a in attrs {
            let attr = Attribute::from_json(a, id)?;
            if attributes
                .iter()
                .any(|b| b.name.eq_ignore_ascii_case(&attr.name))
            {
                return Err(schema_err(
                    id,
                    &format!("attribute \"{}\" is defined twice", attr.name),
                ));
            }
            attributes.push(attr);
        }
        Ok(Schema {
            id: id.to_string(),
            name,
            description,
            attributes,
        })
    }

    /// The RFC 7643 §7 JSON representation, as served from `/Schemas/{id}`.
    /// `location` is the absolute URL of this schema resource.
    pub fn to_json(&self, location: &str) -> Value {
        json!({
            "schemas": [SCHEMA_SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(Attribute::to_json).collect::<Vec<_>>(),
            "meta": {"resourceType": "Schema", "location": location},
        })
    }
}

fn schema_err(at: &str, msg: &str) -> ScimError {
    ScimError::invalid_value(format!("schema {at}: {msg}"))
}

fn str_field<'a>(obj: &'a Map<String, Value>, key: &str, at: &str) -> ScimResult<Option<&'a str>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(schema_err(at, &format!("\"{key}\" must be a string"))),
    }
}

fn bool_field(obj: &Map<String, Value>, key: &str, at: &str) -> ScimResult<Option<bool>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(schema_err(at, &format!("\"{key}\" must be a boolean"))),
    }
}

fn str_list(obj: &Map<String, Value>, key: &str, at: &str) -> ScimResult<Vec<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| schema_err(at, &format!("\"{key}\" must hold strings")))
            })
            .collect(),
        Some(_) => Err(schema_err(at, &format!("\"{key}\" must be an array"))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
