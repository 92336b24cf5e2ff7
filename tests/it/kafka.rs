//! The Kafka sink against a real Kafka-protocol broker (tansu, see
//! tests/support/tansu.rs): every event arrives, in order per resource, with
//! the CloudEvents headers; a stopped broker makes sends fail retryably and
//! the producer recovers once it is back.
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use scim_gateway::events::kafka::{KafkaEvent, KafkaSettings, KafkaSink};
use serde_json::{json, Value};

use crate::support::kafka_topic;
use crate::support::tansu::Tansu;

const PARTITIONS: i32 = 3;

fn settings(broker: &Tansu, topic: &str, message_timeout: &str) -> KafkaSettings {
    toml::from_str(&format!(
        "brokers = [\"{}\"]\ntopic = \"{topic}\"\nmessage_timeout = \"{message_timeout}\"\n\
         request_timeout = \"2s\"\nconnect_timeout = \"1s\"",
        broker.bootstrap()
    ))
    .unwrap()
}

/// The test topic, with [`PARTITIONS`] partitions.
async fn create_topic(broker: &Tansu, topic: &str) {
    kafka_topic::create_topic(broker, topic, PARTITIONS).await;
}

/// One consumed record: key, CloudEvent, and its headers.
struct Record {
    key: String,
    event: Value,
    headers: BTreeMap<String, String>,
}

/// Reads `topic` from the beginning until `want` records arrived or `within`
/// passed.
async fn consume(broker: &Tansu, topic: &str, want: usize, within: Duration) -> Vec<Record> {
    consume_until(broker, topic, within, |records| records.len() >= want).await
}

/// Reads `topic` from the beginning until `done` holds or `within` passed.
async fn consume_until(
    broker: &Tansu,
    topic: &str,
    within: Duration,
    done: impl Fn(&[Record]) -> bool,
) -> Vec<Record> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", format!("verify-{topic}"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    while !done(&out) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(msg) = tokio::time::timeout(left, consumer.recv()).await else {
            break;
        };
        let msg = msg.unwrap();
        let key = String::from_utf8(msg.key().unwrap().to_vec()).unwrap();
        let event = serde_json::from_slice(msg.payload().unwrap()).unwrap();
        let mut headers = BTreeMap::new();
        if let Some(h) = msg.headers() {
            for header in h.iter() {
                let value = header
                    .value
                    .map(|v| String::from_utf8_lossy(v).into_owned());
                headers.insert(header.key.to_string(), value.unwrap_or_default());
            }
        }
        out.push(Record {
            key,
            event,
            headers,
        });
    }
    out
}

fn event(resource: &str, seq: usize) -> Value {
    json!({
        "specversion": "1.0",
        "id": format!("{resource}-{seq}"),
        "source": "/tenants/acme",
        "type": "scim.user.updated",
        "subject": resource,
        "data": {"seq": seq},
        // The request's trace (CloudEvents Distributed Tracing extension).
        "traceparent": format!("00-{:032x}-{:016x}-01", seq + 1, seq + 1),
    })
}

