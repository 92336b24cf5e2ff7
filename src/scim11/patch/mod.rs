//! SCIM 2.0 PATCH (RFC 7644 §3.5.2, a `PatchOp` with `Operations`) as a
//! SCIM 1.1 PATCH (SCIM 1.1 API §3.3.2, a partial resource).
//!
//! A 1.1 service first removes every attribute listed in `meta.attributes`,
//! then merges the body: singular attributes are replaced, sub-attributes
//! of complex ones are replaced one by one, elements of multi-valued ones
//! are added or merged by their `value`, and an element marked
//! `"operation": "delete"` is removed (matched by `value`). The 2.0
//! operations are folded into that one body in order, so that the 1.1
//! result equals the 2.0 one:
//!
//! - `replace` of a multi-valued attribute lists it in `meta.attributes`
//!   and puts the new values in the body (1.1: "replaced with the value
//!   from the PATCH body");
//! - `remove` lists the path in `meta.attributes` and drops what earlier
//!   operations put in the body under it;
//! - `remove` of `members[value eq "x"]` (or an `or` of such) is a
//!   `{"value": "x", "operation": "delete"}` element, cancelling an earlier
//!   add of the same value;
//! - `replace emails[value eq "x"].primary` merges `primary` into the
//!   element with that value (if there is none, 1.1 adds one where 2.0
//!   answers `noTarget`).
//!
//! What 1.1 cannot say (elements selected by anything but `value`, a
//! sub-attribute of every element, a whole element replaced) is an
//! emulable [`Scim11Error`]: 400 `invalidPath` naming the operation.
use super::query::path_to_scim11;
use super::resource::resource_to_scim11;
use super::{is_multi_valued, Scim11Error, CORE_SCHEMA_11};
use crate::scim::error::ScimError;
use crate::scim::json::{get_ci_mut, insert_ci, remove_ci};
use crate::scim::patch::{PatchOpKind, PatchOperation, PatchPath, PatchRequest};
use crate::scim::path::{has_urn_prefix, AttrPath};
use crate::scim::schema::ENTERPRISE_USER_SCHEMA;
use serde_json::{json, Map, Value};

mod emulate;
mod members;
mod select;

pub use emulate::emulate_patch_put;

use members::{array_member, object_member};
use select::{
    check_writable, element_values, every_element, extension_object, is_delete, selected_values,
    whole_extension, without_core_urn,
};

/// The 1.1 PATCH body equivalent to a 2.0 PatchOp request.
pub fn patch_to_scim11(request: &PatchRequest) -> Result<Value, Scim11Error> {
    let mut body = PatchBody::default();
    for (i, op) in request.operations.iter().enumerate() {
        body.apply(op)
            .map_err(|e| e.with_context(&format!("Operations[{i}]")))?;
    }
    body.finish()
}

/// The body being built, still in 2.0 terms (extension attributes under
/// their 2.0 URN key), and the removals in order.
#[derive(Debug, Default)]
struct PatchBody {
    body: Map<String, Value>,
    removals: Vec<AttrPath>,
}

// === impl PatchBody ===

impl PatchBody {
    fn apply(&mut self, op: &PatchOperation) -> Result<(), Scim11Error> {
        match (&op.path, op.op) {
            (None, PatchOpKind::Remove) => {
                Err(ScimError::no_target("remove needs a \"path\"").into())
            }
            (None, kind) => {
                let Some(Value::Object(values)) = &op.value else {
                    return Err(ScimError::invalid_value(
                        "an operation without a path needs an object of attributes",
                    )
                    .into());
                };
                for (key, value) in values {
                    match (extension_object(key), value) {
                        (true, Value::Object(attrs)) => self.set_extension(kind, key, attrs)?,
                        _ => self.set(kind, &AttrPath::parse(key)?, value)?,
                    }
                }
                Ok(())
            }
            // A path naming the enterprise extension itself.
            (Some(path), kind) if whole_extension(path) => match (kind, &op.value) {
                (PatchOpKind::Add | PatchOpKind::Replace, Some(Value::Object(attrs))) => {
                    self.set_extension(kind, ENTERPRISE_USER_SCHEMA, attrs)
                }
                _ => Err(Scim11Error::emulable(ScimError::invalid_path(format!(
                    "PATCH path \"{path}\" cannot be sent to a SCIM 1.1 service: \
                     SCIM 1.1 has no way to {} a whole extension",
                    kind.as_str()
                )))),
            },
            (Some(path), PatchOpKind::Remove) if path.filter.is_none() => {
                self.remove(&path.attr, op.value.as_ref())
            }
            (Some(path), kind) if path.filter.is_none() => match &op.value {
                Some(value) => self.set(kind, &path.attr, value),
                None => Err(ScimError::invalid_value(format!(
                    "{} needs a \"value\"",
                    kind.as_str()
                ))
                .into()),
            },
            (Some(path), kind) => self.apply_filtered(kind, path, op.value.as_ref()),
        }
    }

