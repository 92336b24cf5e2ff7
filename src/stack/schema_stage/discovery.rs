//! Discovery answered by the gateway itself (RFC 7644 §4):
//! `/ServiceProviderConfig`, `/Schemas[/URN]` and `/ResourceTypes[/NAME]`
//! in the tenant-facing view, never the upstream's (which is the wrong
//! view once a table maps); and the JSON answer the stage writes.
//!
//! Imports: `scim` (discovery documents, errors), the tenant's schema.
use crate::scim::discovery;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::route::Discovery;
use crate::tenant::schema::TenantSchema;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Response};
use serde_json::Value;

/// `/ServiceProviderConfig`, `/Schemas[/URN]`, `/ResourceTypes[/NAME]`:
/// the tenant-facing view (RFC 7644 §4), never the upstream's. `item` is
/// the decoded second segment.
pub(super) fn answer(
    schema: &TenantSchema,
    method: &Method,
    kind: Discovery,
    item: Option<&str>,
    base: &str,
) -> ScimResult<Response<Bytes>> {
    if *method != Method::GET {
        return Err(ScimError::new(
            405,
            None,
            format!("/{} is read-only: use GET", kind.name()),
        ));
    }
    let registry = &schema.registry;
    let body = match (kind, item) {
        (Discovery::ServiceProviderConfig, _) => {
            discovery::service_provider_config(&schema.capabilities, base)
        }
        (Discovery::Schemas, None) => discovery::schemas_response(registry, base),
        (Discovery::Schemas, Some(urn)) => registry
            .schema(urn)
            .map(|s| s.to_json(&format!("{base}/Schemas/{}", s.id)))
            .ok_or_else(|| ScimError::not_found(format!("schema \"{urn}\" not found")))?,
        (Discovery::ResourceTypes, None) => discovery::resource_types_response(registry, base),
        (Discovery::ResourceTypes, Some(name)) => registry
            .resource_type(name)
            .map(|rt| rt.to_json(base))
            .ok_or_else(|| ScimError::not_found(format!("resource type \"{name}\" not found")))?,
    };
    Ok(json_response(200, &body))
}

/// A JSON answer with the SCIM media type.
pub(crate) fn json_response(status: u16, body: &Value) -> Response<Bytes> {
    let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
    let mut response = Response::new(bytes);
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/scim+json"),
    );
    response
}
