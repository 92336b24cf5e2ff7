//! SCIM 1.1 upstreams: pure translation between the SCIM 2.0 the gateway
//! speaks to identity providers (RFC 7643, RFC 7644) and the SCIM 1.1 a
//! legacy backend understands ("SCIM 1.1 Core Schema" and "SCIM 1.1 API",
//! simplecloud.info).
//!
//! What differs, and where it is handled:
//!
//! | concern | 2.0 | 1.1 | module |
//! |---|---|---|---|
//! | schema URNs | `urn:ietf:params:scim:schemas:core:2.0:User` / `:Group` | `urn:scim:schemas:core:1.0` for both | [`resource`] |
//! | enterprise extension | `...:extension:enterprise:2.0:User`, `manager.value` | `urn:scim:schemas:extension:enterprise:1.0`, `manager.managerId` | [`resource`] |
//! | `meta` | `resourceType` | none; `meta.attributes` lists removals in PATCH | [`resource`], [`patch`] |
//! | `$ref` | members, groups, manager | none | [`resource`] |
//! | PATCH | `PatchOp` with `Operations` | a partial resource, `meta.attributes`, `"operation": "delete"` | [`patch`] |
//! | filters | `ne`, `ew`, `not`, value paths | `eq co sw pr gt ge lt le`, `and`, `or` | [`query`] |
//! | lists and errors | `ListResponse`, `{"status", "scimType", "detail"}` | bare list, `{"Errors": [{"code", "description"}]}` | [`response`] |
//!
//! Anything 1.1 cannot express is a [`Scim11Error`]: either a request
//! the gateway could still serve by emulation (for PATCH: GET, then
//! [`emulate_patch_put`], then PUT; for lists: filter locally), flagged by
//! [`Scim11Error::needs_emulation`], or a plain SCIM error. Both carry the
//! 400 a client gets when emulation is off.
//!
//! Extension attributes are named `URN:attr` in 1.1 paths (`meta.attributes`,
//! filters, `attributes`), the 2.0 form. That is an assumption: the 1.1
//! drafts give no example of a qualified path. A backend that differs
//! needs a change in [`path_to_scim11`] only.
//!
//! Depends on serde_json and [`crate::scim`] only: nothing async, no
//! sockets. The upstream client calls these functions.
//!
//! # Example
//!
//! ```
//! use scim_gateway::scim::patch::PatchRequest;
//! use scim_gateway::scim11::{patch_to_scim11, response_from_scim11, ResourceKind};
//! use serde_json::json;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // An identity provider removes a member from a Group...
//! let request = PatchRequest::parse(&json!({
//!     "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
//!     "Operations": [{"op": "remove", "path": "members[value eq \"2819c223\"]"}]
//! }))?;
//! // ...and the 1.1 backend receives a partial Group.
//! assert_eq!(
//!     patch_to_scim11(&request)?,
//!     json!({
//!         "schemas": ["urn:scim:schemas:core:1.0"],
//!         "members": [{"value": "2819c223", "operation": "delete"}]
//!     })
//! );
//! // Its answer goes back as SCIM 2.0.
//! let group = response_from_scim11(
//!     200,
//!     &json!({"schemas": ["urn:scim:schemas:core:1.0"], "id": "e9e30dba", "displayName": "Tour Guides"}),
//!     ResourceKind::Group,
//!     None,
//! )?;
//! assert_eq!(group["schemas"], json!(["urn:ietf:params:scim:schemas:core:2.0:Group"]));
//! assert_eq!(group["displayName"], "Tour Guides");
//! # Ok(())
//! # }
//! ```
pub(crate) mod patch;
pub(crate) mod query;
pub(crate) mod resource;
pub(crate) mod response;

pub use patch::{emulate_patch_put, patch_to_scim11};
pub use query::{filter_to_scim11, path_to_scim11, query_to_scim11, Scim11Query};
pub use resource::{resource_from_scim11, resource_to_scim11};
pub use response::{
    error_from_scim11, error_to_scim11, list_from_scim11, list_to_scim11, response_from_scim11,
};

