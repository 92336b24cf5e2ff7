#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

fn settings(toml_text: &str) -> KafkaSettings {
    toml::from_str(toml_text).unwrap()
}

fn base() -> KafkaSettings {
    settings("brokers = [\"127.0.0.1:9092\"]\ntopic = \"scim-events\"")
}

#[test]
fn settings_parse_and_reject_unknown_fields() {
    let s = settings(
        r#"
        brokers = ["k1:9092", "k2:9092"]
        topic = "scim.{tenant}.events"
        client_id = "gw-eu"
        message_timeout = "1m"
        request_timeout = "5s"
        connect_timeout = "2s"
        linger = "0ms"
        "#,
    );
    assert_eq!(s.brokers, ["k1:9092", "k2:9092"]);
    let (c, timeout) = client_config(&s).unwrap();
    assert_eq!(timeout, Duration::from_secs(60));
    assert_eq!(c.get("bootstrap.servers"), Some("k1:9092,k2:9092"));
    assert_eq!(c.get("client.id"), Some("gw-eu"));
    assert_eq!(c.get("message.timeout.ms"), Some("60000"));
    assert_eq!(c.get("request.timeout.ms"), Some("5000"));
    assert_eq!(c.get("socket.connection.setup.timeout.ms"), Some("2000"));
    assert_eq!(c.get("linger.ms"), Some("0"));

    let err = toml::from_str::<KafkaSettings>("brokers = [\"k:1\"]\ntopic = \"t\"\nacks = \"1\"")
        .unwrap_err();
    assert!(err.to_string().contains("acks"), "{err}");
}

#[test]
fn the_producer_is_always_idempotent_with_acks_all() {
    let (c, timeout) = client_config(&base()).unwrap();
    assert_eq!(c.get("enable.idempotence"), Some("true"));
    assert_eq!(c.get("acks"), Some("all"));
    assert_eq!(c.get("client.id"), Some("scim-gateway"));
    assert_eq!(timeout, DEFAULT_MESSAGE_TIMEOUT);
    assert_eq!(c.get("security.protocol"), Some("plaintext"));
}

#[test]
fn request_timeout_never_exceeds_message_timeout() {
    let mut s = base();
    s.message_timeout = Some("2s".into());
    s.request_timeout = Some("30s".into());
    let (c, _) = client_config(&s).unwrap();
    assert_eq!(c.get("request.timeout.ms"), Some("2000"));
}

#[test]
fn bad_settings_are_permanent_errors_naming_the_field() {
    let mut s = base();
    s.message_timeout = Some("soon".into());
    let e = client_config(&s).unwrap_err();
    assert!(!e.retryable);
    assert!(e.detail.contains("message_timeout"), "{e}");

    let mut s = base();
    s.brokers.clear();
    assert!(client_config(&s).unwrap_err().detail.contains("brokers"));

    assert!(base().validate().is_ok());
    for topic in ["", "a b", "x/{tenant}", "{tenant}{tenant}", "é"] {
        let mut s = base();
        s.topic = topic.into();
        assert!(s.validate().is_err(), "{topic:?}");
        let e = KafkaSink::new(&s).unwrap_err();
        assert!(!e.retryable && e.detail.contains("topic"), "{topic:?}: {e}");
    }
}

#[test]
fn topics_are_fixed_or_per_tenant() {
    let fixed = TopicTemplate::parse("scim-events").unwrap();
    assert_eq!(fixed.render("acme").unwrap(), "scim-events");
    let per = TopicTemplate::parse("scim.{tenant}.events").unwrap();
    assert_eq!(per.render("acme").unwrap(), "scim.acme.events");
    assert_eq!(per.render("beta-2").unwrap(), "scim.beta-2.events");
    // A tenant id that is not a legal topic name fails that send, permanently.
    let e = per.render("a/b").unwrap_err();
    assert!(!e.retryable);
    assert!(per.render(&"x".repeat(300)).is_err());
}

