//! The authentication stage (after the tenant, before the body is read):
//! the client's credential checked against the tenant's (client
//! certificate, static token, JWT, introspection), with brute-force
//! damping (docs/authentication.md).
//!
//! Imports: `authn` (the checks and the damper), the connection's
//! `conn_info::ConnInfo`; nothing of the pipeline but its error type.
use crate::authn::damping::FailureDamper;
use crate::authn::{self, Principal};
use crate::client_addr::Client;
use crate::conn_info::ConnInfo;
use crate::error::{GatewayError, Reason};
use crate::snapshot::Snapshot;
use crate::tenant::Tenant;
use crate::upstream::Deadline;
use http::HeaderMap;

/// The request's principal, or the refusal.
///
/// Brute-force damping: a client that failed too often lately at this
/// tenant is still authenticated, but only as far as the gateway can check
/// without calling anyone (`Reach::Local`); a credential that verifies
/// goes on, anything else gets 429. So a valid credential behind a shared
/// address (NAT, a load balancer) is never locked out by another client's
/// failures, while a guess costs a local check and never a key fetch or an
/// introspection call. (A key fetch or an introspection call is bounded by
/// the request deadline.)
pub(super) async fn authenticate(
    snapshot: &Snapshot,
    damper: &FailureDamper,
    tenant: &Tenant,
    headers: &HeaderMap,
    conn: &ConnInfo,
    client: &Client,
    deadline: Deadline,
) -> Result<Principal, GatewayError> {
    let damping = snapshot.server.auth_damping;
    // Per client, never per balancer: one client's failures must not lock
    // out everyone behind the same proxy.
    let ip = client.ip;
    let damped = damper.check(damping, tenant.id.as_str(), ip).err();
    let reach = match damped {
        Some(_) => authn::Reach::Local,
        None => authn::Reach::Full,
    };
    let authenticated = tokio::time::timeout_at(
        deadline.at,
        authn::authenticate(&tenant.auth, &tenant.id, headers, conn, reach),
    )
    .await;
    match authenticated {
        Ok(Ok(principal)) => {
            // The connection no longer counts as anonymous (server::admit).
            conn.authenticated();
            Ok(principal)
        }
        Ok(Err(e)) => {
            // A refused credential counts against the client's budget
            // (a 401, or a refused certificate's 403).
            if e.reason().is_auth_failure() {
                damper.failed(damping, tenant.id.as_str(), ip);
            }
            Err(match damped {
                Some(wait) => too_many_failures(wait),
                None => e,
            })
        }
        Err(_) => Err(GatewayError::unavailable(
            "the credentials could not be checked in time; try again later",
            Reason::AuthTimeout,
            5,
        )),
    }
}

/// 429 for a client the failure damper holds whose credential failed.
pub(super) fn too_many_failures(wait: u64) -> GatewayError {
    GatewayError::too_many_requests(
        "too many failed authentications from this client; try again later",
        Reason::TooManyFailures,
        wait,
    )
}
