//! OpenTelemetry traces over real sockets: a real OTLP/HTTP receiver that
//! decodes the protobuf with the OpenTelemetry project's own types
//! (`support::otlp`), the echo upstream reporting the `traceparent` it
//! received, a faulty upstream for retries and a webhook receiver for
//! events. The authentication's calls are in `traces_auth`.
use crate::support::echo::EchoUpstream;
use crate::support::faulty::{Fault, FaultyUpstream};
use crate::support::gateway::{token_for, TestGateway};
use crate::support::otlp::{attribute, hex, render, OtlpReceiver};
use crate::support::webhook::{secret, WebhookReceiver};
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{json, Value};
use std::time::Duration;

pub(crate) const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub(crate) const CALLER_SPAN: &str = "00f067aa0ba902b7";

pub(crate) fn traces_section(receiver: &OtlpReceiver, extra: &str) -> String {
    format!(
        "[telemetry.traces]\nendpoint = \"{}\"\nexport_interval = \"20ms\"\n{extra}\n",
        receiver.endpoint()
    )
}

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub(crate) fn named<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|s| s.name == name).collect()
}

pub(crate) fn one<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    let found = named(spans, name);
    assert_eq!(found.len(), 1, "one {name} span in {}", render(spans));
    found[0]
}

pub(crate) fn root(spans: &[Span]) -> &Span {
    let roots: Vec<&Span> = spans.iter().filter(|s| s.kind == 2).collect();
    assert_eq!(roots.len(), 1, "{}", render(spans));
    roots[0]
}

/// (trace id, span id, flags) of a `traceparent`.
fn parts(traceparent: &str) -> (String, String, String) {
    let p: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(p.len(), 4, "{traceparent}");
    assert_eq!(p[0], "00");
    (p[1].into(), p[2].into(), p[3].into())
}

