//! The response cache stage, where the tenant enables it (after the
//! schema stage, before the upstream's limits): a hit costs the upstream
//! (and its limits) nothing. Keys are per tenant and public base; a query
//! parameter outside SCIM's is not cached (`cache::key`). Every write
//! forwarded for the tenant makes its cached answers of the type stale (a
//! search is a read).
//!
//! With `[limits] backend = "redis"` the generations in the keys are the
//! ones all replicas share (`cache::shared`): a lookup reads them from
//! Redis, and a write's answer waits until Redis has the bump.
//!
//! Imports: `cache` (the process's cache), Redis's shared state, the
//! request's tenant and route; the pipeline's `Step`.
use super::Step;
use crate::cache::{self, shared, CacheKey, ResponseCache};
use crate::limit::redis::RedisRates;
use crate::scim::route::{Route, RouteKind};
use crate::telemetry::emit::CacheLookup;
use crate::tenant::Tenant;
use bytes::Bytes;
use http::{Method, Response};
use http_body_util::Full;
use std::sync::Arc;
use std::time::Duration;

/// Where a missed GET's answer goes once it is known.
#[derive(Debug)]
pub(super) struct Store {
    key: CacheKey,
    ttl: Duration,
    max_bytes: u64,
}

/// The generation scope of a route: its type when the tenant declares it,
/// otherwise tenant-wide (Bulk, discovery, undeclared types).
fn scope(route: &Route) -> String {
    match route.resource() {
        Some(name) if route.is_known_type() => cache::scope_of(name),
        _ => String::new(),
    }
}

/// A GET answered from the cache (`Step::Answer`), or the place to store
/// its answer (`None`: not cached). `shared`: the generations are read
/// from Redis (a bypass when it does not answer in time).
pub(super) async fn lookup(
    cache: &ResponseCache,
    shared: Option<&RedisRates>,
    tenant: &Tenant,
    request: &http::request::Parts,
    route: &Route,
    public_base: &str,
) -> Step<Option<Store>> {
    let (method, query) = (&request.method, request.uri.query());
    let Some(settings) = tenant.cache.filter(|_| *method == Method::GET) else {
        return Step::Next(None);
    };
    let tenant_id = tenant.id.as_str();
    let scope = scope(route);
    let generation = match shared {
        None => cache.local_generation(tenant_id, &scope),
        Some(redis) => match shared::read(redis, tenant_id, &scope).await {
            Some(generation) => generation,
            None => {
                cache::bypassed(tenant_id);
                return Step::Next(None);
            }
        },
    };
    let Some(key) = cache.key_with(tenant_id, &generation, public_base, route.path(), query) else {
        return Step::Next(None);
    };
    let discovery = matches!(route.kind(), RouteKind::Discovery(_));
    let ttl = if discovery {
        settings.discovery_ttl
    } else {
        settings.ttl
    };
    let hit = cache.get(&key);
    CacheLookup {
        tenant: tenant_id,
        hit: hit.is_some(),
    }
    .emit();
    if let Some(hit) = hit {
        let mut response = Response::new(Full::new(hit.body.clone()));
        *response.status_mut() = hit.status;
        *response.headers_mut() = hit.headers_with_age();
        return Step::Answer(response);
    }
    Step::Next(Some(Store {
        key,
        ttl,
        max_bytes: settings.max_bytes,
    }))
}

/// The guard that makes the tenant's cached answers of the route's type
/// stale: for a write, where the tenant caches (`None` otherwise). A
/// guard, so that a write cancelled while upstream (the client hung up)
/// invalidates too; [`Invalidate::done`] invalidates once the answer is
/// known, and across replicas waits for Redis to have it.
pub(super) fn invalidate_on_write<'a>(
    cache: &'a ResponseCache,
    shared: Option<&Arc<RedisRates>>,
    tenant: &'a Tenant,
    method: &Method,
    route: &Route,
) -> Option<Invalidate<'a>> {
    let settings = tenant.cache.filter(|_| route.is_write(method))?;
    Some(Invalidate {
        cache,
        shared: shared.cloned(),
        tenant: tenant.id.as_str(),
        scope: scope(route),
        within: settings.ttl.max(settings.discovery_ttl),
        finished: false,
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

/// Makes a tenant's cached answers of a resource type stale: awaited with
/// [`Invalidate::done`] after a write's upstream answer, or when dropped
/// (the write was cancelled while upstream: the upstream may have
/// applied it).
pub(super) struct Invalidate<'a> {
    cache: &'a ResponseCache,
    /// Redis, when the generations are shared by replicas.
    shared: Option<Arc<RedisRates>>,
    tenant: &'a str,
    scope: String,
    /// The longest any entry the bump hides can live: the tenant's TTL.
    within: Duration,
    /// `done` ran (the drop has nothing left to do).
    finished: bool,
}

impl Invalidate<'_> {
    /// The write's answer is known: this process's entries are stale at
    /// once; with shared generations, the answer waits until Redis has the
    /// bump (bounded by the `[limits] timeout`; if Redis does not take it,
    /// it is retried in the background up to the tenant's TTL).
    pub(super) async fn done(mut self) {
        self.finished = true;
        self.cache.invalidate(self.tenant, &self.scope);
        let Some(redis) = self.shared.take() else {
            return;
        };
        if !shared::bump_once(&redis, self.tenant, &self.scope).await {
            retry_in_background(redis, self.tenant, &self.scope, self.within);
        }
    }
}

impl Drop for Invalidate<'_> {
    fn drop(&mut self) {
        // Only when `done` did not run: cancelled while upstream.
        if self.finished {
            return;
        }
        self.cache.invalidate(self.tenant, &self.scope);
        if let Some(redis) = self.shared.take() {
            retry_in_background(redis, self.tenant, &self.scope, self.within);
        }
    }
}

/// A bump Redis did not take in time: retried in a task of its own up to
/// `within`, logged and counted when it never lands.
fn retry_in_background(redis: Arc<RedisRates>, tenant: &str, scope: &str, within: Duration) {
    let (tenant, scope) = (tenant.to_string(), scope.to_string());
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        if !shared::bump_until(redis, tenant.clone(), scope, within).await {
            crate::telemetry::emit::CacheInvalidationLost { tenant: &tenant }.emit();
        }
    });
}
