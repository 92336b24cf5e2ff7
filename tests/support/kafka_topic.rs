//! A topic on a test broker ([`super::tansu::Tansu`]): create it, and read
//! every CloudEvent on it from the beginning (all partitions).
use super::tansu::Tansu;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use std::time::{Duration, Instant};

/// One consumed record: its key and the CloudEvent it carries.
#[derive(Debug, Clone)]
pub struct KafkaRecord {
    pub key: String,
    pub partition: i32,
    pub event: Value,
}

/// Creates `topic` with `partitions` partitions.
pub async fn create_topic(broker: &Tansu, topic: &str, partitions: i32) {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", broker.bootstrap());
    create_topic_with(&config, broker, topic, partitions).await;
}

/// [`create_topic`] through a client configured by the caller (TLS, SASL).
pub async fn create_topic_with(
    config: &ClientConfig,
    broker: &Tansu,
    topic: &str,
    partitions: i32,
) {
    let admin: AdminClient<DefaultClientContext> = config.create().unwrap();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let created = tokio::time::timeout(
        Duration::from_secs(20),
        admin.create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &opts,
        ),
    )
    .await
    .unwrap_or_else(|_| panic!("create_topics timed out:\n{}", broker.log_tail()))
    .unwrap();
    for r in created {
        if let Err((name, code)) = r {
            panic!(
                "cannot create topic {name}: {code:?}\n{}",
                broker.log_tail()
            );
        }
    }
}

/// A consumer of every partition of a topic from the beginning, kept
/// across calls so a caller can poll until what it waits for arrived.
pub struct TopicReader {
    consumer: StreamConsumer,
    pub records: Vec<KafkaRecord>,
}

impl TopicReader {
    pub fn new(broker: &Tansu, topic: &str, partitions: i32) -> TopicReader {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", broker.bootstrap());
        TopicReader::with_config(&config, topic, partitions)
    }

    /// [`TopicReader::new`] through a client configured by the caller.
    pub fn with_config(config: &ClientConfig, topic: &str, partitions: i32) -> TopicReader {
        let consumer: StreamConsumer = config
            .clone()
            .set("group.id", format!("verify-{topic}-{}", std::process::id()))
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&tpl).unwrap();
        TopicReader {
            consumer,
            records: Vec::new(),
        }
    }

    /// Reads until `done(records)` holds or `within` passed; true when done.
    pub async fn read_until(
        &mut self,
        within: Duration,
        done: impl Fn(&[KafkaRecord]) -> bool,
    ) -> bool {
        let deadline = Instant::now() + within;
        while !done(&self.records) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let Ok(msg) = tokio::time::timeout(left, self.consumer.recv()).await else {
                return false;
            };
            let msg = msg.unwrap();
            let key = msg
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_default();
            let event = msg
                .payload()
                .and_then(|p| serde_json::from_slice(p).ok())
                .unwrap_or(Value::Null);
            self.records.push(KafkaRecord {
                key,
                partition: msg.partition(),
                event,
            });
        }
        true
    }
}
