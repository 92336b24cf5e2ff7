//! Discovery endpoints (RFC 7644 §4, RFC 7643 §5-§7): the
//! ServiceProviderConfig document and the /Schemas and /ResourceTypes
//! listings.
use crate::scim::bulk::BulkLimits;
use crate::scim::query::list_response;
use crate::scim::schema::SchemaRegistry;
use serde_json::{json, Value};

/// The ServiceProviderConfig schema URN (RFC 7643 §5).
pub(crate) const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// What a service provider supports (RFC 7643 §5).
#[derive(Debug, Clone, PartialEq)]
pub struct Capabilities {
    pub patch: bool,
    /// `None` = Bulk unsupported.
    pub bulk: Option<BulkLimits>,
    /// `None` = filtering unsupported; else `maxResults`.
    pub filter_max_results: Option<usize>,
    pub change_password: bool,
    pub sort: bool,
    pub etag: bool,
    pub documentation_uri: Option<String>,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            patch: true,
            bulk: Some(BulkLimits {
                max_operations: 1000,
                max_payload_size: 1_048_576,
            }),
            filter_max_results: Some(200),
            change_password: false,
            sort: true,
            etag: true,
            documentation_uri: None,
        }
    }
}

/// The `/ServiceProviderConfig` body (RFC 7643 §5, example §8.5).
pub(crate) fn service_provider_config(caps: &Capabilities, base_url: &str) -> Value {
    let (bulk_ok, max_ops, max_payload) = match caps.bulk {
        Some(b) => (true, b.max_operations, b.max_payload_size),
        None => (false, 0, 0),
    };
    let mut v = json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": {"supported": caps.patch},
        "bulk": {"supported": bulk_ok, "maxOperations": max_ops, "maxPayloadSize": max_payload},
        "filter": {
            "supported": caps.filter_max_results.is_some(),
            "maxResults": caps.filter_max_results.unwrap_or(0),
        },
        "changePassword": {"supported": caps.change_password},
        "sort": {"supported": caps.sort},
        "etag": {"supported": caps.etag},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication scheme using the OAuth Bearer Token Standard",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig"),
        },
    });
    if let (Some(uri), Value::Object(o)) = (&caps.documentation_uri, &mut v) {
        o.insert("documentationUri".into(), json!(uri));
    }
    v
}

/// The `/Schemas` ListResponse. Locations keep the URN's colons as they
/// are (clients look schemas up by that exact path).
pub(crate) fn schemas_response(registry: &SchemaRegistry, base_url: &str) -> Value {
    let items: Vec<Value> = registry
        .schemas()
        .iter()
        .map(|s| s.to_json(&format!("{base_url}/Schemas/{}", s.id)))
        .collect();
    list_response(items.len(), 1, items)
}

/// The `/ResourceTypes` ListResponse.
pub(crate) fn resource_types_response(registry: &SchemaRegistry, base_url: &str) -> Value {
    let items: Vec<Value> = registry
        .resource_types()
        .iter()
        .map(|rt| rt.to_json(base_url))
        .collect();
    list_response(items.len(), 1, items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_provider_config_shape() {
        let v = service_provider_config(&Capabilities::default(), "http://h/scim/v2");
        assert_eq!(v["schemas"][0], SERVICE_PROVIDER_CONFIG_SCHEMA);
        assert_eq!(v["patch"]["supported"], true);
        assert_eq!(v["bulk"]["maxOperations"], 1000);
        assert_eq!(v["bulk"]["maxPayloadSize"], 1_048_576);
        assert_eq!(v["filter"]["maxResults"], 200);
        assert_eq!(v["changePassword"]["supported"], false);
        assert_eq!(v["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert_eq!(
            v["meta"]["location"],
            "http://h/scim/v2/ServiceProviderConfig"
        );
        assert!(v.get("documentationUri").is_none());
        let none = Capabilities {
            bulk: None,
            filter_max_results: None,
            documentation_uri: Some("https://docs".into()),
            ..Capabilities::default()
        };
        let v = service_provider_config(&none, "http://h");
        assert_eq!(v["bulk"]["supported"], false);
        assert_eq!(v["filter"]["supported"], false);
        assert_eq!(v["documentationUri"], "https://docs");
    }

    #[test]
    fn listings() {
        let r = SchemaRegistry::builtin();
        let s = schemas_response(&r, "http://h");
        assert_eq!(s["totalResults"], 3);
        assert_eq!(
            s["Resources"][0]["meta"]["location"],
            "http://h/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"
        );
        let t = resource_types_response(&r, "http://h");
        assert_eq!(t["totalResults"], 2);
        assert_eq!(t["Resources"][0]["endpoint"], "/Users");
    }
}
