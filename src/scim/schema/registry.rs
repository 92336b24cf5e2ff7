//! Resource types and the registry of schemas a service provider serves
//! (RFC 7643 §6, §7), and the resolution of attribute paths against them.
use super::{
    AttrType, Attribute, Mutability, Returned, Schema, Uniqueness, ENTERPRISE_USER_SCHEMA,
    GROUP_SCHEMA, RESOURCE_TYPE_SCHEMA, USER_SCHEMA,
};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::path::AttrPath;
use crate::scim::validate_raw::Plans;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

/// An extension schema of a resource type (RFC 7643 §6 `schemaExtensions`).
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaExtension {
    pub schema: String,
    pub required: bool,
}

/// A resource type: its name, endpoint, core schema and extensions.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    /// The name and id, e.g. `User`.
    pub name: String,
    /// The endpoint relative to the base URL, e.g. `/Users`.
    pub endpoint: String,
    pub description: String,
    /// The URN of the core schema.
    pub schema: String,
    pub extensions: Vec<SchemaExtension>,
}

/// The schemas and resource types of one service provider.
#[derive(Debug, Clone)]
pub struct SchemaRegistry {
    schemas: Vec<Schema>,
    /// Lower-cased schema URN → index into `schemas`.
    by_id: HashMap<String, usize>,
    resource_types: Vec<ResourceType>,
    common: Vec<Attribute>,
    /// The exact-name indexes of `validate_raw`, built on first use and
    /// dropped by every change.
    raw_plans: OnceLock<Plans>,
}

/// Where a resolved attribute lives.
#[derive(Debug, Clone, Copy)]
pub struct ResolvedAttr<'a> {
    /// The URN of the schema that defines the attribute (`None` for the
    /// common attributes `id`, `externalId`, `meta` of RFC 7643 §3.1).
    pub schema: Option<&'a str>,
    /// `Some(urn)` when the attribute's value sits inside the extension
    /// object `resource[urn]` rather than at the top level.
    pub extension: Option<&'a str>,
    /// The top-level attribute.
    pub attr: &'a Attribute,
    /// The sub-attribute, when the path has one.
    pub sub: Option<&'a Attribute>,
}

impl ResolvedAttr<'_> {
    /// The definition the path finally names: the sub-attribute if any.
    pub fn target(&self) -> &Attribute {
        self.sub.unwrap_or(self.attr)
    }
}

/// The common attributes of every resource (RFC 7643 §3.1).
pub fn common_attributes() -> Vec<Attribute> {
    let mut id = Attribute::new("id", AttrType::String);
    id.case_exact = true;
    id.mutability = Mutability::ReadOnly;
    id.returned = Returned::Always;
    id.uniqueness = Uniqueness::Server;
    id.description =
        "A unique identifier for a SCIM resource as defined by the service provider.".into();
    let mut external_id = Attribute::new("externalId", AttrType::String);
    external_id.case_exact = true;
    external_id.description =
        "An identifier for the resource as defined by the provisioning client.".into();
    let meta_sub = |name: &str, ty: AttrType| {
        let mut a = Attribute::new(name, ty);
        a.mutability = Mutability::ReadOnly;
        a.case_exact = true;
        a
    };
    let mut meta = Attribute::new("meta", AttrType::Complex);
    meta.mutability = Mutability::ReadOnly;
    meta.description = "A complex attribute containing resource metadata.".into();
    meta.sub_attributes = vec![
        meta_sub("resourceType", AttrType::String),
        meta_sub("created", AttrType::DateTime),
        meta_sub("lastModified", AttrType::DateTime),
        meta_sub("location", AttrType::Reference),
        meta_sub("version", AttrType::String),
    ];
    vec![id, external_id, meta]
}

// === impl ResourceType ===

impl ResourceType {
    /// The RFC 7643 §6 representation served from `/ResourceTypes/{name}`.
    /// `base_url` is the service provider's base URL without trailing slash.
    pub fn to_json(&self, base_url: &str) -> Value {
        let mut v = json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema,
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{base_url}/ResourceTypes/{}", self.name),
            },
        });
        if !self.extensions.is_empty() {
            v["schemaExtensions"] = Value::Array(
                self.extensions
                    .iter()
                    .map(|e| json!({"schema": e.schema, "required": e.required}))
                    .collect(),
            );
        }
        v
    }

    /// Every schema URN of this resource type, core first.
    pub fn schema_urns(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.schema.as_str())
            .chain(self.extensions.iter().map(|e| e.schema.as_str()))
    }

    /// The extension whose URN equals `urn`, ignoring case.
    pub fn extension(&self, urn: &str) -> Option<&SchemaExtension> {
        self.extensions
            .iter()
            .find(|e| e.schema.eq_ignore_ascii_case(urn))
    }
}