use crate::scim::error::ScimError;
use std::fmt;

/// The SCIM 1.1 core schema URN, shared by Users and Groups.
pub(crate) const CORE_SCHEMA_11: &str = "urn:scim:schemas:core:1.0";
/// The SCIM 1.1 enterprise User extension URN.
pub(crate) const ENTERPRISE_SCHEMA_11: &str = "urn:scim:schemas:extension:enterprise:1.0";

/// The multi-valued attributes of the 1.1 core schema (Users §6, Groups §8).
/// 1.1 merges these by `value` in PATCH and removes elements marked
/// `"operation": "delete"`.
pub(crate) const MULTI_VALUED_11: &[&str] = &[
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509Certificates",
    "members",
];

/// The resource type being translated: it picks the 2.0 core schema URN,
/// which 1.1 does not distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

/// Why a request cannot be sent to a SCIM 1.1 upstream as it is.
///
/// Opaque, after hyper's errors: ask [`Scim11Error::needs_emulation`], and
/// send [`Scim11Error::scim_error`] to the client when the gateway does
/// not emulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scim11Error {
    emulable: bool,
    error: ScimError,
}

// === impl ResourceKind ===

impl ResourceKind {
    /// The 2.0 core schema URN of this kind.
    pub fn core_schema(self) -> &'static str {
        match self {
            ResourceKind::User => crate::scim::schema::USER_SCHEMA,
            ResourceKind::Group => crate::scim::schema::GROUP_SCHEMA,
        }
    }

    /// The name used in `meta.resourceType` and as the endpoint's last part.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// The endpoint's path segment (`Users`, `Groups`, RFC 7644 §3.2).
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "Users",
            ResourceKind::Group => "Groups",
        }
    }

    /// The kind named by a resource type name (`User`, `Group`), ignoring case.
    pub fn parse(name: &str) -> Option<ResourceKind> {
        [ResourceKind::User, ResourceKind::Group]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(name))
    }
}

// === impl Scim11Error ===

impl Scim11Error {
    /// A well-formed 2.0 request that 1.1 cannot express but the gateway
    /// could emulate; `error` is what the client gets when it does not.
    pub fn emulable(error: ScimError) -> Self {
        Scim11Error {
            emulable: true,
            error,
        }
    }

    /// A request (or upstream response) that no emulation can serve.
    pub fn invalid(error: ScimError) -> Self {
        Scim11Error {
            emulable: false,
            error,
        }
    }

    /// True when GET + apply locally + PUT (for PATCH), or filtering
    /// locally (for lists), would serve the request.
    pub fn needs_emulation(&self) -> bool {
        self.emulable
    }

    /// The SCIM error for the client (400 `invalidPath`, `invalidFilter`, ...).
    pub fn scim_error(&self) -> &ScimError {
        &self.error
    }

    /// Prefixes the client's detail with context (`Operations[2]`).
    pub fn with_context(mut self, context: &str) -> Self {
        self.error = self.error.with_context(context);
        self
    }

    /// The SCIM error for the client, by value.
    pub fn into_scim_error(self) -> ScimError {
        self.error
    }
}

impl From<ScimError> for Scim11Error {
    fn from(error: ScimError) -> Self {
        Scim11Error::invalid(error)
    }
}

impl fmt::Display for Scim11Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.emulable {
            f.write_str("SCIM 1.1 cannot express this request; it needs emulation")
        } else {
            f.write_str("request cannot be translated to SCIM 1.1")
        }
    }
}

impl std::error::Error for Scim11Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// True when `name` is one of the 1.1 core multi-valued attributes.
pub(crate) fn is_multi_valued(name: &str) -> bool {
    MULTI_VALUED_11.iter().any(|m| m.eq_ignore_ascii_case(name))
}
