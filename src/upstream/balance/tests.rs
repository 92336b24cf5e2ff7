#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::upstream::HttpTarget;
use std::sync::Arc;

fn balancer(n: usize, outlier: OutlierSettings) -> Balancer {
    let targets = (0..n)
        .map(|i| {
            Endpoint::new(
                format!("http://127.0.0.{}:8{i}/scim/v2", i + 1)
                    .parse()
                    .unwrap(),
                None,
                Duration::from_secs(1),
                4,
            )
            .unwrap()
        })
        .collect();
    Balancer::new("app", targets, HealthSettings::default(), outlier)
}

fn outlier(failures: u32, base_ms: u64, pct: u32) -> OutlierSettings {
    OutlierSettings {
        consecutive_failures: failures,
        base_ejection_time: Duration::from_millis(base_ms),
        max_ejection_time: Duration::from_millis(base_ms * 4),
        max_ejected_percent: pct,
    }
}

fn until(b: &Balancer, i: usize) -> u64 {
    b.endpoints[i].ejected_until_ms.load(Ordering::Relaxed)
}

#[test]
fn the_least_loaded_endpoint_is_picked() {
    let b = balancer(3, OutlierSettings::default());
    let _a = b.begin(0).unwrap();
    let _b = b.begin(0).unwrap();
    let _c = b.begin(1).unwrap();
    for _ in 0..5 {
        assert_eq!(b.pick(None), Ok(2));
    }
    let _d = b.begin(2).unwrap();
    let _e = b.begin(2).unwrap();
    assert_eq!(b.pick(None), Ok(1), "1 outstanding beats 2 and 2");
    drop((_a, _b));
    assert_eq!(b.endpoints()[0].outstanding(), 0, "the guard counts down");
    assert_eq!(b.pick(None), Ok(0));
}

#[test]
fn ties_go_round_robin() {
    let b = balancer(3, OutlierSettings::default());
    let mut seen = [0usize; 3];
    for _ in 0..30 {
        seen[b.pick(None).unwrap()] += 1;
    }
    assert_eq!(seen, [10, 10, 10]);
}

#[test]
fn a_retry_prefers_another_endpoint() {
    let b = balancer(3, outlier(1, 10_000, 100));
    for _ in 0..10 {
        let first = b.pick(None).unwrap();
        assert_ne!(b.pick(Some(first)), Ok(first));
    }
    // Only the avoided one is left: it is used rather than nothing.
    assert!(b.record(1, false));
    assert!(b.record(2, false));
    assert_eq!(b.pick(Some(0)), Ok(0));
}

#[test]
fn consecutive_failures_eject_and_a_success_resets_the_count() {
    let b = balancer(2, outlier(3, 1000, 50));
    assert!(!b.record_at(0, false, 10));
    assert!(!b.record_at(0, false, 10));
    assert!(!b.record_at(0, true, 10), "a success in between");
    assert!(!b.record_at(0, false, 10));
    assert!(!b.record_at(0, false, 10));
    assert!(b.record_at(0, false, 10), "three in a row eject");
    assert_eq!(until(&b, 0), 1010);
    assert!(!b.endpoints[0].available(500));
    for _ in 0..10 {
        assert_eq!(b.pick_at(None, 500), Ok(1));
    }
    assert!(b.endpoints[0].available(1010), "back when the time is up");
}

#[test]
fn repeated_ejections_grow_up_to_the_cap_and_decay() {
    let b = balancer(2, outlier(1, 100, 50));
    // k = 1, 2, 3, 4, then capped at 4 × base.
    let mut now = 1;
    for k in 1..=5u64 {
        assert!(b.record_at(0, false, now));
        let out_for = until(&b, 0) - now;
        assert_eq!(out_for, 100 * k.min(4), "ejection {k}");
        now = until(&b, 0);
    }
    assert_eq!(b.endpoints[0].ejections.load(Ordering::Relaxed), 5);
    // Back for three base periods: the multiplier drops by three.
    now += 300;
    assert!(b.record_at(0, false, now));
    assert_eq!(b.endpoints[0].ejections.load(Ordering::Relaxed), 3);
    assert_eq!(until(&b, 0) - now, 300);
    // Back for long: the first ejection's length again.
    now = until(&b, 0) + 10_000;
    assert!(b.record_at(0, false, now));
    assert_eq!(until(&b, 0) - now, 100);
}

