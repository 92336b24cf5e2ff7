//! The response cache (moka): per tenant, for GETs of resources, lists and
//! discovery, where the tenant enables it.
//!
//! - Keys carry the tenant id: one tenant's entry never answers another;
//!   and everything else that changes an answer's bytes ([`key`]). A
//!   request with a query parameter outside SCIM's is not cached.
//! - Every write the gateway forwards for a tenant (POST, PUT, PATCH,
//!   DELETE, Bulk) invalidates that tenant's entries of the resource type
//!   (all of them for Bulk and for types the tenant does not declare) by
//!   bumping a generation that is part of the key; the stale entries are
//!   unreachable at once and age out. The generations are the process's
//!   own, or, with the Redis backend, shared by every replica
//!   ([`shared`]).
//! - The upstream's `Cache-Control` is honoured: `no-store`, `private` and
//!   `no-cache` are not cached, `max-age` shortens the TTL.
//! - Only complete 200 answers are kept (after location rewriting, so a
//!   hit costs no rewriting either). The entries are per process (each
//!   replica keeps its own); only the generations may be shared.
//! - Memory is bounded in bytes, not entries: an entry weighs its body,
//!   kept headers, key and a fixed overhead. Each tenant has a moka cache
//!   of its own budget (so one tenant's traffic never evicts another's
//!   entries), and all tenants together stay within the process budget:
//!   an entry is only inserted once its bytes are reserved there (refused,
//!   not cached, when the process budget is spent). An entry larger than
//!   1/[`MAX_ENTRY_SHARE`] of its tenant's budget is not cached.
mod key;
pub(crate) mod shared;

pub(crate) use key::CacheKey;

use crate::telemetry::names::{CACHE_BYTES, CACHE_EVICTIONS_TOTAL, CACHE_REQUESTS_TOTAL};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, LAST_MODIFIED};
use http::{HeaderMap, HeaderValue, StatusCode};
use moka::notification::RemovalCause;
use moka::sync::Cache;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// An entry larger than 1/8 of its tenant's budget is not cached: a few
/// large lists must not flush everything else.
pub(crate) const MAX_ENTRY_SHARE: u64 = 8;

/// What an entry costs beyond its body, headers and key: moka's node, the
/// `Cached` struct, the header map's table (an estimate, on the high side).
const ENTRY_OVERHEAD: u64 = 256;

/// A tenant's cache settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// TTL of resources and lists.
    pub ttl: Duration,
    /// TTL of /ServiceProviderConfig, /Schemas, /ResourceTypes.
    pub discovery_ttl: Duration,
    /// The tenant's byte budget (`[tenants.cache] max_bytes`).
    pub max_bytes: u64,
}

/// What a hit answers with.
#[derive(Debug, Clone)]
pub(crate) struct Cached {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    ttl: Duration,
    /// Bytes reserved for the entry (released when moka removes it).
    weight: u32,
}

/// The process's cache.
pub(crate) struct ResponseCache {
    /// The process budget, bytes.
    max_bytes: u64,
    /// Bytes reserved by every tenant's entries.
    used: Arc<AtomicU64>,
    /// One cache per tenant, with that tenant's budget.
    tenants: RwLock<HashMap<String, TenantCache>>,
    /// Generation per (tenant, resource type): part of every key.
    generations: Mutex<HashMap<(String, String), u64>>,
}

struct TenantCache {
    max_bytes: u64,
    account: Arc<Account>,
    entries: Cache<String, Cached>,
}

/// A tenant's bytes, kept with the process's: reserved before an insert,
/// released by moka's removal listener (expired, evicted, replaced,
/// refused admission).
struct Account {
    used: AtomicU64,
    process: Arc<AtomicU64>,
    gauge: metrics::Gauge,
}

impl Account {
    fn add(&self, weight: u64) {
        let now = self.used.fetch_add(weight, Ordering::AcqRel) + weight;
        self.gauge.set(now as f64);
    }

    fn release(&self, weight: u64) {
        // Nothing to release once retired (used swapped to 0): the process
        // budget got the tenant's bytes back then.
        let released = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                u.checked_sub(weight)
            });
        if let Ok(before) = released {
            let _ = self
                .process
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                    Some(u.saturating_sub(weight))
                });
            self.gauge.set((before - weight) as f64);
        }
    }

    /// The tenant's cache is replaced (its budget changed): its bytes go
    /// back to the process at once; the old entries are freed with it.
    fn retire(&self) {
        let held = self.used.swap(0, Ordering::AcqRel);
        let _ = self
            .process
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                Some(u.saturating_sub(held))
            });
    }
}

