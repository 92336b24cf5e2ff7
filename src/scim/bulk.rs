//! Bulk, RFC 7644 §3.7: request parsing with `maxOperations` and
//! `maxPayloadSize`, bulkId references (also inside nested values such as
//! group members), `failOnErrors`, and the BulkResponse.
//!
//! PLACEHOLDER: signatures fixed; implemented on the bulk branch.
use crate::scim::error::{ScimError, ScimResult};
use serde_json::{json, Value};

/// The BulkRequest and BulkResponse message URNs.
pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// Limits a service provider advertises and enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkLimits {
    pub max_operations: usize,
    pub max_payload_size: usize,
}

/// `method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkMethod {
    Post,
    Put,
    Patch,
    Delete,
}

/// One operation as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOperation {
    pub method: BulkMethod,
    pub bulk_id: Option<String>,
    pub version: Option<String>,
    /// E.g. `/Users` or `/Groups/{id}`; may contain `bulkId:x` references.
    pub path: String,
    pub data: Option<Value>,
}

/// A parsed BulkRequest.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkRequest {
    pub fail_on_errors: Option<usize>,
    pub operations: Vec<BulkOperation>,
}

/// What executing one operation produced.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOutcome {
    pub status: u16,
    /// The id of a created resource (resolves `bulkId:` references).
    pub id: Option<String>,
    pub location: Option<String>,
    pub version: Option<String>,
    /// The resource or the SCIM error body.
    pub response: Option<Value>,
}

impl BulkRequest {
    /// Parses a raw body: larger than `max_payload_size` → 413, more than
    /// `max_operations` operations → 413 `tooMany`-style error, bad shape
    /// → 400 `invalidSyntax`.
    pub fn parse(_body: &[u8], _limits: BulkLimits) -> ScimResult<BulkRequest> {
        Err(ScimError::not_implemented("Bulk not supported yet"))
    }
}

/// Runs the operations through `exec` (called with `bulkId:` references
/// already replaced by the ids created earlier in this request), honouring
/// `failOnErrors`, and returns the BulkResponse body.
pub fn run_bulk(_request: &BulkRequest, _exec: impl FnMut(&BulkOperation) -> BulkOutcome) -> Value {
    json!({"schemas": [BULK_RESPONSE_SCHEMA], "Operations": []})
}