#[test]
fn never_more_than_max_ejected_percent_and_never_all() {
    let b = balancer(4, outlier(1, 1000, 50));
    let ejected = (0..4).filter(|&i| b.record_at(i, false, 5)).count();
    assert_eq!(ejected, 2, "half of four");
    assert!(b.pick_at(None, 5).is_ok());

    let b = balancer(2, outlier(1, 1000, 100));
    assert_eq!(b.max_ejected(), 1, "never all");
    assert!(b.record_at(0, false, 5));
    assert!(!b.record_at(1, false, 5));
    assert_eq!(b.pick_at(None, 5), Ok(1));

    let b = balancer(3, outlier(1, 1000, 0));
    assert_eq!(b.max_ejected(), 1, "at least one");
    let b = balancer(3, outlier(1, 1000, 50));
    assert_eq!(b.max_ejected(), 1, "50 % of three rounds down");
    // Once the first is back, the second may go.
    let b = balancer(2, outlier(1, 1000, 50));
    assert!(b.record_at(0, false, 5));
    assert!(!b.record_at(1, false, 6));
    assert!(
        b.record_at(1, false, 1005),
        "the count stayed past the threshold"
    );
}

#[test]
fn outlier_detection_can_be_off() {
    let b = balancer(2, outlier(0, 1000, 50));
    for _ in 0..100 {
        assert!(!b.record(0, false));
    }
    assert!(b.is_available(0));
}

#[test]
fn health_flips_after_results_in_a_row_and_ends_an_ejection() {
    let b = balancer(2, outlier(1, 60_000, 50));
    b.checked(0, false);
    assert!(
        b.endpoints()[0].is_healthy(),
        "one failed check is not enough"
    );
    b.checked(0, true);
    b.checked(0, false);
    b.checked(0, false);
    assert!(!b.endpoints()[0].is_healthy());
    assert!(!b.is_available(0));
    assert!(b.record(0, false), "ejected as well");
    b.checked(0, true);
    assert!(!b.is_available(0));
    b.checked(0, true);
    assert!(b.endpoints()[0].is_healthy());
    assert!(b.is_available(0), "the passed checks end the ejection");
}

#[test]
fn nothing_available_says_when_to_come_back() {
    let b = balancer(2, outlier(1, 5_000, 50));
    for _ in 0..2 {
        b.checked(1, false);
    }
    assert!(b.record_at(0, false, 1000));
    let wait = b.pick_at(None, 2000).unwrap_err();
    assert_eq!(wait, Duration::from_millis(4000), "the end of the ejection");
    for _ in 0..2 {
        b.checked(0, false);
    }
    let wait = b.pick_at(None, 2000).unwrap_err();
    assert_eq!(wait, b.health.interval, "all unhealthy: the next check");
}

#[test]
fn reload_carries_the_state_over_by_url() {
    let old = balancer(3, outlier(1, 60_000, 100));
    for _ in 0..2 {
        old.checked(1, false);
    }
    assert!(old.record(2, false));
    let new = balancer(3, outlier(1, 60_000, 100));
    new.carry_over(&old);
    assert!(new.is_available(0));
    assert!(!new.endpoints()[1].is_healthy());
    assert!(!new.is_available(2), "still ejected");
    assert_eq!(new.endpoints[2].ejections.load(Ordering::Relaxed), 1);
}

#[test]
fn labels_name_host_and_port_only() {
    let label = |u: &str| endpoint_label(&u.parse().unwrap());
    assert_eq!(
        label("https://user:secret@a.example/scim/v2"),
        "a.example:443"
    );
    assert_eq!(label("http://10.0.0.1:8080/x"), "10.0.0.1:8080");
    assert_eq!(label("http://a.example/x"), "a.example:80");
}

