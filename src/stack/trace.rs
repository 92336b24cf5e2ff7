//! What the access log, the metrics and the audit stage learn about a
//! request as it goes through the pipeline ([`Trace`]). Filled by the
//! stages, read once by the epilogue (`access_log`, `audit_stage`).
//!
//! Imports: the stage types it records (tenant, principal, upstream, the
//! write's route and body, the write turn); nothing of the pipeline.
use super::audit_stage::WriteTrace;
use super::schema_stage::{self, Inbound};
use crate::authn::Principal;
use crate::limit::ordering::Turn;
use crate::scim::route::{Route, RouteKind};
use crate::scim::validate_raw::Scanned;
use crate::telemetry::names::resource_type_label;
use crate::tenant::Tenant;
use crate::traces::RequestTrace;
use crate::upstream::Upstream;
use bytes::Bytes;
use http::{Method, Response};
use std::sync::Arc;
use std::time::Duration;

/// What the access log and metrics learn about a request (borrowed from
/// the request's snapshot: nothing is copied).
#[derive(Debug, Default)]
pub(super) struct Trace<'s> {
    pub tenant: Option<&'s Tenant>,
    pub principal: Option<Principal>,
    /// The resource-type label (a fixed set).
    pub resource_type: Option<&'static str>,
    /// The first path segment when it is not one of the known resource
    /// types (for the access log).
    pub other_resource: Option<String>,
    pub upstream: Option<&'s Upstream>,
    pub upstream_status: Option<u16>,
    pub upstream_latency: Option<Duration>,
    /// A User deprovisioned (delete, or `active` set to false).
    pub deprovision: bool,
    /// What the deprovisioning guardrail did (for the audit record).
    pub guardrail: Option<crate::audit::GuardrailNote>,
    /// A Bulk request's operations: (succeeded, failed).
    pub bulk: Option<(u64, u64)>,
    /// A write to audit (only while a journal is open).
    pub write: Option<WriteTrace>,
    /// The resource's write turn, held until the write is journaled: the
    /// outbox then has one resource's events in the order the upstream
    /// applied the writes.
    pub turn: Option<Turn>,
    /// What the route addresses (the span's route template).
    pub route_kind: Option<RouteKind>,
    /// The route names a resource or a discovery item by id.
    pub route_has_id: bool,
    /// A create the upstream did not make: `existing` or `replayed`
    /// (`create_stage`).
    pub create: Option<&'static str>,
    /// The request's trace, when traces are on.
    pub spans: Option<Arc<RequestTrace>>,
}

impl Trace<'_> {
    /// The resource type the route names, as a label (and the segment
    /// itself, shortened, when it is none of the known types).
    pub(super) fn route(&mut self, route: &Route) {
        let segment = route.first_segment();
        let label = resource_type_label(segment);
        self.resource_type = Some(label);
        self.route_kind = Some(route.kind());
        self.route_has_id = route.id().is_some();
        if label == "other" {
            self.other_resource = segment.map(|s| s.chars().take(32).collect());
        }
    }

    /// From here on a write is audited, whatever its outcome (`audited`:
    /// the gateway has a journal).
    pub(super) fn write(&mut self, audited: bool, route: &Route, method: &Method) {
        if audited && route.is_write(method) {
            self.write = Some(WriteTrace {
                route: route.clone(),
                body: Bytes::new(),
                scanned: None,
            });
        }
    }

    /// The write's body as the tenant sent it (after the dialect), for
    /// its audit record.
    pub(super) fn body(&mut self, body: &Bytes) {
        if let Some(write) = &mut self.write {
            write.body = body.clone();
        }
    }

    /// The write's body as the schema stage's scan found it (for its
    /// record's names); dropped when no write is audited.
    pub(super) fn scanned(&mut self, scanned: Box<Scanned>) {
        if let Some(write) = &mut self.write {
            write.scanned = Some(scanned);
        }
    }

    /// What the answer tells the metrics: a User deprovisioned, a Bulk
    /// request's operations counted (when it succeeded).
    pub(super) fn answer(&mut self, inbound: &Inbound<'_>, response: &Response<Bytes>) {
        self.deprovision = inbound.deprovision;
        if inbound.bulk && response.status().is_success() {
            self.bulk = schema_stage::bulk_outcomes(response.body());
        }
    }
}
