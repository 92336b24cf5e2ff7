//! The response cache (moka): per tenant, for GETs of resources, lists and
//! discovery, where the tenant enables it.
//!
//! - Keys carry the tenant id: one tenant's entry never answers another.
//! - Every write the gateway forwards for a tenant (POST, PUT, PATCH,
//!   DELETE, Bulk) invalidates that tenant's entries of the resource type
//!   (all of them for Bulk) by bumping a generation that is part of the
//!   key; the stale entries are unreachable at once and age out.
//! - The upstream's `Cache-Control` is honoured: `no-store`, `private` and
//!   `no-cache` are not cached, `max-age` shortens the TTL.
//! - Only complete 200 answers are kept (after location rewriting, so a
//!   hit costs no rewriting either). Per process: replicas each keep
//!   their own.
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, LAST_MODIFIED};
use http::{HeaderMap, HeaderValue, StatusCode};
use moka::sync::Cache;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A tenant's cache settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// TTL of resources and lists.
    pub ttl: Duration,
    /// TTL of /ServiceProviderConfig, /Schemas, /ResourceTypes.
    pub discovery_ttl: Duration,
}

/// What a hit answers with.
#[derive(Debug, Clone)]
pub struct Cached {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    ttl: Duration,
}

/// The process's cache.
pub struct ResponseCache {
    entries: Cache<String, Cached>,
    /// Generation per (tenant, resource type): part of every key.
    generations: Mutex<HashMap<(String, String), u64>>,
}

struct PerEntry;

impl moka::Expiry<String, Cached> for PerEntry {
    fn expire_after_create(&self, _: &String, value: &Cached, _: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

impl ResponseCache {
    /// At most `max_entries` responses in all.
    pub fn new(max_entries: u64) -> ResponseCache {
        let entries = Cache::builder()
            .max_capacity(max_entries)
            .expire_after(PerEntry)
            .eviction_listener(|_, _, cause| {
                if cause.was_evicted() {
                    metrics::counter!(crate::telemetry::names::CACHE_EVICTIONS_TOTAL).increment(1);
                }
            })
            .build();
        ResponseCache {
            entries,
            generations: Mutex::default(),
        }
    }

    /// The tenant's generation (bumped by Bulk) and its type's.
    fn generation(&self, tenant: &str, resource_type: &str) -> (u64, u64) {
        let g = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let get = |t: &str| {
            g.get(&(tenant.to_string(), t.to_string()))
                .copied()
                .unwrap_or(0)
        };
        (get(""), get(&resource_type.to_ascii_lowercase()))
    }

    /// The key of a GET: tenant, generations, path and query.
    pub fn key(&self, tenant: &str, resource_type: &str, path_and_query: &str) -> String {
        let (all, gen) = self.generation(tenant, resource_type);
        format!("{tenant}\u{0}{all}.{gen}\u{0}{path_and_query}")
    }

    pub fn get(&self, key: &str) -> Option<Cached> {
        self.entries.get(key)
    }

    /// Keeps a 200 answer unless its `Cache-Control` forbids it.
    pub fn put(
        &self,
        key: String,
        status: StatusCode,
        headers: &HeaderMap,
        body: &Bytes,
        ttl: Duration,
    ) {
        if status != StatusCode::OK {
            return;
        }
        let Some(ttl) = allowed_ttl(headers, ttl) else {
            return;
        };
        let mut kept = HeaderMap::new();
        for name in [CONTENT_TYPE, ETAG, LAST_MODIFIED] {
            if let Some(v) = headers.get(&name) {
                kept.insert(name, v.clone());
            }
        }
        self.entries.insert(
            key,
            Cached {
                status,
                headers: kept,
                body: body.clone(),
                ttl,
            },
        );
    }

    /// A write for `resource_type` of `tenant` went upstream: its cached
    /// answers are stale (for Bulk, every type's).
    pub fn invalidate(&self, tenant: &str, resource_type: &str) {
        let mut g = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Bulk may touch every type: the tenant-wide generation ("").
        let scope = if resource_type.eq_ignore_ascii_case("bulk") {
            String::new()
        } else {
            resource_type.to_ascii_lowercase()
        };
        *g.entry((tenant.to_string(), scope)).or_insert(0) += 1;
    }

    /// Entries held (for tests).
    pub fn len(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The TTL an answer may be kept for, or `None` when it must not be.
fn allowed_ttl(headers: &HeaderMap, ttl: Duration) -> Option<Duration> {
    let mut ttl = ttl;
    for value in headers.get_all(CACHE_CONTROL).iter() {
        let Ok(text) = value.to_str() else {
            return None;
        };
        for directive in text.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-store" || lower == "private" || lower == "no-cache" {
                return None;
            }
            if let Some(secs) = lower.strip_prefix("max-age=") {
                let secs: u64 = secs.trim_matches('"').parse().ok()?;
                ttl = ttl.min(Duration::from_secs(secs));
            }
        }
    }
    (!ttl.is_zero()).then_some(ttl)
}

impl Cached {
    /// The response headers of a hit.
    pub fn headers_with_age(&self) -> HeaderMap {
        let mut h = self.headers.clone();
        h.insert("x-cache", HeaderValue::from_static("hit"));
        h
    }
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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

    #[test]
    fn tenants_never_share_entries_and_writes_invalidate_their_type() {
        let c = ResponseCache::new(100);
        let ttl = Duration::from_secs(60);
        let body = Bytes::from_static(b"{}");
        let acme = c.key("acme", "Users", "/Users/1");
        c.put(
            acme.clone(),
            StatusCode::OK,
            &json_headers(None),
            &body,
            ttl,
        );
        assert!(c.get(&acme).is_some());
        assert!(c.get(&c.key("globex", "Users", "/Users/1")).is_none());
        // A Group write leaves Users alone; a User write does not.
        c.invalidate("acme", "Groups");
        assert!(c.get(&c.key("acme", "Users", "/Users/1")).is_some());
        c.invalidate("acme", "Users");
        assert!(c.get(&c.key("acme", "Users", "/Users/1")).is_none());
        // Bulk invalidates every type of the tenant.
        let k = c.key("acme", "Groups", "/Groups");
        c.put(k, StatusCode::OK, &json_headers(None), &body, ttl);
        c.invalidate("acme", "Bulk");
        assert!(c.get(&c.key("acme", "Groups", "/Groups")).is_none());
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
        let c = ResponseCache::new(10);
        let k = c.key("acme", "Users", "/Users/2");
        c.put(
            k.clone(),
            StatusCode::NOT_FOUND,
            &json_headers(None),
            &Bytes::new(),
            ttl,
        );
        assert!(c.get(&k).is_none(), "only 200s are kept");
    }

    #[test]
    fn entries_expire() {
        let c = ResponseCache::new(10);
        let k = c.key("acme", "Users", "/Users");
        c.put(
            k.clone(),
            StatusCode::OK,
            &json_headers(None),
            &Bytes::new(),
            Duration::from_millis(50),
        );
        assert!(c.get(&k).is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert!(c.get(&k).is_none());
    }
}
