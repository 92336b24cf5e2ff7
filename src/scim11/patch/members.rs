//! Members of the PATCH body that must have a given JSON shape (an
//! object for a complex attribute or extension, an array for a
//! multi-valued attribute), found ignoring case and created on demand.
use crate::scim::error::ScimError;
use crate::scim::json::key_ci;
use crate::scim11::Scim11Error;
use serde_json::{Map, Value};

/// The member `name` of `obj` as an object, replacing anything else.
pub(super) fn object_member<'a>(
    obj: &'a mut Map<String, Value>,
    name: &str,
) -> Result<&'a mut Map<String, Value>, Scim11Error> {
    let slot = member_slot(obj, name, Value::is_object, || Value::Object(Map::new()));
    slot.as_object_mut().ok_or_else(lost_shape)
}

/// The member `name` of `obj` as an array, replacing anything else.
pub(super) fn array_member<'a>(
    obj: &'a mut Map<String, Value>,
    name: &str,
) -> Result<&'a mut Vec<Value>, Scim11Error> {
    let slot = member_slot(obj, name, Value::is_array, || Value::Array(Vec::new()));
    slot.as_array_mut().ok_or_else(lost_shape)
}

/// The member `name` (ignoring case), set to `empty()` unless `fits`.
fn member_slot<'a>(
    obj: &'a mut Map<String, Value>,
    name: &str,
    fits: fn(&Value) -> bool,
    empty: fn() -> Value,
) -> &'a mut Value {
    let key = key_ci(obj, name)
        .cloned()
        .unwrap_or_else(|| name.to_string());
    let slot = obj.entry(key).or_insert_with(empty);
    if !fits(slot) {
        *slot = empty();
    }
    slot
}

/// Never happens: [`member_slot`] has just given the member its shape.
fn lost_shape() -> Scim11Error {
    ScimError::internal("PATCH translation lost the shape of an attribute").into()
}
