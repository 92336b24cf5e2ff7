//! Member changes of a large Group through the whole gateway pipeline in
//! process (tenant resolution, token check, body read, the schema stage,
//! the built-in store in-process, access log and metrics), as in
//! `benches/gateway_path.rs`:
//!
//! - `native_patch_add/N`, `native_patch_remove/N`: a tenant in front of
//!   the built-in store, which applies the PATCH itself;
//! - `native_get_excluded_members/N`: GET with `excludedAttributes=members`;
//! - `emulated_patch_add/N`: a tenant in front of a built-in store
//!   declared without PATCH (`capabilities.patch = false`), so the gateway
//!   emulates it: GET the Group, apply, PUT it back (docs/emulation.md).
//!   Its cost grows with N; measured at smaller N to keep the run short.
use super::{add_op, populate, remove_op, sizes, SPARE};
use bytes::Bytes;
use criterion::{black_box, BenchmarkId, Criterion, SamplingMode};
use http::Request;
use http_body_util::{BodyExt, Full};
use scim_gateway::authn::static_token::hash_token_hex;
use scim_gateway::config::{compile, parse, ConfigHandle};
use scim_gateway::conn_info::ConnInfo;
use scim_gateway::stack::Pipeline;
use scim_gateway::store::Store;
use scim_gateway::upstream::UpstreamTarget;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-token-0123456789abcdefghij";
const NATIVE: [usize; 2] = [1_000, 100_000];
const EMULATED: [usize; 2] = [1_000, 10_000];

pub fn through_gateway(c: &mut Criterion) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let _guard = rt.enter();
    scim_gateway::telemetry::metrics_handle();
    let hash = hash_token_hex(TOKEN);
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nplaintext = true\n\
         [upstreams.store]\nkind = \"builtin\"\nmax_resources = 1000000\n\
         [upstreams.legacy]\nkind = \"builtin\"\nmax_resources = 1000000\n\
         [upstreams.legacy.capabilities]\npatch = false\n\
         [[tenants]]\nid = \"acme\"\nhosts = [\"acme.example\"]\nupstream = \"store\"\n[[tenants.tokens]]\nname = \"bench\"\nhash = \"{hash}\"\n\
         [[tenants]]\nid = \"legacy\"\nhosts = [\"legacy.example\"]\nupstream = \"legacy\"\n[[tenants.tokens]]\nname = \"bench\"\nhash = \"{hash}\"\n"
    );
    let snapshot = match parse(&text, "bench.toml")
        .map_err(|e| e.to_string())
        .and_then(|raw| compile(&raw, Path::new("bench.toml"), None).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("large_groups_gateway: the config does not compile: {e}");
            return;
        }
    };
    let store_of = |name: &str| -> Option<Arc<Store>> {
        match &snapshot.upstreams.get(name)?.target {
            UpstreamTarget::Builtin(s) => Some(s.clone()),
            UpstreamTarget::Http { .. } => None,
        }
    };
    let (Some(native), Some(legacy)) = (store_of("store"), store_of("legacy")) else {
        return;
    };
    let gateway = Pipeline::new(Arc::new(ConfigHandle::from_snapshot(
        Path::new("bench.toml"),
        snapshot,
    )));
    let conn = Arc::new(ConnInfo {
        socket_peer: ([127, 0, 0, 1], 40000).into(),
        proxied: None,
        local: ([127, 0, 0, 1], 443).into(),
        tls: false,
        sni: None,
        alpn: None,
        peer_certificates: None,
        cert_checks: Default::default(),
        auth: Default::default(),
    });
    // One request through the gateway, its whole answer read.
    let send = |host: &str, method: &str, uri: &str, body: Option<&Value>| -> u16 {
        let body = body
            .map(|b| Bytes::from(serde_json::to_vec(b).unwrap_or_default()))
            .unwrap_or_default();
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", host)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/scim+json")
            .body(Full::new(body))
            .unwrap_or_default();
        rt.block_on(async {
            let resp = gateway.handle(req, conn.clone()).await;
            let status = resp.status().as_u16();
            black_box(resp.into_body().collect().await.map(|b| b.to_bytes()).ok());
            status
        })
    };

    let mut g = c.benchmark_group("large_groups_gateway");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    let runs = sizes(&NATIVE)
        .into_iter()
        .map(|n| ("native", "acme.example", native.clone(), n))
        .chain(
            sizes(&EMULATED)
                .into_iter()
                .map(|n| ("emulated", "legacy.example", legacy.clone(), n)),
        );
    for (how, host, store, n) in runs {
        let Some((gid, _, spare)) = populate(&store, n, &format!("{how}{n}")) else {
            continue;
        };
        let uri = format!("/scim/v2/Groups/{gid}?excludedAttributes=members");
        // The add must succeed, or an error path is measured.
        let status = send(host, "PATCH", &uri, Some(&add_op(&spare[0])));
        let back = send(host, "PATCH", &uri, Some(&remove_op(&spare[0])));
        if !(200..300).contains(&status) || !(200..300).contains(&back) {
            eprintln!("large_groups_gateway: {how} PATCH answered {status}/{back}; not measured");
            continue;
        }
        let mut next = 0usize;
        let mut cycle = || {
            next += 1;
            spare[next % SPARE].clone()
        };
        g.bench_function(BenchmarkId::new(format!("{how}_patch_add"), n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let id = cycle();
                    let body = add_op(&id);
                    let t = Instant::now();
                    send(host, "PATCH", &uri, Some(&body));
                    total += t.elapsed();
                    send(host, "PATCH", &uri, Some(&remove_op(&id)));
                }
                total
            })
        });
        if how == "emulated" {
            continue;
        }
        g.bench_function(BenchmarkId::new(format!("{how}_patch_remove"), n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let id = cycle();
                    send(host, "PATCH", &uri, Some(&add_op(&id)));
                    let body = remove_op(&id);
                    let t = Instant::now();
                    send(host, "PATCH", &uri, Some(&body));
                    total += t.elapsed();
                }
                total
            })
        });
        g.bench_function(
            BenchmarkId::new(format!("{how}_get_excluded_members"), n),
            |b| b.iter(|| send(host, "GET", &uri, None)),
        );
    }
    g.finish();
}