#[tokio::test]
async fn the_health_task_ends_with_its_balancer() {
    let mut b = balancer(2, OutlierSettings::default());
    b.health.interval = Duration::from_millis(20);
    b.health.timeout = Duration::from_millis(20);
    let b = Arc::new(b);
    let task = health::start(&b, &crate::upstream::target::UpstreamAuth::None).unwrap();
    assert!(
        health::start(&b, &crate::upstream::target::UpstreamAuth::None).is_none(),
        "once"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!task.is_finished());
    drop(b);
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("the task stops when the config that owned it is gone")
        .unwrap();
}

/// An upstream over two endpoints that refuse connections.
fn dead_upstream(breaker_failures: u32) -> (crate::upstream::target::Upstream, Arc<Balancer>) {
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    };
    let endpoint = |addr: std::net::SocketAddr| {
        Endpoint::new(
            format!("http://{addr}/scim/v2").parse().unwrap(),
            None,
            Duration::from_secs(1),
            4,
        )
        .unwrap()
    };
    let (a, b) = (free(), free());
    let balancer = Balancer::new(
        "app",
        vec![endpoint(a), endpoint(b)],
        HealthSettings::default(),
        OutlierSettings::default(),
    );
    let balancer = Arc::new(balancer);
    let shared = balancer.clone();
    let http = HttpTarget::Balanced {
        primary: endpoint(a),
        balancer,
    };
    let mut upstream = crate::upstream::target::Upstream::new(
        "app",
        crate::upstream::target::UpstreamTarget::Http(Arc::new(http)),
        crate::upstream::target::UpstreamAuth::None,
        Duration::from_secs(1),
        Duration::from_secs(2),
    );
    upstream.resilience_settings.failures = breaker_failures;
    upstream.resilience_settings.open_for = Duration::from_millis(50);
    upstream.resilience_settings.backoff = Duration::from_millis(1);
    (upstream, shared)
}

fn get() -> crate::upstream::UpstreamRequest {
    crate::upstream::UpstreamRequest {
        method: http::Method::GET,
        path: "/Users/1".into(),
        query: None,
        headers: http::HeaderMap::new(),
        body: bytes::Bytes::new(),
        request_id: "r1".into(),
        client_ip: std::net::IpAddr::from([127, 0, 0, 1]),
        forwarded_for: None,
        client_proto: "https",
        client_host: "acme.example".into(),
        public_base: None,
        filtered_upsert: false,
    }
}

fn far() -> crate::upstream::Deadline {
    crate::upstream::Deadline {
        at: tokio::time::Instant::now() + Duration::from_secs(10),
        within: Duration::from_secs(10),
    }
}

#[tokio::test]
async fn no_endpoint_left_is_503_at_once_and_never_wedges_the_breaker() {
    let (upstream, balancer) = dead_upstream(1);
    // Both refuse: each retry went to the other endpoint.
    let e = crate::upstream::forward(&upstream, get(), 1 << 20, far())
        .await
        .unwrap_err();
    assert_eq!(e.reason().as_str(), "upstream_connect");
    let failures = |i: usize| balancer.endpoints()[i].failures.load(Ordering::Relaxed);
    assert_eq!(failures(0) + failures(1), 3, "three attempts");
    assert!(failures(0) >= 1 && failures(1) >= 1, "retries alternate");
    assert!(upstream.resilience.is_open());
    for i in 0..2 {
        balancer.checked(i, false);
        balancer.checked(i, false);
    }
    for _ in 0..2 {
        // The circuit's probe finds no endpoint: 503 with Retry-After, and
        // the circuit lets the next probe through later (not stuck).
        tokio::time::sleep(Duration::from_millis(60)).await;
        let started = std::time::Instant::now();
        let e = crate::upstream::forward(&upstream, get(), 1 << 20, far())
            .await
            .unwrap_err();
        assert_eq!(e.reason(), forward::NO_ENDPOINT);
        assert_eq!(e.status(), 503);
        assert!(started.elapsed() < Duration::from_millis(100));
    }
}