#[tokio::test]
async fn a_callers_trace_continues_through_every_stage_to_the_upstream() {
    let receiver = OtlpReceiver::spawn();
    let echo = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .http("echo", &echo.url(), "")
        .raw_upstream(&traces_section(
            &receiver,
            "service_name = \"gw-under-test\"",
        ))
        .tenant("acme", &["acme.localhost"], "echo")
        .spawn();
    let user_name = "alice.traced@example.com";
    let resp = gw
        .client()
        .post(format!("{}/Users", gw.base("acme.localhost")))
        .bearer_auth(token_for("acme"))
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .header("tracestate", "congo=t61rcWkgMzE")
        .header("content-type", "application/scim+json")
        .body(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                   "userName": user_name})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    // (The echo answers 200 to everything.)
    assert_eq!(resp.status(), 200);
    let echoed: Value = resp.json().await.unwrap();
    let sent = echoed["headers"]["traceparent"]
        .as_str()
        .unwrap()
        .to_string();
    let (trace, upstream_parent, flags) = parts(&sent);
    assert_eq!(trace, TRACE_ID, "the upstream is in the caller's trace");
    assert_eq!(flags, "01");
    assert_eq!(echoed["headers"]["tracestate"], "congo=t61rcWkgMzE");

    let spans = receiver.wait_for_trace(&unhex(TRACE_ID), 8).await;
    let tree = render(&spans);
    println!("{tree}");
    // Kept for reading: target/tmp/trace-of-one-request.txt.
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(out.join("trace-of-one-request.txt"), &tree).unwrap();

    // The gateway's request span is the caller's child.
    let root = root(&spans);
    assert_eq!(hex(&root.parent_span_id), CALLER_SPAN);
    assert_eq!(root.name, "POST /Users");
    assert_eq!(root.trace_state, "congo=t61rcWkgMzE");
    assert_eq!(attribute(root, "http.route").as_deref(), Some("/Users"));
    assert_eq!(
        attribute(root, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        attribute(root, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        attribute(root, "scim_gateway.tenant").as_deref(),
        Some("acme")
    );
    // Every stage a child of the request span, in the pipeline's order.
    let stages = [
        "tenant",
        "authenticate",
        "limits tenant",
        "read body",
        "dialect",
        "validate and map",
        "cache lookup",
        "limits upstream",
        "upstream",
        "map response",
        "audit",
    ];
    let mut last_start = 0;
    for stage in stages {
        let span = one(&spans, stage);
        assert_eq!(span.parent_span_id, root.span_id, "{stage}: {tree}");
        assert!(span.start_time_unix_nano >= last_start, "{stage} in order");
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
        last_start = span.start_time_unix_nano;
    }
    // The upstream's parent is the gateway's attempt span, under "upstream".
    let attempt = one(&spans, "upstream attempt");
    assert_eq!(attempt.kind, 3, "a client span");
    assert_eq!(hex(&attempt.span_id), upstream_parent);
    assert_eq!(attempt.parent_span_id, one(&spans, "upstream").span_id);
    assert_eq!(
        attribute(attempt, "scim_gateway.attempt").as_deref(),
        Some("1")
    );
    assert_eq!(
        attribute(attempt, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert!(spans.iter().all(|s| s.trace_id == unhex(TRACE_ID)));
    assert_eq!(receiver.service_names()[0], "gw-under-test");

    // A read by id and a search, in traces of their own.
    let reads = [
        ("5ec7e7a1b2c3d4e5f60718293a4b5c6d", "/Users/rid-5ec7e7"),
        (
            "6ec7e7a1b2c3d4e5f60718293a4b5c6d",
            "/Users?filter=userName%20eq%20%22alice.traced%40example.com%22",
        ),
    ];
    for (trace, path) in reads {
        let resp = gw
            .client()
            .get(format!("{}{path}", gw.base("acme.localhost")))
            .bearer_auth(token_for("acme"))
            .header("traceparent", format!("00-{trace}-{CALLER_SPAN}-01"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let spans = receiver.wait_for_trace(&unhex(trace), 8).await;
        let route = attribute(self::root(&spans), "http.route");
        assert!(
            matches!(route.as_deref(), Some("/Users/{id}" | "/Users")),
            "{route:?}"
        );
    }

    // Nothing the client sent beyond its trace context is exported: not
    // its token, not the userName, not a filter value, not a resource id.
    let bodies = receiver.raw_bodies().concat();
    let contains = |needle: &str| bodies.windows(needle.len()).any(|w| w == needle.as_bytes());
    for secret in [
        token_for("acme").as_str(),
        user_name,
        "alice",
        "rid-5ec7e7",
        "filter",
    ] {
        assert!(!contains(secret), "{secret} was exported");
    }
    assert!(contains("acme"), "the search above can find what is there");
}

#[tokio::test]
async fn a_retried_upstream_call_shows_one_span_per_attempt() {
    let receiver = OtlpReceiver::spawn();
    let up = FaultyUpstream::spawn();
    let gw = TestGateway::builder()
        .http(
            "faulty",
            &up.url(),
            "[upstreams.faulty.resilience]\nattempts = 3\nbackoff = \"10ms\"\nretry_budget = 1.0\n",
        )
        .raw_upstream(&traces_section(&receiver, ""))
        .tenant("acme", &["acme.localhost"], "faulty")
        .spawn();
    up.script(&[Fault::Status(503)]);
    let resp = gw
        .client()
        .get(format!("{}/Users/f1", gw.base("acme.localhost")))
        .bearer_auth(token_for("acme"))
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(up.hits(), 2);
    let spans = receiver.wait_for_trace(&unhex(TRACE_ID), 12).await;
    let upstream = one(&spans, "upstream");
    let mut attempts = named(&spans, "upstream attempt");
    attempts.sort_by_key(|s| s.start_time_unix_nano);
    assert_eq!(attempts.len(), 2, "{}", render(&spans));
    let described: Vec<(Option<String>, Option<String>, i32)> = attempts
        .iter()
        .map(|s| {
            assert_eq!(s.parent_span_id, upstream.span_id);
            (
                attribute(s, "scim_gateway.attempt"),
                attribute(s, "http.response.status_code"),
                s.status.as_ref().map_or(0, |st| st.code),
            )
        })
        .collect();
    assert_eq!(
        described,
        [
            (Some("1".into()), Some("503".into()), 2),
            (Some("2".into()), Some("200".into()), 0)
        ]
    );
    assert_ne!(attempts[0].span_id, attempts[1].span_id);
}

#[tokio::test]
async fn a_malformed_traceparent_starts_a_fresh_trace() {
    let receiver = OtlpReceiver::spawn();
    let echo = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .http("echo", &echo.url(), "")
        .raw_upstream(&traces_section(&receiver, ""))
        .tenant("acme", &["acme.localhost"], "echo")
        .spawn();
    let malformed = format!("00-{}-{CALLER_SPAN}-01", TRACE_ID.to_uppercase());
    for sent in [malformed.as_str(), "garbage", &"0".repeat(4000)] {
        let resp = gw
            .client()
            .get(format!("{}/Users/u1", gw.base("acme.localhost")))
            .bearer_auth(token_for("acme"))
            .header("traceparent", sent)
            .header("tracestate", "congo=t61rcWkgMzE")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "never refused for its trace context");
        let echoed: Value = resp.json().await.unwrap();
        let (trace, parent, flags) = parts(echoed["headers"]["traceparent"].as_str().unwrap());
        assert_ne!(trace, TRACE_ID.to_lowercase());
        assert_eq!((trace.len(), parent.len(), flags.as_str()), (32, 16, "01"));
        // A tracestate without a valid parent is not passed on.
        assert!(echoed["headers"].get("tracestate").is_none());
        let spans = receiver.wait_for_trace(&unhex(&trace), 4).await;
        assert!(root(&spans).parent_span_id.is_empty(), "a new trace");
        assert_eq!(hex(&one(&spans, "upstream attempt").span_id), parent);
    }
}

#[tokio::test]
async fn sampling_zero_exports_nothing_but_a_sampled_caller_is_followed() {
    let receiver = OtlpReceiver::spawn();
    let echo = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .http("echo", &echo.url(), "")
        .raw_upstream(&traces_section(&receiver, "sampling_ratio = 0.0"))
        .tenant("acme", &["acme.localhost"], "echo")
        .spawn();
    let get = |traceparent: Option<String>| {
        let mut req = gw
            .client()
            .get(format!("{}/Users/u1", gw.base("acme.localhost")))
            .bearer_auth(token_for("acme"));
        if let Some(t) = traceparent {
            req = req.header("traceparent", t);
        }
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let mut unsampled = Vec::new();
    for _ in 0..5 {
        let echoed = get(None).await;
        let (trace, _, flags) = parts(echoed["headers"]["traceparent"].as_str().unwrap());
        assert_eq!(flags, "00", "the upstream learns the trace is not recorded");
        unsampled.push(trace);
    }
    let echoed = get(Some(format!("00-{TRACE_ID}-{CALLER_SPAN}-00"))).await;
    assert!(echoed["headers"]["traceparent"]
        .as_str()
        .unwrap()
        .ends_with("-00"));
    // A caller that records its trace is followed (parent-based), and its
    // spans come after the unsampled requests': once they are here,
    // anything of the earlier requests would be too.
    let echoed = get(Some(format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))).await;
    assert!(echoed["headers"]["traceparent"]
        .as_str()
        .unwrap()
        .ends_with("-01"));
    receiver.wait_for_trace(&unhex(TRACE_ID), 4).await;
    let spans = receiver.spans();
    assert!(
        spans.iter().all(|s| s.trace_id == unhex(TRACE_ID)),
        "{}",
        render(&spans)
    );
    assert_eq!(
        named(&spans, "upstream attempt").len(),
        1,
        "one request recorded"
    );
    for trace in unsampled {
        assert!(spans.iter().all(|s| hex(&s.trace_id) != trace));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_events_carry_the_trace_to_webhooks() {
    let receiver = OtlpReceiver::spawn();
    let key = secret(11);
    let hooks = WebhookReceiver::spawn(&[&key]);
    let dir = std::env::temp_dir().join(format!(
        "scimgw-traces-{}-{}",
        std::process::id(),
        hooks.addr.port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let secret_file = dir.join("hook.secret");
    std::fs::write(&secret_file, &key).unwrap();
    let gw = TestGateway::builder()
        .builtin("store")
        .raw_upstream("[events]\npoll_interval = \"20ms\"\n")
        .raw_upstream(&traces_section(&receiver, ""))
        .tenant_with(
            "hooked",
            &["hooked.localhost"],
            "store",
            &format!(
                "[[tenants.webhooks]]\nname = \"main\"\nurl = \"{}\"\nsecret_file = [\"{}\"]\n",
                hooks.url(),
                secret_file.display()
            ),
        )
        .spawn();
    let resp = gw
        .client()
        .post(format!("{}/Users", gw.base("hooked.localhost")))
        .bearer_auth(token_for("hooked"))
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .header("content-type", "application/scim+json")
        .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let delivered = hooks.wait_for_distinct(1, Duration::from_secs(10)).await;
    let (trace, parent, flags) = parts(&delivered[0].traceparent);
    assert_eq!((trace.as_str(), flags.as_str()), (TRACE_ID, "01"));
    // The event's consumer continues under the gateway's request span.
    let spans = receiver.wait_for_trace(&unhex(TRACE_ID), 6).await;
    assert_eq!(hex(&root(&spans).span_id), parent);
    assert_eq!(
        delivered[0].body["traceparent"],
        delivered[0].traceparent.as_str()
    );
}
