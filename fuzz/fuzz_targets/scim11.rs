//! SCIM 1.1 translation (src/scim11/). The first byte picks what the rest
//! is: a 2.0 filter, a list query string, a PatchOp body, or an upstream's
//! 1.1 answer. Properties: a translated filter uses only what 1.1 has (no
//! `not`, `ne`, `ew` or value paths) and round-trips through its text; a
//! translated query's `filter` parameter parses back to the translated
//! filter; a PATCH translates to a JSON object or an error, and its
//! emulation never panics; an error read from a 1.1 answer always has an
//! error status; 1.1 answers translate without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scim_gateway::scim::filter::{CompareOp, Filter};
use scim_gateway::scim::patch::PatchRequest;
use scim_gateway::scim::query::ListQuery;
use scim_gateway::scim11::{
    emulate_patch_put, error_from_scim11, filter_to_scim11, list_from_scim11, list_to_scim11,
    patch_to_scim11, query_to_scim11, resource_from_scim11, resource_to_scim11,
    response_from_scim11, ResourceKind,
};
use scim_gateway_fuzz::{group, registry, split_first, user};
use serde_json::Value;

/// Only what SCIM 1.1 filters have.
fn is_scim11(f: &Filter) -> bool {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => is_scim11(a) && is_scim11(b),
        Filter::Not(_) | Filter::ValuePath { .. } => false,
        Filter::Compare { op, .. } => !matches!(op, CompareOp::Ne | CompareOp::Ew),
        Filter::Present(_) => true,
    }
}

fn filter(text: &str) {
    let Ok(f) = Filter::parse(text) else {
        return;
    };
    if let Ok(f11) = filter_to_scim11(&f) {
        assert!(is_scim11(&f11), "{text:?} translates to {f11}");
        let printed = f11.to_string();
        assert_eq!(
            Filter::parse(&printed).ok().as_ref(),
            Some(&f11),
            "{text:?}: the 1.1 filter {printed:?} does not round-trip"
        );
    }
}

fn query(text: &str) {
    let Ok(q) = ListQuery::from_query(text) else {
        return;
    };
    let Ok(q11) = query_to_scim11(&q) else {
        return;
    };
    let _ = q11.to_query_string();
    if let Some(f) = &q.filter {
        let sent = q11
            .params
            .iter()
            .find(|(k, _)| k == "filter")
            .map(|(_, v)| v);
        let sent = sent.unwrap_or_else(|| panic!("{text:?}: the filter is not sent"));
        let expected = filter_to_scim11(f).ok();
        assert_eq!(
            Filter::parse(sent).ok(),
            expected,
            "{text:?}: filter sent as {sent:?}"
        );
    }
}

fn patch(kind: ResourceKind, body: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let Ok(request) = PatchRequest::parse(&body) else {
        return;
    };
    if let Ok(out) = patch_to_scim11(&request) {
        assert!(out.is_object(), "{body} translates to {out}");
    }
    let current = match kind {
        ResourceKind::User => resource_to_scim11(user()),
        ResourceKind::Group => resource_to_scim11(group()),
    };
    if let Ok(put) = emulate_patch_put(registry(), kind, &current, &request) {
        assert!(put.is_object(), "{body} emulates as {put}");
    }
}

fn answer(selector: u8, kind: ResourceKind, body: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let statuses = [200, 201, 204, 302, 400, 404, 409, 412, 500, 503];
    let status = statuses[usize::from(selector >> 3) % statuses.len()];
    let base = Some("https://gw.example.test/t1/scim/v2");
    let _ = response_from_scim11(status, &body, kind, base);
    let _ = list_from_scim11(&body, kind, base);
    let e = error_from_scim11(status, &body);
    assert!(
        e.status() >= 400,
        "{body} with {status} reads as the error status {}",
        e.status()
    );
    let back = resource_from_scim11(&body, kind, None);
    let _ = resource_to_scim11(&back);
    let _ = list_to_scim11(&body);
}

fuzz_target!(|data: &[u8]| {
    let (selector, rest) = split_first(data);
    let kind = if selector & 4 == 0 {
        ResourceKind::User
    } else {
        ResourceKind::Group
    };
    match selector & 3 {
        0 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                filter(text);
            }
        }
        1 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                query(text);
            }
        }
        2 => patch(kind, rest),
        _ => answer(selector, kind, rest),
    }
});
