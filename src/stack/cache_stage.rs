//! The response cache stage, where the tenant enables it (after the
//! schema stage, before the upstream's limits): a hit costs the upstream
//! (and its limits) nothing. Keys are per tenant and public base; a query
//! parameter outside SCIM's is not cached (`cache::key`). Every write
//! forwarded for the tenant makes its cached answers of the type stale (a
//! search is a read).
//!
//! Imports: `cache` (the process's cache), the request's tenant and
//! route; the pipeline's `Step`.
use super::Step;
use crate::cache::{CacheKey, ResponseCache};
use crate::scim::route::{Route, RouteKind};
use crate::telemetry::emit::CacheLookup;
use crate::tenant::Tenant;
use bytes::Bytes;
use http::{Method, Response};
use http_body_util::Full;
use std::time::Duration;

/// Where a missed GET's answer goes once it is known.
#[derive(Debug)]
pub(super) struct Store {
    key: CacheKey,
    ttl: Duration,
    max_bytes: u64,
}

/// A GET answered from the cache (`Step::Answer`), or the place to store
/// its answer (`None`: not cached).
pub(super) fn lookup(
    cache: &ResponseCache,
    tenant: &Tenant,
    request: &http::request::Parts,
    route: &Route,
    public_base: &str,
) -> Step<Option<Store>> {
    let (method, query) = (&request.method, request.uri.query());
    let segment = route.first_segment().unwrap_or("");
    let store = tenant
        .cache
        .filter(|_| *method == Method::GET)
        .and_then(|settings| {
            let discovery = matches!(route.kind(), RouteKind::Discovery(_));
            let ttl = if discovery {
                settings.discovery_ttl
            } else {
                settings.ttl
            };
            let key = cache.key(
                tenant.id.as_str(),
                segment,
                public_base,
                route.path(),
                query,
            )?;
            Some(Store {
                key,
                ttl,
                max_bytes: settings.max_bytes,
            })
        });
    if let Some(store) = &store {
        let hit = cache.get(&store.key);
        CacheLookup {
            tenant: tenant.id.as_str(),
            hit: hit.is_some(),
        }
        .emit();
        if let Some(hit) = hit {
            let mut response = Response::new(Full::new(hit.body.clone()));
            *response.status_mut() = hit.status;
            *response.headers_mut() = hit.headers_with_age();
            return Step::Answer(response);
        }
    }
    Step::Next(store)
}

/// The guard that makes the tenant's cached answers of the route's type
/// stale: for a write, where the tenant caches (`None` otherwise). A
/// guard, so that a write cancelled while upstream (the client hung up)
/// invalidates too.
pub(super) fn invalidate_on_write<'a>(
    cache: &'a ResponseCache,
    tenant: &'a Tenant,
    method: &Method,
    route: &Route,
) -> Option<Invalidate<'a>> {
    let writes = tenant.cache.is_some() && route.is_write(method);
    writes.then(|| Invalidate {
        cache,
        tenant: tenant.id.as_str(),
        resource_type: route.first_segment().unwrap_or("").to_string(),
    })
}

/// Keeps the answer of a missed GET (`cache::ResponseCache::put` decides
/// whether it may).
pub(super) fn store(cache: &ResponseCache, store: Option<Store>, response: &Response<Bytes>) {
    if let Some(Store {
        key,
        ttl,
        max_bytes,
    }) = store
    {
        cache.put(
            key,
            max_bytes,
            response.status(),
            response.headers(),
            response.body(),
            ttl,
        );
    }
}

/// Makes a tenant's cached answers of a resource type stale when dropped:
/// after a write's upstream answer, or when the write is cancelled while
/// upstream (the upstream may have applied it).
pub(super) struct Invalidate<'a> {
    cache: &'a ResponseCache,
    tenant: &'a str,
    resource_type: String,
}

impl Drop for Invalidate<'_> {
    fn drop(&mut self) {
        self.cache.invalidate(self.tenant, &self.resource_type);
    }
}
