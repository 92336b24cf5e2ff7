//! A tenant's Okta Event Hook endpoint (docs/events.md, "Okta Event
//! Hooks"): each request's secret checked first, from its headers alone
//! (constant time, in `events::okta_hook`; wrong secrets damped like failed
//! authentications), then the verification GET answered, each delivery
//! rate limited with the tenant's limits, read within its body cap, and every
//! lifecycle event it reports journaled as an `idp_event` audit record
//! with its CloudEvent (the IdP's event id kept for deduplication). Okta
//! gets its 200 only once the journal has them, so a failure makes Okta
//! deliver again.
use super::authn_stage::too_many_failures;
use super::body::read as read_body;
use super::limit_stage::limited;
use super::Pipeline;
use crate::audit::{AuditKind, AuditPrincipal, AuditRecord};
use crate::client_addr::Client;
use crate::conn_info::ConnInfo;
use crate::error::{GatewayError, Reason};
use crate::events::okta_hook;
use crate::limit::Admitted;
use crate::scim::error::ScimError;
use crate::snapshot::Snapshot;
use crate::tenant::Tenant;
use crate::upstream::Deadline;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use serde_json::Value;

/// The credential name the hook's deliveries are limited and audited as.
const HOOK_PRINCIPAL: &str = "okta-event-hook";

/// Answers one request to the hook endpoint.
#[allow(clippy::too_many_arguments)] // the request's parts, each once
pub(super) async fn okta<B>(
    snapshot: &Snapshot,
    gateway: &Pipeline,
    tenant: &Tenant,
    req: Request<B>,
    conn: &ConnInfo,
    client: &Client,
    request_id: &str,
    deadline: Deadline,
) -> Result<Response<Full<Bytes>>, GatewayError>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let (Some(settings), Some(journal)) = (&tenant.journal.okta_hook, &gateway.journal) else {
        return Err(GatewayError::client_reason(
            ScimError::not_found("this tenant has no Okta event hook"),
            Reason::UnknownEndpoint,
        ));
    };
    // The secret first, from the headers alone: a wrong one spends no
    // rate-limit token and has no body read. It is a failed
    // authentication, damped like any other (src/authn/damping.rs: 401
    // until the client's failure budget at this tenant is spent, then 429
    // until the window ends; the right secret always passes), and counted
    // and audited as one by the caller (a 401 with its reason).
    let (damper, damping, ip) = (&gateway.damper, snapshot.server.auth_damping, client.ip);
    let damped = damper.check(damping, tenant.id.as_str(), ip).err();
    if let Err(refused) = okta_hook::precheck(settings, req.method(), req.headers()) {
        if refused.status() != 401 {
            return Err(GatewayError::client_reason(
                refused,
                Reason::MethodNotAllowed,
            ));
        }
        damper.failed(damping, tenant.id.as_str(), ip);
        return Err(match damped {
            Some(wait) => too_many_failures(wait),
            None => GatewayError::client_reason(refused, Reason::OktaHookSecret),
        });
    }
    let mut admitted = Admitted::default();
    gateway
        .limiter
        .admit_tenant(
            snapshot.shared_limits.as_deref(),
            tenant.id.as_str(),
            HOOK_PRINCIPAL,
            &tenant.limits,
            &mut admitted,
        )
        .await
        .map_err(|r| limited(tenant, r))?;
    let (parts, body) = req.into_parts();
    let body = tokio::time::timeout_at(
        deadline.at,
        read_body(&parts.headers, body, settings.max_body_bytes()),
    )
    .await
    .map_err(|_| {
        GatewayError::client_reason(
            ScimError::new(408, None, "the hook delivery did not arrive in time"),
            Reason::RequestTimeout,
        )
    })??;
    let outcome = okta_hook::handle(
        settings,
        &parts.method,
        &parts.headers,
        &body,
        tenant.id.as_str(),
    );
    // A delivery accepted carried the hook's secret: the connection is
    // no longer anonymous (server::admit).
    if parts.method == http::Method::POST && outcome.status.is_success() {
        conn.authenticated();
    }
    let mut acks = Vec::new();
    for event in outcome.events {
        let mut record = AuditRecord::write(request_id, "POST", ip);
        record.kind = AuditKind::IdpEvent;
        record.tenant = Some(tenant.id.as_str().to_string());
        record.principal = Some(AuditPrincipal {
            auth_method: "okta_event_hook".into(),
            credential: HOOK_PRINCIPAL.into(),
            subject: "okta".into(),
        });
        record.resource_type = event
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_string);
        record.resource_id = event
            .get("subject")
            .and_then(Value::as_str)
            .map(str::to_string);
        record.outcome.status = 200;
        let event = tenant
            .journal
            .events
            .then(|| crate::events::Event::from_value(&event));
        acks.push(journal.append(record, event));
    }
    for ack in acks {
        if super::audit_stage::wait(ack).await.is_err() {
            tracing::error!(
                request_id,
                tenant = tenant.id.as_str(),
                "an Okta hook delivery could not be journaled; answering 503 so Okta retries"
            );
            return Err(GatewayError::unavailable(
                "the delivery could not be recorded; deliver it again later",
                Reason::AuditUnavailable,
                30,
            ));
        }
    }
    let mut response = Response::new(Full::new(Bytes::from(outcome.body.to_string())));
    *response.status_mut() = outcome.status;
    let content_type = if outcome.status.is_success() {
        "application/json"
    } else {
        "application/scim+json"
    };
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}
