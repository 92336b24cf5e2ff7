//! Resolving the two sides of a rule for the compile step: a tenant path
//! against the tenant-facing [`SchemaRegistry`], an upstream path against
//! the attributes the table declares. Each yields an [`Endpoint`] in
//! canonical spelling and the [`Shape`] of its value, or records why not.
use super::endpoint::{filter_conditions, Endpoint};
use super::table::{ResourceTable, UpstreamAttr};
use super::transform::{Kind, Shape};
use crate::scim::patch::PatchPath;
use crate::scim::path::AttrPath;
use crate::scim::schema::{AttrType, ResourceType, SchemaRegistry};
use serde_json::Value;

/// An upstream attribute as declared.
pub(super) struct Decl {
    pub urn: Option<String>,
    pub name: String,
    pub shape: Shape,
    pub subs: Vec<(String, Kind)>,
}

/// A resolved path with the shape of the value it names.
pub(super) struct Side {
    pub ep: Endpoint,
    pub shape: Shape,
}

/// Where problems go: `{here}: {side}: {message}`.
pub(super) struct Report<'a> {
    pub here: &'a str,
    pub side: &'static str,
    pub errors: &'a mut Vec<String>,
}

/// A path as written, split.
struct Parsed {
    path: PatchPath,
    sub: Option<String>,
    select: Vec<(String, Value)>,
}

/// The attribute a path names, with what the endpoint needs of it.
struct Target<'a> {
    urn: Option<String>,
    name: &'a str,
    /// Multi-valued and complex: may carry a value filter.
    multi_complex: bool,
}

impl Report<'_> {
    fn push(&mut self, msg: impl std::fmt::Display) {
        self.errors
            .push(format!("{}: {}: {msg}", self.here, self.side));
    }
}

/// Parses the `[upstream.attributes]` declarations.
pub(super) fn declarations(
    at: &str,
    t: &ResourceTable,
    upstream_schema: &str,
    errors: &mut Vec<String>,
) -> Vec<Decl> {
    let mut out = Vec::new();
    for (key, spec) in &t.upstream.attributes {
        let here = format!("{at}.upstream.attributes.\"{key}\"");
        let path = match AttrPath::parse(key) {
            Ok(p) if p.sub_attr.is_none() => p,
            _ => {
                errors.push(format!(
                    "{here}: not an attribute name (declare sub-attributes in sub_attributes)"
                ));
                continue;
            }
        };
        let (ty, multi, subs) = match spec {
            UpstreamAttr::Type(ty) => (ty.as_str(), false, Default::default()),
            UpstreamAttr::Full(f) => (
                f.attr_type.as_str(),
                f.multi_valued,
                f.sub_attributes.clone(),
            ),
        };
        let Some(kind) = parse_kind(ty) else {
            errors.push(format!("{here}: unknown type \"{ty}\""));
            continue;
        };
        if (kind == Kind::Complex) == subs.is_empty() {
            errors.push(format!(
                "{here}: sub_attributes go with type \"complex\", and only with it"
            ));
        }
        let mut sub_kinds = Vec::new();
        for (s, sty) in &subs {
            match parse_kind(sty) {
                Some(k) if k != Kind::Complex => sub_kinds.push((s.clone(), k)),
                _ => errors.push(format!(
                    "{here}.sub_attributes.{s}: unknown or complex type \"{sty}\""
                )),
            }
        }
        let urn = path
            .urn
            .filter(|u| !u.eq_ignore_ascii_case(upstream_schema));
        out.push(Decl {
            urn,
            name: path.attr,
            shape: Shape { kind, multi },
            subs: sub_kinds,
        });
    }
    out
}

fn parse_kind(ty: &str) -> Option<Kind> {
    Some(match ty {
        "string" | "reference" | "binary" | "dateTime" => Kind::Str,
        "boolean" => Kind::Bool,
        "integer" | "decimal" => Kind::Num,
        "complex" => Kind::Complex,
        _ => return None,
    })
}

fn kind_of_type(t: AttrType) -> Kind {
    match t {
        AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::DateTime => Kind::Str,
        AttrType::Boolean => Kind::Bool,
        AttrType::Integer | AttrType::Decimal => Kind::Num,
        AttrType::Complex => Kind::Complex,
    }
}

/// Parses a path with an optional value filter and checks the filter's
/// shape; `None` after recording the problem.
fn parse_path(p: &str, report: &mut Report<'_>) -> Option<Parsed> {
    let path = match PatchPath::parse(p) {
        Ok(path) => path,
        Err(e) => {
            report.push(e.detail());
            return None;
        }
    };
    let reserved = ["id", "meta", "schemas"]
        .iter()
        .any(|n| path.attr.urn.is_none() && n.eq_ignore_ascii_case(&path.attr.attr));
    if reserved {
        report.push(format!(
            "\"{}\" always passes through and cannot be mapped",
            path.attr.attr
        ));
        return None;
    }
    let sub = path.sub_attr.clone().or(path.attr.sub_attr.clone());
    let select = match &path.filter {
        None => Vec::new(),
        Some(f) => match filter_conditions(f) {
            Some(c) => c,
            None => {
                report
                    .push("the value filter must be \"sub eq value\" conditions joined by \"and\"");
                return None;
            }
        },
    };
    Some(Parsed { path, sub, select })
}