#[test]
fn sasl_plain_reads_the_password_from_env_or_file() {
    let dir = std::env::temp_dir().join(format!("kafka-sasl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("password");
    std::fs::write(&file, "hunter2\n").unwrap();
    let mut s = base();
    s.sasl = Some(KafkaSasl {
        mechanism: "plain".into(),
        username: "gw".into(),
        password_env: None,
        password_file: Some(file.to_string_lossy().into_owned()),
    });
    let (c, _) = client_config(&s).unwrap();
    assert_eq!(c.get("security.protocol"), Some("sasl_plaintext"));
    assert_eq!(c.get("sasl.username"), Some("gw"));
    assert_eq!(c.get("sasl.password"), Some("hunter2"));

    let mut bad = s.clone();
    if let Some(sasl) = bad.sasl.as_mut() {
        sasl.password_env = Some("SCIMGW_TEST_UNSET_KAFKA_PASSWORD".into());
    }
    assert!(client_config(&bad)
        .unwrap_err()
        .detail
        .contains("exactly one"));

    let mut bad = s.clone();
    if let Some(sasl) = bad.sasl.as_mut() {
        sasl.mechanism = "GSSAPI".into();
    }
    assert!(client_config(&bad).unwrap_err().detail.contains("PLAIN"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errors_are_classified_by_whether_a_retry_can_help() {
    use RDKafkaErrorCode as C;
    for code in [
        C::MessageTimedOut,
        C::AllBrokersDown,
        C::BrokerTransportFailure,
        C::QueueFull,
        C::NotEnoughReplicas,
        C::NotLeaderForPartition,
        C::LeaderNotAvailable,
        C::RequestTimedOut,
        C::UnknownTopicOrPartition,
        C::OutOfOrderSequenceNumber,
        C::Fatal,
    ] {
        let e = KafkaError::from_rdkafka(&RdError::MessageProduction(code));
        assert!(e.retryable, "{code:?}");
    }
    for code in [
        C::MessageSizeTooLarge,
        C::InvalidTopic,
        C::TopicAuthorizationFailed,
        C::SaslAuthenticationFailed,
    ] {
        let e = KafkaError::from_rdkafka(&RdError::MessageProduction(code));
        assert!(!e.retryable, "{code:?}");
        assert!(e.to_string().ends_with("(permanent)"), "{e}");
    }
}

#[tokio::test]
async fn an_unreachable_broker_fails_retryably_within_the_message_timeout() {
    // Port 9 on loopback: nothing listens, connections are refused at once.
    let mut s = base();
    s.brokers = vec!["127.0.0.1:9".into()];
    s.message_timeout = Some("300ms".into());
    let sink = KafkaSink::new(&s).unwrap();
    let started = std::time::Instant::now();
    let e = sink
        .send("acme", "u1", &serde_json::json!({"id": "e1"}))
        .await
        .unwrap_err();
    assert!(e.retryable, "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn batch_results_are_a_prefix_per_resource() {
    let v = serde_json::json!({});
    let ev = |tenant, resource_id| KafkaEvent {
        tenant,
        resource_id,
        event: &v,
    };
    let events = [
        ev("a", "1"),
        ev("a", "2"),
        ev("a", "1"),
        ev("b", "1"),
        ev("a", "1"),
    ];
    let boom = || Err(KafkaError::retry("boom"));
    let mut results = vec![boom(), Ok(()), Ok(()), Ok(()), boom()];
    fail_after_first_failure(&events, &mut results);
    let ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
    // a/1 failed first: its later successes become failures; a/2 and b/1
    // (same resource id, other tenant) are untouched.
    assert_eq!(ok, [false, true, false, true, false]);
    assert!(results[2].as_ref().unwrap_err().retryable);
    assert!(results[2]
        .as_ref()
        .unwrap_err()
        .detail
        .contains("earlier event"));
}

#[test]
fn a_failure_carries_the_last_connection_error_while_it_is_recent() {
    use rdkafka::client::ClientContext;
    let last = context::LastError::default();
    let minute = Duration::from_secs(60);
    assert_eq!(last.explain("timed out", minute), "timed out");
    let ctx = context::SinkContext {
        last_error: last.clone(),
    };
    ctx.error(
        RdError::Global(RDKafkaErrorCode::SSL),
        "SSL handshake failed: certificate verify failed",
    );
    // "All brokers down" follows the cause; it must not hide it.
    ctx.error(
        RdError::Global(RDKafkaErrorCode::AllBrokersDown),
        "1/1 brokers are down",
    );
    let explained = last.explain("timed out", minute);
    assert!(
        explained.ends_with(
            "last broker connection error: SSL handshake failed: certificate verify failed"
        ),
        "{explained}"
    );
    // An old error is about another outage.
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(
        last.explain("timed out", Duration::from_millis(1)),
        "timed out"
    );
}
