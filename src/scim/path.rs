//! Attribute paths: `[URN ":"] attrName ["." subAttr]` (RFC 7644 §3.10,
//! the `attrPath` rule of §3.4.2.2).
//!
//! This is the syntactic form shared by filters, PATCH paths, `attributes`,
//! `excludedAttributes` and `sortBy`. Resolving a path against schemas is
//! [`crate::scim::schema::SchemaRegistry::resolve`]'s job.
use crate::scim::error::{ScimError, ScimResult};
use std::fmt;

/// A parsed attribute path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URN prefix, as written (for example
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`).
    pub urn: Option<String>,
    /// The attribute name, as written.
    pub attr: String,
    /// The sub-attribute name, as written.
    pub sub_attr: Option<String>,
}

// === impl AttrPath ===

impl AttrPath {
    /// A path to a top-level attribute of the resource's core schema.
    pub fn simple(attr: &str) -> Self {
        AttrPath {
            urn: None,
            attr: attr.to_string(),
            sub_attr: None,
        }
    }

    /// A path to a sub-attribute of a core attribute.
    pub fn sub(attr: &str, sub_attr: &str) -> Self {
        AttrPath {
            urn: None,
            attr: attr.to_string(),
            sub_attr: Some(sub_attr.to_string()),
        }
    }

    /// Parses a whole string as an attribute path. A URN prefix is everything
    /// up to the last `:` (attribute names cannot contain colons; schema URNs
    /// such as `...:2.0:User` may contain dots).
    pub fn parse(s: &str) -> ScimResult<AttrPath> {
        let bad =
            |why: &str| ScimError::invalid_path(format!("invalid attribute path \"{s}\": {why}"));
        let (urn, rest) = if has_urn_prefix(s) {
            match s.rfind(':') {
                Some(i) => (Some(&s[..i]), &s[i + 1..]),
                None => return Err(bad("incomplete URN")),
            }
        } else {
            (None, s)
        };
        let (attr, sub_attr) = match rest.split_once('.') {
            Some((a, sub)) => (a, Some(sub)),
            None => (rest, None),
        };
        if !is_attr_name(attr) {
            return Err(bad("attribute name expected"));
        }
        if let Some(sub) = sub_attr {
            if !is_attr_name(sub) {
                return Err(bad("sub-attribute name expected after \".\""));
            }
        }
        Ok(AttrPath {
            urn: urn.map(str::to_string),
            attr: attr.to_string(),
            sub_attr: sub_attr.map(str::to_string),
        })
    }

    /// The path without its sub-attribute.
    pub fn parent(&self) -> AttrPath {
        AttrPath {
            urn: self.urn.clone(),
            attr: self.attr.clone(),
            sub_attr: None,
        }
    }

    /// True when `other` names the same attribute, ignoring case (RFC 7643 §2.1).
    pub fn eq_ignore_case(&self, other: &AttrPath) -> bool {
        fn opt_eq(a: &Option<String>, b: &Option<String>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                (None, None) => true,
                _ => false,
            }
        }
        self.attr.eq_ignore_ascii_case(&other.attr)
            && opt_eq(&self.urn, &other.urn)
            && opt_eq(&self.sub_attr, &other.sub_attr)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// True when `s` starts with `urn:` in any case.
pub(crate) fn has_urn_prefix(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

/// `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA`
/// (RFC 7644 §3.4.2.2), plus `$ref` (RFC 7643 §2.4).
pub(crate) fn is_attr_name(s: &str) -> bool {
    if s == "$ref" || s.eq_ignore_ascii_case("$ref") {
        return true;
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => {}
        _ => return false,
    }
    chars.all(is_name_char)
}

/// `nameChar` of RFC 7644 §3.4.2.2.
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_simple_sub_and_urn_paths() {
        assert_eq!(
            AttrPath::parse("userName").unwrap(),
            AttrPath::simple("userName")
        );
        assert_eq!(
            AttrPath::parse("name.givenName").unwrap(),
            AttrPath::sub("name", "givenName")
        );
        let p = AttrPath::parse(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        )
        .unwrap();
        assert_eq!(
            p.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(p.attr, "manager");
        assert_eq!(p.sub_attr.as_deref(), Some("value"));
        assert_eq!(
            p.to_string(),
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
        );
        assert_eq!(
            AttrPath::parse("members.$ref").unwrap().sub_attr.as_deref(),
            Some("$ref")
        );
    }

    #[test]
    fn rejects_bad_paths() {
        for bad in [
            "",
            "1abc",
            "name.",
            ".x",
            "a b",
            "name.given.x",
            "urn:",
            "emails[type eq \"w\"]",
        ] {
            let e = AttrPath::parse(bad).unwrap_err();
            assert_eq!(
                e.scim_type(),
                Some(crate::scim::error::ScimType::InvalidPath),
                "{bad}"
            );
        }
    }

    #[test]
    fn compares_ignoring_case() {
        let a = AttrPath::parse("Name.GivenName").unwrap();
        assert!(a.eq_ignore_case(&AttrPath::sub("name", "givenname")));
        assert!(!a.eq_ignore_case(&AttrPath::simple("name")));
    }
}
