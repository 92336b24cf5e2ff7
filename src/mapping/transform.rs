//! Value transforms: applied in table order on the way in (tenant →
//! upstream), undone in reverse order on the way out.
//!
//! `trim` and `case` are one-way (the way out leaves the value alone);
//! `map`, `map_strict`, `bool` and `join` are exact inverses, which the
//! compile step checks (a value map must be injective, a boolean's two
//! spellings must differ). A scalar transform meets a list element by
//! element.
use super::table::{Case, Transform};
use crate::scim::error::{ScimError, ScimResult};
use serde_json::Value;

/// The JSON shape of a value, for the compile-time type check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// string, reference, binary, dateTime.
    Str,
    Bool,
    /// integer, decimal.
    Num,
    Complex,
}

/// A kind and whether it is a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub kind: Kind,
    pub multi: bool,
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let k = match self.kind {
            Kind::Str => "string",
            Kind::Bool => "boolean",
            Kind::Num => "number",
            Kind::Complex => "complex",
        };
        if self.multi {
            write!(f, "list of {k}")
        } else {
            f.write_str(k)
        }
    }
}

/// The kind of a JSON literal (a `bool` spelling).
fn kind_of(v: &Value) -> Option<Kind> {
    match v {
        Value::String(_) => Some(Kind::Str),
        Value::Bool(_) => Some(Kind::Bool),
        Value::Number(_) => Some(Kind::Num),
        _ => None,
    }
}

/// The shape after the transforms, or why they do not fit `input`.
pub(crate) fn check(transforms: &[Transform], input: Shape) -> Result<Shape, String> {
    let mut s = input;
    for t in transforms {
        s = match t {
            Transform::Trim | Transform::Case(_) => {
                need(s.kind == Kind::Str, t, s)?;
                s
            }
            Transform::Map(m) | Transform::MapStrict(m) => {
                need(s.kind == Kind::Str, t, s)?;
                let mut seen: Vec<&String> = Vec::new();
                for (from, to) in m {
                    if let Some(dup) = seen.iter().find(|x| x.eq_ignore_ascii_case(to)) {
                        return Err(format!(
                            "the value map is not reversible: \"{from}\" and another value both map to \"{dup}\""
                        ));
                    }
                    seen.push(to);
                }
                s
            }
            Transform::Bool([yes, no]) => {
                need(s.kind == Kind::Bool, t, s)?;
                let kind = match (kind_of(yes), kind_of(no)) {
                    (Some(a), Some(b)) if a == b && a != Kind::Bool => a,
                    _ => {
                        return Err(
                            "bool needs two strings or two numbers: [true_value, false_value]"
                                .into(),
                        )
                    }
                };
                if yes == no {
                    return Err(format!("bool spells true and false alike ({yes})"));
                }
                Shape { kind, ..s }
            }
            Transform::Join(sep) => {
                need(s.kind == Kind::Str && s.multi, t, s)?;
                if sep.is_empty() {
                    return Err("join needs a non-empty separator".into());
                }
                Shape {
                    kind: Kind::Str,
                    multi: false,
                }
            }
        };
    }
    Ok(s)
}

fn need(ok: bool, t: &Transform, s: Shape) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("transform {} does not apply to a {s}", name(t)))
    }
}

/// The transform's key in the table.
pub(crate) fn name(t: &Transform) -> &'static str {
    match t {
        Transform::Trim => "trim",
        Transform::Case(_) => "case",
        Transform::Map(_) => "map",
        Transform::MapStrict(_) => "map_strict",
        Transform::Bool(_) => "bool",
        Transform::Join(_) => "join",
    }
}

/// True when the transforms keep the meaning of `co`, `sw`, `ew` and the
/// orderings (only `trim` and `case` do).
pub(crate) fn keeps_order(transforms: &[Transform]) -> bool {
    transforms
        .iter()
        .all(|t| matches!(t, Transform::Trim | Transform::Case(_)))
}

