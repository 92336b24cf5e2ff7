//! Filter rewrites, compared as printed by the filter printer.
use super::super::MappingError;
use super::*;
use crate::scim::filter::Filter;
use crate::scim::ScimType;

fn rewrite(m: &ResourceMapping, f: &str) -> String {
    m.filter_to_upstream(&Filter::parse(f).unwrap())
        .unwrap_or_else(|e| panic!("{f}: {e:?}"))
        .to_string()
}

fn refuse(m: &ResourceMapping, f: &str) -> MappingError {
    m.filter_to_upstream(&Filter::parse(f).unwrap())
        .unwrap_err()
}

#[test]
fn legacy_hr_paths_and_values() {
    let m = fixture("legacy-hr");
    let u = users(&m);
    let cases = [
        (r#"userName eq " BJensen""#, r#"login eq "bjensen""#),
        (
            r#"name.givenName sw "Ba" and active eq true"#,
            r#"firstName sw "Ba" and active eq "Y""#,
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            r#"mail co "@example.com""#,
        ),
        (r#"emails[Type eq "Work"]"#, "mail pr"),
        (r#"emails.value eq "a@x""#, r#"mail eq "a@x""#),
        (
            &format!(r#"{ENTERPRISE}:department eq "Sales""#),
            r#"dept eq "S01""#,
        ),
        (r#"department ne "Support""#, r#"dept ne "C07""#),
        (r#"not (phoneNumbers[type eq "mobile"])"#, "not (mobile pr)"),
        (
            r#"externalId eq "7" or id eq "1""#,
            r#"employeeId eq "7" or id eq "1""#,
        ),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        ),
        ("name pr", "firstName pr or lastName pr"),
    ];
    for (tenant, upstream) in cases {
        assert_eq!(rewrite(u, tenant), upstream, "{tenant}");
    }
}

#[test]
fn attributes_without_an_upstream_equivalent_are_invalid_filters() {
    let m = fixture("legacy-hr");
    let u = users(&m);
    for (f, named) in [
        (r#"nickName eq "Babs""#, "nickName"),
        (r#"department co "Sa""#, "department"),
        (r#"emails[type eq "home"]"#, "emails[type eq \"home\"]"),
        (r#"title eq "x" and userName eq "y""#, "title"),
    ] {
        let e = refuse(u, f).into_scim();
        assert_eq!(e.scim_type(), Some(ScimType::InvalidFilter), "{f}");
        assert!(
            e.detail().contains(&format!("\"{named}\"")),
            "{f}: {}",
            e.detail()
        );
    }
}

#[test]
fn attribute_spread_over_places_becomes_an_or() {
    let m = inline(
        r#"
[resources.User.upstream.attributes]
mail = "string"
[[resources.User.rules]]
from = 'emails[type eq "work"].value'
to = "mail"
"#,
    );
    let u = users(&m);
    assert_eq!(
        rewrite(u, r#"emails.value eq "a@x""#),
        r#"mail eq "a@x" or emails.value eq "a@x""#
    );
    assert_eq!(rewrite(u, "emails pr"), "mail pr or emails pr");
    assert_eq!(
        rewrite(u, r#"emails[type eq "home" and value eq "h@x"]"#),
        r#"emails[type eq "home" and value eq "h@x"]"#
    );
    assert_eq!(rewrite(u, r#"nickName eq "n""#), r#"nickName eq "n""#);
}

#[test]
fn core_to_extension_and_joined_lists() {
    let m = fixture("crm-extension");
    let u = users(&m);
    assert_eq!(
        rewrite(u, r#"title eq "Boss" and emails.value co "@x""#),
        r#"urn:example:crm:2.0:User:jobTitle eq "Boss" and emails.value co "@x""#
    );
    let e = refuse(u, r#"roles.value eq "admin""#).into_scim();
    assert!(e.detail().contains("roles.value"), "{}", e.detail());
}

#[test]
fn emulation_is_a_distinct_outcome() {
    let m = fixture("saas-app");
    let u = users(&m);
    assert_eq!(
        refuse(u, r#"locale eq "en-US""#),
        MappingError::NeedsEmulation {
            attribute: "locale".into()
        }
    );
    assert_eq!(
        rewrite(u, r#"userName eq "BJensen" and active eq false"#),
        r#"userName eq "bjensen" and enabled eq false"#
    );
}

#[test]
fn value_filters_on_a_flattened_element() {
    let m = fixture("payroll");
    let u = users(&m);
    assert_eq!(
        rewrite(
            u,
            r#"addresses[type eq "work" and locality eq "Hollywood"]"#
        ),
        r#"city eq "Hollywood""#
    );
    assert_eq!(
        rewrite(
            u,
            r#"addresses[type eq "work" and (locality eq "X" or not (region pr))] and active eq true"#
        ),
        r#"(city eq "X" or not (state pr)) and status eq 1"#
    );
    assert!(refuse(u, r#"addresses[type eq "work" and formatted pr]"#)
        .into_scim()
        .detail()
        .contains("addresses.formatted"));
}
