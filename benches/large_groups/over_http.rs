//! Member changes of a large Group through the gateway pipeline in
//! process to the built-in store over HTTP (`scim-gateway store`: the
//! store's own listener, `store::server::serve`, on a loopback port in a
//! runtime of its own; the tenant's upstream is `kind = "http"`), the
//! requests as the IdPs send them (no `attributes` parameters):
//!
//! - `patch_add/N`, `patch_remove/N`: one member added, one removed by
//!   `members[value eq "ID"]`; the store answers 204 (docs/store.md,
//!   "Large groups"), so nothing in the answer grows with N;
//! - `get_excluded_members/N`: GET with `excludedAttributes=members`.
use super::{add_op, populate, remove_op, sizes, SPARE};
use bytes::Bytes;
use criterion::{black_box, BenchmarkId, Criterion, SamplingMode};
use http::Request;
use http_body_util::{BodyExt, Full};
use scim_gateway::authn::static_token::hash_token_hex;
use scim_gateway::config::{compile, parse, ConfigHandle};
use scim_gateway::conn_info::ConnInfo;
use scim_gateway::stack::Pipeline;
use scim_gateway::store::{server, Store, StoreConfig};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-token-0123456789abcdefghij";
const SIZES: [usize; 2] = [1_000, 100_000];

/// Serves `store` on a loopback port from a thread and runtime of its own
/// (one worker, as `scim-gateway store` on a small machine), for the rest
/// of the process.
fn serve(store: Arc<Store>) -> Option<SocketAddr> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
                return;
            };
            let _ = tx.send(listener.local_addr().ok());
            let _ = server::serve(listener, store, std::future::pending()).await;
        });
    });
    rx.recv().ok().flatten()
}

pub fn over_http(c: &mut Criterion) {
    let store = Arc::new(Store::new(StoreConfig {
        max_resources: 1_000_000,
        ..Default::default()
    }));
    let Some(addr) = serve(store.clone()) else {
        eprintln!("large_groups_http: the store does not listen; not measured");
        return;
    };
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
         [upstreams.store]\nkind = \"http\"\nurl = \"http://{addr}/scim/v2\"\n\
         [[tenants]]\nid = \"acme\"\nhosts = [\"acme.example\"]\nupstream = \"store\"\n[[tenants.tokens]]\nname = \"bench\"\nhash = \"{hash}\"\n"
    );
    let snapshot = match parse(&text, "bench.toml")
        .map_err(|e| e.to_string())
        .and_then(|raw| compile(&raw, Path::new("bench.toml"), None).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("large_groups_http: the config does not compile: {e}");
            return;
        }
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
    // One request through the gateway, its whole answer read: the status.
    let send = |method: &str, uri: &str, body: Option<&Value>| -> u16 {
        let body = body
            .map(|b| Bytes::from(serde_json::to_vec(b).unwrap_or_default()))
            .unwrap_or_default();
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "acme.example")
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

    let mut g = c.benchmark_group("large_groups_http");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    for n in sizes(&SIZES) {
        let Some((gid, _, spare)) = populate(&store, n, &format!("http{n}")) else {
            continue;
        };
        let uri = format!("/scim/v2/Groups/{gid}");
        // Both must succeed with 204, or an error path (or the whole
        // Group) is measured.
        let added = send("PATCH", &uri, Some(&add_op(&spare[0])));
        let removed = send("PATCH", &uri, Some(&remove_op(&spare[0])));
        if (added, removed) != (204, 204) {
            eprintln!("large_groups_http: PATCH answered {added}/{removed}; not measured");
            continue;
        }
        let mut next = 0usize;
        let mut cycle = || {
            next += 1;
            spare[next % SPARE].clone()
        };
        g.bench_function(BenchmarkId::new("patch_add", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let id = cycle();
                    let body = add_op(&id);
                    let t = Instant::now();
                    send("PATCH", &uri, Some(&body));
                    total += t.elapsed();
                    send("PATCH", &uri, Some(&remove_op(&id)));
                }
                total
            })
        });
        g.bench_function(BenchmarkId::new("patch_remove", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let id = cycle();
                    send("PATCH", &uri, Some(&add_op(&id)));
                    let body = remove_op(&id);
                    let t = Instant::now();
                    send("PATCH", &uri, Some(&body));
                    total += t.elapsed();
                }
                total
            })
        });
        let excluded = format!("{uri}?excludedAttributes=members");
        g.bench_function(BenchmarkId::new("get_excluded_members", n), |b| {
            b.iter(|| send("GET", &excluded, None))
        });
    }
    g.finish();
}