    /// `add` or `replace` of every attribute of an extension object.
    fn set_extension(
        &mut self,
        kind: PatchOpKind,
        urn: &str,
        attrs: &Map<String, Value>,
    ) -> Result<(), Scim11Error> {
        for (name, v) in attrs {
            let path = AttrPath {
                urn: Some(urn.to_string()),
                attr: name.clone(),
                sub_attr: None,
            };
            self.set(kind, &path, v)?;
        }
        Ok(())
    }

    /// `add` or `replace` of an attribute or sub-attribute.
    fn set(
        &mut self,
        kind: PatchOpKind,
        path: &AttrPath,
        value: &Value,
    ) -> Result<(), Scim11Error> {
        let path = without_core_urn(path);
        check_writable(&path)?;
        if value.is_null() {
            // RFC 7644 §3.5.2.3: null is "unassigned", a removal.
            return self.remove(&path, None);
        }
        let multi_valued = is_multi_valued(&path.attr) || value.is_array();
        let container = self.container(path.urn.as_deref())?;
        match (&path.sub_attr, value) {
            (Some(_), _) if is_multi_valued(&path.attr) => Err(every_element(&path)),
            (Some(sub), _) => {
                let parent = object_member(container, &path.attr)?;
                insert_ci(parent, sub, value.clone());
                Ok(())
            }
            (None, _) if multi_valued => {
                let elements = match value {
                    Value::Array(elements) => elements.clone(),
                    other => vec![other.clone()],
                };
                if kind == PatchOpKind::Replace {
                    insert_ci(container, &path.attr, Value::Array(elements));
                    self.add_removal(path);
                    return Ok(());
                }
                let list = array_member(container, &path.attr)?;
                for element in elements {
                    if let Some(v) = element.get("value") {
                        list.retain(|e| !(is_delete(e) && e.get("value") == Some(v)));
                    }
                    list.push(element);
                }
                Ok(())
            }
            // Both add and replace merge sub-attributes of a complex
            // singular attribute (RFC 7644 §3.5.2.1, §3.5.2.3), as 1.1 does.
            (None, Value::Object(subs)) => {
                let parent = object_member(container, &path.attr)?;
                for (k, v) in subs {
                    insert_ci(parent, k, v.clone());
                }
                Ok(())
            }
            (None, _) => {
                insert_ci(container, &path.attr, value.clone());
                Ok(())
            }
        }
    }

    /// `remove` of an attribute or sub-attribute. A value list of
    /// `{"value": ...}` elements (as Entra sends for members) removes those
    /// elements only.
    fn remove(&mut self, path: &AttrPath, value: Option<&Value>) -> Result<(), Scim11Error> {
        let path = without_core_urn(path);
        check_writable(&path)?;
        if path.sub_attr.is_some() && is_multi_valued(&path.attr) {
            return Err(every_element(&path));
        }
        // Fails here, not in `finish`, so that the error names the operation.
        path_to_scim11(&path)?;
        let container = self.container(path.urn.as_deref())?;
        match &path.sub_attr {
            Some(sub) => {
                if let Some(Value::Object(parent)) = get_ci_mut(container, &path.attr) {
                    remove_ci(parent, sub);
                    if parent.is_empty() {
                        remove_ci(container, &path.attr);
                    }
                }
            }
            None => {
                if let Some(values) = value.and_then(element_values) {
                    for v in values {
                        self.delete_element(&path, v)?;
                    }
                    return Ok(());
                }
                remove_ci(container, &path.attr);
            }
        }
        self.add_removal(path);
        Ok(())
    }

