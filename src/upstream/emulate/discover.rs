//! `"auto"` capabilities: read from the upstream's `/ServiceProviderConfig`
//! (RFC 7643 §5) the first time a request needs one, and kept for
//! `discovery_ttl`. PATCH is the exception: with nothing known yet, the
//! PATCH is sent as it is, and a 405 or 501 answer is what is learnt. A reload builds a new upstream, so it looks again.
//! When the document cannot be read, the gateway assumes the upstream
//! supports everything (it passes requests through, as it would without
//! emulation), logs it, and looks again after a minute.
//!
//! The gateway's own `/ServiceProviderConfig` answer advertises what it
//! emulates as supported, with the emulation's bounds.
use super::{json_of, json_response, Capability, Context, Support, Supported};
use crate::error::GatewayError;
use crate::scim::json::{get_ci, get_ci_mut, insert_ci};
use crate::telemetry::emit::{Capabilities, CapabilitiesDiscovered};
use crate::upstream::UpstreamRequest;
use bytes::Bytes;
use http::{Method, Response};
use serde_json::{json, Map, Value};
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a failed look is remembered.
const RETRY_FAILED_AFTER: Duration = Duration::from_secs(60);

/// What was discovered about one upstream.
#[derive(Debug, Default)]
pub struct Discovery {
    state: Mutex<Option<Known>>,
}

#[derive(Debug, Clone, Copy)]
struct Known {
    until: Instant,
    supported: Supported,
}

impl Discovery {
    /// The upstream's capabilities: cached, or read now.
    pub async fn supported<S, F>(
        &self,
        ctx: &Context<'_>,
        req: &UpstreamRequest,
        send: &S,
    ) -> Supported
    where
        S: Fn(UpstreamRequest) -> F,
        F: Future<Output = Result<Response<Bytes>, GatewayError>>,
    {
        if let Some(known) = *self.lock() {
            if known.until > Instant::now() {
                return known.supported;
            }
        }
        // Concurrent first requests may each look: harmless, and nobody
        // waits on a lock across an upstream call.
        let look = req.derive(Method::GET, "/ServiceProviderConfig", None, Bytes::new());
        let found = match send(look).await {
            Ok(r) if r.status().is_success() => json_of(&r).map(|v| read_config(&v)),
            _ => None,
        };
        CapabilitiesDiscovered {
            upstream: ctx.upstream,
            found: found.map(|s| Capabilities {
                patch: s.patch,
                bulk: s.bulk,
                filter: s.filter,
                etag: s.etag,
            }),
        }
        .emit();
        let (supported, ttl) = match found {
            Some(s) => (s, ctx.emulation.settings.discovery_ttl),
            None => (
                Supported::ALL,
                RETRY_FAILED_AFTER.min(ctx.emulation.settings.discovery_ttl),
            ),
        };
        self.remember(supported, ttl);
        supported
    }

    /// What is known now, without asking.
    pub fn peek(&self) -> Option<Supported> {
        self.lock()
            .filter(|k| k.until > Instant::now())
            .map(|k| k.supported)
    }

    /// An upstream that refused a capability (405 or 501): emulated from
    /// now on, until the next look.
    pub fn learn_unsupported(&self, c: Capability, ttl: Duration) {
        let mut state = self.lock();
        let known = state.get_or_insert(Known {
            until: Instant::now() + ttl,
            supported: Supported::ALL,
        });
        match c {
            Capability::Patch => known.supported.patch = false,
            Capability::Bulk => known.supported.bulk = false,
            Capability::Filter => known.supported.filter = false,
            Capability::Etag => known.supported.etag = false,
        }
    }

    fn remember(&self, supported: Supported, ttl: Duration) {
        *self.lock() = Some(Known {
            until: Instant::now() + ttl,
            supported,
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Known>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The capabilities a ServiceProviderConfig document declares; what it
/// leaves out counts as supported (the gateway then passes through).
pub(crate) fn read_config(doc: &Value) -> Supported {
    let supported = |name: &str| {
        doc.as_object()
            .and_then(|o| get_ci(o, name))
            .and_then(Value::as_object)
            .and_then(|o| get_ci(o, "supported"))
            .is_none_or(|v| v.as_bool().unwrap_or(true))
    };
    Supported {
        patch: supported("patch"),
        bulk: supported("bulk"),
        filter: supported("filter"),
        etag: supported("etag"),
    }
}

/// `GET /ServiceProviderConfig`: the upstream's document, learnt from,
/// with what the gateway emulates advertised as supported.
pub(crate) async fn serve_config<S, F>(
    ctx: &Context<'_>,
    req: UpstreamRequest,
    send: &S,
) -> Result<Response<Bytes>, GatewayError>
where
    S: Fn(UpstreamRequest) -> F,
    F: Future<Output = Result<Response<Bytes>, GatewayError>>,
{
    let response = send(req).await?;
    let Some(Value::Object(mut doc)) = response
        .status()
        .is_success()
        .then(|| json_of(&response))
        .flatten()
    else {
        return Ok(response);
    };
    let settings = &ctx.emulation.settings;
    let declared = read_config(&Value::Object(doc.clone()));
    if !ctx.builtin {
        ctx.emulation
            .discovery
            .remember(declared, settings.discovery_ttl);
    }
    let emulated = |c: Capability, declared: bool| match settings.get(c) {
        Support::Yes => false,
        Support::No => true,
        Support::Auto => !ctx.builtin && !declared,
    };
    let mut changed = false;
    if emulated(Capability::Patch, declared.patch) {
        advertise(&mut doc, "patch", json!({"supported": true}));
        changed = true;
    }
    if emulated(Capability::Bulk, declared.bulk) {
        advertise(
            &mut doc,
            "bulk",
            json!({
                "supported": true,
                "maxOperations": settings.bulk_max_operations,
                "maxPayloadSize": 1_048_576,
            }),
        );
        changed = true;
    }
    if emulated(Capability::Filter, declared.filter) {
        advertise(
            &mut doc,
            "filter",
            json!({"supported": true, "maxResults": settings.filter_max_results}),
        );
        changed = true;
    }
    if emulated(Capability::Etag, declared.etag) {
        advertise(&mut doc, "etag", json!({"supported": true}));
        changed = true;
    }
    if !changed {
        return Ok(response);
    }
    let mut out = json_response(response.status(), &Value::Object(doc));
    for (name, value) in response.headers() {
        if name != http::header::CONTENT_LENGTH && name != http::header::CONTENT_TYPE {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(out)
}

/// Sets the fields of one capability object, keeping the others.
fn advertise(doc: &mut Map<String, Value>, name: &str, fields: Value) {
    if !matches!(get_ci(doc, name), Some(Value::Object(_))) {
        insert_ci(doc, name, Value::Object(Map::new()));
    }
    if let (Some(Value::Object(target)), Value::Object(fields)) = (get_ci_mut(doc, name), fields) {
        for (k, v) in fields {
            insert_ci(target, &k, v);
        }
    }
}
