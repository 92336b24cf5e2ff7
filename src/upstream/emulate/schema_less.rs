//! Applying a PATCH to a resource whose schema the gateway does not know
//! (the request's own PatchOp, when the schema stage did not parse it: a
//! tenant that neither validates nor maps; otherwise the tenant's view
//! applies it, `stack::schema_stage::emulated_patch`).
//!
//! [`apply_patch`] needs attribute definitions (multi-valued or not,
//! complex or not, the sub-attributes). The built-in schemas (RFC 7643
//! User, EnterpriseUser, Group) are used first. When the resource type is
//! not one of them, or an attribute is not defined (an upstream's own
//! names), the missing definitions are inferred from the JSON at hand, the
//! resource and the operations' values: an array is multi-valued, an
//! object complex with the sub-attributes seen, a number an integer or a
//! decimal, and so on, all readWrite. What cannot be inferred (a path
//! into an extension the gateway does not know) stays an `invalidPath`.
use super::registry;
use crate::scim::error::{ScimResult, ScimType};
use crate::scim::patch::{apply_patch, PatchRequest};
use crate::scim::schema::{AttrType, Attribute, ResourceType, Schema};
use serde_json::Value;

/// The patched resource (`endpoint` is the first path segment, `Users`).
pub(super) fn apply(endpoint: &str, resource: &Value, patch: &PatchRequest) -> ScimResult<Value> {
    let known = registry().resource_type_by_endpoint(endpoint);
    if let Some(rt) = known {
        match apply_patch(registry(), rt, resource, patch) {
            Err(e) if e.scim_type() == Some(ScimType::InvalidPath) => {}
            other => return other,
        }
    }
    let core = known.and_then(|rt| registry().schema(&rt.schema));
    let mut attributes: Vec<Attribute> = core.map(|s| s.attributes.clone()).unwrap_or_default();
    if let Value::Object(o) = resource {
        for (k, v) in o {
            learn(&mut attributes, k, v);
        }
    }
    for op in &patch.operations {
        match (&op.path, &op.value) {
            (Some(path), value) if path.attr.urn.is_none() => {
                let null = Value::Null;
                let value = value.as_ref().unwrap_or(&null);
                let shaped = match (&path.attr.sub_attr, &path.sub_attr, &path.filter) {
                    (Some(sub), _, _) => serde_json::json!({ sub.as_str(): value }),
                    (None, Some(sub), _) => serde_json::json!([{ sub.as_str(): value }]),
                    (None, None, Some(_)) => match value {
                        Value::Array(_) => value.clone(),
                        other => Value::Array(vec![other.clone()]),
                    },
                    (None, None, None) => value.clone(),
                };
                learn(&mut attributes, &path.attr.attr, &shaped);
            }
            (None, Some(Value::Object(values))) => {
                for (k, v) in values {
                    learn(&mut attributes, k, v);
                }
            }
            _ => {}
        }
    }
    let urn = known.map_or_else(
        || format!("urn:scim-gateway:inferred:{endpoint}"),
        |rt| rt.schema.clone(),
    );
    let mut inferred = registry().clone();
    inferred.add_schema(Schema {
        id: urn.clone(),
        name: endpoint.to_string(),
        description: "inferred by the gateway from the resource".into(),
        attributes,
    });
    let rt = ResourceType {
        name: known.map_or_else(|| endpoint.to_string(), |rt| rt.name.clone()),
        endpoint: format!("/{endpoint}"),
        description: String::new(),
        schema: urn,
        extensions: known.map(|rt| rt.extensions.clone()).unwrap_or_default(),
    };
    apply_patch(&inferred, &rt, resource, patch)
}

/// Adds (or widens) the definition of `name` from a value of it.
fn learn(attributes: &mut Vec<Attribute>, name: &str, value: &Value) {
    let reserved = ["schemas", "id", "externalId", "meta"];
    if name.contains(':') || reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return;
    }
    let seen = infer(name, value);
    match attributes
        .iter_mut()
        .find(|a| a.name.eq_ignore_ascii_case(name))
    {
        // A defined attribute keeps its definition; an inferred complex
        // one learns new sub-attributes.
        Some(a) if a.is_complex() => {
            for sub in seen.sub_attributes {
                if a.sub_attribute(&sub.name).is_none() {
                    a.sub_attributes.push(sub);
                }
            }
        }
        Some(_) => {}
        None => attributes.push(seen),
    }
}

fn infer(name: &str, value: &Value) -> Attribute {
    match value {
        Value::Array(items) => {
            let mut a = items
                .iter()
                .filter(|i| !i.is_null())
                .fold(None::<Attribute>, |acc, item| {
                    let next = infer(name, item);
                    Some(match acc {
                        None => next,
                        Some(mut a) => {
                            for sub in next.sub_attributes {
                                if a.sub_attribute(&sub.name).is_none() {
                                    a.sub_attributes.push(sub);
                                }
                            }
                            a
                        }
                    })
                })
                .unwrap_or_else(|| Attribute::new(name, AttrType::String));
            a.multi_valued = true;
            a
        }
        Value::Object(o) => {
            let mut a = Attribute::new(name, AttrType::Complex);
            a.sub_attributes = o
                .iter()
                .filter(|(_, v)| !v.is_object() && !v.is_array())
                .map(|(k, v)| infer(k, v))
                .collect();
            a
        }
        Value::Bool(_) => Attribute::new(name, AttrType::Boolean),
        Value::Number(n) if n.is_i64() || n.is_u64() => Attribute::new(name, AttrType::Integer),
        Value::Number(_) => Attribute::new(name, AttrType::Decimal),
        Value::String(_) | Value::Null => Attribute::new(name, AttrType::String),
    }
}
