//! Bulk, RFC 7644 §3.7: request parsing with `maxOperations` and
//! `maxPayloadSize`, bulkId references (also inside nested values such as
//! group members), `failOnErrors`, and the BulkResponse.
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::json::get_ci;
use serde_json::Value;
use std::collections::HashSet;

mod run;
pub use run::BulkRun;

/// The BulkRequest and BulkResponse message URNs.
pub(crate) const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub(crate) const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// The prefix of a reference to a resource created earlier in the request.
const BULK_ID_PREFIX: &str = "bulkId:";

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

// === impl BulkMethod ===

impl BulkMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            BulkMethod::Post => "POST",
            BulkMethod::Put => "PUT",
            BulkMethod::Patch => "PATCH",
            BulkMethod::Delete => "DELETE",
        }
    }

    fn parse(s: &str) -> Option<BulkMethod> {
        [
            BulkMethod::Post,
            BulkMethod::Put,
            BulkMethod::Patch,
            BulkMethod::Delete,
        ]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(s))
    }
}

// === impl BulkRequest ===

impl BulkRequest {
    /// Parses a raw body: larger than `max_payload_size` → 413, more than
    /// `max_operations` operations → 413 (RFC 7644 §3.7.4), bad shape →
    /// 400 `invalidSyntax`/`invalidValue`.
    pub fn parse(body: &[u8], limits: BulkLimits) -> ScimResult<BulkRequest> {
        if body.len() > limits.max_payload_size {
            return Err(ScimError::payload_too_large(format!(
                "the bulk request is {} bytes; maxPayloadSize is {}",
                body.len(),
                limits.max_payload_size
            )));
        }
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            ScimError::invalid_syntax(format!("the bulk request is not valid JSON: {e}"))
        })?;
        let Value::Object(obj) = v else {
            return Err(ScimError::invalid_syntax(
                "a BulkRequest must be a JSON object",
            ));
        };
        crate::scim::json::require_message_schema(&obj, BULK_REQUEST_SCHEMA, "BulkRequest")?;
        let fail_on_errors = match get_ci(&obj, "failOnErrors") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64() {
                Some(n) if n >= 1 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                _ => {
                    return Err(ScimError::invalid_value(
                        "failOnErrors must be an integer of at least 1",
                    ))
                }
            },
        };
        let ops = get_ci(&obj, "Operations")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                ScimError::invalid_syntax("a BulkRequest needs an \"Operations\" array")
            })?;
        if ops.len() > limits.max_operations {
            return Err(ScimError::payload_too_large(format!(
                "the bulk request has {} operations; maxOperations is {}",
                ops.len(),
                limits.max_operations
            )));
        }
        let mut seen = HashSet::new();
        let mut operations = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let op = parse_operation(op, i)?;
            if let Some(id) = &op.bulk_id {
                if !seen.insert(id.clone()) {
                    return Err(ScimError::invalid_value(format!(
                        "Operations[{i}]: bulkId \"{id}\" is used more than once"
                    )));
                }
            }
            operations.push(op);
        }
        Ok(BulkRequest {
            fail_on_errors,
            operations,
        })
    }
}

fn parse_operation(v: &Value, i: usize) -> ScimResult<BulkOperation> {
    let at = |what: &str| format!("Operations[{i}]: {what}");
    let Value::Object(o) = v else {
        return Err(ScimError::invalid_syntax(at(
            "an operation must be an object",
        )));
    };
    let text = |name: &str| -> ScimResult<Option<String>> {
        match get_ci(o, name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ScimError::invalid_value(at(&format!(
                "{name} must be a string"
            )))),
        }
    };
    let method_text =
        text("method")?.ok_or_else(|| ScimError::invalid_syntax(at("method is required")))?;
    let method = BulkMethod::parse(&method_text).ok_or_else(|| {
        ScimError::invalid_value(at(&format!(
            "method \"{method_text}\" is not one of POST, PUT, PATCH, DELETE"
        )))
    })?;
    let path = text("path")?.ok_or_else(|| ScimError::invalid_syntax(at("path is required")))?;
    if !path.starts_with('/') {
        return Err(ScimError::invalid_value(at(&format!(
            "path \"{path}\" must start with \"/\""
        ))));
    }
    // The path goes upstream (an emulated Bulk sends each operation on its
    // own): the same rules as a request path, and one encoding. RFC 7644
    // §3.7: a resource endpoint (`/Users`) or a resource (`/Users/{id}`).
    let (bare, query) = path
        .split_once('?')
        .map_or((path.as_str(), None), |(p, q)| (p, Some(q)));
    let canonical = crate::scim::route::canonical_path(bare)
        .map_err(|problem| ScimError::invalid_path(at(problem.detail())))?;
    if canonical.matches('/').count() > 2 {
        return Err(ScimError::invalid_path(at(
            "path must be a resource endpoint (\"/Users\") or a resource (\"/Users/{id}\")",
        )));
    }
    let path = match query {
        Some(q) => format!("{canonical}?{q}"),
        None => canonical,
    };
    let bulk_id = text("bulkId")?;
    if method == BulkMethod::Post && bulk_id.is_none() {
        // RFC 7644 §3.7: bulkId is REQUIRED with POST.
        return Err(ScimError::invalid_syntax(at(
            "bulkId is required with POST",
        )));
    }
    let data = get_ci(o, "data").filter(|d| !d.is_null()).cloned();
    if method != BulkMethod::Delete && data.is_none() {
        return Err(ScimError::invalid_syntax(at(&format!(
            "data is required with {}",
            method.as_str()
        ))));
    }
    Ok(BulkOperation {
        method,
        bulk_id,
        version: text("version")?,
        path,
        data,
    })
}

/// Every `bulkId:` reference in an operation's path and data.
pub fn bulk_id_refs(op: &BulkOperation) -> Vec<String> {
    let mut out = Vec::new();
    for segment in op.path.split('/') {
        if let Some(id) = segment.strip_prefix(BULK_ID_PREFIX) {
            out.push(id.to_string());
        }
    }
    if let Some(data) = &op.data {
        collect_refs(data, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(BULK_ID_PREFIX) {
                out.push(id.to_string());
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        Value::Object(o) => o.values().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}

/// Runs the operations through `exec` (called with `bulkId:` references
/// already replaced by the ids created earlier in this request), honouring
/// `failOnErrors`, and returns the BulkResponse body. The order and the
/// reference rules are those of [`BulkRun`], which async callers drive
/// themselves.
pub(crate) fn run_bulk(
    request: &BulkRequest,
    mut exec: impl FnMut(&BulkOperation) -> BulkOutcome,
) -> Value {
    let mut run = BulkRun::new(request);
    while let Some((i, op)) = run.next_operation() {
        let outcome = exec(&op);
        run.record(i, outcome);
    }
    run.finish()
}

#[cfg(test)]
mod tests;
