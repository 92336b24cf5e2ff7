#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The capabilities a tenant is offered in front of its upstream, through
//! the whole config compile step.
use crate::snapshot::Snapshot;
use crate::tenant_id::TenantId;
use std::path::Path;

const HASH: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn compile(upstreams: &str, tenant_extra: &[(&str, &str, &str)]) -> Snapshot {
    let mut text = format!("[server]\nlisten = \"127.0.0.1:0\"\nplaintext = true\n{upstreams}\n");
    for (id, upstream, extra) in tenant_extra {
        text.push_str(&format!(
            "[[tenants]]\nid = \"{id}\"\nhosts = [\"{id}.example\"]\nupstream = \"{upstream}\"\n\
             [[tenants.tokens]]\nname = \"t\"\nhash = \"{HASH}\"\n{extra}\n"
        ));
    }
    let raw = crate::config::parse(&text, "t.toml").unwrap();
    crate::config::compile(&raw, Path::new("/t.toml"), None).unwrap()
}

fn caps(s: &Snapshot, id: &str) -> crate::scim::discovery::Capabilities {
    let t = &s.tenants[&TenantId::new(id).unwrap()];
    t.schema.capabilities.clone()
}

#[tokio::test]
async fn emulated_capabilities_are_offered_with_the_emulation_bounds() {
    let s = compile(
        "[upstreams.legacy]\nkind = \"http\"\nurl = \"http://127.0.0.1:9/scim/v2\"\n\
         [upstreams.legacy.capabilities]\npatch = false\nbulk = false\nfilter = false\netag = false\n\
         bulk_max_operations = 7\nfilter_max_results = 50\n\
         [upstreams.modern]\nkind = \"http\"\nurl = \"http://127.0.0.1:9/scim/v2\"\n\
         [upstreams.modern.capabilities]\npatch = true\nbulk = true\nfilter = true\netag = true\n\
         bulk_max_operations = 7\nfilter_max_results = 50\n",
        &[("old", "legacy", ""), ("new", "modern", "")],
    );
    let old = caps(&s, "old");
    assert!(old.patch && old.etag && old.sort);
    assert_eq!(old.bulk.unwrap().max_operations, 7);
    assert_eq!(old.filter_max_results, Some(50));
    // Enforced as advertised.
    let t = &s.tenants[&TenantId::new("old").unwrap()];
    assert_eq!(t.schema.bulk.max_operations, 7);
    // Native support: the gateway's own bounds, not the emulation's.
    let new = caps(&s, "new");
    assert!(new.patch && new.etag);
    assert_eq!(new.bulk.unwrap().max_operations, 1000);
    assert_eq!(new.filter_max_results, Some(200));
}

#[tokio::test]
async fn auto_means_emulation_may_answer_except_in_front_of_the_store() {
    let s = compile(
        "[upstreams.remote]\nkind = \"http\"\nurl = \"http://127.0.0.1:9/scim/v2\"\n\
         [upstreams.remote.capabilities]\nbulk_max_operations = 9\nfilter_max_results = 60\n\
         [upstreams.store]\nkind = \"builtin\"\n\
         [upstreams.store.capabilities]\nbulk_max_operations = 9\nfilter_max_results = 60\n",
        &[("r", "remote", ""), ("b", "store", ""), ("c", "store", "")],
    );
    let r = caps(&s, "r");
    assert_eq!(r.bulk.unwrap().max_operations, 9);
    assert_eq!(r.filter_max_results, Some(60));
    // The store runs Bulk and filters itself: its own caps (1000 each).
    let b = caps(&s, "b");
    assert_eq!(b.bulk.unwrap().max_operations, 1000);
    assert_eq!(b.filter_max_results, Some(1000));
    // Tenants configuring nothing still share one schema per upstream.
    let id = |id: &str| TenantId::new(id).unwrap();
    assert!(std::sync::Arc::ptr_eq(
        &s.tenants[&id("b")].schema,
        &s.tenants[&id("c")].schema
    ));
}

#[tokio::test]
async fn a_mapping_table_that_emulates_bounds_filter_results() {
    let table =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mapping/store-dept-codes.toml");
    let extra = format!("[tenants.schema]\nmapping = \"{}\"\n", table.display());
    let s = compile(
        "[upstreams.store]\nkind = \"builtin\"\n\
         [upstreams.store.capabilities]\nfilter_max_results = 40\n",
        &[("m", "store", &extra), ("plain", "store", "")],
    );
    assert_eq!(caps(&s, "m").filter_max_results, Some(40));
    assert_eq!(caps(&s, "plain").filter_max_results, Some(1000));
}

#[tokio::test]
async fn a_scim11_upstream_gets_no_bulk() {
    let s = compile(
        "[upstreams.old]\nkind = \"http\"\nurl = \"http://127.0.0.1:9/scim/v1\"\ndialect = \"scim1.1\"\n",
        &[("x", "old", "")],
    );
    let x = caps(&s, "x");
    assert!(x.bulk.is_none());
    assert!(x.patch);
}
