//! Filters for the upstream (RFC 7644 §3.4.2.2): an AST rewrite. Paths are
//! mapped, comparison values go through the rule's transforms, and value
//! filters on a mapped element (`emails[type eq "work" and value co "x"]`)
//! become comparisons on the upstream attribute (`mail co "x"`).
//!
//! A comparison on every element (`emails.value eq "x"`) where one element
//! lives in its own upstream attribute becomes an `or` of the places the
//! value can be. An attribute with no upstream equivalent is 400
//! `invalidFilter` naming it, or [`MappingError::NeedsEmulation`] when the
//! table allows emulation.
use super::endpoint::{
    disjoint, filter_conditions, json_value, same_select, select_filter, try_comp_value, Endpoint,
};
use super::patch::names;
use super::transform::{forward, keeps_order};
use super::{MappingError, ResourceMapping, Rule};
use crate::scim::error::ScimError;
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::path::AttrPath;

/// How a leaf test is rebuilt on an upstream endpoint.
#[derive(Clone, Copy)]
enum Test<'a> {
    Compare(CompareOp, &'a CompValue),
    Present,
}

/// Attributes every resource has and that always pass through.
const COMMON: [&str; 2] = ["id", "meta"];

// === impl ResourceMapping ===

impl ResourceMapping {
    /// The filter in upstream attribute names and values.
    pub fn filter_to_upstream(&self, f: &Filter) -> Result<Filter, MappingError> {
        Ok(match f {
            Filter::And(a, b) => Filter::And(
                Box::new(self.filter_to_upstream(a)?),
                Box::new(self.filter_to_upstream(b)?),
            ),
            Filter::Or(a, b) => Filter::Or(
                Box::new(self.filter_to_upstream(a)?),
                Box::new(self.filter_to_upstream(b)?),
            ),
            Filter::Not(a) => Filter::Not(Box::new(self.filter_to_upstream(a)?)),
            Filter::Compare { path, op, value } => self.leaf(path, Test::Compare(*op, value))?,
            Filter::Present(path) => self.leaf(path, Test::Present)?,
            Filter::ValuePath { path, filter } => self.value_path(path, filter)?,
        })
    }

    fn unmappable(&self, path: &dyn std::fmt::Display) -> MappingError {
        if self.emulate {
            MappingError::NeedsEmulation {
                attribute: path.to_string(),
            }
        } else {
            MappingError::Scim(ScimError::invalid_filter(format!(
                "attribute \"{path}\" has no upstream equivalent and cannot be filtered on"
            )))
        }
    }

    /// The rules on the path's attribute (URN of the core schema ignored).
    fn rules_on(&self, path: &AttrPath) -> (Vec<&Rule>, bool) {
        let urn = path
            .urn
            .as_deref()
            .filter(|u| !u.eq_ignore_ascii_case(&self.tenant_schema));
        let rules = self
            .rules
            .iter()
            .filter(|r| names(&r.tenant, urn, &path.attr))
            .collect();
        let never = self
            .never_upstream
            .iter()
            .any(|e| names(e, urn, &path.attr));
        (rules, never)
    }

    /// A comparison or presence test on `path`.
    fn leaf(&self, path: &AttrPath, test: Test<'_>) -> Result<Filter, MappingError> {
        let (rules, never) = self.rules_on(path);
        if path.urn.is_none() && COMMON.iter().any(|c| c.eq_ignore_ascii_case(&path.attr)) {
            return Ok(rebuild(path.clone(), test));
        }
        if never {
            return Err(self.unmappable(path));
        }
        if rules.is_empty() {
            return if self.passes() {
                Ok(rebuild(path.clone(), test))
            } else {
                Err(self.unmappable(path))
            };
        }
        let sub = path.sub_attr.as_deref();
        let sub_eq = |r: &&Rule| opt_eq(r.tenant.sub.as_deref(), sub);
        if let Some(r) = rules
            .iter()
            .find(|r| sub_eq(r) && r.tenant.select.is_empty())
        {
            return self.on_upstream(r, test, path);
        }
        if let (Some(r), Some(s)) = (
            rules
                .iter()
                .find(|r| r.tenant.sub.is_none() && r.tenant.select.is_empty()),
            sub,
        ) {
            let mut up = r.upstream.attr_path();
            up.sub_attr = Some(s.to_string());
            return Ok(rebuild(up, test));
        }
        // A test on every element, or (without sub) on any part of the
        // attribute: true when it holds at any of its places.
        let places: Vec<&&Rule> = rules
            .iter()
            .filter(|r| sub.is_none() || sub_eq(r))
            .collect();
        if places.is_empty() || (sub.is_none() && matches!(test, Test::Compare(..))) {
            return if self.passes() {
                Ok(rebuild(path.clone(), test))
            } else {
                Err(self.unmappable(path))
            };
        }
        let mut out = Vec::new();
        for r in places {
            out.push(self.on_upstream(r, test, path)?);
        }
        if self.passes() {
            out.push(rebuild(path.clone(), test));
        }
        any(out).ok_or_else(|| self.unmappable(path))
    }

    /// The test rebuilt on a rule's upstream endpoint, its value transformed.
    fn on_upstream(
        &self,
        r: &Rule,
        test: Test<'_>,
        path: &AttrPath,
    ) -> Result<Filter, MappingError> {
        let mapped;
        let test = match test {
            Test::Present => Test::Present,
            Test::Compare(op, value) => {
                let exact = matches!(op, CompareOp::Eq | CompareOp::Ne);
                if r.transforms
                    .iter()
                    .any(|t| matches!(t, super::Transform::Join(_)))
                    || !(exact || keeps_order(&r.transforms))
                {
                    return Err(self.unmappable(path));
                }
                let v = forward(&r.transforms, json_value(value), path)
                    .map_err(|_| self.unmappable(path))?;
                mapped = try_comp_value(&v).ok_or_else(|| self.unmappable(path))?;
                Test::Compare(op, &mapped)
            }
        };
        Ok(on_endpoint(&r.upstream, test))
    }

