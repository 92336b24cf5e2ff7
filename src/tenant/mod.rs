//! Tenants: which tenant a request is for ([`resolve`]) and the SCIM face
//! each one is offered ([`schema`]).
pub mod resolve;
pub mod schema;

pub use resolve::{resolve_tenant, Origin, Routed, OKTA_HOOK_PATH, TENANT_PATH_PREFIX};

#[cfg(test)]
pub(crate) use resolve::tests;
