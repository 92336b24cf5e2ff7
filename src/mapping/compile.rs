//! The compile step: a raw [`MappingTable`] checked against the
//! tenant-facing [`SchemaRegistry`] and the upstream attributes the table
//! declares, into a [`CompiledMapping`]. Every problem is reported, each
//! with its location (`NAME: resources.User.rules[3] (from "...")`), not
//! just the first.
use super::endpoint::{disjoint, same_select, Endpoint};
use super::members::MemberPlan;
use super::resolve::{declarations, fits, opt_eq, tenant_side, upstream_side, Decl, Report};
use super::table::{MappingTable, ResourceTable, RuleTable};
use super::transform::check;
use super::{CompiledMapping, ResourceMapping, Rule, Unmapped};
use crate::scim::path::AttrPath;
use crate::scim::schema::{ResourceType, SchemaRegistry};

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
        let r = compile_resource(&at, rt_table, rt, tenant, unmapped, &mut errors);
        resources.push(ResourceMapping {
            emulate: table.emulate,
            ..r
        });
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
) -> ResourceMapping {
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
        members: Default::default(),
    };
    // (location, endpoint) of every upstream writer and tenant reader.
    let mut writers: Vec<(String, Endpoint)> = Vec::new();
    let mut readers: Vec<(String, Endpoint)> = Vec::new();
    for (i, r) in t.rules.iter().enumerate() {
        let here = describe(at, i, r);
        let from = r.from.as_deref().map(|p| {
            let mut report = Report {
                here: &here,
                side: "from",
                errors: &mut *errors,
            };
            tenant_side(p, rt, tenant, &mut report)
        });
        let to = r.to.as_deref().map(|p| {
            let mut report = Report {
                here: &here,
                side: "to",
                errors: &mut *errors,
            };
            upstream_side(p, &decls, &upstream_schema, &mut report)
        });
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
    conflicts(&writers, "written upstream", errors);
    conflicts(&readers, "read from the tenant", errors);
    if unmapped == Unmapped::Pass {
        pass_through_clashes(at, &out, &decls, rt, tenant, errors);
    }
    out.members = MemberPlan::new(&out);
    out
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
                    "{at_b}: \"{b}\" is also {what} by {at_a} (\"{a}\")"
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
