//! Attribute paths, filters and list query parameters from SCIM 2.0 to
//! SCIM 1.1.
//!
//! 1.1 filters (SCIM 1.1 API §3.2.2) have the operators `eq co sw pr gt ge
//! lt le` and the logical `and`, `or` with grouping: no `ne`, no `ew`, no
//! `not`, no value paths. A value path whose inside is one comparison, or
//! an `or` of comparisons, means the same as dotted paths
//! (`emails[type eq "work"]` is `emails.type eq "work"`: any element
//! matches either way); an `and` inside a value path does not (the
//! conditions must hold for the *same* element), so it is reported, as are
//! the missing operators. Each report is emulable: the gateway could fetch
//! without the filter and evaluate it locally.
//!
//! `startIndex`, `count`, `sortBy`, `sortOrder` and `attributes` exist in
//! 1.1 with the same meaning; `excludedAttributes` does not, so it is left
//! for the gateway to apply to the translated response.
use super::resource::schema_urn_to_scim11;
use super::{Scim11Error, ENTERPRISE_SCHEMA_11};
use crate::scim::error::ScimError;
use crate::scim::filter::{CompareOp, Filter};
use crate::scim::path::AttrPath;
use crate::scim::query::{ListQuery, SortOrder};
use crate::scim::schema::{GROUP_SCHEMA, USER_SCHEMA};

/// A list query in 1.1 form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scim11Query {
    /// The query parameters for the 1.1 upstream, in a stable order.
    pub params: Vec<(String, String)>,
    /// True when the 2.0 query had `excludedAttributes`, which 1.1 lacks:
    /// the gateway must project the translated response itself.
    pub project_locally: bool,
}

/// Translates an attribute path (a PATCH path, `sortBy`, an element of
/// `attributes`). Paths into the core schema lose their URN prefix; the
/// enterprise URN is the 1.1 one and its `manager.value` is
/// `manager.managerId`. `$ref` and `meta.resourceType` have no 1.1
/// equivalent: emulable 400 `invalidPath`.
pub fn path_to_scim11(path: &AttrPath) -> Result<AttrPath, Scim11Error> {
    map_path(path).map_err(|why| path_error(path, &why))
}

fn path_error(path: &AttrPath, why: &str) -> Scim11Error {
    Scim11Error::emulable(ScimError::invalid_path(format!(
        "attribute path \"{path}\" cannot be sent to a SCIM 1.1 service: {why}"
    )))
}

/// Translates a filter (see the module docs); what 1.1 cannot express is
/// an emulable 400 `invalidFilter` naming the part at fault.
pub fn filter_to_scim11(filter: &Filter) -> Result<Filter, Scim11Error> {
    let unsupported = |part: &Filter, why: &str| {
        Scim11Error::emulable(ScimError::invalid_filter(format!(
            "filter \"{part}\" cannot be sent to a SCIM 1.1 service: {why}"
        )))
    };
    match filter {
        Filter::And(a, b) => Ok(Filter::And(
            Box::new(filter_to_scim11(a)?),
            Box::new(filter_to_scim11(b)?),
        )),
        Filter::Or(a, b) => Ok(Filter::Or(
            Box::new(filter_to_scim11(a)?),
            Box::new(filter_to_scim11(b)?),
        )),
        Filter::Not(_) => Err(unsupported(filter, "SCIM 1.1 has no \"not\"")),
        Filter::Compare {
            op: op @ (CompareOp::Ne | CompareOp::Ew),
            ..
        } => Err(unsupported(
            filter,
            &format!("SCIM 1.1 has no \"{}\" operator", op.as_str()),
        )),
        Filter::Compare { path, op, value } => Ok(Filter::Compare {
            path: map_path(path).map_err(|why| unsupported(filter, &why))?,
            op: *op,
            value: value.clone(),
        }),
        Filter::Present(path) => Ok(Filter::Present(
            map_path(path).map_err(|why| unsupported(filter, &why))?,
        )),
        Filter::ValuePath {
            path,
            filter: inner,
        } => {
            let flat = flatten_value_path(path, inner).map_err(|why| unsupported(filter, &why))?;
            filter_to_scim11(&flat)
        }
    }
}

