//! Validation of a resource body for create (POST) and replace (PUT),
//! RFC 7643 §2 and §7, RFC 7644 §3.3 and §3.5.1.
//!
//! The result is the normalized resource the store keeps: attribute names
//! in their schema spelling, extension attributes under their URN, readOnly
//! input dropped, nulls and empty arrays removed (RFC 7643 §2.5:
//! unassigned), and `schemas` listing the core URN and the extensions
//! present. Every failure names the attribute.
use crate::scim::datetime::DateTime;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::json::get_ci;
use crate::scim::schema::{AttrType, Attribute, Mutability, ResourceType, Schema, SchemaRegistry};
use serde_json::{Map, Value};

/// Validates `body` as the new state of a resource of type `rt`.
///
/// `existing` is `None` for a create and the current resource for a
/// replace (immutable attributes may not change; when the body omits one,
/// the existing value is kept). Returns the normalized resource: attribute
/// names in their schema spelling, `schemas` set to the core URN plus the
/// extensions present, readOnly attributes (`id`, `meta`, `groups`, ...)
/// dropped, nulls and empty arrays removed (they mean "unassigned",
/// RFC 7643 §2.5). Errors name the attribute.
pub fn validate_resource(
    registry: &SchemaRegistry,
    rt: &ResourceType,
    body: &Value,
    existing: Option<&Value>,
) -> ScimResult<Value> {
    validate_resource_owned(registry, rt, body.clone(), existing)
}

/// [`validate_resource`] taking the body by value: its strings and arrays
/// move into the result instead of being copied (the gateway's path).
pub fn validate_resource_owned(
    registry: &SchemaRegistry,
    rt: &ResourceType,
    body: Value,
    existing: Option<&Value>,
) -> ScimResult<Value> {
    let Value::Object(obj) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "a {} must be a JSON object",
            rt.name
        )));
    };
    let core = registry.schema(&rt.schema).ok_or_else(|| {
        ScimError::internal(format!(
            "schema {} of resource type {} is not loaded",
            rt.schema, rt.name
        ))
    })?;
    check_schemas(registry, rt, &obj)?;

    // `schemas` first (set at the end), then the attributes in the
    // client's order, then the extensions: one map, sized once.
    let mut out = Map::with_capacity(obj.len() + 1);
    out.insert("schemas".into(), Value::Null);
    let mut extensions: Vec<(&Schema, Map<String, Value>)> = Vec::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(ext) = rt.extension(&key) {
            let schema = registry.schema(&ext.schema).ok_or_else(|| {
                ScimError::internal(format!("extension schema {} is not loaded", ext.schema))
            })?;
            let Value::Object(ext_obj) = value else {
                if value.is_null() {
                    continue;
                }
                return Err(ScimError::invalid_value(format!(
                    "\"{}\" must be an object holding the extension's attributes",
                    schema.id
                )));
            };
            let mut ext_out = Map::with_capacity(ext_obj.len());
            for (k, v) in ext_obj {
                // Client libraries echo the extension's `schemas` inside it.
                if k.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                let attr = schema.attribute(&k).ok_or_else(|| {
                    ScimError::invalid_value(format!(
                        "attribute \"{k}\" is not defined in schema {}",
                        schema.id
                    ))
                })?;
                if let Some(v) = check_owned(attr, v, At::Ext(&schema.id, &attr.name))? {
                    ext_out.insert(attr.name.clone(), v);
                }
            }
            extensions.push((schema, ext_out));
            continue;
        }
        let name = match key.rsplit_once(':') {
            // `urn:...:core:2.0:User:userName` names a core attribute.
            Some((urn, name)) if urn.eq_ignore_ascii_case(&core.id) => name,
            Some(_) => {
                return Err(ScimError::invalid_value(format!(
                    "\"{key}\" is not a schema extension of resource type {}",
                    rt.name
                )))
            }
            None => key.as_str(),
        };
        let attr = registry
            .common_attributes()
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .or_else(|| core.attribute(name))
            .ok_or_else(|| {
                ScimError::invalid_value(format!(
                    "attribute \"{name}\" is not defined for resource type {}",
                    rt.name
                ))
            })?;
        if let Some(v) = check_owned(attr, value, At::Name(&attr.name))? {
            out.insert(attr.name.clone(), v);
        }
    }

    // Required attributes (RFC 7643 §2.2), readOnly ones excepted: the
    // service provider sets those.
    check_required(&core.attributes, &out, "")?;
    for ext in &rt.extensions {
        let present = extensions
            .iter()
            .find(|(s, m)| s.id.eq_ignore_ascii_case(&ext.schema) && !m.is_empty());
        match present {
            Some((schema, m)) => check_required(&schema.attributes, m, &format!("{}:", schema.id))?,
            None if ext.required => {
                return Err(ScimError::invalid_value(format!(
                    "the extension {} is required for resource type {}",
                    ext.schema, rt.name
                )))
            }
            None => {}
        }
    }

    if let Some(existing) = existing {
        keep_immutable(&core.attributes, &mut out, existing, None)?;
        for (schema, m) in &mut extensions {
            let old = existing.as_object().and_then(|o| get_ci(o, &schema.id));
            if let Some(old) = old {
                keep_immutable(&schema.attributes, m, old, Some(&schema.id))?;
            }
        }
    }

    let mut schemas = vec![Value::String(core.id.clone())];
    for (schema, m) in extensions {
        if !m.is_empty() {
            schemas.push(Value::String(schema.id.clone()));
            out.insert(schema.id.clone(), Value::Object(m));
        }
    }
    out.insert("schemas".into(), Value::Array(schemas));
    Ok(Value::Object(out))
}

