//! ETags and preconditions, RFC 7644 §3.14 (RFC 7232 semantics).
//!
//! PLACEHOLDER: signatures fixed; implemented on the bulk branch.
use crate::scim::error::ScimResult;

/// A weak version tag derived from content (`W/"<hex>"`), for resources
/// that carry no version of their own.
pub fn weak_etag(_content: &[u8]) -> String {
    String::new()
}

/// `If-Match`: `Ok` when absent, `*` (and the resource exists), or one of
/// the listed tags equals `current` (weak comparison); else 412
/// `preconditionFailed`-style error naming both versions.
pub fn check_if_match(_if_match: Option<&str>, _current: Option<&str>) -> ScimResult<()> {
    Ok(())
}

/// `If-None-Match` on a read: `true` when the client's copy is current
/// (answer 304 Not Modified).
pub fn if_none_match_hits(_if_none_match: Option<&str>, _current: &str) -> bool {
    false
}
