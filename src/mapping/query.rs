//! The rest of a query for the upstream: `attributes` /
//! `excludedAttributes` (RFC 7644 §3.4.2.5) and `sortBy` (§3.4.2.3); and
//! the way back for error details (§3.12).
use super::{ResourceMapping, Rule};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::path::{is_name_char, AttrPath};
use crate::scim::projection::Projection;

// === impl ResourceMapping ===

impl ResourceMapping {
    /// Upstream paths for a list of tenant paths: a mapped attribute's
    /// upstream place(s), a parent's every rule below it, unmapped ones kept
    /// (`pass`) or left out (`drop`), never-sent ones left out.
    pub fn attributes_to_upstream(&self, paths: &[AttrPath]) -> Vec<AttrPath> {
        let mut out: Vec<AttrPath> = Vec::new();
        for p in paths {
            for up in self.places(p) {
                if !out.iter().any(|o| o.eq_ignore_case(&up)) {
                    out.push(up);
                }
            }
        }
        out
    }

    /// A projection for the upstream. An `attributes` list whose every
    /// entry vanished asks for `id` only, never for everything.
    pub fn projection_to_upstream(&self, p: &Projection) -> Projection {
        let mut attributes = self.attributes_to_upstream(&p.attributes);
        if attributes.is_empty() && !p.attributes.is_empty() {
            attributes.push(AttrPath::simple("id"));
        }
        Projection {
            attributes,
            excluded: self.attributes_to_upstream(&p.excluded),
        }
    }

    /// `sortBy` for the upstream: one upstream path (for an attribute
    /// spread over several places, the `primary` one); else 400
    /// `invalidPath` naming it. The upstream then sorts by its own values.
    pub fn sort_by_to_upstream(&self, path: &AttrPath) -> ScimResult<AttrPath> {
        let rules = self.rules_under(path);
        let chosen = rules
            .iter()
            .find(|r| r.tenant.select.is_empty() && same_sub(r, path))
            .or_else(|| rules.iter().find(|r| r.primary && same_sub(r, path)));
        match chosen {
            Some(r) => Ok(r.upstream.attr_path()),
            None if is_common(path) => Ok(path.clone()),
            None if rules.is_empty() && self.passes() && !self.never(path) => Ok(path.clone()),
            None => Err(ScimError::invalid_path(format!(
                "sortBy \"{path}\" has no single upstream equivalent"
            ))),
        }
    }

    /// An upstream error detail with upstream attribute names replaced by
    /// tenant ones (best effort: whole words, longest names first).
    pub fn error_detail_to_tenant(&self, detail: &str) -> String {
        let mut pairs: Vec<(String, String)> = self
            .rules
            .iter()
            .map(|r| (r.upstream.to_string(), r.tenant.to_string()))
            .collect();
        pairs.sort_by_key(|(up, _)| std::cmp::Reverse(up.len()));
        let lower = detail.to_ascii_lowercase();
        let mut out = String::with_capacity(detail.len());
        let mut i = 0;
        'scan: while i < detail.len() {
            let at_start = detail[..i]
                .chars()
                .next_back()
                .is_none_or(|c| !is_name_char(c) && c != '.' && c != ':');
            if at_start {
                for (up, tenant) in &pairs {
                    let end = i + up.len();
                    if !detail.is_char_boundary(end)
                        || !lower[i..].starts_with(&up.to_ascii_lowercase())
                    {
                        continue;
                    }
                    if detail[end..]
                        .chars()
                        .next()
                        .is_none_or(|c| !is_name_char(c))
                    {
                        out.push_str(tenant);
                        i = end;
                        continue 'scan;
                    }
                }
            }
            let Some(c) = detail[i..].chars().next() else {
                break;
            };
            out.push(c);
            i += c.len_utf8();
        }
        out
    }

    /// Rules whose tenant side is `path` or below it.
    fn rules_under(&self, path: &AttrPath) -> Vec<&Rule> {
        let urn = path
            .urn
            .as_deref()
            .filter(|u| !u.eq_ignore_ascii_case(&self.tenant_schema));
        self.rules
            .iter()
            .filter(|r| super::patch::names(&r.tenant, urn, &path.attr))
            .filter(|r| path.sub_attr.is_none() || r.tenant.sub.is_none() || same_sub(r, path))
            .collect()
    }

    fn never(&self, path: &AttrPath) -> bool {
        let urn = path.urn.as_deref();
        self.never_upstream
            .iter()
            .any(|e| super::patch::names(e, urn, &path.attr))
    }

    /// Where a tenant path's values live upstream.
    fn places(&self, p: &AttrPath) -> Vec<AttrPath> {
        let whole = p.to_string();
        if self
            .tenant_extensions
            .iter()
            .any(|e| e.eq_ignore_ascii_case(&whole))
        {
            let mut out: Vec<AttrPath> = self
                .rules
                .iter()
                .filter(|r| {
                    r.tenant
                        .urn
                        .as_deref()
                        .is_some_and(|u| u.eq_ignore_ascii_case(&whole))
                })
                .map(|r| r.upstream.attr_path())
                .collect();
            if self.passes() {
                out.push(p.clone());
            }
            return out;
        }
        if is_common(p) {
            return vec![p.clone()];
        }
        if self.never(p) {
            return Vec::new();
        }
        let rules = self.rules_under(p);
        let exact = rules
            .iter()
            .find(|r| r.tenant.select.is_empty() && same_sub(r, p));
        if let Some(r) = exact {
            return vec![r.upstream.attr_path()];
        }
        if let (Some(r), Some(s)) = (
            rules
                .iter()
                .find(|r| r.tenant.sub.is_none() && r.tenant.select.is_empty()),
            &p.sub_attr,
        ) {
            let mut up = r.upstream.attr_path();
            up.sub_attr = Some(s.clone());
            return vec![up];
        }
        let mut out: Vec<AttrPath> = rules.iter().map(|r| r.upstream.attr_path()).collect();
        if self.passes() {
            out.push(p.clone());
        }
        out
    }
}

/// `id` and `meta` pass through whatever the table says.
fn is_common(p: &AttrPath) -> bool {
    p.urn.is_none()
        && ["id", "meta"]
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&p.attr))
}

fn same_sub(r: &Rule, p: &AttrPath) -> bool {
    match (r.tenant.sub.as_deref(), p.sub_attr.as_deref()) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (None, None) => true,
        _ => false,
    }
}
