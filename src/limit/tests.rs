#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

fn limits(rate: f64, burst: u32) -> Limits {
    Limits {
        rate: Some(Rate::new(rate, burst)),
        ..Limits::default()
    }
}

#[tokio::test]
async fn tenant_rates_are_separate_and_say_when_to_retry() {
    let l = Limiter::new();
    let lim = limits(1.0, 2);
    let mut held = Admitted::default();
    assert!(l
        .admit_tenant(None, "acme", "a", &lim, &mut held)
        .await
        .is_ok());
    assert!(l
        .admit_tenant(None, "acme", "a", &lim, &mut held)
        .await
        .is_ok());
    let refused = l
        .admit_tenant(None, "acme", "a", &lim, &mut held)
        .await
        .unwrap_err();
    assert_eq!(refused.kind.as_str(), "tenant_rate");
    assert!(refused.retry_after <= Duration::from_secs(1));
    assert_eq!(refused.retry_after_secs(), 1);
    // Another tenant has its own budget.
    assert!(l
        .admit_tenant(None, "globex", "a", &lim, &mut held)
        .await
        .is_ok());
}

#[tokio::test]
async fn principals_of_one_tenant_are_limited_each() {
    let l = Limiter::new();
    let lim = Limits {
        principal_rate: Some(Rate::new(1.0, 1)),
        ..Limits::default()
    };
    let mut held = Admitted::default();
    assert!(l
        .admit_tenant(None, "acme", "okta", &lim, &mut held)
        .await
        .is_ok());
    let r = l
        .admit_tenant(None, "acme", "okta", &lim, &mut held)
        .await
        .unwrap_err();
    assert_eq!(r.kind.as_str(), "principal_rate");
    assert!(l
        .admit_tenant(None, "acme", "auditor", &lim, &mut held)
        .await
        .is_ok());
    // The same credential name at another tenant is another principal.
    assert!(l
        .admit_tenant(None, "globex", "okta", &lim, &mut held)
        .await
        .is_ok());
}

#[tokio::test]
async fn concurrency_caps_refuse_or_queue_briefly() {
    let l = Arc::new(Limiter::new());
    let capped = Limits {
        max_concurrent: Some(1),
        ..Limits::default()
    };
    let mut first = Admitted::default();
    l.admit_upstream(None, "legacy", &capped, &mut first)
        .await
        .unwrap();
    let mut second = Admitted::default();
    let r = l
        .admit_upstream(None, "legacy", &capped, &mut second)
        .await
        .unwrap_err();
    assert_eq!(r.kind.as_str(), "upstream_concurrency");
    // With a queue, the next request waits for the slot.
    let queued = Limits {
        queue: 1,
        queue_timeout: Duration::from_secs(2),
        ..capped
    };
    let waiter = {
        let l = l.clone();
        tokio::spawn(async move {
            let mut held = Admitted::default();
            l.admit_upstream(None, "legacy", &queued, &mut held)
                .await
                .is_ok()
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The queue holds one: a third request is refused at once.
    let mut third = Admitted::default();
    assert!(l
        .admit_upstream(None, "legacy", &queued, &mut third)
        .await
        .is_err());
    drop(first);
    assert!(waiter.await.unwrap());
    // A queue wait is bounded.
    let short = Limits {
        queue_timeout: Duration::from_millis(50),
        ..queued
    };
    let mut hold = Admitted::default();
    l.admit_upstream(None, "legacy", &short, &mut hold)
        .await
        .unwrap();
    let started = Instant::now();
    let mut other = Admitted::default();
    assert!(l
        .admit_upstream(None, "legacy", &short, &mut other)
        .await
        .is_err());
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_new_cap_on_reload_takes_effect() {
    let l = Limiter::new();
    let one = Limits {
        max_concurrent: Some(1),
        ..Limits::default()
    };
    let mut a = Admitted::default();
    l.admit_tenant(None, "acme", "x", &one, &mut a)
        .await
        .unwrap();
    let two = Limits {
        max_concurrent: Some(2),
        ..Limits::default()
    };
    let mut b = Admitted::default();
    l.admit_tenant(None, "acme", "x", &two, &mut b)
        .await
        .unwrap();
    l.admit_tenant(None, "acme", "x", &two, &mut b)
        .await
        .unwrap();
    assert!(l
        .admit_tenant(None, "acme", "x", &two, &mut b)
        .await
        .is_err());
}

#[test]
fn limit_kinds_keep_their_labels() {
    let kinds = [
        LimitKind::TenantRate,
        LimitKind::PrincipalRate,
        LimitKind::UpstreamRate,
        LimitKind::TenantConcurrency,
        LimitKind::UpstreamConcurrency,
    ];
    let labels: Vec<_> = kinds.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        labels,
        [
            "tenant_rate",
            "principal_rate",
            "upstream_rate",
            "tenant_concurrency",
            "upstream_concurrency"
        ]
    );
}
