//! The request's span as the pipeline opens and closes it: the trace
//! begun from the caller's `traceparent` ([`begin`]), and at the end the
//! root span named and described from what the stages learned (method,
//! route template, tenant, status) and queued for export ([`finish`]).
//! What a span may say is fixed here: no path, query, id or body, only
//! the route's template (`/Users/{id}`).
//!
//! Imports: the `Trace` the stages filled and `traces`; nothing else of
//! the pipeline.
use super::trace::Trace;
use crate::request_id::RequestId;
use crate::scim::route::RouteKind;
use crate::traces::span::now_nanos;
use crate::traces::{RequestTrace, Tracer, Value};
use http::{HeaderMap, Method, StatusCode};
use std::sync::Arc;

/// The request's trace, when traces are on.
pub(super) fn begin(tracer: Option<&Tracer>, headers: &HeaderMap) -> Option<Arc<RequestTrace>> {
    tracer.map(|t| Arc::new(t.begin(headers, now_nanos())))
}

/// Names and describes the root span, ends the trace and queues it.
pub(super) fn finish(
    tracer: &Tracer,
    spans: &RequestTrace,
    trace: &Trace<'_>,
    method: &Method,
    request_id: &RequestId,
    status: StatusCode,
) {
    if spans.sampled {
        let route = route_template(trace.route_kind, trace.resource_type, trace.route_has_id);
        let mut attributes: Vec<(&'static str, Value)> = vec![
            ("http.request.method", method_name(method).into()),
            ("http.response.status_code", status.as_u16().into()),
            (
                "scim_gateway.request_id",
                request_id.as_str().to_string().into(),
            ),
        ];
        if let Some(route) = &route {
            attributes.push(("http.route", route.clone().into()));
        }
        if let Some(tenant) = trace.tenant {
            attributes.push(("scim_gateway.tenant", tenant.id.as_str().to_string().into()));
        }
        let name = match route {
            Some(route) => format!("{} {route}", method_name(method)),
            None => method_name(method).to_string(),
        };
        spans.describe_root(name, attributes);
    }
    tracer.submit(spans, status.is_server_error());
}

/// A standard method's name, else `_OTHER` (OpenTelemetry's word for a
/// method it does not know: a client's invented method is not a name).
fn method_name(method: &Method) -> &'static str {
    match crate::telemetry::names::method_label(method) {
        "other" => "_OTHER",
        known => known,
    }
}

/// The route's template: the resource type as the gateway knows it and
/// `{id}` for whatever names a resource (a custom type is `{type}`).
fn route_template(
    kind: Option<RouteKind>,
    label: Option<&'static str>,
    has_id: bool,
) -> Option<String> {
    let ty = match label {
        Some("other") | None => "{type}",
        Some(known) => known,
    };
    Some(match kind? {
        RouteKind::Base => "/".into(),
        RouteKind::RootSearch => "/.search".into(),
        RouteKind::Bulk => "/Bulk".into(),
        RouteKind::Me => "/Me".into(),
        RouteKind::Discovery(d) if has_id => format!("/{}/{{id}}", d.name()),
        RouteKind::Discovery(d) => format!("/{}", d.name()),
        RouteKind::Collection => format!("/{ty}"),
        RouteKind::Search => format!("/{ty}/.search"),
        RouteKind::Resource => format!("/{ty}/{{id}}"),
        RouteKind::SubPath => format!("/{ty}/{{id}}/..."),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn templates_name_no_id() {
        let t = |k, l| route_template(Some(k), Some(l), true).unwrap();
        assert_eq!(t(RouteKind::Resource, "Users"), "/Users/{id}");
        assert_eq!(t(RouteKind::Collection, "Groups"), "/Groups");
        assert_eq!(t(RouteKind::Resource, "other"), "/{type}/{id}");
        assert_eq!(t(RouteKind::Search, "Users"), "/Users/.search");
        assert_eq!(route_template(None, None, false), None);
        let schemas = RouteKind::Discovery(crate::scim::route::Discovery::Schemas);
        assert_eq!(
            route_template(Some(schemas), Some("Schemas"), false).unwrap(),
            "/Schemas"
        );
    }
}
