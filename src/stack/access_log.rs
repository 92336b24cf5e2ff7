//! The epilogue of every request, after the pipeline's answer (or its
//! error, turned into a SCIM error response): the answer held until the
//! audit journal has the write's record, the resource's write turn given
//! back, the request id header set, then the events the request makes
//! (failed authentication, deprovisioning, Bulk counts, and the access
//! log line with its metrics: `RequestCompleted`). Every telemetry event
//! the pipeline's epilogue emits is constructed here, and so is the one a
//! client certificate refused at the TLS handshake makes.
//!
//! Imports: the `Trace` the stages filled, the audit journal and
//! `audit_stage`, `telemetry::emit`; nothing else of the pipeline.
use super::audit_stage;
use super::trace::Trace;
use crate::audit::Journal;
use crate::client_addr::Client;
use crate::error::{ErrorInfo, Reason};
use crate::request_id::{RequestId, X_REQUEST_ID};
use crate::telemetry::emit::{AuthFailed, BulkCounted, Deprovisioned, RequestCompleted};
use crate::telemetry::recent_errors::ErrorAnswered;
use crate::tenant::Tenant;
use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// The journaling the answer waits for, if any: a write's record (and
/// event), or a failed authentication's, so that a success the client
/// sees is audited. Boxed, and only where there is something to journal:
/// the request's future does not carry its state. (`response` is taken
/// when this answers `Some`; the future gives the answer to send.)
pub(super) fn journaled<'a>(
    to: Option<audit_stage::Journaling<'a>>,
    trace: &'a Trace<'_>,
    request_id: &'a RequestId,
    method: &'a Method,
    client: &Client,
    started: Instant,
    response: &mut Response<Full<Bytes>>,
) -> Option<Pin<Box<impl Future<Output = Response<Full<Bytes>>> + 'a>>> {
    let to = to?;
    let status = response.status();
    if trace.write.is_none()
        && status != StatusCode::UNAUTHORIZED
        && status != StatusCode::FORBIDDEN
    {
        return None;
    }
    Some(crate::boxed::pinned(|| {
        audit_stage::journal(
            to,
            trace,
            request_id.as_str(),
            method,
            client.ip,
            started,
            std::mem::take(response),
        )
    }))
}

/// Finishes a request once journaled: the resource's write turn given
/// back, the request id set, the request's events emitted.
pub(super) fn finish(
    trace: &mut Trace<'_>,
    request_id: &RequestId,
    method: &Method,
    client: &Client,
    started: Instant,
    response: &mut Response<Full<Bytes>>,
) {
    // The next write of the resource may go.
    drop(trace.turn.take());
    response
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), request_id.header());
    emit(trace, request_id, method, client, started, response);
}

/// The events of one answered request.
fn emit(
    trace: &Trace<'_>,
    request_id: &RequestId,
    method: &Method,
    client: &Client,
    started: Instant,
    response: &Response<Full<Bytes>>,
) {
    let error = response.extensions().get::<ErrorInfo>();
    let tenant = trace.tenant;
    let status = response.status().as_u16();
    if status >= 400 {
        ErrorAnswered {
            tenant: tenant.map(|t| t.id.as_str()),
            status,
            scim_type: error.and_then(|e| e.scim_type),
            reason: error.map(|e| e.reason.as_str()),
            method: crate::telemetry::names::method_label(method),
            resource_label: trace.resource_type.unwrap_or("base"),
            request_id: request_id.as_str(),
        }
        .emit();
    }
    if let (Some(e), Some(tenant)) = (error, tenant) {
        if matches!(response.status().as_u16(), 401 | 403) || e.reason == Reason::TooManyFailures {
            AuthFailed {
                tenant: tenant.id.as_str(),
                reason: e.reason.as_str(),
                request_id: request_id.as_str(),
                peer: client.ip,
            }
            .emit();
        }
    }
    if let Some(tenant) = tenant {
        let id = tenant.id.as_str();
        if trace.deprovision {
            Deprovisioned {
                tenant: id,
                ok: response.status().is_success(),
                latency: started.elapsed(),
            }
            .emit();
        }
        if let Some((ok, failed)) = trace.bulk {
            BulkCounted {
                tenant: id,
                ok,
                failed,
            }
            .emit();
        }
    }
    RequestCompleted {
        request_id: request_id.as_str(),
        tenant: tenant.map(|t| t.id.as_str()),
        tenant_metrics: tenant.map(|t| &t.metrics),
        principal: trace.principal.as_ref().map(|p| p.credential.as_str()),
        auth_method: trace.principal.as_ref().map(|p| p.method.as_str()),
        subject: trace.principal.as_ref().map(|p| p.subject.as_str()),
        method,
        resource_type: trace.other_resource.as_deref().or(trace.resource_type),
        resource_label: trace.resource_type.unwrap_or("base"),
        upstream: trace.upstream.map(|u| u.name.as_str()),
        upstream_metrics: trace.upstream.map(|u| &u.metrics),
        status: response.status().as_u16(),
        upstream_status: trace.upstream_status,
        latency: started.elapsed(),
        upstream_latency: trace.upstream_latency,
        error: error.map(|e| e.reason.as_str()),
        cause: error
            .and_then(|e| e.cause.as_deref())
            .map(|c| c as &dyn std::error::Error),
        peer: client.ip,
        via: client.via,
    }
    .emit();
}

/// A client certificate refused at the TLS handshake on a tenant's host:
/// that tenant's failed authentication, counted, logged and audited like
/// a 401 (there is no request, so no pipeline: the server reports it).
pub(super) fn handshake_refused(
    journal: Option<&Journal>,
    tenant: &Tenant,
    peer: SocketAddr,
    reason: &str,
) {
    let request_id = RequestId::generate();
    let refusal = crate::tls::handshake_refusal_reason(reason);
    let label = refusal.as_str();
    if refusal == crate::tls::HandshakeRefusal::CrlExpired {
        tracing::warn!(tenant = tenant.id.as_str(), "client certificate refused at the TLS handshake: the tenant's CRL for its issuer is past its nextUpdate; publish a fresh CRL and reload (or set crl_expired = \"allow\")");
    }
    AuthFailed {
        tenant: tenant.id.as_str(),
        reason: label,
        request_id: request_id.as_str(),
        peer: peer.ip(),
    }
    .emit();
    tracing::debug!(tenant = tenant.id.as_str(), %reason, "client certificate refused at the TLS handshake");
    let Some(journal) = journal else {
        return;
    };
    // Status 0: no HTTP answer, the handshake was refused.
    let ack = journal.auth_failure(
        request_id.as_str(),
        "TLS",
        peer.ip(),
        Some(tenant.id.as_str()),
        0,
        label,
    );
    tokio::spawn(async move {
        if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(10), ack).await {
            tracing::error!(error = %e, "a refused client certificate could not be audited");
        }
    });
}
