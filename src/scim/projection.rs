//! `attributes` / `excludedAttributes` projection with the `returned`
//! characteristic (RFC 7644 §3.4.2.5, §3.9; RFC 7643 §2.4).
//!
//! When both parameters are given, `attributes` wins (it already names
//! everything returned). `schemas` and `returned: always` attributes (`id`)
//! are always kept; `returned: never` ones (`password`) never are.
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::path::AttrPath;
use crate::scim::schema::{Attribute, ResourceType, Returned, SchemaRegistry};
use serde_json::{Map, Value};

/// Which attributes a response carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    /// `attributes=`: only these plus `returned: always` ones.
    pub attributes: Vec<AttrPath>,
    /// `excludedAttributes=`: all `returned: default` ones but these.
    pub excluded: Vec<AttrPath>,
}

/// How one attribute is treated.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Keep {
    All,
    None,
    /// Some sub-attributes only (or, for an extension URN key, some of its
    /// attributes).
    Some,
}

impl Projection {
    /// Parses the comma-separated parameter values (either may be absent).
    /// Bad paths are 400 `invalidPath`.
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> ScimResult<Projection> {
        Ok(Projection {
            attributes: parse_list(attributes)?,
            excluded: parse_list(excluded)?,
        })
    }

    /// From lists of paths (a SearchRequest's arrays).
    pub fn from_lists(attributes: &[String], excluded: &[String]) -> ScimResult<Projection> {
        let parse = |list: &[String]| -> ScimResult<Vec<AttrPath>> {
            list.iter().map(|s| parse_one(s.trim())).collect()
        };
        Ok(Projection {
            attributes: parse(attributes)?,
            excluded: parse(excluded)?,
        })
    }

