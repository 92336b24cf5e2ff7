//! The SCIM error type: RFC 7644 §3.12.
//!
//! Every failure of the protocol core is a [`ScimError`]: an HTTP status, an
//! optional `scimType` and a `detail` meant for the client. The detail names
//! the attribute, filter position or operation at fault, and never carries
//! Rust error text or secrets.
use serde_json::{json, Value};
use std::fmt;

/// The schema URN of an error response body (RFC 7644 §3.12).
pub(crate) const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The `scimType` values of RFC 7644 §3.12, Table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    /// The filter syntax was invalid or the filter is not supported.
    InvalidFilter,
    /// The filter yields too many results to process.
    TooMany,
    /// A value violates a uniqueness constraint.
    Uniqueness,
    /// An attempt to modify an immutable or readOnly attribute.
    Mutability,
    /// The request body structure was invalid or did not conform to the schema.
    InvalidSyntax,
    /// The path attribute was invalid or malformed.
    InvalidPath,
    /// The path did not yield an attribute or value to operate on.
    NoTarget,
    /// A required value was missing or a value was not compatible.
    InvalidValue,
    /// The protocol version is not supported.
    InvalidVers,
    /// The request cannot complete because of sensitive information in the URI.
    Sensitive,
}

/// A SCIM error: status, `scimType`, and a detail for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    status: u16,
    scim_type: Option<ScimType>,
    detail: String,
}

// === impl ScimType ===

impl ScimType {
    /// Every `scimType`, in the order of RFC 7644 Table 9.
    pub const ALL: [ScimType; 10] = [
        ScimType::InvalidFilter,
        ScimType::TooMany,
        ScimType::Uniqueness,
        ScimType::Mutability,
        ScimType::InvalidSyntax,
        ScimType::InvalidPath,
        ScimType::NoTarget,
        ScimType::InvalidValue,
        ScimType::InvalidVers,
        ScimType::Sensitive,
    ];

    /// The keyword as it appears in the `scimType` member.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }

    /// Parses a `scimType` keyword (as sent by an upstream), case-insensitively.
    pub fn parse(s: &str) -> Option<ScimType> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }

    /// The status RFC 7644 Table 9 pairs with this type.
    pub fn default_status(self) -> u16 {
        match self {
            ScimType::Uniqueness => 409,
            ScimType::Sensitive => 403,
            _ => 400,
        }
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// === impl ScimError ===

impl ScimError {
    /// An error with an explicit status and optional `scimType`.
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// An error of `scim_type` with its default status (400, 409 or 403).
    pub fn typed(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(scim_type.default_status(), Some(scim_type), detail)
    }

    /// 400 `invalidFilter`.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidFilter, detail)
    }

    /// 400 `invalidSyntax`.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidSyntax, detail)
    }

    /// 400 `invalidValue`.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidValue, detail)
    }

    /// 400 `invalidPath`.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidPath, detail)
    }

    /// 400 `noTarget`.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::NoTarget, detail)
    }

    /// 400 `mutability`.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::Mutability, detail)
    }

    /// 409 `uniqueness`.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::Uniqueness, detail)
    }

    /// 400 `tooMany`.
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::TooMany, detail)
    }

    /// 400 `invalidVers`.
    pub fn invalid_vers(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidVers, detail)
    }

    /// 400 with no `scimType` (a bad request the table has no keyword for).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(400, None, detail)
    }

    /// 404: the resource or endpoint does not exist.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }

    /// 405: the endpoint does not support the method.
    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(405, None, detail)
    }

    /// 409 without `scimType` (a version conflict that is not uniqueness).
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(409, None, detail)
    }

    /// 412: an `If-Match` precondition failed (RFC 7644 §3.14).
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(412, None, detail)
    }

    /// 413: the payload is larger than allowed (RFC 7644 §3.7.4).
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(413, None, detail)
    }

    /// 415: the content type is not JSON.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(415, None, detail)
    }

    /// 501: the operation is not implemented by this service provider.
    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self::new(501, None, detail)
    }

    /// 507: the service provider has no room for another resource.
    pub fn insufficient_storage(detail: impl Into<String>) -> Self {
        Self::new(507, None, detail)
    }

    /// 500 with a safe, generic detail; the cause is logged, never sent.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(500, None, detail)
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The `scimType`, if any.
    pub fn scim_type(&self) -> Option<ScimType> {
        self.scim_type
    }

    /// The human-readable detail.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Prefixes the detail with context (for example the Bulk operation).
    pub fn with_context(mut self, context: &str) -> Self {
        self.detail = format!("{context}: {}", self.detail);
        self
    }

    /// The RFC 7644 §3.12 response body. `status` is a string, as in the RFC's
    /// examples.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(obj)) = (self.scim_type, body.as_object_mut()) {
            obj.insert("scimType".into(), Value::String(t.as_str().into()));
        }
        body
    }

    /// Reads an error body (for example one sent by an upstream). Accepts
    /// `status` as a string or a number.
    pub fn from_json(body: &Value) -> Option<ScimError> {
        let status = match body.get("status")? {
            Value::String(s) => s.parse().ok()?,
            Value::Number(n) => u16::try_from(n.as_u64()?).ok()?,
            _ => return None,
        };
        let scim_type = body
            .get("scimType")
            .and_then(Value::as_str)
            .and_then(ScimType::parse);
        let detail = body
            .get("detail")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Some(ScimError::new(status, scim_type, detail))
    }
}

impl fmt::Display for ScimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scim_type {
            Some(t) => write!(f, "{} {}: {}", self.status, t, self.detail),
            None => write!(f, "{}: {}", self.status, self.detail),
        }
    }
}

impl std::error::Error for ScimError {}

/// The result type of the protocol core.
pub(crate) type ScimResult<T> = Result<T, ScimError>;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn body_has_schema_status_type_and_detail() {
        let e = ScimError::uniqueness("userName \"bjensen\" is already taken");
        let body = e.to_json();
        assert_eq!(body["schemas"][0], ERROR_SCHEMA);
        assert_eq!(body["status"], "409");
        assert_eq!(body["scimType"], "uniqueness");
        assert_eq!(body["detail"], "userName \"bjensen\" is already taken");
    }

    #[test]
    fn untyped_error_omits_scim_type() {
        let body = ScimError::not_found("User 42 not found").to_json();
        assert!(body.get("scimType").is_none());
        assert_eq!(body["status"], "404");
    }

    #[test]
    fn every_type_round_trips_through_json() {
        for t in ScimType::ALL {
            let e = ScimError::typed(t, "x");
            let back = ScimError::from_json(&e.to_json()).unwrap();
            assert_eq!(back, e);
            assert_eq!(ScimType::parse(&t.as_str().to_uppercase()), Some(t));
        }
        assert_eq!(ScimType::Sensitive.default_status(), 403);
    }

    #[test]
    fn from_json_accepts_numeric_status() {
        let e = ScimError::from_json(&json!({"status": 412, "detail": "stale"})).unwrap();
        assert_eq!(e.status(), 412);
        assert_eq!(e.scim_type(), None);
        assert!(ScimError::from_json(&json!({"detail": "x"})).is_none());
    }
}
