//! The limit stages: the tenant's and its principal's limits (after
//! authentication, so that a limit counts who is calling), the upstream's
//! (last, right before the call: a cache hit costs the backend nothing),
//! and the per-resource write order. What they admit is held until the
//! answer.
//!
//! Imports: `limit` (the limiter, the write order), the request's tenant,
//! principal and route; nothing of the pipeline but its error type.
use crate::authn::Principal;
use crate::error::{GatewayError, Reason};
use crate::limit::ordering::{Turn, WriteOrder};
use crate::limit::{Admitted, LimitKind, Limiter, Refused};
use crate::scim::route::Route;
use crate::snapshot::Snapshot;
use crate::telemetry::emit::Limited as LimitedEvent;
use crate::tenant::Tenant;
use crate::upstream::Deadline;
use crate::upstream::Upstream;
use http::Method;

/// The key of the principal's limits: by auth method and credential, so a
/// JWT client named like a static token has a budget of its own.
pub(super) fn credential(principal: &Principal) -> String {
    [principal.method.as_str(), ":", &principal.credential].concat()
}

/// The tenant's limits, and its principal's (`credential`).
pub(super) async fn admit_tenant(
    limiter: &Limiter,
    snapshot: &Snapshot,
    tenant: &Tenant,
    credential: &str,
    admitted: &mut Admitted,
) -> Result<(), GatewayError> {
    limiter
        .admit_tenant(
            snapshot.shared_limits.as_deref(),
            tenant.id.as_str(),
            credential,
            &tenant.limits,
            admitted,
        )
        .await
        .map_err(|r| limited(tenant, r))
}

/// The upstream's limits: they protect a backend that several tenants may
/// share.
pub(super) async fn admit_upstream(
    limiter: &Limiter,
    snapshot: &Snapshot,
    tenant: &Tenant,
    upstream: &Upstream,
    admitted: &mut Admitted,
) -> Result<(), GatewayError> {
    limiter
        .admit_upstream(
            snapshot.shared_limits.as_deref(),
            &upstream.name,
            &upstream.limits,
            admitted,
        )
        .await
        .map_err(|r| limited(tenant, r))
}

/// The resource's write turn: writes to one resource go one at a time
/// (`None` for anything but a write to one resource).
pub(super) async fn write_turn(
    write_order: &WriteOrder,
    snapshot: &Snapshot,
    tenant: &Tenant,
    method: &Method,
    route: &Route,
    deadline: Deadline,
) -> Result<Option<Turn>, GatewayError> {
    let Some(key) = WriteOrder::key(tenant.id.as_str(), method, route) else {
        return Ok(None);
    };
    let shared = snapshot.shared_limits.as_ref();
    let within = snapshot.server.request_timeout;
    tokio::time::timeout_at(deadline.at, write_order.turn_shared(key, shared, within))
        .await
        .map(Some)
        .map_err(|_| {
            GatewayError::upstream(
                "an earlier write to this resource did not finish in time",
                Reason::RequestTimeout,
                "write ordering wait",
            )
        })
}

/// 429 for a refused limit, with the time to wait.
pub(super) fn limited(tenant: &Tenant, refused: Refused) -> GatewayError {
    LimitedEvent {
        tenant: tenant.id.as_str(),
        kind: refused.kind.as_str(),
    }
    .emit();
    let detail = match refused.kind {
        LimitKind::TenantRate => "this tenant's request rate is exceeded",
        LimitKind::PrincipalRate => "this credential's request rate is exceeded",
        LimitKind::UpstreamRate => "the backend's request rate is exceeded",
        LimitKind::TenantConcurrency => "this tenant has too many requests in flight",
        LimitKind::UpstreamConcurrency => "the backend has too many requests in flight",
    };
    GatewayError::too_many_requests(
        &format!("{detail}; retry after the time in Retry-After"),
        Reason::RateLimited,
        refused.retry_after_secs(),
    )
}
