//! The compile step: a raw [`MappingTable`] checked against the
//! tenant-facing [`SchemaRegistry`] and the upstream attributes the table
//! declares, into a [`CompiledMapping`]. Every problem is reported, each
//! with its location (`NAME: resources.User.rules[3] (from "...")`), not
//! just the first.
use super::endpoint::{disjoint, filter_conditions, same_select, Endpoint};
use super::table::{MappingTable, ResourceTable, RuleTable, UpstreamAttr};
use super::transform::{check, Kind, Shape};
use super::{CompiledMapping, ResourceMapping, Rule, Unmapped};
use crate::scim::patch::PatchPath;
use crate::scim::path::AttrPath;
use crate::scim::schema::{AttrType, ResourceType, SchemaRegistry};
use serde_json::Value;

/// An upstream attribute as declared.
struct Decl {
    urn: Option<String>,
    name: String,
    shape: Shape,
    subs: Vec<(String, Kind)>,
}

/// A resolved path with the shape of the value it names.
struct Side {
    ep: Endpoint,
    shape: Shape,
}

/// Compiles `table` (named `name` in messages) for the tenant-facing
/// schemas `tenant`. `Err` holds every problem found.
pub fn compile(
    name: &str,
    table: &MappingTable,
    tenant: &SchemaRegistry,
) -> Result<CompiledMapping, Vec<String>> {
    let mut errors = Vec::new();
    let mut resources = Vec::new();
    for (rt_name, rt_table) in &table.resources {
        let at = format!("{name}: resources.{rt_name}");
        let Some(rt) = tenant.resource_type(rt_name) else {
            errors.push(format!(
                "{at}: no resource type \"{rt_name}\" in the tenant-facing schema"
            ));
            continue;
        };
        let unmapped = rt_table.unmapped.unwrap_or(table.unmapped);
        if let Some(r) = compile_resource(&at, rt_table, rt, tenant, unmapped, &mut errors) {
            resources.push(ResourceMapping {
                emulate: table.emulate,
                ..r
            });
        }
    }
    if errors.is_empty() {
        Ok(CompiledMapping {
            name: name.to_string(),
            resources,
        })
    } else {
        Err(errors)
    }
}

fn compile_resource(
    at: &str,
    t: &ResourceTable,
    rt: &ResourceType,
    tenant: &SchemaRegistry,
    unmapped: Unmapped,
    errors: &mut Vec<String>,
) -> Option<ResourceMapping> {
    let upstream_schema = t.upstream.schema.clone().unwrap_or(rt.schema.clone());
    let decls = declarations(at, t, &upstream_schema, errors);
    let mut out = ResourceMapping {
        name: rt.name.clone(),
        endpoint: rt.endpoint.clone(),
        tenant_schema: rt.schema.clone(),
        tenant_extensions: rt.extensions.iter().map(|e| e.schema.clone()).collect(),
        upstream_schema: upstream_schema.clone(),
        unmapped,
        emulate: false,
        rules: Vec::new(),
        constants: Vec::new(),
        hidden: Vec::new(),
        never_upstream: Vec::new(),
    };
    // (location, endpoint) of every upstream writer and tenant reader.
    let mut writers: Vec<(String, Endpoint)> = Vec::new();
    let mut readers: Vec<(String, Endpoint)> = Vec::new();
    for (i, r) in t.rules.iter().enumerate() {
        let here = describe(at, i, r);
        let from = r
            .from
            .as_deref()
            .map(|p| tenant_side(&here, p, rt, tenant, errors));
        let to =
            r.to.as_deref()
                .map(|p| upstream_side(&here, p, &decls, &upstream_schema, errors));
        match (from, to, &r.value, r.hidden, r.never_upstream) {
            (Some(from), Some(to), None, false, false) => {
                let (Some(from), Some(to)) = (from, to) else {
                    continue;
                };
                match check(&r.transform, from.shape) {
                    Ok(shape) if shape != to.shape => errors.push(format!(
                        "{here}: type mismatch: the tenant value is a {shape}{}, upstream \"{}\" is a {}",
                        if r.transform.is_empty() { "" } else { " after the transforms" },
                        to.ep,
                        to.shape
                    )),
                    Ok(_) => {}
                    Err(why) => errors.push(format!("{here}: {why}")),
                }
                if r.primary && from.ep.select.is_empty() {
                    errors.push(format!(
                        "{here}: primary applies only to a path with a value filter"
                    ));
                }
                readers.push((here.clone(), from.ep.clone()));
                writers.push((here.clone(), to.ep.clone()));
                out.rules.push(Rule {
                    tenant: from.ep,
                    upstream: to.ep,
                    transforms: r.transform.clone(),
                    default: r.default.clone(),
                    primary: r.primary,
                });
            }
            (None, Some(to), Some(value), false, false) => {
                let Some(to) = to else { continue };
                if !fits(value, to.shape) {
                    errors.push(format!(
                        "{here}: type mismatch: the constant {value} does not fit upstream \"{}\", a {}",
                        to.ep, to.shape
                    ));
                }
                writers.push((here.clone(), to.ep.clone()));
                out.constants.push((to.ep, value.clone()));
            }
            (None, Some(to), None, true, false) => {
                if let Some(to) = to {
                    writers.push((here.clone(), to.ep.clone()));
                    out.hidden.push(to.ep);
                }
            }
            (Some(from), None, None, false, true) => {
                if let Some(from) = from {
                    readers.push((here.clone(), from.ep.clone()));
                    out.never_upstream.push(from.ep);
                }
            }
            _ => errors.push(format!(
                "{here}: a rule is from + to (a move), to + value (a constant), to + hidden, or from + never_upstream"
            )),
        }
        let is_move = r.from.is_some() && r.to.is_some();
        if !is_move && (r.default.is_some() || !r.transform.is_empty() || r.primary) {
            errors.push(format!(
                "{here}: default, transform and primary belong to a move rule (from + to)"
            ));
        }
    }
    conflicts(&writers, "writes upstream", errors);
    conflicts(&readers, "reads the tenant", errors);
    if unmapped == Unmapped::Pass {
        pass_through_clashes(at, &out, &decls, rt, tenant, errors);
    }
    Some(out)
}

