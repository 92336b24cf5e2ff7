//! `server.drain_delay`: on shutdown `/readyz` fails first while the
//! public listener keeps serving new connections for the delay; then the
//! port closes.
use crate::support::gateway::{token_for, TestGateway};
use std::time::{Duration, Instant};

const ACME: &str = "acme.localhost";
const DELAY: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_first_and_the_port_closes_after_the_drain_delay() {
    let mut gw = TestGateway::builder()
        .server("drain_delay = \"4s\"")
        .builtin("store")
        .tenant("acme", &[ACME], "store")
        .spawn();
    let readyz = gw.admin_url("/readyz");
    let status = |url: String| async move { reqwest::get(url).await.map(|r| r.status().as_u16()) };
    assert_eq!(status(readyz.clone()).await.unwrap(), 200);
    let port = gw.bound.public.port();

    let began = Instant::now();
    gw.begin_shutdown();
    // Readiness fails at once (polled: the drain begins on another thread).
    let mut unready = false;
    while began.elapsed() < DELAY {
        if status(readyz.clone()).await.unwrap() == 503 {
            unready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(unready, "/readyz answered 503 within the drain delay");

    // A new client, a new connection: still served during the delay.
    let fresh = gw.client();
    let served = fresh
        .get(format!("{}/Users", gw.base(ACME)))
        .bearer_auth(token_for("acme"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        served.status(),
        200,
        "a new request is served while draining"
    );
    assert!(
        began.elapsed() < DELAY,
        "the checks above ran within the drain delay ({:?}): the test proves nothing otherwise",
        began.elapsed()
    );

    // Then the port closes, not before the delay.
    let closed = loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            break began.elapsed();
        }
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "the port never closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        closed >= DELAY,
        "the port closed after {closed:?}, before the drain delay of {DELAY:?}"
    );
    tokio::task::spawn_blocking(move || gw.join())
        .await
        .unwrap();
}
