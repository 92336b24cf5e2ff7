//! The shared connection against nothing listening: every answer within
//! the timeout, and the hold-off after a reported failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn settings(url: String) -> RedisSettings {
    RedisSettings {
        url,
        replicas: 2,
        timeout: Duration::from_millis(100),
        prefix: "t".into(),
    }
}

#[tokio::test]
async fn a_failure_holds_off_every_user_for_a_second_then_redis_is_asked_again() {
    let redis = SharedRedis::new(
        settings(format!("redis://127.0.0.1:{}", closed_port())),
        RedisLink::default(),
    )
    .unwrap();
    let started = Instant::now();
    let refused = redis.connection().await.err().unwrap();
    assert!(started.elapsed() < Duration::from_millis(500), "bounded");
    assert!(
        !refused.to_string().contains("not asked again yet"),
        "{refused}"
    );
    redis.suspect();
    let held = redis.connection().await.err().unwrap();
    assert!(held.to_string().contains("not asked again yet"), "{held}");
    // Giving back a lease still tries Redis.
    let anyway = redis.connection_anyway().await.err().unwrap();
    assert!(
        !anyway.to_string().contains("not asked again yet"),
        "{anyway}"
    );
    // Reports while holding off do not extend it.
    tokio::time::sleep(HOLD_OFF / 2).await;
    redis.suspect();
    tokio::time::sleep(HOLD_OFF / 2 + Duration::from_millis(50)).await;
    let asked = redis.connection().await.err().unwrap();
    assert!(
        !asked.to_string().contains("not asked again yet"),
        "{asked}"
    );
}

#[tokio::test]
async fn sentinels_that_do_not_answer_cost_one_timeout() {
    // One refusing, one that accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let link = RedisLink {
        tls: None,
        sentinel: Some(SentinelSettings {
            master_name: "scimgw".into(),
            sentinels: vec![
                format!("redis://127.0.0.1:{}", closed_port()),
                format!("redis://{}", silent.local_addr().unwrap()),
            ],
            poll: Duration::from_secs(1),
        }),
        auth: None,
    };
    let redis = SharedRedis::new(settings("redis://:hunter2@scimgw/0".into()), link).unwrap();
    let started = Instant::now();
    let e = redis.connection().await.err().unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(400), "{took:?}");
    assert!(!e.to_string().contains("hunter2"));
    assert!(!format!("{redis:?}").contains("hunter2"));
    assert_eq!(redis.master_addr(), None);
}

#[test]
fn tls_files_need_a_rediss_url_and_errors_hide_the_password() {
    let tls = RedisLink {
        tls: Some(RedisTls {
            ca_pem: None,
            client: None,
        }),
        ..RedisLink::default()
    };
    let e = SharedRedis::new(settings("redis://:hunter2@h:1".into()), tls).unwrap_err();
    assert!(e.contains("rediss://"), "{e}");
    let e = SharedRedis::new(
        settings("redis://:hunter2@h:x/0".into()),
        RedisLink::default(),
    )
    .unwrap_err();
    assert!(!e.contains("hunter2") && e.contains("<redacted>"), "{e}");
}

#[test]
fn a_password_in_two_places_is_refused() {
    let link = RedisLink {
        auth: Some(RedisAuth {
            username: None,
            password: crate::secret::Secret::new("hunter2"),
        }),
        ..RedisLink::default()
    };
    let e = SharedRedis::new(settings("redis://:other@h:1".into()), link.clone()).unwrap_err();
    assert!(
        e.contains("keep one") && !e.contains("hunter2") && !e.contains("other"),
        "{e}"
    );
    let ok = SharedRedis::new(settings("redis://h:1".into()), link).unwrap();
    assert!(!format!("{ok:?}").contains("hunter2"));
}
