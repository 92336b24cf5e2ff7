//! The pure SCIM 2.0 protocol core (RFC 7643, RFC 7644).
//!
//! Plain functions over `serde_json::Value` and typed ASTs: schemas,
//! validation, filters, PATCH, projection, sorting and paging, Bulk, ETags
//! and errors. Depends on serde, serde_json and std only: no tokio, no
//! hyper, no sockets. The built-in store and the gateway call into it.
pub mod error;
pub mod filter;
pub mod json;
pub mod path;
pub mod schema;

pub use error::{ScimError, ScimResult, ScimType};