    /// `attr[filter]`.
    fn value_path(&self, path: &AttrPath, inner: &Filter) -> Result<Filter, MappingError> {
        let (rules, never) = self.rules_on(path);
        let keep = || Filter::ValuePath {
            path: path.clone(),
            filter: Box::new(inner.clone()),
        };
        if never {
            return Err(self.unmappable(path));
        }
        if rules.is_empty() {
            return if self.passes() {
                Ok(keep())
            } else {
                Err(self.unmappable(path))
            };
        }
        let conjuncts = conjuncts(inner);
        let conds: Vec<(String, serde_json::Value)> = conjuncts
            .iter()
            .filter_map(|c| filter_conditions(c))
            .flatten()
            .collect();
        let (selector, group): (&Vec<(String, serde_json::Value)>, Vec<&Rule>) =
            match rules.iter().find(|r| {
                !r.tenant.select.is_empty()
                    && r.tenant.select.iter().all(|s| {
                        conds
                            .iter()
                            .any(|c| same_select(std::slice::from_ref(s), std::slice::from_ref(c)))
                    })
            }) {
                Some(first) => (
                    &first.tenant.select,
                    rules
                        .iter()
                        .copied()
                        .filter(|r| same_select(&r.tenant.select, &first.tenant.select))
                        .collect(),
                ),
                None => {
                    let apart = rules
                        .iter()
                        .all(|r| !r.tenant.select.is_empty() && disjoint(&conds, &r.tenant.select));
                    return if apart && self.passes() {
                        Ok(keep())
                    } else {
                        Err(self.unmappable(&Filter::ValuePath {
                            path: path.clone(),
                            filter: Box::new(inner.clone()),
                        }))
                    };
                }
            };
        let mut out = Vec::new();
        for c in conjuncts {
            let is_selector = filter_conditions(c).is_some_and(|cs| {
                cs.iter().all(|x| {
                    selector
                        .iter()
                        .any(|s| same_select(std::slice::from_ref(s), std::slice::from_ref(x)))
                })
            });
            if !is_selector {
                out.push(self.element_test(path, &group, c)?);
            }
        }
        if out.is_empty() {
            let present: Vec<Filter> = group
                .iter()
                .map(|r| on_endpoint(&r.upstream, Test::Present))
                .collect();
            return any(present).ok_or_else(|| self.unmappable(path));
        }
        Ok(out
            .into_iter()
            .reduce(|a, b| Filter::And(Box::new(a), Box::new(b)))
            .unwrap_or_else(keep))
    }

    /// A test inside a value filter, on a sub-attribute one of `group`'s
    /// rules maps.
    fn element_test(
        &self,
        parent: &AttrPath,
        group: &[&Rule],
        f: &Filter,
    ) -> Result<Filter, MappingError> {
        let at = |p: &AttrPath| AttrPath {
            urn: parent.urn.clone(),
            attr: parent.attr.clone(),
            sub_attr: Some(p.attr.clone()),
        };
        let find = |p: &AttrPath| {
            group
                .iter()
                .find(|r| opt_eq(r.tenant.sub.as_deref(), Some(&p.attr)))
                .ok_or_else(|| self.unmappable(&at(p)))
        };
        Ok(match f {
            Filter::Compare { path, op, value } => {
                self.on_upstream(find(path)?, Test::Compare(*op, value), &at(path))?
            }
            Filter::Present(path) => on_endpoint(&find(path)?.upstream, Test::Present),
            Filter::Not(a) => Filter::Not(Box::new(self.element_test(parent, group, a)?)),
            Filter::And(a, b) => Filter::And(
                Box::new(self.element_test(parent, group, a)?),
                Box::new(self.element_test(parent, group, b)?),
            ),
            Filter::Or(a, b) => Filter::Or(
                Box::new(self.element_test(parent, group, a)?),
                Box::new(self.element_test(parent, group, b)?),
            ),
            Filter::ValuePath { path, .. } => return Err(self.unmappable(path)),
        })
    }
}

fn rebuild(path: AttrPath, test: Test<'_>) -> Filter {
    match test {
        Test::Present => Filter::Present(path),
        Test::Compare(op, value) => Filter::Compare {
            path,
            op,
            value: value.clone(),
        },
    }
}

/// The test on an upstream endpoint; a selected element becomes a value
/// path (`emails[type eq "work" and value eq "x"]`).
fn on_endpoint(ep: &Endpoint, test: Test<'_>) -> Filter {
    let Some(sel) = select_filter(&ep.select) else {
        return rebuild(ep.attr_path(), test);
    };
    let inner = rebuild(AttrPath::simple(ep.sub.as_deref().unwrap_or("value")), test);
    Filter::ValuePath {
        path: AttrPath {
            urn: ep.urn.clone(),
            attr: ep.attr.clone(),
            sub_attr: None,
        },
        filter: Box::new(Filter::And(Box::new(sel), Box::new(inner))),
    }
}

fn any(fs: Vec<Filter>) -> Option<Filter> {
    fs.into_iter()
        .reduce(|a, b| Filter::Or(Box::new(a), Box::new(b)))
}

/// The operands of an `and` chain.
fn conjuncts(f: &Filter) -> Vec<&Filter> {
    match f {
        Filter::And(a, b) => {
            let mut out = conjuncts(a);
            out.extend(conjuncts(b));
            out
        }
        f => vec![f],
    }
}

fn opt_eq(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (None, None) => true,
        _ => false,
    }
}