/// Tenant → upstream. `attr` names the attribute in the error (formatted
/// only then: this runs for every mapped value).
pub(crate) fn forward(
    transforms: &[Transform],
    value: Value,
    attr: &dyn std::fmt::Display,
) -> ScimResult<Value> {
    transforms
        .iter()
        .try_fold(value, |v, t| forward_one(t, v, attr))
}

fn forward_one(t: &Transform, v: Value, attr: &dyn std::fmt::Display) -> ScimResult<Value> {
    if let (Value::Array(items), false) = (&v, matches!(t, Transform::Join(_))) {
        return items
            .iter()
            .map(|i| forward_one(t, i.clone(), attr))
            .collect::<ScimResult<Vec<_>>>()
            .map(Value::Array);
    }
    let bad = || {
        ScimError::invalid_value(format!(
            "attribute \"{attr}\": the value does not fit transform {}",
            name(t)
        ))
    };
    Ok(match (t, v) {
        (_, Value::Null) => Value::Null,
        (Transform::Trim, Value::String(s)) => Value::String(s.trim().to_string()),
        (Transform::Case(Case::Upper), Value::String(s)) => Value::String(s.to_uppercase()),
        (Transform::Case(Case::Lower), Value::String(s)) => Value::String(s.to_lowercase()),
        (Transform::Map(m), Value::String(s)) => Value::String(lookup(m, &s).unwrap_or(s)),
        (Transform::MapStrict(m), Value::String(s)) => match lookup(m, &s) {
            Some(to) => Value::String(to),
            None => {
                return Err(ScimError::invalid_value(format!(
                    "attribute \"{attr}\": \"{s}\" is not one of {}",
                    m.keys()
                        .map(|k| format!("\"{k}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        },
        (Transform::Bool([yes, no]), Value::Bool(b)) => {
            if b {
                yes.clone()
            } else {
                no.clone()
            }
        }
        (Transform::Join(sep), Value::Array(items)) => {
            let parts = items
                .iter()
                .map(|i| i.as_str().ok_or_else(bad))
                .collect::<ScimResult<Vec<_>>>()?;
            Value::String(parts.join(sep))
        }
        _ => return Err(bad()),
    })
}

/// Upstream → tenant: the inverse of [`forward`], leaving values it cannot
/// invert unchanged (the way out never fails).
pub(crate) fn reverse(transforms: &[Transform], value: Value) -> Value {
    transforms
        .iter()
        .rev()
        .fold(value, |v, t| reverse_one(t, v))
}

fn reverse_one(t: &Transform, v: Value) -> Value {
    if let (Value::Array(items), false) = (&v, matches!(t, Transform::Join(_))) {
        return Value::Array(items.iter().map(|i| reverse_one(t, i.clone())).collect());
    }
    match (t, v) {
        (Transform::Map(m) | Transform::MapStrict(m), Value::String(s)) => {
            let found = m
                .iter()
                .find(|(_, to)| **to == s)
                .or_else(|| m.iter().find(|(_, to)| to.eq_ignore_ascii_case(&s)));
            Value::String(found.map_or(s, |(from, _)| from.clone()))
        }
        (Transform::Bool([yes, no]), v) => {
            if loose_eq(&v, yes) {
                Value::Bool(true)
            } else if loose_eq(&v, no) {
                Value::Bool(false)
            } else {
                v
            }
        }
        (Transform::Join(_), Value::String(s)) if s.is_empty() => Value::Array(Vec::new()),
        (Transform::Join(sep), Value::String(s)) => Value::Array(
            s.split(sep.as_str())
                .map(|p| Value::String(p.to_string()))
                .collect(),
        ),
        (_, v) => v,
    }
}

fn lookup(m: &std::collections::BTreeMap<String, String>, s: &str) -> Option<String> {
    m.get(s)
        .or_else(|| {
            m.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(s))
                .map(|(_, v)| v)
        })
        .cloned()
}

/// Strings ignoring case; numbers by value.
fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}
