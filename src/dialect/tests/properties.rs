//! Properties over every fixture: the output is canonical (the strict
//! parsers accept it), normalizing twice changes nothing more, no rule
//! changes nothing, and shadow mode reports without touching.
use super::{all_fixtures, load, normalize, normalize_with, profile_of, resource_type_of};
use crate::dialect::{Profile, Rule, RuleSet};
use crate::scim::patch::PatchRequest;
use crate::scim::schema::SchemaRegistry;
use crate::scim::validate::validate_resource;

#[test]
fn fixtures_exist_for_both_idps() {
    let names = all_fixtures();
    assert!(names.iter().filter(|n| n.starts_with("entra-")).count() >= 10);
    assert!(names.iter().filter(|n| n.starts_with("okta-")).count() >= 8);
}

#[test]
fn every_normalized_fixture_is_accepted_by_the_strict_core() {
    let registry = SchemaRegistry::builtin();
    for name in all_fixtures() {
        let envelope = load(&name);
        let rt = registry.resource_type(resource_type_of(&envelope)).unwrap();
        let (body, _) = normalize(&name);
        match envelope["method"].as_str().unwrap() {
            "PATCH" => {
                let req =
                    PatchRequest::parse(&body).unwrap_or_else(|e| panic!("{name}: {}", e.detail()));
                for op in &req.operations {
                    if let Some(p) = &op.path {
                        registry.resolve(rt, &p.attr).unwrap();
                    }
                }
            }
            _ => {
                validate_resource(&registry, rt, &body, None)
                    .unwrap_or_else(|e| panic!("{name}: {}", e.detail()));
            }
        }
    }
}

#[test]
fn normalizing_twice_changes_nothing_more() {
    for name in all_fixtures() {
        let (once, _) = normalize(&name);
        let envelope = load(&name);
        let registry = SchemaRegistry::builtin();
        let rt = registry.resource_type(resource_type_of(&envelope)).unwrap();
        let mut twice = once.clone();
        let rules = RuleSet::for_profile(profile_of(&name));
        let applied = match envelope["method"].as_str().unwrap() {
            "PATCH" => crate::dialect::normalize_patch(&mut twice, &rules, &registry, rt),
            m => {
                let kind = if m == "POST" {
                    crate::dialect::WriteKind::Create
                } else {
                    crate::dialect::WriteKind::Replace
                };
                crate::dialect::normalize_resource(&mut twice, kind, &rules, &registry, rt)
            }
        };
        assert_eq!(twice, once, "{name}");
        assert!(applied.is_empty(), "{name}: {applied:?}");
    }
}

#[test]
fn no_rules_change_nothing() {
    for name in all_fixtures() {
        let (body, applied) = normalize_with(&name, &RuleSet::none());
        assert_eq!(body, load(&name)["body"], "{name}");
        assert!(applied.is_empty(), "{name}");
    }
}

#[test]
fn shadow_mode_reports_the_same_rules_and_changes_nothing() {
    for name in all_fixtures() {
        let rules = RuleSet::for_profile(profile_of(&name));
        let (_, live) = normalize_with(&name, &rules);
        let (body, shadow) = normalize_with(&name, &rules.shadowed(true));
        assert_eq!(body, load(&name)["body"], "{name}");
        assert!(shadow.shadow, "{name}");
        assert!(!live.shadow, "{name}");
        assert_eq!(
            shadow.rules().collect::<Vec<_>>(),
            live.rules().collect::<Vec<_>>(),
            "{name}"
        );
    }
}

#[test]
fn every_rule_has_a_unique_stable_name() {
    let mut names: Vec<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
    for r in Rule::ALL {
        assert_eq!(r.name().parse::<Rule>(), Ok(r));
        assert_eq!(r.to_string(), r.name());
        assert!(r.name().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Rule::ALL.len());
    let err = "nope".parse::<Rule>().unwrap_err().to_string();
    assert!(
        err.contains("unknown rule \"nope\"") && err.contains("op_case"),
        "{err}"
    );
}

#[test]
fn profiles_parse_ignoring_case() {
    for p in Profile::ALL {
        assert_eq!(p.as_str().to_uppercase().parse::<Profile>(), Ok(p));
    }
    let err = "azure".parse::<Profile>().unwrap_err().to_string();
    assert_eq!(
        err,
        "unknown idp_profile \"azure\" (expected one of: entra, okta, generic, auto)"
    );
}

#[test]
fn profile_defaults() {
    let generic = RuleSet::for_profile(Profile::Generic);
    assert_eq!(RuleSet::for_profile(Profile::Auto), generic);
    assert_eq!(RuleSet::default(), generic);
    // The generic set never drops data a compliant client may mean.
    for r in [
        Rule::CreatePassword,
        Rule::ReadOnlyGroups,
        Rule::RemoveByValueList,
        Rule::ForeignSchemas,
        Rule::MergeFilteredSubAttrs,
    ] {
        assert!(!generic.is_on(r), "{r}");
    }
    let entra = RuleSet::for_profile(Profile::Entra);
    assert!(entra.is_on(Rule::AadQueryFlags) && !entra.is_on(Rule::CreatePassword));
    let okta = RuleSet::for_profile(Profile::Okta);
    assert!(okta.is_on(Rule::CreatePassword) && !okta.is_on(Rule::AadQueryFlags));
    assert_eq!(RuleSet::all().rules().count(), Rule::ALL.len());
    assert_eq!(RuleSet::none().rules().count(), 0);
    assert!(!entra.shadow);
}
