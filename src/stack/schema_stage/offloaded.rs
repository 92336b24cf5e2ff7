//! [`inbound`] and [`outbound`] for large bodies: the same functions, run
//! on the blocking pool (`crate::offload` says why and when).
//!
//! The stage's results borrow the tenant's schema (its mapping table),
//! which a task on the blocking pool cannot lend back. So the blocking
//! side holds its own reference to the schema (`Arc`), and hands back an
//! owned [`Detached`] result: which mapping, by its place in the table.
//! The request's side finds the same mapping in its own borrow of the same
//! schema.
use super::{inbound, outbound, Inbound, Request, Shape, Stage};
use crate::offload;
use crate::scim::error::ScimResult;
use crate::tenant::schema::TenantSchema;
use bytes::Bytes;
use http::Response;
use std::sync::Arc;

/// A [`Stage`] without borrows.
enum Detached {
    Answer(Response<Bytes>),
    Forward {
        query: Option<String>,
        body: Bytes,
        /// The resource mapping, by its place in the table.
        mapping: Option<usize>,
        table: bool,
        shape: Shape,
        deprovision: bool,
        bulk: bool,
        tenant_patch: super::TenantPatch,
        scanned: Option<Box<crate::scim::validate_raw::Scanned>>,
    },
    /// A list the gateway filters itself: its plan borrows the schema, so
    /// it is planned again in the request's task (a search body is rarely
    /// large, and planning reads only its parameters).
    Emulated,
}

/// [`inbound`], off the reactor when the body is large.
pub(crate) async fn inbound_bounded<'t>(
    schema: &'t Arc<TenantSchema>,
    request: Request<'_>,
    query: Option<String>,
    body: Bytes,
    public_base: &str,
) -> ScimResult<Stage<'t>> {
    if !offload::worth_it(body.len()) {
        return inbound(schema, request, query, body, public_base);
    }
    let (shared, m, h) = (
        schema.clone(),
        request.method.clone(),
        request.headers.clone(),
    );
    let (route_owned, base, q, b) = (
        request.route.clone(),
        public_base.to_string(),
        query.clone(),
        body.clone(),
    );
    let audited = request.audited;
    // Boxed: the pipeline's future does not carry the handoff's state.
    let detached = Box::pin(offload::blocking(move || {
        let request = Request {
            method: &m,
            headers: &h,
            route: &route_owned,
            audited,
        };
        inbound(&shared, request, q, b, &base).map(|stage| detach(&shared, stage))
    }))
    .await??;
    let table = schema.mapping.as_ref();
    Ok(match detached {
        Detached::Answer(answer) => Stage::Answer(answer),
        Detached::Forward {
            query,
            body,
            mapping,
            table: mapped,
            shape,
            deprovision,
            bulk,
            tenant_patch,
            scanned,
        } => Stage::Forward(Inbound {
            query,
            body,
            mapping: mapping.and_then(|i| table?.resources().nth(i)),
            table: table.filter(|_| mapped),
            shape,
            deprovision,
            bulk,
            emulated: None,
            tenant_patch,
            scanned,
        }),
        Detached::Emulated => return inbound(schema, request, query, body, public_base),
    })
}

fn detach(schema: &TenantSchema, stage: Stage<'_>) -> Detached {
    let inbound = match stage {
        Stage::Answer(answer) => return Detached::Answer(answer),
        Stage::Forward(inbound) if inbound.emulated.is_some() => return Detached::Emulated,
        Stage::Forward(inbound) => inbound,
    };
    Detached::Forward {
        mapping: mapping_index(schema, &inbound),
        table: inbound.table.is_some(),
        query: inbound.query,
        body: inbound.body,
        shape: inbound.shape,
        deprovision: inbound.deprovision,
        bulk: inbound.bulk,
        tenant_patch: inbound.tenant_patch,
        scanned: inbound.scanned,
    }
}

/// The place of `inbound`'s mapping in the schema's table (the table is
/// not changed after compiling, so the order is the same everywhere).
fn mapping_index(schema: &TenantSchema, inbound: &Inbound<'_>) -> Option<usize> {
    let mapping = inbound.mapping?;
    schema
        .mapping
        .as_ref()?
        .resources()
        .position(|m| std::ptr::eq(m, mapping))
}

/// [`outbound`], off the reactor when the answer is large and mapped.
pub(crate) async fn outbound_bounded(
    schema: &Arc<TenantSchema>,
    inbound: &Inbound<'_>,
    response: Response<Bytes>,
) -> Response<Bytes> {
    if inbound.table.is_none() || !offload::worth_it(response.body().len()) {
        return outbound(inbound, response);
    }
    let shared = schema.clone();
    let (mapping, shape) = (mapping_index(schema, inbound), inbound.shape);
    // Kept for the (unexpected) case the pool fails: answered unmapped is
    // wrong, so the answer is an error then.
    let mapped = Box::pin(offload::blocking(move || {
        let table = shared.mapping.as_ref();
        let inbound = Inbound {
            query: None,
            body: Bytes::new(),
            mapping: mapping.and_then(|i| table?.resources().nth(i)),
            table,
            shape,
            deprovision: false,
            bulk: false,
            emulated: None,
            tenant_patch: super::TenantPatch::None,
            scanned: None,
        };
        outbound(&inbound, response)
    }))
    .await;
    mapped.unwrap_or_else(|e| super::json_response(e.status(), &e.to_json()))
}