/// `schemas` is required and names the core schema and only schemas of
/// this resource type (RFC 7643 §3).
fn check_schemas(
    registry: &SchemaRegistry,
    rt: &ResourceType,
    obj: &Map<String, Value>,
) -> ScimResult<()> {
    let list = match get_ci(obj, "schemas") {
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(ScimError::invalid_value(
                "schemas must be an array of schema URNs",
            ))
        }
        None => {
            return Err(ScimError::invalid_value(format!(
                "schemas is required and must include \"{}\"",
                rt.schema
            )))
        }
    };
    let mut has_core = false;
    for urn in list {
        let Some(urn) = urn.as_str() else {
            return Err(ScimError::invalid_value(
                "schemas must be an array of schema URNs",
            ));
        };
        if urn.eq_ignore_ascii_case(&rt.schema) {
            has_core = true;
        } else if rt.extension(urn).is_none() || registry.schema(urn).is_none() {
            return Err(ScimError::invalid_value(format!(
                "schemas: \"{urn}\" is not a schema of resource type {}",
                rt.name
            )));
        }
    }
    if has_core {
        Ok(())
    } else {
        Err(ScimError::invalid_value(format!(
            "schemas must include \"{}\"",
            rt.schema
        )))
    }
}

/// Checks one attribute value; `None` means "unassigned or dropped".
/// `path` names the attribute in error messages. (PATCH reuses it.)
pub(crate) fn check_value(
    attr: &Attribute,
    value: &Value,
    path: &str,
) -> ScimResult<Option<Value>> {
    if value.is_null() || attr.mutability == Mutability::ReadOnly {
        return Ok(None);
    }
    check_owned(attr, value.clone(), At::Name(path))
}

/// Where a value is, for error messages only: formatted on failure, never
/// on the way through.
#[derive(Clone, Copy)]
enum At<'a> {
    Name(&'a str),
    /// `urn:attr` of an extension attribute.
    Ext(&'a str, &'a str),
    /// `parent.sub`.
    Sub(&'a At<'a>, &'a str),
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Name(n) => f.write_str(n),
            At::Ext(urn, n) => write!(f, "{urn}:{n}"),
            At::Sub(parent, n) => write!(f, "{parent}.{n}"),
        }
    }
}

