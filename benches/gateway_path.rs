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
use scim_gateway::conn_info::ConnInfo;
use scim_gateway::stack::Pipeline;
use scim_gateway::upstream::UpstreamTarget;
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
    // The store holds the legacy extension the mapped tenant's table
    // writes to (tests/fixtures/mapping): a first snapshot with the
    // upstream only, whose store the real config then reuses by name.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mapping");
    let upstream = "[server]\nlisten = \"127.0.0.1:0\"\nplaintext = true\n[upstreams.store]\nkind = \"builtin\"\nmax_resources = 5000000\n";
    let seed = format!(
        "{upstream}[[tenants]]\nid = \"seed\"\nupstream = \"store\"\n[[tenants.tokens]]\nname = \"seed\"\nhash = \"{}\"\n",
        hash_token_hex(TOKEN)
    );
    let Ok(first) = parse(&seed, "bench.toml") else {
        return;
    };
    let mut first = match compile(&first, Path::new("bench.toml"), None) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("the upstream-only config does not compile: {e}");
            return;
        }
    };
    let mut registry = scim_gateway::scim::schema::SchemaRegistry::builtin();
    if registry.load_schema_dir(&fixtures).is_err()
        || registry
            .extend_resource_type("User", "urn:example:legacy:2.0:User", false)
            .is_err()
    {
        return;
    }
    let legacy = Arc::new(scim_gateway::store::Store::with_registry(
        scim_gateway::store::StoreConfig {
            max_resources: 5_000_000,
            ..Default::default()
        },
        registry,
    ));
    // The seed tenant shares the upstream: drop it so the upstream is ours.
    first.tenants = Default::default();
    let Some(u) = first.upstreams.get_mut("store").and_then(Arc::get_mut) else {
        eprintln!("the seed upstream is still shared; not measured");
        return;
    };
    u.target = UpstreamTarget::Builtin(legacy);
    let hash = hash_token_hex(TOKEN);
    let text = format!(
        "{upstream}[[tenants]]\nid = \"acme\"\nhosts = [\"acme.example\"]\nupstream = \"store\"\n[[tenants.tokens]]\nname = \"bench\"\nhash = \"{hash}\"\n\
         [[tenants]]\nid = \"mapped\"\nhosts = [\"mapped.example\"]\nupstream = \"store\"\n[[tenants.tokens]]\nname = \"bench\"\nhash = \"{hash}\"\n[tenants.schema]\nmapping = \"{}\"\n\
         [[tenants]]\nid = \"limited\"\nhosts = [\"limited.example\"]\nupstream = \"store\"\n[[tenants.tokens]]\nname = \"bench\"\nhash = \"{hash}\"\n[tenants.limits]\nrate = 1000000000\nburst = 1000000000\nprincipal_rate = 1000000000\nprincipal_burst = 1000000000\nmax_concurrent = 100000\n\
         [[tenants]]\nid = \"cached\"\nhosts = [\"cached.example\"]\nupstream = \"store\"\n[[tenants.tokens]]\nname = \"bench\"\nhash = \"{hash}\"\n[tenants.cache]\nttl = \"1h\"\n",
        fixtures.join("store-legacy.toml").display()
    );
    let Ok(raw) = parse(&text, "bench.toml") else {
        return;
    };
    let snapshot = match compile(&raw, Path::new("bench.toml"), Some(&first)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("the bench config does not compile: {e}");
            return;
        }
    };
    let store = match &snapshot.upstreams["store"].target {
        UpstreamTarget::Builtin(s) => s.clone(),
        UpstreamTarget::Http { .. } => return,
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
    let user: serde_json::Value = serde_json::from_str(USER).unwrap_or_default();
    let counter = AtomicU64::new(0);
    let user_body = |n: u64| {
        let mut u = user.clone();
        u["userName"] = serde_json::json!(format!("bench{n}@example.com"));
        Bytes::from(serde_json::to_vec(&u).unwrap_or_default())
    };
    let req_at = |host: &'static str, method: &str, path: &str, body: Bytes| {
        Request::builder()
            .method(method)
            .uri(path)
            .header("host", host)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/scim+json")
            .body(Full::new(body))
            .unwrap_or_default()
    };
    let req = |method: &str, path: &str, body: Bytes| req_at("acme.example", method, path, body);
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

    // The same requests through a tenant with a mapping table (five
    // attributes moved into the backend's extension) against the unmapped
    // tenant, both validated, same store.
    let mapped =
        |method: &str, path: &str, body: Bytes| req_at("mapped.example", method, path, body);
    // Limits (never reached) and a cache hit against the plain tenant.
    let at =
        |host: &'static str| req_at(host, "GET", &format!("/scim/v2/Users/{id}"), Bytes::new());
    let warm = rt.block_on(gateway.handle(at("cached.example"), conn.clone()));
    if warm.status() != http::StatusCode::OK {
        eprintln!(
            "limits_cache: the cached tenant answered {}; not measured",
            warm.status()
        );
        return;
    }
    let mut g = c.benchmark_group("limits_cache");
    for (name, host) in [
        ("get_by_id/plain", "acme.example"),
        ("get_by_id/limited", "limited.example"),
        ("get_by_id/cache_hit", "cached.example"),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| rt.block_on(gateway.handle(at(host), conn.clone())))
        });
    }
    g.finish();

    // Both must succeed, or the comparison measures an error path.
    for (name, r) in [
        (
            "unmapped",
            req("POST", "/scim/v2/Users", user_body(u64::MAX)),
        ),
        (
            "mapped",
            mapped("POST", "/scim/v2/Users", user_body(u64::MAX - 1)),
        ),
    ] {
        let resp = rt.block_on(gateway.handle(r, conn.clone()));
        let status = resp.status();
        if status != http::StatusCode::CREATED {
            let body = rt
                .block_on(http_body_util::BodyExt::collect(resp.into_body()))
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            eprintln!(
                "mapping_path: a {name} POST answered {status} ({}); not measured",
                String::from_utf8_lossy(&body)
            );
            return;
        }
    }
    let mut g = c.benchmark_group("mapping_path");
    g.bench_function("post_user/unmapped", |b| {
        b.iter(|| {
            let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
            rt.block_on(gateway.handle(req("POST", "/scim/v2/Users", user_body(n)), conn.clone()))
        })
    });
    g.bench_function("post_user/mapped", |b| {
        b.iter(|| {
            let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
            rt.block_on(
                gateway.handle(mapped("POST", "/scim/v2/Users", user_body(n)), conn.clone()),
            )
        })
    });
    g.bench_function("get_by_id/unmapped", |b| {
        b.iter(|| {
            rt.block_on(gateway.handle(
                req("GET", &format!("/scim/v2/Users/{id}"), Bytes::new()),
                conn.clone(),
            ))
        })
    });
    g.bench_function("get_by_id/mapped", |b| {
        b.iter(|| {
            rt.block_on(gateway.handle(
                mapped("GET", &format!("/scim/v2/Users/{id}"), Bytes::new()),
                conn.clone(),
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, request_path);
criterion_main!(benches);