struct PerEntry;

impl moka::Expiry<String, Cached> for PerEntry {
    fn expire_after_create(&self, _: &String, value: &Cached, _: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

impl TenantCache {
    fn new(tenant: &str, max_bytes: u64, process: Arc<AtomicU64>) -> TenantCache {
        let account = Arc::new(Account {
            used: AtomicU64::new(0),
            process,
            gauge: metrics::gauge!(CACHE_BYTES, "tenant" => tenant.to_string()),
        });
        account.gauge.set(0.0);
        let listener = account.clone();
        let entries = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_: &String, v: &Cached| v.weight)
            .expire_after(PerEntry)
            .eviction_listener(move |_, v: Cached, cause| {
                if cause == RemovalCause::Size {
                    metrics::counter!(CACHE_EVICTIONS_TOTAL).increment(1);
                }
                listener.release(u64::from(v.weight));
            })
            .build();
        TenantCache {
            max_bytes,
            account,
            entries,
        }
    }
}

impl ResponseCache {
    /// At most `max_bytes` of cached answers in all.
    pub(crate) fn new(max_bytes: u64) -> ResponseCache {
        ResponseCache {
            max_bytes,
            used: Arc::default(),
            tenants: RwLock::default(),
            generations: Mutex::default(),
        }
    }

    /// The generation token of the process's own generations: the
    /// tenant's (bumped by Bulk and by writes to undeclared types) and the
    /// scope's (see [`ResponseCache::invalidate`]).
    pub(crate) fn local_generation(&self, tenant: &str, scope: &str) -> String {
        let g = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let get = |t: &str| {
            g.get(&(tenant.to_string(), t.to_string()))
                .copied()
                .unwrap_or(0)
        };
        format!("l{}.{}", get(""), get(&scope_of(scope)))
    }

    /// The key of a GET of `path` with `query` for `tenant`, whose answer
    /// carries `public_base`, under the process's own generations (for
    /// tests; the stage uses [`ResponseCache::key_with`]).
    #[cfg(test)]
    pub(crate) fn key(
        &self,
        tenant: &str,
        resource_type: &str,
        public_base: &str,
        path: &str,
        query: Option<&str>,
    ) -> Option<CacheKey> {
        let generation = self.local_generation(tenant, resource_type);
        self.key_with(tenant, &generation, public_base, path, query)
    }

    /// The key of a GET of `path` with `query` for `tenant` under the
    /// generation token `generation` (the process's own, or the shared
    /// ones read from Redis: `shared`); `None`: not cacheable (a query
    /// parameter outside SCIM's, or one repeated; see [`key`]).
    pub(crate) fn key_with(
        &self,
        tenant: &str,
        generation: &str,
        public_base: &str,
        path: &str,
        query: Option<&str>,
    ) -> Option<CacheKey> {
        let key = CacheKey::new(tenant, generation, public_base, path, query);
        if key.is_none() {
            bypassed(tenant);
        }
        key
    }

    pub(crate) fn get(&self, key: &CacheKey) -> Option<Cached> {
        let tenants = self.tenants.read().unwrap_or_else(PoisonError::into_inner);
        tenants.get(&key.tenant)?.entries.get(&key.text)
    }

    /// Keeps a 200 answer unless its `Cache-Control` forbids it, it is too
    /// large for the tenant's budget of `max_bytes`, or the process budget
    /// has no room.
    pub(crate) fn put(
        &self,
        key: CacheKey,
        max_bytes: u64,
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
        let weight = entry_weight(&key, &kept, body);
        let Ok(weight32) = u32::try_from(weight) else {
            return;
        };
        if weight > max_bytes.min(self.max_bytes) / MAX_ENTRY_SHARE {
            return;
        }
        self.ensure_tenant(&key.tenant, max_bytes);
        // Held across the insert: a budget change (write lock) cannot
        // retire the cache while an entry goes in.
        let tenants = self.tenants.read().unwrap_or_else(PoisonError::into_inner);
        let Some(tenant) = tenants.get(&key.tenant) else {
            return;
        };
        if !self.reserve(weight) {
            // Expired and evicted entries not yet removed hold bytes that
            // are free in truth: remove them (every tenant's), then retry.
            for t in tenants.values() {
                t.entries.run_pending_tasks();
            }
            if !self.reserve(weight) {
                return;
            }
        }
        tenant.account.add(weight);
        tenant.entries.insert(
            key.text,
            Cached {
                status,
                headers: kept,
                body: body.clone(),
                ttl,
                weight: weight32,
            },
        );
        // Evict down to the tenant's budget now, not at moka's next
        // housekeeping: the bound holds after every insert. (Only misses
        // insert, and they waited for an upstream anyway.)
        tenant.entries.run_pending_tasks();
    }

