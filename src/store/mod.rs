//! The built-in reference SCIM store: an in-memory SCIM 2.0 service
//! provider on the pure protocol core (`crate::scim`).
//!
//! It serves Users (with the EnterpriseUser extension) and Groups, keeps
//! each User's read-only `groups` consistent with Group `members`, and
//! implements the discovery endpoints, list queries (filter, sort, page,
//! projection) on GET and POST `/.search`, Bulk, and ETags with
//! `If-Match`/`If-None-Match`.
//!
//! [`Store::handle`] is a plain synchronous function from an HTTP request to
//! an HTTP response, so the gateway can run the store in-process as a
//! tenant's upstream (the embedded default); [`server::serve`] puts it on
//! a socket for `scim-gateway store --listen ADDR`.
//!
//! Depends on `crate::scim`, `http` and `bytes`; nothing async except the
//! `server` module.
mod handlers;
mod member_patch;
mod members;
mod routes;
pub mod server;
mod state;

use crate::scim::bulk::BulkLimits;
use crate::scim::discovery::Capabilities;
use crate::scim::schema::SchemaRegistry;
use state::State;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The in-memory SCIM service provider. Cheap to share behind an `Arc`;
/// all methods take `&self` and are safe to call concurrently (one
/// reader-writer lock over the data: reads run in parallel, writes one at
/// a time, so every write sees and leaves a consistent membership index).
#[derive(Debug)]
pub struct Store {
    config: StoreConfig,
    registry: SchemaRegistry,
    capabilities: Capabilities,
    state: RwLock<State>,
}

/// How the store is bounded and what it advertises.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Most resources (Users plus Groups) held at once; creating one more
    /// answers 507 Insufficient Storage.
    pub max_resources: usize,
    /// Largest request body accepted by [`server::serve`], in bytes.
    pub max_body_bytes: usize,
    /// Bulk limits advertised in `/ServiceProviderConfig` and enforced.
    pub bulk: BulkLimits,
    /// `filter.maxResults`: the most resources one list response carries.
    pub max_results: usize,
    /// `false`: PATCH answers 501 and `patch.supported` is false (the store
    /// stands in for a legacy backend, e.g. in the race test). Default true.
    pub patch: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_resources: 100_000,
            max_body_bytes: 2 * 1024 * 1024,
            bulk: BulkLimits {
                max_operations: 1000,
                max_payload_size: 1024 * 1024,
            },
            max_results: 1000,
            patch: true,
        }
    }
}

// === impl Store ===

impl Store {
    /// A store serving the built-in schemas (User + EnterpriseUser, Group).
    pub fn new(config: StoreConfig) -> Store {
        Store::with_registry(config, SchemaRegistry::builtin())
    }

    /// A store serving `registry`, which must define the `User` and `Group`
    /// resource types (extensions loaded from `config/schemas/` included).
    pub fn with_registry(config: StoreConfig, registry: SchemaRegistry) -> Store {
        let capabilities = Capabilities {
            patch: config.patch,
            bulk: Some(config.bulk),
            filter_max_results: Some(config.max_results),
            change_password: false,
            sort: true,
            etag: true,
            documentation_uri: None,
        };
        Store {
            config,
            registry,
            capabilities,
            state: RwLock::new(State::new()),
        }
    }

    /// The configuration the store runs with.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// The schemas the store serves.
    pub fn registry(&self) -> &SchemaRegistry {
        &self.registry
    }

    /// Number of resources (Users plus Groups) held.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// True when the store holds no resource.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // A panic while holding the lock cannot leave half-written data (every
    // write builds its new values before it mutates), so a poisoned lock
    // is still safe to use.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}