/// The tenant side of a rule (`from`).
pub(super) fn tenant_side(
    p: &str,
    rt: &ResourceType,
    reg: &SchemaRegistry,
    report: &mut Report<'_>,
) -> Option<Side> {
    let parsed = parse_path(p, report)?;
    let Ok(resolved) = reg.resolve(rt, &parsed.path.attr.parent()) else {
        report.push(format!(
            "unknown attribute \"{}\" for {}",
            parsed.path.attr.parent(),
            rt.name
        ));
        return None;
    };
    let attr = resolved.attr;
    let sub_kind = |name: &str| {
        attr.sub_attribute(name)
            .map(|a| (a.name.clone(), kind_of_type(a.attr_type)))
    };
    let target = Target {
        urn: resolved.extension.map(str::to_string),
        name: &attr.name,
        multi_complex: attr.multi_valued && attr.is_complex(),
    };
    let ep = endpoint(parsed, target, sub_kind, report)?;
    let kind = match &ep.sub {
        Some(s) => sub_kind(s).map(|(_, k)| k)?,
        None => kind_of_type(attr.attr_type),
    };
    let multi = attr.multi_valued && ep.select.is_empty();
    Some(Side {
        ep,
        shape: Shape { kind, multi },
    })
}

/// The upstream side of a rule (`to`), against the declarations.
pub(super) fn upstream_side(
    p: &str,
    decls: &[Decl],
    schema: &str,
    report: &mut Report<'_>,
) -> Option<Side> {
    let mut parsed = parse_path(p, report)?;
    let attr = &mut parsed.path.attr;
    if attr
        .urn
        .as_deref()
        .is_some_and(|u| u.eq_ignore_ascii_case(schema))
    {
        attr.urn = None;
    }
    let found = decls.iter().find(|d| {
        d.name.eq_ignore_ascii_case(&attr.attr) && opt_eq(d.urn.as_deref(), attr.urn.as_deref())
    });
    let Some(d) = found else {
        report.push(format!(
            "upstream attribute \"{}\" is not declared in upstream.attributes",
            attr.parent()
        ));
        return None;
    };
    let sub_kind = |name: &str| {
        d.subs
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(name))
            .cloned()
    };
    let target = Target {
        urn: d.urn.clone(),
        name: &d.name,
        multi_complex: d.shape.multi && d.shape.kind == Kind::Complex,
    };
    let ep = endpoint(parsed, target, sub_kind, report)?;
    let kind = match &ep.sub {
        Some(s) => sub_kind(s).map(|(_, k)| k)?,
        None => d.shape.kind,
    };
    let multi = d.shape.multi && ep.select.is_empty();
    Some(Side {
        ep,
        shape: Shape { kind, multi },
    })
}

/// Builds an endpoint with canonical names, checking the filter and
/// sub-attribute against the attribute's definition.
fn endpoint(
    parsed: Parsed,
    target: Target<'_>,
    sub_kind: impl Fn(&str) -> Option<(String, Kind)>,
    report: &mut Report<'_>,
) -> Option<Endpoint> {
    let before = report.errors.len();
    let attr = target.name;
    if parsed.path.filter.is_some() && !target.multi_complex {
        report.push(format!(
            "a value filter on \"{attr}\", which is not a multi-valued complex attribute"
        ));
    }
    if parsed.path.filter.is_some() && parsed.sub.is_none() {
        report.push("a value filter must be followed by a sub-attribute (\".value\")");
    }
    let mut select = Vec::new();
    for (k, v) in parsed.select {
        match sub_kind(&k) {
            Some((name, _)) => select.push((name, v)),
            None => report.push(format!(
                "the value filter names \"{k}\", not a sub-attribute of \"{attr}\""
            )),
        }
    }
    let sub = match parsed.sub {
        None => None,
        Some(s) => match sub_kind(&s) {
            Some((name, _)) => Some(name),
            None => {
                report.push(format!("\"{s}\" is not a sub-attribute of \"{attr}\""));
                None
            }
        },
    };
    (report.errors.len() == before).then(|| Endpoint {
        urn: target.urn,
        attr: attr.to_string(),
        select,
        sub,
        multi: target.multi_complex,
    })
}

/// True when a constant fits the upstream attribute.
pub(super) fn fits(v: &Value, shape: Shape) -> bool {
    let one = |v: &Value| match shape.kind {
        Kind::Str => v.is_string(),
        Kind::Bool => v.is_boolean(),
        Kind::Num => v.is_number(),
        Kind::Complex => v.is_object(),
    };
    match v {
        Value::Array(items) if shape.multi => items.iter().all(one),
        v => !shape.multi && one(v),
    }
}

pub(super) fn opt_eq(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (None, None) => true,
        _ => false,
    }
}
