//! A Redis with a password (`requirepass`): the password comes from a file
//! (`[limits.redis_auth]`), never from the config, and never shows in the
//! logs; a wrong one falls back to the local shares, logged and counted.
use super::redis_tls::{config, counter, get, tempdir};
use crate::support::echo::EchoUpstream;
use crate::support::process::GatewayProcess;
use crate::support::redis::RedisServer;
use std::time::Duration;

#[tokio::test]
async fn a_password_from_a_file_authenticates_and_a_wrong_one_falls_back_unshown() {
    let dir = tempdir("redis-auth");
    let redis = RedisServer::start_with(&["--requirepass".into(), "s3cret-right".into()]);
    let echo = EchoUpstream::spawn();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let fallbacks = "scim_gateway_limit_fallbacks_total";
    for (name, password, decided_by_redis) in [
        ("right", "s3cret-right", true),
        ("wrong", "s3cret-wrong", false),
    ] {
        let file = dir.join(format!("{name}.password"));
        std::fs::write(&file, format!("{password}\n")).unwrap();
        let limits = format!(
            "[limits]\nbackend = \"redis\"\nredis_url = \"{}\"\nreplicas = 2\ntimeout = \"200ms\"\n\n\
             [limits.redis_auth]\npassword_file = \"{}\"\n",
            redis.url(),
            file.display()
        );
        let gw = GatewayProcess::spawn(&config(&dir, name, &limits, &echo.url()));
        for _ in 0..3 {
            let status = get(&client, &gw).await;
            assert!(matches!(status, 200 | 429), "{status}");
        }
        let counted = counter(&client, &gw, fallbacks).await;
        if decided_by_redis {
            assert_eq!(counted, 0.0, "{}", gw.log_tail());
        } else {
            assert!(counted >= 1.0, "{}", gw.log_tail());
            assert!(
                gw.log_count("shared limits unavailable") >= 1,
                "{}",
                gw.log_tail()
            );
        }
        assert_eq!(gw.log_count("s3cret"), 0, "{}", gw.log_tail());
    }
}