    /// An operation whose path has a value filter.
    fn apply_filtered(
        &mut self,
        kind: PatchOpKind,
        path: &PatchPath,
        value: Option<&Value>,
    ) -> Result<(), Scim11Error> {
        let attr = without_core_urn(&path.attr);
        let unsupported = |why: &str| {
            Scim11Error::emulable(ScimError::invalid_path(format!(
                "PATCH path \"{path}\" cannot be sent to a SCIM 1.1 service: {why}"
            )))
        };
        let selected = path
            .filter
            .as_ref()
            .and_then(selected_values)
            .ok_or_else(|| {
                unsupported(&format!(
                    "SCIM 1.1 selects elements of \"{}\" by \"value\" only",
                    attr.attr
                ))
            })?;
        match (kind, path.sub_attr.as_deref()) {
            (PatchOpKind::Remove, None) => {
                for v in selected {
                    self.delete_element(&attr, v)?;
                }
                Ok(())
            }
            (PatchOpKind::Remove, Some(_)) => Err(unsupported(
                "SCIM 1.1 cannot remove a sub-attribute of one element",
            )),
            (_, None) => Err(unsupported("SCIM 1.1 cannot replace a whole element")),
            (_, Some(sub)) if sub.eq_ignore_ascii_case("value") => Err(unsupported(
                "SCIM 1.1 cannot change the \"value\" it matches by",
            )),
            (_, Some(sub)) => {
                let Some(new) = value else {
                    return Err(ScimError::invalid_value(format!(
                        "{} needs a \"value\"",
                        kind.as_str()
                    ))
                    .into());
                };
                let list = array_member(self.container(attr.urn.as_deref())?, &attr.attr)?;
                for v in selected {
                    if list
                        .iter()
                        .any(|e| is_delete(e) && e.get("value") == Some(&v))
                    {
                        return Err(unsupported("an earlier operation removed that element"));
                    }
                    match list.iter_mut().find(|e| e.get("value") == Some(&v)) {
                        Some(Value::Object(element)) => insert_ci(element, sub, new.clone()),
                        _ => list.push(json!({"value": v, sub: new})),
                    }
                }
                Ok(())
            }
        }
    }

    /// Marks the element with `value` for deletion, cancelling earlier adds
    /// of it. When the whole attribute is already listed for removal, 1.1
    /// ignores delete marks (API §3.3.2) and dropping the add is enough.
    fn delete_element(&mut self, path: &AttrPath, value: Value) -> Result<(), Scim11Error> {
        let listed = self.is_removed(path);
        let container = self.container(path.urn.as_deref())?;
        let list = array_member(container, &path.attr)?;
        list.retain(|e| e.get("value") != Some(&value));
        if !listed {
            list.push(json!({"value": value, "operation": "delete"}));
        }
        if list.is_empty() {
            remove_ci(container, &path.attr);
        }
        Ok(())
    }

    fn add_removal(&mut self, path: AttrPath) {
        if !self.is_removed(&path) {
            self.removals.push(path);
        }
    }

    fn is_removed(&self, path: &AttrPath) -> bool {
        self.removals.iter().any(|r| r.eq_ignore_case(path))
    }

    /// The object that holds attributes of `urn` (the body for the core
    /// schema, else the extension's object, created when missing).
    fn container(&mut self, urn: Option<&str>) -> Result<&mut Map<String, Value>, Scim11Error> {
        match urn {
            None => Ok(&mut self.body),
            Some(urn) => object_member(&mut self.body, urn),
        }
    }

    fn finish(self) -> Result<Value, Scim11Error> {
        let mut removals = Vec::with_capacity(self.removals.len());
        for path in &self.removals {
            let name = path_to_scim11(path)?.to_string();
            if !removals.contains(&Value::String(name.clone())) {
                removals.push(Value::String(name));
            }
        }
        let mut body = self.body;
        // Extension objects emptied by removals say nothing.
        body.retain(|k, v| !(has_urn_prefix(k) && v.as_object().is_some_and(Map::is_empty)));
        let Value::Object(body) = resource_to_scim11(&Value::Object(body)) else {
            return Err(ScimError::internal("PATCH translation lost its body").into());
        };
        let mut schemas = vec![Value::String(CORE_SCHEMA_11.into())];
        let extension_urns = body.keys().filter(|k| has_urn_prefix(k)).cloned();
        let removal_urns = self
            .removals
            .iter()
            .filter_map(|p| path_to_scim11(p).ok()?.urn);
        for urn in extension_urns.chain(removal_urns) {
            if !schemas.contains(&Value::String(urn.clone())) {
                schemas.push(Value::String(urn));
            }
        }
        let mut out = Map::with_capacity(body.len() + 2);
        out.insert("schemas".into(), Value::Array(schemas));
        out.extend(body);
        if !removals.is_empty() {
            out.insert("meta".into(), json!({ "attributes": removals }));
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;