// === impl SchemaRegistry ===

impl Default for SchemaRegistry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl SchemaRegistry {
    /// An empty registry (no schemas, no resource types).
    pub fn empty() -> Self {
        SchemaRegistry {
            schemas: Vec::new(),
            by_id: HashMap::new(),
            resource_types: Vec::new(),
            common: common_attributes(),
            raw_plans: OnceLock::new(),
        }
    }

    /// User (with the Enterprise User extension) and Group.
    pub fn builtin() -> Self {
        let mut r = Self::empty();
        r.add_schema(super::core_user());
        r.add_schema(super::enterprise_user());
        r.add_schema(super::core_group());
        r.resource_types.push(ResourceType {
            name: "User".into(),
            endpoint: "/Users".into(),
            description: "User Account".into(),
            schema: USER_SCHEMA.into(),
            extensions: vec![SchemaExtension {
                schema: ENTERPRISE_USER_SCHEMA.into(),
                required: false,
            }],
        });
        r.resource_types.push(ResourceType {
            name: "Group".into(),
            endpoint: "/Groups".into(),
            description: "Group".into(),
            schema: GROUP_SCHEMA.into(),
            extensions: Vec::new(),
        });
        r
    }

    /// Adds or replaces a schema.
    pub fn add_schema(&mut self, schema: Schema) {
        self.raw_plans = OnceLock::new();
        let key = schema.id.to_ascii_lowercase();
        match self.by_id.get(&key) {
            Some(&i) => self.schemas[i] = schema,
            None => {
                self.by_id.insert(key, self.schemas.len());
                self.schemas.push(schema);
            }
        }
    }

    /// Adds an extension schema to a resource type. The schema must be known.
    pub fn extend_resource_type(
        &mut self,
        resource_type: &str,
        urn: &str,
        required: bool,
    ) -> ScimResult<()> {
        self.raw_plans = OnceLock::new();
        if self.schema(urn).is_none() {
            return Err(ScimError::invalid_value(format!(
                "unknown schema \"{urn}\""
            )));
        }
        let rt = self
            .resource_types
            .iter_mut()
            .find(|rt| rt.name.eq_ignore_ascii_case(resource_type))
            .ok_or_else(|| {
                ScimError::invalid_value(format!("unknown resource type \"{resource_type}\""))
            })?;
        if rt.extension(urn).is_none() {
            rt.extensions.push(SchemaExtension {
                schema: urn.to_string(),
                required,
            });
        }
        Ok(())
    }