/// Per key, the sequence numbers in arrival order.
fn by_key(records: &[Record]) -> BTreeMap<String, Vec<u64>> {
    let mut m: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in records {
        let seq = r.event["data"]["seq"].as_u64().unwrap();
        m.entry(r.key.clone()).or_default().push(seq);
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_in_order_per_resource() {
    let Some(broker) = Tansu::start() else { return };
    let topic = "scim-events";
    create_topic(&broker, topic).await;
    let sink = KafkaSink::new(&settings(&broker, topic, "10s")).unwrap();

    // 200 events for 10 resources, interleaved; half sent one by one, half in
    // batches of 20 (one batch holds several events of each resource).
    let resources: Vec<String> = (0..10).map(|i| format!("user-{i}")).collect();
    let events: Vec<(String, Value)> = (0..20)
        .flat_map(|seq| resources.iter().map(move |r| (r.clone(), event(r, seq))))
        .collect();
    let (singles, batched) = events.split_at(100);
    for (resource, e) in singles {
        tokio::time::timeout(Duration::from_secs(15), sink.send("acme", resource, e))
            .await
            .expect("send hung")
            .unwrap_or_else(|err| panic!("send failed: {err}\n{}", broker.log_tail()));
    }
    for chunk in batched.chunks(20) {
        let batch: Vec<KafkaEvent<'_>> = chunk
            .iter()
            .map(|(resource, e)| KafkaEvent {
                tenant: "acme",
                resource_id: resource,
                event: e,
            })
            .collect();
        let results = tokio::time::timeout(Duration::from_secs(15), sink.send_batch(&batch))
            .await
            .expect("send_batch hung");
        assert_eq!(results.len(), 20);
        for r in results {
            r.unwrap();
        }
    }

    let records = consume(&broker, topic, 200, Duration::from_secs(30)).await;
    assert_eq!(records.len(), 200, "events lost on the way");
    let ids: std::collections::BTreeSet<&str> = records
        .iter()
        .map(|r| r.event["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 200, "every event exactly once");
    let order = by_key(&records);
    assert_eq!(order.len(), 10);
    for (key, seqs) in order {
        assert!(key.starts_with("acme/user-"), "{key}");
        assert_eq!(seqs, (0..20).collect::<Vec<u64>>(), "order of {key}");
    }
    let r = &records[0];
    assert_eq!(
        r.headers.get("content-type").map(String::as_str),
        Some("application/cloudevents+json; charset=UTF-8")
    );
    assert_eq!(
        r.headers.get("ce_id"),
        r.event["id"].as_str().map(str::to_string).as_ref()
    );
    // The trace context goes on as W3C Trace Context record headers.
    for r in &records {
        assert_eq!(
            r.headers.get("traceparent"),
            r.event["traceparent"].as_str().map(str::to_string).as_ref()
        );
        assert!(!r.headers.contains_key("tracestate"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_broker_fails_sends_retryably_and_the_producer_recovers() {
    let Some(mut broker) = Tansu::start() else {
        return;
    };
    let topic = "scim-outage";
    create_topic(&broker, topic).await;
    let sink = KafkaSink::new(&settings(&broker, topic, "3s")).unwrap();
    sink.send("acme", "u1", &event("u1", 0)).await.unwrap();

    broker.stop();
    let started = Instant::now();
    let err = tokio::time::timeout(
        Duration::from_secs(20),
        sink.send("acme", "u1", &event("u1", 1)),
    )
    .await
    .expect("a send to a stopped broker must end within its message_timeout")
    .unwrap_err();
    assert!(err.retryable, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // Back (empty: memory storage), topic made again: the producer resumes
    // (a new producer id if the broker forgot the old one) within a bound.
    broker.restart();
    create_topic(&broker, topic).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut attempts = 0;
    loop {
        attempts += 1;
        match sink.send("acme", "u1", &event("u1", 100)).await {
            Ok(()) => break,
            Err(e) => {
                assert!(e.retryable, "{e}");
                assert!(
                    Instant::now() < deadline,
                    "the producer did not recover after {attempts} attempts: {e}\n{}",
                    broker.log_tail()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    for seq in 101..121 {
        sink.send("acme", "u2", &event("u2", seq)).await.unwrap();
    }
    let records = consume(&broker, topic, 21, Duration::from_secs(30)).await;
    let order = by_key(&records);
    assert_eq!(
        order.get("acme/u2"),
        Some(&(101..121).collect::<Vec<u64>>())
    );
    assert!(order.get("acme/u1").is_some_and(|s| s.contains(&100)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_template_gives_each_tenant_its_own_topic() {
    let Some(broker) = Tansu::start() else {
        return;
    };
    create_topic(&broker, "scim.acme.events").await;
    create_topic(&broker, "scim.beta.events").await;
    let sink = KafkaSink::new(&settings(&broker, "scim.{tenant}.events", "10s")).unwrap();
    assert_eq!(sink.topic_for("beta").unwrap(), "scim.beta.events");
    for seq in 0..5 {
        sink.send("acme", "u1", &event("u1", seq)).await.unwrap();
        sink.send("beta", "u1", &event("u1", seq + 10))
            .await
            .unwrap();
    }
    // A tenant id that makes an illegal topic name is a permanent failure.
    let err = sink
        .send("bad/tenant", "u1", &event("u1", 0))
        .await
        .unwrap_err();
    assert!(!err.retryable, "{err}");

    let acme = consume(&broker, "scim.acme.events", 5, Duration::from_secs(20)).await;
    let beta = consume(&broker, "scim.beta.events", 5, Duration::from_secs(20)).await;
    assert_eq!(
        by_key(&acme).get("acme/u1"),
        Some(&(0..5).collect::<Vec<u64>>())
    );
    assert_eq!(
        by_key(&beta).get("beta/u1"),
        Some(&(10..15).collect::<Vec<u64>>())
    );
    assert_eq!(by_key(&acme).len(), 1, "no beta events in acme's topic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dispatcher_sink_keys_events_by_their_tenant_and_subject() {
    use scim_gateway::events::kafka::KafkaEventSink;
    use scim_gateway::events::{OutboxRecord, Sink};
    let Some(broker) = Tansu::start() else {
        return;
    };
    let topic = "scim-dispatch";
    create_topic(&broker, topic).await;
    let kafka = KafkaSink::new(&settings(&broker, topic, "10s")).unwrap();
    assert!(KafkaEventSink::new("bad name", None, kafka.clone()).is_err());
    let sink = KafkaEventSink::new("kafka-shared", None, kafka).unwrap();
    assert_eq!(sink.name(), "kafka-shared");
    assert_eq!(sink.tenant(), None);
    for seq in 0..3u64 {
        let mut e = event("u7", seq as usize);
        e["tenant"] = json!("acme");
        sink.deliver(&OutboxRecord {
            seq,
            event: e.into(),
        })
        .await
        .unwrap();
    }
    // No tenant attribute: nowhere to key it, and retrying cannot help.
    let err = sink
        .deliver(&OutboxRecord {
            seq: 9,
            event: event("u7", 9).into(),
        })
        .await
        .unwrap_err();
    assert!(!err.retryable, "{err}");
    let records = consume(&broker, topic, 3, Duration::from_secs(20)).await;
    assert_eq!(by_key(&records).get("acme/u7"), Some(&vec![0, 1, 2]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_broker_loses_nothing() {
    let Some(broker) = Tansu::start() else {
        return;
    };
    let topic = "scim-frozen";
    create_topic(&broker, topic).await;
    let sink = KafkaSink::new(&settings(&broker, topic, "1s")).unwrap();
    let broker = std::sync::Arc::new(broker);

    // 100 events for 10 resources, each sent until acknowledged (the
    // dispatcher's loop, in small); the broker freezes for 4 s after the
    // 30th. A resource's next event goes only after the previous one is in.
    let mut failures = 0;
    for n in 0..100usize {
        if n == 30 {
            broker.pause();
            let b = broker.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(4)).await;
                b.resume();
            });
        }
        let resource = format!("user-{}", n % 10);
        let e = event(&resource, n / 10);
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Err(err) = sink.send("acme", &resource, &e).await {
            assert!(err.retryable, "{err}");
            assert!(Instant::now() < deadline, "event {n} never went out: {err}");
            failures += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(failures > 0, "the freeze should have failed some sends");

    let distinct = |records: &[Record]| {
        records
            .iter()
            .map(|r| r.event["id"].as_str().unwrap_or_default().to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    let records = consume_until(&broker, topic, Duration::from_secs(30), |r| {
        distinct(r) >= 100
    })
    .await;
    assert_eq!(distinct(&records), 100, "events lost");
    let duplicates = records.len() - 100;
    eprintln!("frozen broker: {failures} failed sends retried, {duplicates} duplicates");
    // First occurrences, per resource, in order.
    let mut seen = std::collections::BTreeSet::new();
    let firsts: Vec<Record> = records
        .into_iter()
        .filter(|r| seen.insert(r.event["id"].as_str().unwrap_or_default().to_string()))
        .collect();
    for (key, seqs) in by_key(&firsts) {
        assert_eq!(seqs, (0..10).collect::<Vec<u64>>(), "order of {key}");
    }
}
