//! Query-string quirks: Entra's `aadOptscim062020` compliance flag
//! (and its opt-out `AzureAdScimPatch2017`). Admins append the flag to the
//! tenant URL (`https://host/scim/v2/?aadOptscim062020`), so it arrives on
//! every request; it steers Entra's client, means nothing to a SCIM
//! server, and a strict upstream would reject an unknown parameter.
use super::detect::is_aad_flag;
use super::{Applied, Rule, RuleSet};

/// The query string with the Entra flags removed, byte for byte otherwise.
///
/// `query` is the part after `?` (a leading `?` is kept if present). With
/// [`Rule::AadQueryFlags`] off the query is returned unchanged; in shadow
/// mode too, with the rule reported.
pub(crate) fn normalize_query(query: &str, rules: &RuleSet) -> (String, Applied) {
    let mut applied = Applied::default();
    if !rules.is_on(Rule::AadQueryFlags) {
        return (query.to_string(), applied);
    }
    let (prefix, body) = match query.strip_prefix('?') {
        Some(rest) => ("?", rest),
        None => ("", query),
    };
    let mut kept: Vec<&str> = Vec::new();
    for pair in body.split('&') {
        let key = pair.split('=').next().unwrap_or(pair);
        if is_aad_flag(key) {
            applied.record(Rule::AadQueryFlags);
        } else if !pair.is_empty() {
            kept.push(pair);
        }
    }
    if applied.is_empty() {
        return (query.to_string(), applied);
    }
    if rules.shadow {
        applied.shadow = true;
        return (query.to_string(), applied);
    }
    let joined = kept.join("&");
    let out = if joined.is_empty() {
        joined
    } else {
        format!("{prefix}{joined}")
    };
    (out, applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::Profile;

    fn entra() -> RuleSet {
        RuleSet::for_profile(Profile::Entra)
    }

    #[test]
    fn strips_the_flag_wherever_it_sits() {
        let cases = [
            ("aadOptscim062020", ""),
            ("?aadOptscim062020", ""),
            (
                "aadOptscim062020&filter=userName%20eq%20%22a%22",
                "filter=userName%20eq%20%22a%22",
            ),
            (
                "?filter=userName%20eq%20%22a%22&aadOptscim062020",
                "?filter=userName%20eq%20%22a%22",
            ),
            (
                "startIndex=1&AADOPTSCIM062020=&count=5",
                "startIndex=1&count=5",
            ),
            ("AzureAdScimPatch2017&count=1", "count=1"),
        ];
        for (input, want) in cases {
            let (out, applied) = normalize_query(input, &entra());
            assert_eq!(out, want, "{input}");
            assert!(applied.contains(Rule::AadQueryFlags), "{input}");
        }
    }

    #[test]
    fn other_queries_are_untouched() {
        for q in [
            "",
            "count=1",
            "filter=aadOptscim062020x",
            "a=aadOptscim062020",
        ] {
            let (out, applied) = normalize_query(q, &entra());
            assert_eq!(out, q);
            assert!(applied.is_empty(), "{q}");
        }
    }

    #[test]
    fn off_and_shadow_leave_the_query() {
        let q = "aadOptscim062020&count=1";
        let (out, applied) = normalize_query(q, &entra().with(Rule::AadQueryFlags, false));
        assert_eq!((out.as_str(), applied.is_empty()), (q, true));
        let (out, applied) = normalize_query(q, &entra().shadowed(true));
        assert_eq!(out, q);
        assert!(applied.shadow && applied.contains(Rule::AadQueryFlags));
    }
}
