//! Tenant lookup from 10 to 10,000 tenants: finding a tenant by host and
//! by id, and a whole authenticated request through the pipeline (tenant
//! resolution, its static token, the built-in store) to the last tenant
//! of the config. Each tenant has its own host and token; the figures
//! should not grow with the count.
use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use http::Request;
use http_body_util::Full;
use scim_gateway::authn::static_token::hash_token_hex;
use scim_gateway::config::{compile, parse, ConfigHandle};
use scim_gateway::conn_info::ConnInfo;
use scim_gateway::stack::Pipeline;
use std::path::Path;
use std::sync::Arc;

const COUNTS: [usize; 4] = [10, 100, 1_000, 10_000];

fn token(n: usize) -> String {
    format!("bench-token-{n:06}-0123456789abcdef")
}

/// A pipeline whose config has `tenants` tenants.
fn pipeline(tenants: usize) -> Option<Pipeline> {
    let mut text = String::from(
        "[server]\nlisten = \"127.0.0.1:0\"\nplaintext = true\n[audit]\nenabled = false\n[upstreams.store]\nkind = \"builtin\"\n",
    );
    for n in 0..tenants {
        text.push_str(&format!(
            "[[tenants]]\nid = \"t{n}\"\nhosts = [\"t{n}.example\"]\nupstream = \"store\"\n[[tenants.tokens]]\nname = \"idp\"\nhash = \"{}\"\n",
            hash_token_hex(&token(n))
        ));
    }
    let raw = parse(&text, "bench.toml").ok()?;
    let snapshot = compile(&raw, Path::new("bench.toml"), None).ok()?;
    Some(Pipeline::new(Arc::new(ConfigHandle::from_snapshot(
        Path::new("bench.toml"),
        snapshot,
    ))))
}

fn tenant_scale(c: &mut Criterion) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let _guard = rt.enter();
    scim_gateway::telemetry::metrics_handle();
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
    let mut g = c.benchmark_group("tenant_scale");
    for count in COUNTS {
        let Some(pipeline) = pipeline(count) else {
            eprintln!("the config with {count} tenants does not compile");
            return;
        };
        let snapshot = pipeline.config().load();
        let last = count - 1;
        let host = format!("t{last}.example");
        let id = format!("t{last}");
        g.bench_with_input(BenchmarkId::new("by_host", count), &host, |b, host| {
            b.iter(|| black_box(snapshot.tenant_by_host(black_box(host)).is_some()));
        });
        g.bench_with_input(BenchmarkId::new("by_id", count), &id, |b, id| {
            b.iter(|| black_box(snapshot.tenant(black_box(id)).is_some()));
        });
        let bearer = format!("Bearer {}", token(last));
        g.bench_with_input(BenchmarkId::new("request", count), &host, |b, host| {
            b.iter(|| {
                let req = Request::builder()
                    .method("GET")
                    .uri("/scim/v2/Users/missing")
                    .header("host", host.as_str())
                    .header("authorization", bearer.as_str())
                    .body(Full::new(Bytes::new()))
                    .unwrap_or_default();
                let response = rt.block_on(pipeline.handle(req, conn.clone()));
                // The store's 404: authenticated, resolved, answered.
                assert_eq!(response.status(), 404);
            });
        });
    }
    g.finish();
}

criterion_group!(benches, tenant_scale);
criterion_main!(benches);