/// [`check_value`] on an owned value (moved into the result).
fn check_owned(attr: &Attribute, value: Value, at: At<'_>) -> ScimResult<Option<Value>> {
    if value.is_null() || attr.mutability == Mutability::ReadOnly {
        return Ok(None);
    }
    if !attr.multi_valued {
        if value.is_array() {
            return Err(ScimError::invalid_value(format!(
                "{at} is single-valued; an array was given"
            )));
        }
        return check_single(attr, value, at);
    }
    let Value::Array(items) = value else {
        return Err(ScimError::invalid_value(format!(
            "{at} is multi-valued and must be an array"
        )));
    };
    let mut out = Vec::with_capacity(items.len());
    let mut primaries = 0;
    for item in items {
        if let Some(v) = check_single(attr, item, at)? {
            if v.get("primary") == Some(&Value::Bool(true)) {
                primaries += 1;
            }
            out.push(v);
        }
    }
    if primaries > 1 {
        // RFC 7643 §2.4: the primary value "true" MUST appear no more than once.
        return Err(ScimError::invalid_value(format!(
            "{at}: more than one value has \"primary\": true"
        )));
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// Checks a single value (an element of a multi-valued attribute or the
/// value of a single-valued one) against the attribute's type.
fn check_single(attr: &Attribute, value: Value, at: At<'_>) -> ScimResult<Option<Value>> {
    let wrong = |expected: &str, value: &Value| {
        ScimError::invalid_value(format!("{at} must be {expected}, not {}", json_kind(value)))
    };
    let ok = |fits: bool, value: Value, expected: &str| {
        if fits {
            Ok(Some(value))
        } else {
            Err(wrong(expected, &value))
        }
    };
    match attr.attr_type {
        AttrType::Complex => {
            let obj = match value {
                Value::Object(obj) => obj,
                Value::Null => return Ok(None),
                other => return Err(wrong("an object (complex attribute)", &other)),
            };
            let mut out = Map::new();
            for (k, v) in obj {
                let sub = attr.sub_attribute(&k).ok_or_else(|| {
                    ScimError::invalid_value(format!("\"{k}\" is not a sub-attribute of {at}"))
                })?;
                if let Some(v) = check_owned(sub, v, At::Sub(&at, &sub.name))? {
                    out.insert(sub.name.clone(), v);
                }
            }
            if out.is_empty() {
                return Ok(None);
            }
            if let Some(missing) = missing_required(&attr.sub_attributes, &out) {
                return Err(ScimError::invalid_value(format!(
                    "{at}.{missing} is required"
                )));
            }
            Ok(Some(Value::Object(out)))
        }
        AttrType::String => ok(value.is_string(), value, "a string"),
        AttrType::Boolean => ok(value.is_boolean(), value, "a boolean (true or false)"),
        AttrType::Decimal => ok(value.is_number(), value, "a number"),
        AttrType::Integer => ok(value.is_i64() || value.is_u64(), value, "an integer"),
        AttrType::Reference => ok(value.is_string(), value, "a reference (a string)"),
        AttrType::DateTime => match value.as_str() {
            Some(s) if DateTime::parse(s).is_some() => Ok(Some(value)),
            Some(s) => Err(ScimError::invalid_value(format!(
                "{at} must be an RFC 3339 date-time such as 2011-05-13T04:42:34Z, not \"{}\"",
                s.chars().take(64).collect::<String>()
            ))),
            None => Err(wrong("a date-time string", &value)),
        },
        AttrType::Binary => match value.as_str() {
            Some(s) if is_base64(s) => Ok(Some(value)),
            Some(_) => Err(ScimError::invalid_value(format!(
                "{at} must be base64-encoded"
            ))),
            None => Err(wrong("a base64 string", &value)),
        },
    }
}

/// Required, writable attributes of `attrs` must be present in `values`.
fn check_required(
    attrs: &[Attribute],
    values: &Map<String, Value>,
    prefix: &str,
) -> ScimResult<()> {
    match missing_required(attrs, values) {
        Some(name) => Err(ScimError::invalid_value(format!(
            "{prefix}{name} is required"
        ))),
        None => Ok(()),
    }
}

/// The first required, writable attribute of `attrs` missing in `values`.
fn missing_required<'a>(attrs: &'a [Attribute], values: &Map<String, Value>) -> Option<&'a str> {
    attrs
        .iter()
        .find(|a| {
            a.required && a.mutability != Mutability::ReadOnly && !values.contains_key(&a.name)
        })
        .map(|a| a.name.as_str())
}

/// On replace: an immutable attribute that has a value keeps it. Given
/// with a different value → 400 `mutability`; omitted → the existing value
/// is kept. Multi-valued attributes with immutable sub-attributes (Group
/// `members`) may gain and lose whole elements, so they are not compared.
fn keep_immutable(
    attrs: &[Attribute],
    out: &mut Map<String, Value>,
    existing: &Value,
    urn: Option<&str>,
) -> ScimResult<()> {
    let Some(existing) = existing.as_object() else {
        return Ok(());
    };
    for a in attrs {
        if a.multi_valued {
            continue;
        }
        let Some(old) = get_ci(existing, &a.name) else {
            continue;
        };
        let name = match urn {
            Some(u) => format!("{u}:{}", a.name),
            None => a.name.clone(),
        };
        if a.mutability == Mutability::Immutable {
            match out.get(&a.name) {
                Some(new) if new != old => {
                    return Err(ScimError::mutability(format!(
                        "{name} is immutable and already set; it cannot be changed"
                    )))
                }
                Some(_) => {}
                None => {
                    out.insert(a.name.clone(), old.clone());
                }
            }
        } else if a.is_complex() {
            // Immutable sub-attributes of a single-valued complex attribute.
            for sub in a
                .sub_attributes
                .iter()
                .filter(|s| s.mutability == Mutability::Immutable)
            {
                let Some(old_sub) = old.get(&sub.name) else {
                    continue;
                };
                let new_sub = out.get(&a.name).and_then(|n| n.get(&sub.name));
                if new_sub.is_some_and(|n| n != old_sub) {
                    return Err(ScimError::mutability(format!(
                        "{name}.{} is immutable and already set; it cannot be changed",
                        sub.name
                    )));
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn is_base64(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+/=-_\r\n ".contains(&b))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
