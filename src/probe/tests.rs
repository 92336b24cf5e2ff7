//! The probe's pure parts: query encoding, verdicts, actions, the block.
#![allow(clippy::unwrap_used)]
use super::client::encode;
use super::report::{recommend, with_actions};
use super::*;

fn check(area: Area, outcome: Outcome) -> Check {
    Check {
        area,
        name: "x".into(),
        outcome,
        detail: String::new(),
        action: Action::PassThrough,
    }
}

#[test]
fn filters_are_percent_encoded_with_spaces_as_percent_20() {
    assert_eq!(
        encode("userName eq \"a.b@c\" and x[y]"),
        "userName%20eq%20%22a.b%40c%22%20and%20x%5By%5D"
    );
}

#[test]
fn a_capability_is_false_on_any_failure_and_auto_when_unobserved() {
    let checks = vec![
        check(Area::Patch, Outcome::Pass),
        check(Area::Patch, Outcome::Fail),
        check(Area::Filter, Outcome::Pass),
        check(Area::Filter, Outcome::Skip),
        check(Area::Etag, Outcome::Skip),
    ];
    let caps = recommend(&checks);
    assert_eq!(caps.patch, Setting::False);
    assert_eq!(caps.filter, Setting::True);
    assert_eq!(caps.etag, Setting::Auto);
    assert_eq!(caps.bulk, Setting::Auto);
    let checks = with_actions(checks, &caps, "2.0");
    assert_eq!(checks[0].action, Action::Emulate);
    assert_eq!(checks[2].action, Action::PassThrough);
}

#[test]
fn discovery_is_normalized_and_scim11_translated() {
    let caps = recommend(&[]);
    let checks = with_actions(
        vec![
            check(Area::Discovery, Outcome::Fail),
            check(Area::Version, Outcome::Pass),
        ],
        &caps,
        "1.1",
    );
    assert_eq!(checks[0].action, Action::Normalize);
    assert_eq!(checks[1].action, Action::Normalize);
}

#[test]
fn the_block_names_the_upstream_and_the_first_failure() {
    let checks = vec![
        check(Area::Patch, Outcome::Fail),
        check(Area::Filter, Outcome::Pass),
    ];
    let capabilities = recommend(&checks);
    let card = Scorecard {
        upstream: "hr".into(),
        url: "http://x".into(),
        scim_version: "2.0",
        advertised: Advertised::default(),
        checks,
        capabilities,
        prefix: "scimprobe00".into(),
        left_behind: vec![],
        stopped: None,
        dry_run: false,
        answered: 0,
        requests: vec![],
    };
    let block = capabilities_block(&card);
    assert_eq!(
        block,
        "[upstreams.hr.capabilities]\n\
         patch = false   # fails (x): the gateway emulates\n\
         bulk = \"auto\"   # not observed: as /ServiceProviderConfig says\n\
         filter = true   # works: passed through\n\
         etag = \"auto\"   # not observed: as /ServiceProviderConfig says\n"
    );
    // Parses as TOML, with the values the config expects.
    let parsed: toml::Table = toml::from_str(&block).unwrap();
    let caps = &parsed["upstreams"]["hr"]["capabilities"];
    assert_eq!(caps["patch"].as_bool(), Some(false));
    assert_eq!(caps["bulk"].as_str(), Some("auto"));
}
