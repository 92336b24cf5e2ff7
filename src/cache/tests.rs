#![allow(clippy::unwrap_used)]
use super::*;

const BASE: &str = "https://gw.example/scim/v2";
const MIB: u64 = 1024 * 1024;

fn json_headers(cache_control: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/scim+json"),
    );
    if let Some(cc) = cache_control {
        h.insert(CACHE_CONTROL, HeaderValue::from_str(cc).unwrap());
    }
    h
}

fn key(c: &ResponseCache, tenant: &str, path: &str) -> CacheKey {
    let resource_type = path.trim_start_matches('/').split('/').next().unwrap();
    c.key(tenant, resource_type, BASE, path, None).unwrap()
}

fn put(c: &ResponseCache, k: CacheKey, max_bytes: u64, body: &[u8]) {
    c.put(
        k,
        max_bytes,
        StatusCode::OK,
        &json_headers(None),
        &Bytes::copy_from_slice(body),
        Duration::from_secs(60),
    );
}

#[test]
fn tenants_never_share_entries_and_writes_invalidate_their_type() {
    let c = ResponseCache::new(MIB);
    let body = b"{}";
    let acme = key(&c, "acme", "/Users/1");
    put(&c, acme.clone(), MIB, body);
    assert!(c.get(&acme).is_some());
    assert!(c.get(&key(&c, "globex", "/Users/1")).is_none());
    // A Group write leaves Users alone; a User write does not.
    c.invalidate("acme", "Groups");
    assert!(c.get(&key(&c, "acme", "/Users/1")).is_some());
    c.invalidate("acme", "Users");
    assert!(c.get(&key(&c, "acme", "/Users/1")).is_none());
    // Bulk invalidates every type of the tenant.
    put(&c, key(&c, "acme", "/Groups"), MIB, body);
    c.invalidate("acme", "Bulk");
    assert!(c.get(&key(&c, "acme", "/Groups")).is_none());
}

#[test]
fn another_public_base_is_another_entry() {
    let c = ResponseCache::new(MIB);
    let k = c.key("acme", "Users", BASE, "/Users/1", None).unwrap();
    put(&c, k, MIB, b"{}");
    let evil = c
        .key(
            "acme",
            "Users",
            "https://evil.example/scim/v2",
            "/Users/1",
            None,
        )
        .unwrap();
    assert!(c.get(&evil).is_none());
}

#[test]
fn cache_control_is_honoured() {
    let ttl = Duration::from_secs(60);
    assert_eq!(allowed_ttl(&json_headers(None), ttl), Some(ttl));
    assert_eq!(allowed_ttl(&json_headers(Some("no-store")), ttl), None);
    assert_eq!(
        allowed_ttl(&json_headers(Some("private, max-age=9")), ttl),
        None
    );
    assert_eq!(
        allowed_ttl(&json_headers(Some("public, max-age=5")), ttl),
        Some(Duration::from_secs(5))
    );
    assert_eq!(allowed_ttl(&json_headers(Some("max-age=0")), ttl), None);
    let c = ResponseCache::new(MIB);
    let k = key(&c, "acme", "/Users/2");
    c.put(
        k.clone(),
        MIB,
        StatusCode::NOT_FOUND,
        &json_headers(None),
        &Bytes::new(),
        ttl,
    );
    assert!(c.get(&k).is_none(), "only 200s are kept");
}

#[test]
fn entries_expire() {
    let c = ResponseCache::new(MIB);
    let k = key(&c, "acme", "/Users");
    c.put(
        k.clone(),
        MIB,
        StatusCode::OK,
        &json_headers(None),
        &Bytes::new(),
        Duration::from_millis(50),
    );
    assert!(c.get(&k).is_some());
    std::thread::sleep(Duration::from_millis(80));
    assert!(c.get(&k).is_none());
}

/// Distinct keys of `size`-byte answers, far more than the budgets hold.
fn flood(c: &ResponseCache, tenant: &str, max_bytes: u64, size: usize, n: usize) {
    let body = vec![b'x'; size];
    for i in 0..n {
        let query = format!("filter=userName%20eq%20%22u{i}%22");
        let k = c
            .key(tenant, "Users", BASE, "/Users", Some(&query))
            .unwrap();
        put(c, k, max_bytes, &body);
    }
}

#[test]
fn a_tenant_stays_within_its_byte_budget() {
    let c = ResponseCache::new(64 * MIB);
    flood(&c, "acme", MIB, 64 * 1024, 200);
    assert!(c.tenant_bytes("acme") <= MIB, "{}", c.tenant_bytes("acme"));
    assert!(c.tenant_bytes("acme") > MIB / 2, "the budget is used");
    assert_eq!(c.used_bytes(), c.tenant_bytes("acme"));
}

#[test]
fn all_tenants_stay_within_the_process_budget() {
    let c = ResponseCache::new(2 * MIB);
    for tenant in ["a", "b", "c", "d"] {
        flood(&c, tenant, MIB, 64 * 1024, 100);
        assert!(c.used_bytes() <= 2 * MIB, "{}", c.used_bytes());
    }
    let sum: u64 = ["a", "b", "c", "d"].iter().map(|t| c.tenant_bytes(t)).sum();
    assert_eq!(sum, c.used_bytes(), "the accounts agree");
}

#[test]
fn an_entry_over_its_share_of_the_budget_is_not_cached() {
    let c = ResponseCache::new(64 * MIB);
    let small = key(&c, "acme", "/Users/small");
    put(&c, small.clone(), MIB, &vec![b'x'; 100 * 1024]);
    assert!(c.get(&small).is_some());
    let large = key(&c, "acme", "/Users/large");
    put(
        &c,
        large.clone(),
        MIB,
        &vec![b'x'; (MIB / MAX_ENTRY_SHARE) as usize],
    );
    assert!(c.get(&large).is_none());
}

#[test]
fn bytes_are_given_back_when_entries_go() {
    let c = ResponseCache::new(MIB);
    let k = key(&c, "acme", "/Users/1");
    put(&c, k.clone(), MIB, &[b'x'; 1000]);
    let one = c.used_bytes();
    assert!(one > 1000);
    // Replaced: still one entry's bytes.
    put(&c, k, MIB, &[b'x'; 1000]);
    c.len();
    assert_eq!(c.used_bytes(), one);
    // Expired (moka's timer wheel removes it within about a second).
    c.put(
        key(&c, "acme", "/Users/2"),
        MIB,
        StatusCode::OK,
        &json_headers(None),
        &Bytes::new(),
        Duration::from_millis(20),
    );
    assert!(c.used_bytes() > one);
    let given_back = std::time::Instant::now() + Duration::from_secs(5);
    while c.used_bytes() > one && std::time::Instant::now() < given_back {
        std::thread::sleep(Duration::from_millis(50));
        c.len();
    }
    assert_eq!(c.used_bytes(), one);
    // A new budget for the tenant (a reload): a fresh cache, bytes back.
    put(&c, key(&c, "acme", "/Users/3"), MIB / 2, &[b'x'; 10]);
    assert!(c.get(&key(&c, "acme", "/Users/1")).is_none());
    assert!(c.used_bytes() < one, "{} {one}", c.used_bytes());
    assert_eq!(c.used_bytes(), c.tenant_bytes("acme"));
}
