//! The pure SCIM 2.0 protocol core (RFC 7643, RFC 7644): schemas, filters,
//! PATCH, validation, projection, queries, Bulk, ETags, discovery, errors.
//!
//! Depends on serde_json and std only: nothing async, no sockets. The
//! network code (the built-in store, the gateway pipeline) calls into it.
pub mod bulk;
pub mod datetime;
pub(crate) mod discovery;
pub(crate) mod error;
pub(crate) mod etag;
pub mod filter;
pub(crate) mod json;
pub mod json_scan;
pub mod patch;
pub mod path;
pub mod projection;
pub mod query;
pub mod route;
pub mod schema;
pub mod validate;
pub mod validate_raw;

/// The SCIM error types by a short path, for the unit tests.
#[cfg(test)]
pub(crate) use error::{ScimError, ScimResult, ScimType};
