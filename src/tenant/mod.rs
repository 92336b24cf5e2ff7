//! Tenants: the index of a config's tenants by id and host ([`Tenants`]),
//! which tenant a request is for ([`resolve`]), host names as requests
//! give them ([`host`]) and the SCIM face each tenant is offered
//! ([`schema`]).
pub mod host;
mod index;
pub mod resolve;
pub mod schema;

pub use crate::snapshot::{Tenant, TenantJournal};
pub use host::{strip_port, valid_host_name};
pub use index::Tenants;
pub use resolve::{resolve_tenant, Origin, Routed, Routing, OKTA_HOOK_PATH, TENANT_PATH_PREFIX};

#[cfg(test)]
pub(crate) use resolve::tests;