    /// True when the projection changes nothing beyond removing
    /// `returned: never` attributes.
    pub fn is_default(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    /// Applies the projection to a resource: `returned: never` attributes
    /// (e.g. `password`) are always removed, `always` ones always kept,
    /// `request` ones only when named in `attributes`.
    pub fn apply(&self, registry: &SchemaRegistry, rt: &ResourceType, resource: &Value) -> Value {
        let Value::Object(obj) = resource else {
            return resource.clone();
        };
        let kept = self.copy_kept(registry, rt, obj);
        self.apply_owned(registry, rt, Value::Object(kept))
    }

    /// A copy of the top-level members of `obj` that the projection may
    /// return, to finish with [`Projection::apply_owned`]: dropping an
    /// attribute must not cost a copy of it (a Group's 100,000 members).
    pub fn copy_kept(
        &self,
        registry: &SchemaRegistry,
        rt: &ResourceType,
        obj: &Map<String, Value>,
    ) -> Map<String, Value> {
        if self.is_default() {
            return obj.clone();
        }
        obj.iter()
            .filter(|(k, _)| self.may_keep(registry, rt, k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// False when the top-level member `key` is certainly not returned.
    fn may_keep(&self, registry: &SchemaRegistry, rt: &ResourceType, key: &str) -> bool {
        if key == "schemas" || rt.extension(key).is_some() {
            return true;
        }
        let attr = registry
            .common_attributes()
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(key))
            .or_else(|| registry.schema(&rt.schema).and_then(|c| c.attribute(key)));
        match attr {
            Some(attr) => self.decide(None, attr, None) != Keep::None,
            None => self.keep_unknown(key),
        }
    }

    /// Like [`Projection::apply`], consuming the resource (whole attributes
    /// that are kept are moved, never copied).
    pub fn apply_owned(
        &self,
        registry: &SchemaRegistry,
        rt: &ResourceType,
        resource: Value,
    ) -> Value {
        let Value::Object(obj) = resource else {
            return resource;
        };
        let core = registry.schema(&rt.schema);
        let mut out = Map::with_capacity(obj.len());
        for (key, value) in obj {
            if key == "schemas" {
                out.insert(key, value);
                continue;
            }
            if let Some(ext) = rt.extension(&key) {
                let Some(schema) = registry.schema(&ext.schema) else {
                    continue;
                };
                let Value::Object(ext_obj) = value else {
                    continue;
                };
                let mut ext_out = Map::new();
                for (k, v) in ext_obj {
                    let Some(attr) = schema.attribute(&k) else {
                        continue;
                    };
                    if let Some(v) = self.project_attr(Some(&schema.id), attr, v) {
                        ext_out.insert(k, v);
                    }
                }
                if !ext_out.is_empty() {
                    out.insert(key, Value::Object(ext_out));
                }
                continue;
            }
            let attr = registry
                .common_attributes()
                .iter()
                .find(|a| a.name.eq_ignore_ascii_case(&key))
                .or_else(|| core.and_then(|c| c.attribute(&key)));
            match attr {
                Some(attr) => {
                    if let Some(v) = self.project_attr(None, attr, value) {
                        out.insert(key, v);
                    }
                }
                // Not in the schema: treat as `returned: default`.
                None => {
                    if self.keep_unknown(&key) {
                        out.insert(key, value);
                    }
                }
            }
        }
        Value::Object(out)
    }

    /// The projected value of one top-level attribute, or `None`.
    fn project_attr(&self, urn: Option<&str>, attr: &Attribute, value: Value) -> Option<Value> {
        match self.decide(urn, attr, None) {
            Keep::All => Some(strip_never(attr, value)),
            Keep::None => None,
            Keep::Some => {
                let project = |element: Value| -> Option<Value> {
                    let Value::Object(o) = element else {
                        return None;
                    };
                    let kept: Map<String, Value> = o
                        .into_iter()
                        .filter(|(k, _)| {
                            attr.sub_attribute(k)
                                .is_none_or(|sub| self.decide(urn, attr, Some(sub)) == Keep::All)
                        })
                        .collect();
                    (!kept.is_empty()).then_some(Value::Object(kept))
                };
                match value {
                    Value::Array(items) => {
                        let items: Vec<Value> = items.into_iter().filter_map(project).collect();
                        (!items.is_empty()).then_some(Value::Array(items))
                    }
                    other => project(other),
                }
            }
        }
    }

    /// Whether an attribute (or one sub-attribute of it) is returned.
    fn decide(&self, urn: Option<&str>, attr: &Attribute, sub: Option<&Attribute>) -> Keep {
        let target = sub.unwrap_or(attr);
        match target.returned {
            Returned::Never => return Keep::None,
            Returned::Always => return Keep::All,
            _ => {}
        }
        if sub.is_some() && attr.returned == Returned::Always {
            // Sub-attributes of an always-returned attribute follow their
            // own characteristic only.
            return if target.returned == Returned::Request {
                Keep::None
            } else {
                Keep::All
            };
        }
        if !self.attributes.is_empty() {
            let mut partial = false;
            for p in &self.attributes {
                if !names_attr(p, urn, attr) {
                    continue;
                }
                match (&p.sub_attr, sub) {
                    // The whole attribute is named.
                    (None, _) => return Keep::All,
                    (Some(s), Some(sub)) if s.eq_ignore_ascii_case(&sub.name) => return Keep::All,
                    (Some(_), Some(_)) => {}
                    (Some(_), None) => partial = true,
                }
            }
            return if partial { Keep::Some } else { Keep::None };
        }
        if target.returned == Returned::Request {
            return Keep::None;
        }
        let mut partial = false;
        for p in &self.excluded {
            if !names_attr(p, urn, attr) {
                continue;
            }
            match (&p.sub_attr, sub) {
                (None, _) => return Keep::None,
                (Some(s), Some(sub)) if s.eq_ignore_ascii_case(&sub.name) => return Keep::None,
                (Some(_), Some(_)) => {}
                (Some(_), None) => partial = true,
            }
        }
        if partial {
            Keep::Some
        } else {
            Keep::All
        }
    }

    /// An attribute the schema does not know is kept like a default one.
    fn keep_unknown(&self, key: &str) -> bool {
        if !self.attributes.is_empty() {
            return self
                .attributes
                .iter()
                .any(|p| p.urn.is_none() && p.attr.eq_ignore_ascii_case(key));
        }
        !self
            .excluded
            .iter()
            .any(|p| p.urn.is_none() && p.sub_attr.is_none() && p.attr.eq_ignore_ascii_case(key))
    }
}

/// Does path `p` name attribute `attr` (of extension `urn`, or core when
/// `None`)? A path that is exactly an extension URN names all of its
/// attributes.
fn names_attr(p: &AttrPath, urn: Option<&str>, attr: &Attribute) -> bool {
    // `urn:...:enterprise:2.0:User` parses as urn `urn:...:2.0` + attr `User`.
    if let (Some(ext), Some(purn)) = (urn, &p.urn) {
        if p.sub_attr.is_none() && format!("{purn}:{}", p.attr).eq_ignore_ascii_case(ext) {
            return true;
        }
    }
    if !p.attr.eq_ignore_ascii_case(&attr.name) {
        return false;
    }
    match (&p.urn, urn) {
        (None, _) => true,
        (Some(purn), Some(ext)) => purn.eq_ignore_ascii_case(ext),
        // A core-schema URN prefix on a core attribute.
        (Some(_), None) => true,
    }
}

/// Removes `returned: never` sub-attributes of a kept attribute.
fn strip_never(attr: &Attribute, value: Value) -> Value {
    if !attr
        .sub_attributes
        .iter()
        .any(|s| s.returned == Returned::Never)
    {
        return value;
    }
    let strip = |v: Value| match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .filter(|(k, _)| {
                    attr.sub_attribute(k)
                        .is_none_or(|s| s.returned != Returned::Never)
                })
                .collect(),
        ),
        other => other,
    };
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(strip).collect()),
        other => strip(other),
    }
}

fn parse_list(s: Option<&str>) -> ScimResult<Vec<AttrPath>> {
    let Some(s) = s else {
        return Ok(Vec::new());
    };
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(parse_one)
        .collect()
}

fn parse_one(s: &str) -> ScimResult<AttrPath> {
    AttrPath::parse(s).map_err(|e| {
        ScimError::invalid_path(format!(
            "attributes/excludedAttributes: \"{s}\" is not an attribute path ({})",
            e.detail()
        ))
    })
}

#[cfg(test)]
#[path = "projection_tests.rs"]
mod tests;
