//! Schema-driven fixes of attribute values, shared by resource bodies and
//! PATCH values: string booleans, `"$ref": null`, a bare-string `manager`,
//! stringified JSON lists, a single object for a multi-valued attribute.
//!
//! Every fix is decided by the attribute's definition in the
//! [`SchemaRegistry`] (RFC 7643 §2.3 types, §2.4 multi-valued), never by
//! a value's look alone: `"True"` stays a string in a string attribute.
use super::{Applied, Rule, RuleSet};
use crate::scim::path::AttrPath;
use crate::scim::schema::{AttrType, Attribute, ResourceType, SchemaRegistry};
use serde_json::{Map, Value};

/// What the value fixes need: the switched-on rules, the schemas, and the
/// report they add to.
pub(super) struct Fixer<'a> {
    pub rules: &'a RuleSet,
    pub registry: &'a SchemaRegistry,
    pub rt: &'a ResourceType,
    pub applied: Applied,
}

/// The shape a value has relative to its attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// The attribute's whole value (a list when multi-valued).
    Whole,
    /// One element of a multi-valued attribute (after a value filter).
    Element,
}

impl<'a> Fixer<'a> {
    pub(super) fn new(
        rules: &'a RuleSet,
        registry: &'a SchemaRegistry,
        rt: &'a ResourceType,
    ) -> Self {
        Fixer {
            rules,
            registry,
            rt,
            applied: Applied::default(),
        }
    }

    /// True when `rule` is on; records it as fired when `fired` is true.
    fn fire(&mut self, rule: Rule, fired: bool) -> bool {
        let on = fired && self.rules.is_on(rule);
        if on {
            self.applied.record(rule);
        }
        on
    }

    /// Fixes every attribute of a resource-shaped object: a resource body
    /// or a path-less PATCH value. Keys may be attribute names, URN-
    /// qualified or dotted paths, or extension URNs holding an object.
    pub(super) fn fix_resource_object(&mut self, obj: &mut Map<String, Value>) {
        for (key, value) in obj.iter_mut() {
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            if self.registry.is_extension_urn(self.rt, key) {
                if let Value::Object(ext) = value {
                    self.fix_extension_object(key, ext);
                }
                continue;
            }
            let Ok(path) = AttrPath::parse(key) else {
                continue;
            };
            let (registry, rt) = (self.registry, self.rt);
            if let Ok(resolved) = registry.resolve(rt, &path) {
                self.fix_value(
                    resolved.target(),
                    resolved.sub.is_some(),
                    Shape::Whole,
                    value,
                );
            }
        }
    }

    /// Fixes the attributes inside an extension object `resource[urn]`.
    pub(super) fn fix_extension_object(&mut self, urn: &str, ext: &mut Map<String, Value>) {
        let registry = self.registry;
        let Some(schema) = registry.schema(urn) else {
            return;
        };
        for (key, value) in ext.iter_mut() {
            if let Some(attr) = schema.attribute(key) {
                self.fix_value(attr, false, Shape::Whole, value);
            }
        }
    }

    /// Fixes one value of `attr`. `is_sub` is true when `attr` is a
    /// sub-attribute (a sub-attribute is never complex, RFC 7643 §2.3.8).
    pub(super) fn fix_value(
        &mut self,
        attr: &Attribute,
        is_sub: bool,
        shape: Shape,
        value: &mut Value,
    ) {
        if attr.is_complex() && !is_sub {
            self.fix_complex(attr, shape, value);
        } else if attr.attr_type == AttrType::Boolean {
            let list = attr.multi_valued && shape == Shape::Whole;
            match value {
                Value::Array(items) if list => items.iter_mut().for_each(|v| self.fix_bool(v)),
                v => self.fix_bool(v),
            }
        }
    }

    fn fix_bool(&mut self, value: &mut Value) {
        let parsed = match value {
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        };
        if let Some(b) = parsed {
            if self.fire(Rule::StringBooleans, true) {
                *value = Value::Bool(b);
            }
        }
    }

    fn fix_complex(&mut self, attr: &Attribute, shape: Shape, value: &mut Value) {
        if attr.multi_valued {
            self.parse_stringified(shape, value);
            if shape == Shape::Whole && value.is_object() {
                // RFC 7643 §2.4: a multi-valued attribute is a JSON array.
                if self.fire(Rule::SingleValueAsList, true) {
                    *value = Value::Array(vec![value.take()]);
                }
            }
        } else if attr.name.eq_ignore_ascii_case("manager") && attr.sub_attribute("value").is_some()
        {
            self.fix_manager(value);
        }
        match value {
            Value::Array(items) if attr.multi_valued && shape == Shape::Whole => {
                for item in items.iter_mut() {
                    self.fix_element(attr, item);
                }
            }
            element => self.fix_element(attr, element),
        }
    }

    /// One complex value: `"$ref": null` dropped, boolean sub-attributes.
    fn fix_element(&mut self, attr: &Attribute, element: &mut Value) {
        let Value::Object(obj) = element else {
            return;
        };
        let null_ref = obj
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("$ref") && v.is_null());
        if self.fire(Rule::NullRef, null_ref) {
            obj.retain(|k, v| !(k.eq_ignore_ascii_case("$ref") && v.is_null()));
        }
        for (key, v) in obj.iter_mut() {
            if let Some(sub) = attr.sub_attribute(key) {
                self.fix_value(sub, true, Shape::Whole, v);
            }
        }
    }

    /// Entra sends app role assignments as one string holding a JSON list
    /// (`"[{\"value\":\"admin\"}]"`), or a list of such strings.
    fn parse_stringified(&mut self, shape: Shape, value: &mut Value) {
        fn parse(s: &str) -> Option<Value> {
            let t = s.trim_start();
            if !(t.starts_with('[') || t.starts_with('{')) {
                return None;
            }
            serde_json::from_str::<Value>(s)
                .ok()
                .filter(|v| v.is_array() || v.is_object())
        }
        match value {
            Value::String(s) => {
                let Some(parsed) = parse(s) else { return };
                if shape == Shape::Element && parsed.is_array() {
                    return;
                }
                if self.fire(Rule::StringifiedJson, true) {
                    *value = parsed;
                }
            }
            Value::Array(items) if shape == Shape::Whole => {
                let parsed: Vec<Option<Value>> =
                    items.iter().map(|i| i.as_str().and_then(parse)).collect();
                if !self.fire(Rule::StringifiedJson, parsed.iter().any(Option::is_some)) {
                    return;
                }
                let mut out = Vec::with_capacity(items.len());
                for (item, parsed) in items.drain(..).zip(parsed) {
                    match parsed {
                        Some(Value::Array(inner)) => out.extend(inner),
                        Some(v) => out.push(v),
                        None => out.push(item),
                    }
                }
                *items = out;
            }
            _ => {}
        }
    }

    /// The enterprise `manager` (RFC 7643 §4.3) is a complex attribute;
    /// Entra sends its id as a bare string, or as a one-element list.
    fn fix_manager(&mut self, value: &mut Value) {
        let misshaped = match &*value {
            Value::String(_) => true,
            Value::Array(items) => items.len() == 1 && items.first().is_some_and(Value::is_object),
            _ => false,
        };
        if !self.fire(Rule::ManagerValue, misshaped) {
            return;
        }
        *value = match value.take() {
            Value::String(id) => {
                let mut obj = Map::new();
                obj.insert("value".into(), Value::String(id));
                Value::Object(obj)
            }
            Value::Array(mut items) => items.pop().unwrap_or(Value::Null),
            other => other,
        };
    }
}