/// `NAME: resources.User.rules[3] (from "x", to "y")`.
fn describe(at: &str, i: usize, r: &RuleTable) -> String {
    let mut parts = Vec::new();
    if let Some(f) = &r.from {
        parts.push(format!("from '{f}'"));
    }
    if let Some(t) = &r.to {
        parts.push(format!("to '{t}'"));
    }
    format!("{at}.rules[{i}] ({})", parts.join(", "))
}

/// Parses the `[upstream.attributes]` declarations.
fn declarations(
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
fn parse_path(
    here: &str,
    side: &str,
    p: &str,
    errors: &mut Vec<String>,
) -> Option<(PatchPath, Option<String>, Vec<(String, Value)>)> {
    let path = match PatchPath::parse(p) {
        Ok(path) => path,
        Err(e) => {
            errors.push(format!("{here}: {side}: {}", e.detail()));
            return None;
        }
    };
    if ["id", "meta", "schemas"]
        .iter()
        .any(|n| path.attr.urn.is_none() && n.eq_ignore_ascii_case(&path.attr.attr))
    {
        errors.push(format!(
            "{here}: {side}: \"{}\" always passes through and cannot be mapped",
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
                errors.push(format!("{here}: {side}: the value filter must be \"sub eq value\" conditions joined by \"and\""));
                return None;
            }
        },
    };
    Some((path, sub, select))
}

fn tenant_side(
    here: &str,
    p: &str,
    rt: &ResourceType,
    reg: &SchemaRegistry,
    errors: &mut Vec<String>,
) -> Option<Side> {
    let (path, sub, select) = parse_path(here, "from", p, errors)?;
    let resolved = match reg.resolve(rt, &path.attr.parent()) {
        Ok(r) => r,
        Err(_) => {
            errors.push(format!(
                "{here}: from: unknown attribute \"{}\" for {}",
                path.attr.parent(),
                rt.name
            ));
            return None;
        }
    };
    let attr = resolved.attr;
    let sub_kind = |name: &str| {
        attr.sub_attribute(name)
            .map(|a| (a.name.clone(), kind_of_type(a.attr_type)))
    };
    let ep = endpoint(
        here,
        "from",
        &path,
        resolved.extension.map(str::to_string),
        &attr.name,
        attr.multi_valued && attr.is_complex(),
        sub,
        select,
        sub_kind,
        errors,
    )?;
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

fn upstream_side(
    here: &str,
    p: &str,
    decls: &[Decl],
    schema: &str,
    errors: &mut Vec<String>,
) -> Option<Side> {
    let (mut path, sub, select) = parse_path(here, "to", p, errors)?;
    if path
        .attr
        .urn
        .as_deref()
        .is_some_and(|u| u.eq_ignore_ascii_case(schema))
    {
        path.attr.urn = None;
    }
    let Some(d) = decls.iter().find(|d| {
        d.name.eq_ignore_ascii_case(&path.attr.attr)
            && opt_eq(d.urn.as_deref(), path.attr.urn.as_deref())
    }) else {
        errors.push(format!(
            "{here}: to: upstream attribute \"{}\" is not declared in upstream.attributes",
            path.attr.parent()
        ));
        return None;
    };
    let sub_kind = |name: &str| {
        d.subs
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(name))
            .cloned()
    };
    let ep = endpoint(
        here,
        "to",
        &path,
        d.urn.clone(),
        &d.name,
        d.shape.multi && d.shape.kind == Kind::Complex,
        sub,
        select,
        sub_kind,
        errors,
    )?;
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
#[allow(clippy::too_many_arguments)]
fn endpoint(
    here: &str,
    side: &str,
    path: &PatchPath,
    urn: Option<String>,
    attr: &str,
    multi_complex: bool,
    sub: Option<String>,
    select: Vec<(String, Value)>,
    sub_kind: impl Fn(&str) -> Option<(String, Kind)>,
    errors: &mut Vec<String>,
) -> Option<Endpoint> {
    let before = errors.len();
    if path.filter.is_some() && !multi_complex {
        errors.push(format!("{here}: {side}: a value filter on \"{attr}\", which is not a multi-valued complex attribute"));
    }
    if path.filter.is_some() && sub.is_none() {
        errors.push(format!(
            "{here}: {side}: a value filter must be followed by a sub-attribute (\".value\")"
        ));
    }
    let mut canonical = Vec::new();
    for (k, v) in select {
        match sub_kind(&k) {
            Some((name, _)) => canonical.push((name, v)),
            None => errors.push(format!(
                "{here}: {side}: the value filter names \"{k}\", not a sub-attribute of \"{attr}\""
            )),
        }
    }
    let sub = match sub {
        None => None,
        Some(s) => match sub_kind(&s) {
            Some((name, _)) => Some(name),
            None => {
                errors.push(format!(
                    "{here}: {side}: \"{s}\" is not a sub-attribute of \"{attr}\""
                ));
                None
            }
        },
    };
    (errors.len() == before).then(|| Endpoint {
        urn,
        attr: attr.to_string(),
        select: canonical,
        sub,
        multi: multi_complex,
    })
}

fn fits(v: &Value, shape: Shape) -> bool {
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

/// Two endpoints whose values overlap.
fn overlap(a: &Endpoint, b: &Endpoint) -> bool {
    if !a.same_attr(b.urn.as_deref(), &b.attr) {
        return false;
    }
    let whole = |e: &Endpoint| e.sub.is_none() && e.select.is_empty();
    let same_sub = opt_eq(a.sub.as_deref(), b.sub.as_deref());
    if whole(a) || whole(b) {
        return true;
    }
    if a.select.is_empty() || b.select.is_empty() || same_select(&a.select, &b.select) {
        return same_sub;
    }
    !disjoint(&a.select, &b.select) && same_sub
}

fn conflicts(list: &[(String, Endpoint)], what: &str, errors: &mut Vec<String>) {
    for (i, (at_a, a)) in list.iter().enumerate() {
        for (at_b, b) in &list[i + 1..] {
            if overlap(a, b) {
                errors.push(format!(
                    "{at_b}: \"{b}\" is also {what} by {at_a} (\"{a}\")",
                    what = if what.starts_with("writes") {
                        "written upstream"
                    } else {
                        "read from the tenant"
                    }
                ));
            }
        }
    }
}

/// With `unmapped = "pass"`, an attribute nobody maps keeps its name: it
/// must not land on an attribute a rule writes, either way.
fn pass_through_clashes(
    at: &str,
    m: &ResourceMapping,
    decls: &[Decl],
    rt: &ResourceType,
    reg: &SchemaRegistry,
    errors: &mut Vec<String>,
) {
    let sourced = |urn: Option<&str>, name: &str| {
        m.rules.iter().any(|r| r.tenant.same_attr(urn, name))
            || m.never_upstream.iter().any(|e| e.same_attr(urn, name))
    };
    let written_up = |urn: Option<&str>, name: &str| {
        m.rules.iter().any(|r| r.upstream.same_attr(urn, name))
            || m.constants.iter().any(|(e, _)| e.same_attr(urn, name))
            || m.hidden.iter().any(|e| e.same_attr(urn, name))
    };
    for (ext, a) in reg.attributes_of(rt) {
        if !sourced(ext, &a.name)
            && written_up(ext, &a.name)
            && !["id", "meta"].contains(&a.name.as_str())
        {
            errors.push(format!("{at}: the unmapped tenant attribute \"{}\" would pass through onto upstream \"{}\", which a rule writes; map it or add a never_upstream rule", a.name, a.name));
        }
    }
    for d in decls {
        if written_up(d.urn.as_deref(), &d.name) {
            continue;
        }
        let as_path = AttrPath {
            urn: d.urn.clone(),
            attr: d.name.clone(),
            sub_attr: None,
        };
        match reg.resolve(rt, &as_path) {
            Err(_) => errors.push(format!("{at}.upstream.attributes: \"{as_path}\" is neither mapped nor hidden and would reach the IdP as an unknown attribute")),
            Ok(r) if m.rules.iter().any(|x| x.tenant.same_attr(r.extension, &r.attr.name)) => errors.push(format!("{at}.upstream.attributes: the unmapped upstream attribute \"{as_path}\" would pass through onto tenant \"{}\", which a rule writes", r.attr.name)),
            Ok(_) => {}
        }
    }
}

fn opt_eq(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (None, None) => true,
        _ => false,
    }
}
