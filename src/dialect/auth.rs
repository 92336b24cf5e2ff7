//! `Authorization` header quirks: admins paste `Bearer <token>` into
//! Entra's "Secret Token" field (or Okta's "HTTP Header" field), and the
//! client prefixes its own scheme, sending `Bearer Bearer <token>`
//! (RFC 6750 §2.1 allows one `Bearer` scheme followed by the token).
//!
//! The token itself is never logged or copied into the report.
use super::{Applied, Rule, RuleSet};
use std::borrow::Cow;

/// The header value with a repeated `Bearer` scheme collapsed to one.
///
/// Borrowed (unchanged) unless [`Rule::DoubledBearer`] is on, not in shadow
/// mode, and the scheme repeats.
pub(crate) fn normalize_authorization<'a>(
    value: &'a str,
    rules: &RuleSet,
) -> (Cow<'a, str>, Applied) {
    let mut applied = Applied::default();
    if !rules.is_on(Rule::DoubledBearer) {
        return (Cow::Borrowed(value), applied);
    }
    let Some(after_first) = strip_bearer(value.trim_start()) else {
        return (Cow::Borrowed(value), applied);
    };
    let mut token = after_first;
    while let Some(rest) = strip_bearer(token) {
        token = rest;
    }
    if token.len() == after_first.len() || token.is_empty() {
        return (Cow::Borrowed(value), applied);
    }
    applied.record(Rule::DoubledBearer);
    if rules.shadow {
        applied.shadow = true;
        return (Cow::Borrowed(value), applied);
    }
    (Cow::Owned(format!("Bearer {token}")), applied)
}

/// The text after a leading `Bearer` scheme and its spaces, if any
/// (the scheme is case-insensitive, RFC 7235 §2.1).
fn strip_bearer(s: &str) -> Option<&str> {
    let scheme = s.get(..6)?;
    let rest = &s[6..];
    (scheme.eq_ignore_ascii_case("bearer") && rest.starts_with([' ', '\t']))
        .then(|| rest.trim_start_matches([' ', '\t']))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::Profile;

    fn on() -> RuleSet {
        RuleSet::for_profile(Profile::Generic)
    }

    #[test]
    fn collapses_repeated_schemes() {
        for (input, want) in [
            ("Bearer Bearer abc.def", "Bearer abc.def"),
            ("Bearer bearer  abc", "Bearer abc"),
            ("bearer BEARER Bearer abc", "Bearer abc"),
        ] {
            let (out, applied) = normalize_authorization(input, &on());
            assert_eq!(out, want);
            assert!(matches!(out, Cow::Owned(_)));
            assert!(applied.contains(Rule::DoubledBearer));
        }
    }

    #[test]
    fn single_schemes_and_other_headers_are_borrowed() {
        for input in [
            "Bearer abc",
            "Bearer Bearerish",
            "Basic dXNlcjpwYXNz",
            "Bearer Bearer",
            "",
        ] {
            let (out, applied) = normalize_authorization(input, &on());
            assert!(matches!(out, Cow::Borrowed(v) if v == input), "{input}");
            assert!(applied.is_empty(), "{input}");
        }
    }

    #[test]
    fn off_and_shadow_leave_the_header() {
        let input = "Bearer Bearer abc";
        let (out, applied) = normalize_authorization(input, &on().with(Rule::DoubledBearer, false));
        assert_eq!((out.as_ref(), applied.is_empty()), (input, true));
        let (out, applied) = normalize_authorization(input, &on().shadowed(true));
        assert_eq!(out, input);
        assert!(applied.shadow && applied.contains(Rule::DoubledBearer));
    }
}
