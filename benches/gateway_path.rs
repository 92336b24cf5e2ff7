//! The in-process request path: a request through the whole gateway
//! pipeline (tenant resolution, token check, bounded body read, the
//! built-in store in-process, location rewriting, access log and metrics)
//! against the same request straight into the store. The difference is
//! the gateway's own cost per request, without sockets or TLS.
use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use http::Request;
use http_body_util::Full;
use scim_gateway::authn::static_token::hash_token_hex;
use scim_gateway::config::{compile, parse, ConfigHandle};
use scim_gateway::server::ConnInfo;
use scim_gateway::snapshot::UpstreamTarget;
use scim_gateway::stack::Gateway;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const TOKEN: &str = "bench-token-0123456789abcdefghij";
const USER: &str = include_str!("../tests/fixtures/user_full.json");

fn request_path(c: &mut Criterion) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let _guard = rt.enter();
    // Count like the running gateway does.
    scim_gateway::telemetry::metrics_handle();
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nplaintext = true\n[upstreams.store]\nkind = \"builtin\"\nmax_resources = 5000000\n[[tenants]]\nid = \"acme\"\nhosts = [\"acme.example\"]\nupstream = \"store\"\n[[tenants.tokens]]\nname = \"bench\"\nhash = \"{}\"\n",
        hash_token_hex(TOKEN)
    );
    let Ok(raw) = parse(&text, "bench.toml") else {
        return;
    };
    let Ok(snapshot) = compile(&raw, Path::new("bench.toml"), None) else {
        return;
    };
    let store = match &snapshot.upstreams["store"].target {
        UpstreamTarget::Builtin(s) => s.clone(),
        UpstreamTarget::Http { .. } => return,
    };
    let gateway = Gateway::new(Arc::new(ConfigHandle::from_snapshot(
        Path::new("bench.toml"),
        snapshot,
    )));
    let conn = Arc::new(ConnInfo {
        peer: ([127, 0, 0, 1], 40000).into(),
        local: ([127, 0, 0, 1], 443).into(),
        tls: false,
        sni: None,
        alpn: None,
        peer_certificates: None,
        cert_checks: Default::default(),
    });
    let user: serde_json::Value = serde_json::from_str(USER).unwrap_or_default();
    let counter = AtomicU64::new(0);
    let user_body = |n: u64| {
        let mut u = user.clone();
        u["userName"] = serde_json::json!(format!("bench{n}@example.com"));
        Bytes::from(serde_json::to_vec(&u).unwrap_or_default())
    };
    let req = |method: &str, path: &str, body: Bytes| {
        Request::builder()
            .method(method)
            .uri(path)
            .header("host", "acme.example")
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/scim+json")
            .body(Full::new(body))
            .unwrap_or_default()
    };
    let created =
        rt.block_on(gateway.handle(req("POST", "/scim/v2/Users", user_body(0)), conn.clone()));
    let id = rt
        .block_on(http_body_util::BodyExt::collect(created.into_body()))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b.to_bytes()).ok())
        .and_then(|v| v["id"].as_str().map(str::to_string))
        .unwrap_or_default();

    let mut g = c.benchmark_group("request_path");
    g.bench_function("get_by_id/gateway", |b| {
        b.iter(|| {
            rt.block_on(gateway.handle(
                req("GET", &format!("/scim/v2/Users/{id}"), Bytes::new()),
                conn.clone(),
            ))
        })
    });
    g.bench_function("get_by_id/store_direct", |b| {
        b.iter(|| {
            let r = Request::builder()
                .uri(format!("/Users/{id}"))
                .body(Bytes::new())
                .unwrap_or_default();
            black_box(store.handle_at(&r, "http://acme.example/scim/v2", &format!("/Users/{id}")))
        })
    });
    g.bench_function("post_user/gateway", |b| {
        b.iter(|| {
            let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
            rt.block_on(gateway.handle(req("POST", "/scim/v2/Users", user_body(n)), conn.clone()))
        })
    });
    g.bench_function("post_user/store_direct", |b| {
        b.iter(|| {
            let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
            let r = Request::builder()
                .method("POST")
                .uri("/Users")
                .header("content-type", "application/scim+json")
                .body(user_body(n))
                .unwrap_or_default();
            black_box(store.handle_at(&r, "http://acme.example/scim/v2", "/Users"))
        })
    });
    g.finish();
}

criterion_group!(benches, request_path);
criterion_main!(benches);