    /// Takes `weight` bytes of the process budget, if there is room.
    fn reserve(&self, weight: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                (u + weight <= self.max_bytes).then_some(u + weight)
            })
            .is_ok()
    }

    /// The tenant's cache exists, with a budget of `max_bytes` (a reload
    /// that changes the budget starts the tenant's cache afresh).
    fn ensure_tenant(&self, tenant: &str, max_bytes: u64) {
        {
            let tenants = self.tenants.read().unwrap_or_else(PoisonError::into_inner);
            if tenants
                .get(tenant)
                .is_some_and(|t| t.max_bytes == max_bytes)
            {
                return;
            }
        }
        let mut tenants = self.tenants.write().unwrap_or_else(PoisonError::into_inner);
        if tenants
            .get(tenant)
            .is_some_and(|t| t.max_bytes == max_bytes)
        {
            return;
        }
        let fresh = TenantCache::new(tenant, max_bytes, self.used.clone());
        if let Some(old) = tenants.insert(tenant.to_string(), fresh) {
            old.account.retire();
        }
    }

    /// A write for `resource_type` of `tenant` went upstream: its cached
    /// answers are stale. `"Bulk"` or `""` (a write to a type the tenant
    /// does not declare) bumps the tenant-wide generation, part of every
    /// key of the tenant; so the map holds at most one entry per declared
    /// type, whatever paths clients write to.
    pub(crate) fn invalidate(&self, tenant: &str, resource_type: &str) {
        let mut g = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *g.entry((tenant.to_string(), scope_of(resource_type)))
            .or_insert(0) += 1;
    }

    /// Entries held (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        let tenants = self.tenants.read().unwrap_or_else(PoisonError::into_inner);
        tenants
            .values()
            .map(|t| {
                t.entries.run_pending_tasks();
                t.entries.entry_count()
            })
            .sum()
    }

    /// A tenant's entries and bytes held, for the admin API; `None`
    /// before its first entry. (moka counts entries lazily: its pending
    /// maintenance runs first, on the admin's call, not a request's.)
    pub(crate) fn tenant_usage(&self, tenant: &str) -> Option<(u64, u64)> {
        let tenants = self.tenants.read().unwrap_or_else(PoisonError::into_inner);
        tenants.get(tenant).map(|t| {
            t.entries.run_pending_tasks();
            (
                t.entries.entry_count(),
                t.account.used.load(Ordering::Acquire),
            )
        })
    }

    /// Bytes held by every tenant's entries (for tests and metrics).
    pub(crate) fn used_bytes(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// Bytes held by `tenant`'s entries (for tests).
    #[cfg(test)]
    pub(crate) fn tenant_bytes(&self, tenant: &str) -> u64 {
        let tenants = self.tenants.read().unwrap_or_else(PoisonError::into_inner);
        tenants
            .get(tenant)
            .map_or(0, |t| t.account.used.load(Ordering::Acquire))
    }
}

/// The generation scope of a resource type: `""` (tenant-wide) for Bulk
/// and for no type, the type's lowercase name otherwise.
pub(crate) fn scope_of(resource_type: &str) -> String {
    if resource_type.eq_ignore_ascii_case("bulk") {
        String::new()
    } else {
        resource_type.to_ascii_lowercase()
    }
}

/// Counts a request the cache did not serve nor keep.
pub(crate) fn bypassed(tenant: &str) {
    metrics::counter!(CACHE_REQUESTS_TOTAL, "tenant" => tenant.to_string(), "result" => "bypass")
        .increment(1);
}

/// What an entry costs: body, kept headers, key and [`ENTRY_OVERHEAD`].
fn entry_weight(key: &CacheKey, headers: &HeaderMap, body: &Bytes) -> u64 {
    let headers: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    (body.len() + headers + key.len()) as u64 + ENTRY_OVERHEAD
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
    pub(crate) fn headers_with_age(&self) -> HeaderMap {
        let mut h = self.headers.clone();
        h.insert("x-cache", HeaderValue::from_static("hit"));
        h
    }
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("max_bytes", &self.max_bytes)
            .field("used_bytes", &self.used_bytes())
            .finish()
    }
}

#[cfg(test)]
mod tests;