    /// Loads every `*.json` file of `dir` as an RFC 7643 §7 schema (a single
    /// schema object or an array of them). Returns the loaded URNs.
    pub fn load_schema_dir(&mut self, dir: &Path) -> ScimResult<Vec<String>> {
        let read_err = |p: &Path, e: &dyn std::fmt::Display| {
            ScimError::invalid_value(format!("cannot read schema file {}: {e}", p.display()))
        };
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| read_err(dir, &e))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        entries.sort();
        let mut loaded = Vec::new();
        for path in entries {
            let text = std::fs::read_to_string(&path).map_err(|e| read_err(&path, &e))?;
            let v: Value = serde_json::from_str(&text).map_err(|e| read_err(&path, &e))?;
            let items = match v {
                Value::Array(items) => items,
                other => vec![other],
            };
            for item in items {
                let schema = Schema::from_json(&item)
                    .map_err(|e| e.with_context(&path.display().to_string()))?;
                loaded.push(schema.id.clone());
                self.add_schema(schema);
            }
        }
        Ok(loaded)
    }

    /// Every schema, in registration order.
    pub fn schemas(&self) -> &[Schema] {
        &self.schemas
    }

    /// The schema with this URN, ignoring case.
    pub fn schema(&self, urn: &str) -> Option<&Schema> {
        self.by_id
            .get(&urn.to_ascii_lowercase())
            .map(|&i| &self.schemas[i])
    }

    /// Every resource type.
    pub fn resource_types(&self) -> &[ResourceType] {
        &self.resource_types
    }

    /// The resource type with this name (`User`), ignoring case.
    pub fn resource_type(&self, name: &str) -> Option<&ResourceType> {
        self.resource_types
            .iter()
            .find(|rt| rt.name.eq_ignore_ascii_case(name))
    }

    /// The resource type served at `endpoint` (`/Users`), ignoring case.
    pub fn resource_type_by_endpoint(&self, endpoint: &str) -> Option<&ResourceType> {
        let endpoint = endpoint.trim_start_matches('/');
        self.resource_types.iter().find(|rt| {
            rt.endpoint
                .trim_start_matches('/')
                .eq_ignore_ascii_case(endpoint)
        })
    }

    /// What `validate_raw` looks attribute names up in.
    pub fn raw_plans(&self) -> &Plans {
        self.raw_plans.get_or_init(|| Plans::build(self))
    }

    /// The common attributes (`id`, `externalId`, `meta`).
    pub fn common_attributes(&self) -> &[Attribute] {
        &self.common
    }

    /// True when `urn` names the whole of an extension of `rt` (a PATCH path
    /// or `attributes` entry may be just the extension URN).
    pub fn is_extension_urn(&self, rt: &ResourceType, urn: &str) -> bool {
        rt.extension(urn).is_some()
    }

    /// Resolves a path against a resource type: common attributes, then the
    /// core schema, then extensions. A URN prefix selects the schema; an
    /// unqualified extension attribute is accepted when no core attribute has
    /// its name (clients commonly omit the URN).
    pub fn resolve<'a>(
        &'a self,
        rt: &'a ResourceType,
        path: &AttrPath,
    ) -> ScimResult<ResolvedAttr<'a>> {
        let unknown = || {
            ScimError::invalid_path(format!(
                "attribute \"{path}\" is not defined for resource type {}",
                rt.name
            ))
        };
        let (schema, attr, extension) = match &path.urn {
            Some(urn) => {
                let schema = rt
                    .schema_urns()
                    .find(|u| u.eq_ignore_ascii_case(urn))
                    .and_then(|u| self.schema(u))
                    .ok_or_else(unknown)?;
                let attr = schema.attribute(&path.attr).ok_or_else(unknown)?;
                let ext =
                    (!schema.id.eq_ignore_ascii_case(&rt.schema)).then_some(schema.id.as_str());
                (Some(schema.id.as_str()), attr, ext)
            }
            None => {
                if let Some(a) = self
                    .common
                    .iter()
                    .find(|a| a.name.eq_ignore_ascii_case(&path.attr))
                {
                    (None, a, None)
                } else {
                    let core = self.schema(&rt.schema).ok_or_else(unknown)?;
                    if let Some(a) = core.attribute(&path.attr) {
                        (Some(core.id.as_str()), a, None)
                    } else {
                        rt.extensions
                            .iter()
                            .filter_map(|e| self.schema(&e.schema))
                            .find_map(|s| {
                                s.attribute(&path.attr)
                                    .map(|a| (Some(s.id.as_str()), a, Some(s.id.as_str())))
                            })
                            .ok_or_else(unknown)?
                    }
                }
            }
        };
        let sub = match &path.sub_attr {
            None => None,
            Some(name) => Some(attr.sub_attribute(name).ok_or_else(unknown)?),
        };
        Ok(ResolvedAttr {
            schema,
            extension,
            attr,
            sub,
        })
    }

    /// The attributes of a resource type's core schema plus the common ones,
    /// and those of each extension with its URN: everything a resource of
    /// this type may hold.
    pub fn attributes_of<'a>(
        &'a self,
        rt: &'a ResourceType,
    ) -> Vec<(Option<&'a str>, &'a Attribute)> {
        let mut out: Vec<(Option<&str>, &Attribute)> =
            self.common.iter().map(|a| (None, a)).collect();
        for urn in rt.schema_urns() {
            if let Some(s) = self.schema(urn) {
                let ext = (!s.id.eq_ignore_ascii_case(&rt.schema)).then_some(s.id.as_str());
                out.extend(s.attributes.iter().map(|a| (ext, a)));
            }
        }
        out
    }
}
