//! Cache keys: everything that changes an answer's bytes, in one canonical
//! form, so that a request can neither reach another request's entry nor
//! mint new entries with parameters that change nothing.
//!
//! A key holds the tenant, the invalidation generations, the tenant's
//! public base URL (the answer's `Location` and `meta.location` are
//! rewritten to it, and on a path-routed tenant it comes from the client's
//! `Host`: without it one client's `Host` would answer another's), the
//! path, and the SCIM query parameters of RFC 7644 §3.4.2 (`filter`,
//! `startIndex`, `count`, `sortBy`, `sortOrder`) and §3.9 (`attributes`,
//! `excludedAttributes`, the projection) in a fixed order. A request with
//! any other parameter, or one of these twice, is not cached at all: its
//! answer could differ in ways the key cannot know, and junk parameters
//! would otherwise fill the cache with copies of one answer.

/// The query parameters that may be part of a key, in key order.
const SCIM_PARAMETERS: [&str; 7] = [
    "filter",
    "startIndex",
    "count",
    "sortBy",
    "sortOrder",
    "attributes",
    "excludedAttributes",
];

/// A response cache key: the tenant whose budget the entry counts against,
/// and the canonical request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CacheKey {
    pub(super) tenant: String,
    pub(super) text: String,
}

impl CacheKey {
    /// `None` when the query cannot be keyed (see [`canonical_query`]).
    pub(super) fn new(
        tenant: &str,
        generation: &str,
        public_base: &str,
        path: &str,
        query: Option<&str>,
    ) -> Option<CacheKey> {
        let query = canonical_query(query)?;
        // NUL cannot occur in a tenant id, a generation token, a URL or a
        // path the gateway accepted, so the fields cannot run into each
        // other.
        let text = format!("{tenant}\u{0}{generation}\u{0}{public_base}\u{0}{path}\u{0}{query}");
        Some(CacheKey {
            tenant: tenant.to_string(),
            text,
        })
    }

    /// The key's size in bytes (part of an entry's weight).
    pub(super) fn len(&self) -> usize {
        self.text.len()
    }
}

/// The query's SCIM parameters in [`SCIM_PARAMETERS`] order, each exactly
/// as the client wrote it (no decoding: two spellings the upstream might
/// read differently stay two keys); `None` for a parameter outside the
/// list (names are compared exactly, as the gateway forwards them) or one
/// given twice.
pub(super) fn canonical_query(query: Option<&str>) -> Option<String> {
    let mut found: [Option<&str>; SCIM_PARAMETERS.len()] = [None; SCIM_PARAMETERS.len()];
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        let slot = SCIM_PARAMETERS.iter().position(|p| *p == name)?;
        if found[slot].replace(pair).is_some() {
            return None;
        }
    }
    let mut canonical = String::new();
    for pair in found.into_iter().flatten() {
        if !canonical.is_empty() {
            canonical.push('&');
        }
        canonical.push_str(pair);
    }
    Some(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_parameters_are_put_in_a_fixed_order() {
        assert_eq!(canonical_query(None).as_deref(), Some(""));
        assert_eq!(canonical_query(Some("")).as_deref(), Some(""));
        assert_eq!(
            canonical_query(Some("count=5&filter=userName%20eq%20%22a%22&startIndex=2")),
            canonical_query(Some("startIndex=2&count=5&filter=userName%20eq%20%22a%22")),
        );
        assert_eq!(
            canonical_query(Some("excludedAttributes=emails&attributes=userName&sortOrder=descending&sortBy=userName")).as_deref(),
            Some("sortBy=userName&sortOrder=descending&attributes=userName&excludedAttributes=emails")
        );
        // The projection is part of the key.
        assert_ne!(
            canonical_query(Some("attributes=userName")),
            canonical_query(Some("attributes=emails"))
        );
        assert_ne!(
            canonical_query(Some("attributes=userName")),
            canonical_query(Some("excludedAttributes=userName"))
        );
        // Values are kept as written.
        assert_ne!(
            canonical_query(Some("filter=a+b")),
            canonical_query(Some("filter=a%20b"))
        );
    }

    #[test]
    fn other_or_repeated_parameters_are_not_keyed() {
        assert_eq!(canonical_query(Some("junk=1")), None);
        assert_eq!(canonical_query(Some("filter=x&junk")), None);
        assert_eq!(canonical_query(Some("Filter=x")), None, "names are exact");
        assert_eq!(canonical_query(Some("%66ilter=x")), None);
        assert_eq!(canonical_query(Some("count=1&count=2")), None);
    }

    #[test]
    fn keys_differ_by_every_part_that_changes_the_answer() {
        let key = |tenant, gens, base, path, query| {
            CacheKey::new(tenant, gens, base, path, query).map(|k| k.text)
        };
        let base = key(
            "acme",
            "l0.0",
            "https://a/scim/v2",
            "/Users",
            Some("count=1"),
        );
        assert!(base.is_some());
        for other in [
            key(
                "globex",
                "l0.0",
                "https://a/scim/v2",
                "/Users",
                Some("count=1"),
            ),
            key(
                "acme",
                "l1.0",
                "https://a/scim/v2",
                "/Users",
                Some("count=1"),
            ),
            key(
                "acme",
                "l0.1",
                "https://a/scim/v2",
                "/Users",
                Some("count=1"),
            ),
            key(
                "acme",
                "l0.0",
                "https://evil/scim/v2",
                "/Users",
                Some("count=1"),
            ),
            key(
                "acme",
                "l0.0",
                "https://a/scim/v2",
                "/Groups",
                Some("count=1"),
            ),
            key(
                "acme",
                "l0.0",
                "https://a/scim/v2",
                "/Users",
                Some("count=2"),
            ),
        ] {
            assert_ne!(base, other);
        }
        assert_eq!(
            key(
                "acme",
                "l0.0",
                "https://a/scim/v2",
                "/Users",
                Some("count=1&junk=1")
            ),
            None
        );
    }
}
