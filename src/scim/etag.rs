//! ETags and preconditions, RFC 7644 §3.14 with the semantics of RFC 7232
//! (§2.3 entity tags, §3.1 If-Match, §3.2 If-None-Match). SCIM versions
//! are weak validators (`W/"..."`), so comparison is weak throughout.
use crate::scim::error::{ScimError, ScimResult};

/// One entity tag of an `If-Match`/`If-None-Match` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntityTag {
    pub weak: bool,
    /// The opaque tag without quotes.
    pub opaque: String,
}

/// A weak version tag derived from content (`W/"<16 hex>"`, FNV-1a 64),
/// for resources that carry no version of their own. Stable across
/// processes and releases.
pub(crate) fn weak_etag(content: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in content {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("W/\"{h:016x}\"")
}

/// Parses a list of entity tags (`W/"a", "b"`). `*` is not a tag: callers
/// check it first. Malformed members are skipped.
pub(crate) fn parse_entity_tags(header: &str) -> Vec<EntityTag> {
    let mut tags = Vec::new();
    let mut rest = header.trim_start();
    while !rest.is_empty() {
        let (weak, after) = match rest.strip_prefix("W/").or_else(|| rest.strip_prefix("w/")) {
            Some(a) => (true, a),
            None => (false, rest),
        };
        let Some(after_quote) = after.strip_prefix('"') else {
            // Not a tag: skip to the next comma.
            rest = after.split_once(',').map_or("", |(_, r)| r).trim_start();
            continue;
        };
        let Some(end) = after_quote.find('"') else {
            break;
        };
        tags.push(EntityTag {
            weak,
            opaque: after_quote[..end].to_string(),
        });
        rest = after_quote[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    tags
}

/// The opaque part of one version string (`W/"3"` → `3`; a bare `3` is
/// taken as is).
fn opaque_of(version: &str) -> &str {
    let v = version.trim();
    let v = v
        .strip_prefix("W/")
        .or_else(|| v.strip_prefix("w/"))
        .unwrap_or(v);
    v.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(v)
}

/// Weak comparison (RFC 7232 §2.3.2) of a header list against `current`.
fn any_matches(header: &str, current: &str) -> bool {
    let current = opaque_of(current);
    parse_entity_tags(header)
        .iter()
        .any(|t| t.opaque == current)
}

/// `If-Match`: `Ok` when absent, `*` with an existing resource, or one of
/// the listed tags equals `current`; else 412 naming both versions.
pub(crate) fn check_if_match(if_match: Option<&str>, current: Option<&str>) -> ScimResult<()> {
    let Some(header) = if_match.map(str::trim).filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    let Some(current) = current else {
        return Err(ScimError::precondition_failed(format!(
            "If-Match {header} does not match: the resource has no version"
        )));
    };
    if header == "*" || any_matches(header, current) {
        Ok(())
    } else {
        Err(ScimError::precondition_failed(format!(
            "the resource version is {current}, not If-Match {header}; fetch the resource again"
        )))
    }
}

/// `If-None-Match` on a read: `true` when the client's copy is current
/// (answer 304 Not Modified).
pub(crate) fn if_none_match_hits(if_none_match: Option<&str>, current: &str) -> bool {
    match if_none_match.map(str::trim) {
        None | Some("") => false,
        Some("*") => true,
        Some(h) => any_matches(h, current),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_with_weak_and_strong_tags() {
        let tags = parse_entity_tags(r#"W/"a", "b,c" ,  w/"d", junk, "e""#);
        let opaque: Vec<&str> = tags.iter().map(|t| t.opaque.as_str()).collect();
        assert_eq!(opaque, vec!["a", "b,c", "d", "e"]);
        assert!(tags[0].weak && !tags[1].weak && tags[2].weak);
        assert!(parse_entity_tags("\"unterminated").is_empty());
    }

    #[test]
    fn if_match_semantics() {
        assert!(check_if_match(None, Some("W/\"1\"")).is_ok());
        assert!(check_if_match(Some("*"), Some("W/\"1\"")).is_ok());
        assert!(check_if_match(Some("W/\"1\""), Some("W/\"1\"")).is_ok());
        assert!(
            check_if_match(Some("\"1\""), Some("W/\"1\"")).is_ok(),
            "weak comparison"
        );
        assert!(check_if_match(Some("W/\"0\", W/\"1\""), Some("W/\"1\"")).is_ok());
        let e = check_if_match(Some("W/\"0\""), Some("W/\"1\"")).err();
        let e = e
            .as_ref()
            .map(|e| (e.status(), e.detail().contains("W/\"1\"")));
        assert_eq!(e, Some((412, true)));
        assert!(check_if_match(Some("*"), None).is_err());
        assert!(check_if_match(Some("garbage"), Some("W/\"1\"")).is_err());
    }

    #[test]
    fn if_none_match_semantics() {
        assert!(if_none_match_hits(Some("W/\"1\""), "W/\"1\""));
        assert!(if_none_match_hits(Some("*"), "W/\"1\""));
        assert!(!if_none_match_hits(Some("W/\"2\""), "W/\"1\""));
        assert!(!if_none_match_hits(None, "W/\"1\""));
    }

    #[test]
    fn weak_etags_are_stable() {
        assert_eq!(weak_etag(b""), "W/\"cbf29ce484222325\"");
        assert_eq!(weak_etag(b"a"), "W/\"af63dc4c8601ec8c\"");
        assert_ne!(weak_etag(b"a"), weak_etag(b"b"));
    }
}