/// Translates a whole list query; errors as in [`filter_to_scim11`] and
/// [`path_to_scim11`].
pub fn query_to_scim11(query: &ListQuery) -> Result<Scim11Query, Scim11Error> {
    let mut params = Vec::new();
    if let Some(filter) = &query.filter {
        params.push(("filter".into(), filter_to_scim11(filter)?.to_string()));
    }
    if let Some(sort_by) = &query.sort_by {
        params.push(("sortBy".into(), path_to_scim11(sort_by)?.to_string()));
        let order = match query.sort_order {
            SortOrder::Ascending => "ascending",
            SortOrder::Descending => "descending",
        };
        params.push(("sortOrder".into(), order.into()));
    }
    if query.start_index != 1 || query.count.is_some() {
        params.push(("startIndex".into(), query.start_index.to_string()));
    }
    if let Some(count) = query.count {
        params.push(("count".into(), count.to_string()));
    }
    if !query.projection.attributes.is_empty() {
        let mut names: Vec<String> = Vec::new();
        for path in &query.projection.attributes {
            // Asking for the parent of what 1.1 lacks returns a superset;
            // the gateway rebuilds `$ref` and `resourceType` anyway.
            let path = map_path(path)
                .or_else(|_| map_path(&path.parent()))
                .map_err(|why| path_error(path, &why))?;
            let name = path.to_string();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        params.push(("attributes".into(), names.join(",")));
    }
    Ok(Scim11Query {
        params,
        project_locally: !query.projection.excluded.is_empty(),
    })
}

// === impl Scim11Query ===

impl Scim11Query {
    /// The parameters as a percent-encoded query string (no leading `?`).
    pub fn to_query_string(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.params)
            .finish()
    }
}

/// The 1.1 form of a path, or why there is none.
fn map_path(path: &AttrPath) -> Result<AttrPath, String> {
    let urn = match path.urn.as_deref() {
        None => None,
        Some(u) if u.eq_ignore_ascii_case(USER_SCHEMA) || u.eq_ignore_ascii_case(GROUP_SCHEMA) => {
            None
        }
        Some(u) => Some(schema_urn_to_scim11(u).to_string()),
    };
    let sub = path.sub_attr.as_deref();
    if sub.is_some_and(|s| s.eq_ignore_ascii_case("$ref")) || path.attr.eq_ignore_ascii_case("$ref")
    {
        return Err("SCIM 1.1 has no \"$ref\"".into());
    }
    if path.attr.eq_ignore_ascii_case("meta")
        && sub.is_some_and(|s| s.eq_ignore_ascii_case("resourceType"))
    {
        return Err("SCIM 1.1 has no \"meta.resourceType\"".into());
    }
    let in_enterprise = urn.as_deref() == Some(ENTERPRISE_SCHEMA_11);
    let sub_attr = match sub {
        Some(s)
            if in_enterprise
                && path.attr.eq_ignore_ascii_case("manager")
                && s.eq_ignore_ascii_case("value") =>
        {
            Some("managerId".to_string())
        }
        other => other.map(str::to_string),
    };
    Ok(AttrPath {
        urn,
        attr: path.attr.clone(),
        sub_attr,
    })
}

/// `emails[type eq "a" or value co "b"]` as `emails.type eq "a" or
/// emails.value co "b"`; an error when the inside is not an `or` of
/// comparisons.
fn flatten_value_path(parent: &AttrPath, inner: &Filter) -> Result<Filter, String> {
    let qualify = |p: &AttrPath| -> Result<AttrPath, String> {
        if p.urn.is_some() || p.sub_attr.is_some() {
            return Err(format!(
                "\"{p}\" inside a value path is not a sub-attribute"
            ));
        }
        Ok(AttrPath {
            urn: parent.urn.clone(),
            attr: parent.attr.clone(),
            sub_attr: Some(p.attr.clone()),
        })
    };
    match inner {
        Filter::Or(a, b) => Ok(Filter::Or(
            Box::new(flatten_value_path(parent, a)?),
            Box::new(flatten_value_path(parent, b)?),
        )),
        Filter::Compare { path, op, value } => Ok(Filter::Compare {
            path: qualify(path)?,
            op: *op,
            value: value.clone(),
        }),
        Filter::Present(path) => Ok(Filter::Present(qualify(path)?)),
        Filter::And(..) | Filter::Not(..) | Filter::ValuePath { .. } => Err(format!(
            "SCIM 1.1 cannot require several conditions of one element of \"{}\"",
            parent.attr
        )),
    }
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
