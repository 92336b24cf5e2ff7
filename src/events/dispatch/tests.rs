#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The dispatcher with an in-process sink whose answers a test scripts.
use super::*;
use crate::events::cursor::read_cursor;
use crate::events::deadletter;
use crate::events::outbox::OutboxRecord;
use crate::events::{DeliveryError, DeliveryFuture};
use serde_json::json;
use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// Answers from a script (then `Ok`), recording the seqs it acknowledged.
struct ScriptedSink {
    tenant: Option<&'static str>,
    script: Mutex<VecDeque<Result<(), DeliveryError>>>,
    attempts: Mutex<Vec<u64>>,
    delivered: Mutex<Vec<u64>>,
}

impl ScriptedSink {
    fn new(tenant: Option<&'static str>, script: Vec<Result<(), DeliveryError>>) -> Arc<Self> {
        Arc::new(ScriptedSink {
            tenant,
            script: Mutex::new(script.into()),
            attempts: Mutex::new(Vec::new()),
            delivered: Mutex::new(Vec::new()),
        })
    }
}

impl Sink for ScriptedSink {
    fn name(&self) -> &str {
        "scripted"
    }
    fn tenant(&self) -> Option<&str> {
        self.tenant
    }
    fn deliver<'a>(&'a self, record: &'a OutboxRecord) -> DeliveryFuture<'a> {
        Box::pin(async move {
            self.attempts.lock().unwrap().push(record.seq);
            let answer = self.script.lock().unwrap().pop_front().unwrap_or(Ok(()));
            if answer.is_ok() {
                self.delivered.lock().unwrap().push(record.seq);
            }
            answer
        })
    }
}

fn outbox(name: &str, tenants: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scimgw-dispatch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("outbox")).unwrap();
    let mut f = std::fs::File::create(dir.join("outbox").join(format!("{:020}.jsonl", 1))).unwrap();
    for (i, t) in tenants.iter().enumerate() {
        let line = json!({"seq": i + 1, "event": {"id": format!("e{}", i + 1), "tenant": t, "subject": "u1"}});
        writeln!(f, "{line}").unwrap();
    }
    dir
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_attempts: 3,
        max_age: Duration::from_secs(60),
    }
}

async fn run_until(
    dir: &Path,
    sink: Arc<ScriptedSink>,
    done: impl Fn(&ScriptedSink) -> bool + Send + 'static,
) {
    let mut settings = DispatcherSettings::new(dir);
    settings.poll_interval = Duration::from_millis(5);
    let dispatcher = Dispatcher::new(settings).with_sink(sink.clone(), fast());
    let watched = sink.clone();
    let stop = async move {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !done(&watched) {
            assert!(std::time::Instant::now() < deadline, "timed out");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    dispatcher.run(stop).await.unwrap();
}

#[tokio::test]
async fn retryable_failures_exhaust_into_a_dead_letter_and_later_events_flow() {
    let dir = outbox("exhaust", &["acme", "acme"]);
    let sink = ScriptedSink::new(
        None,
        vec![
            Err(DeliveryError::retryable("503")),
            Err(DeliveryError::retryable("503")),
            Err(DeliveryError::retryable("timeout")),
        ],
    );
    let d = dir.clone();
    run_until(&dir, sink.clone(), move |_| {
        read_cursor(&d, "scripted").unwrap() == Some(2)
    })
    .await;
    // Three tries of seq 1 (max_attempts), then seq 2 once.
    assert_eq!(*sink.attempts.lock().unwrap(), [1, 1, 1, 2]);
    assert_eq!(*sink.delivered.lock().unwrap(), [2]);
    let letters = deadletter::list(&dir, "scripted").unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!((letters[0].seq, letters[0].attempts), (1, 3));
    assert_eq!(letters[0].last_error, "timeout");
    assert_eq!(read_cursor(&dir, "scripted").unwrap(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_permanent_failure_is_not_retried_and_a_tenant_sink_skips_others() {
    let dir = outbox("permanent", &["acme", "globex", "acme", "globex"]);
    let sink = ScriptedSink::new(Some("acme"), vec![Err(DeliveryError::permanent("400"))]);
    // The cursor also passes the other tenant's trailing event.
    let d = dir.clone();
    run_until(&dir, sink.clone(), move |_| {
        read_cursor(&d, "scripted").unwrap() == Some(4)
    })
    .await;
    assert_eq!(*sink.attempts.lock().unwrap(), [1, 3]);
    assert_eq!(*sink.delivered.lock().unwrap(), [3]);
    assert_eq!(deadletter::list(&dir, "scripted").unwrap().len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn invalid_or_duplicate_sink_names_are_refused() {
    struct Named(&'static str);
    impl Sink for Named {
        fn name(&self) -> &str {
            self.0
        }
        fn tenant(&self) -> Option<&str> {
            None
        }
        fn deliver<'a>(&'a self, _: &'a OutboxRecord) -> DeliveryFuture<'a> {
            Box::pin(async { Ok(()) })
        }
    }
    let settings = DispatcherSettings::new("/nonexistent");
    let bad = Dispatcher::new(settings.clone()).with_sink(Arc::new(Named("../x")), fast());
    assert!(bad.run(async {}).await.is_err());
    let twice = Dispatcher::new(settings)
        .with_sink(Arc::new(Named("a")), fast())
        .with_sink(Arc::new(Named("a")), fast());
    let e = twice.run(async {}).await.unwrap_err();
    assert!(e.to_string().contains("used twice"), "{e}");
}

#[tokio::test]
async fn the_oldest_age_stays_fresh_while_a_sink_waits_to_retry() {
    struct Stuck;
    impl Sink for Stuck {
        fn name(&self) -> &str {
            "stuck"
        }
        fn tenant(&self) -> Option<&str> {
            None
        }
        fn deliver<'a>(&'a self, _: &'a OutboxRecord) -> DeliveryFuture<'a> {
            Box::pin(async { Err(DeliveryError::retryable("down")) })
        }
    }
    crate::telemetry::metrics_handle();
    let dir = outbox("stuck", &[]);
    let ten_s_ago = crate::scim::datetime::DateTime {
        secs: crate::scim::datetime::DateTime::now().secs - 10,
        nanos: 0,
    };
    let line = json!({"seq": 1, "event": {"id": "e1", "time": ten_s_ago.to_rfc3339()}});
    std::fs::write(
        dir.join("outbox").join(format!("{:020}.jsonl", 1)),
        format!("{line}\n"),
    )
    .unwrap();
    let mut settings = DispatcherSettings::new(&dir);
    settings.housekeeping_interval = Duration::from_millis(10);
    let slow = RetryPolicy {
        initial_backoff: Duration::from_secs(60),
        max_backoff: Duration::from_secs(60),
        max_attempts: 100,
        max_age: Duration::from_secs(600),
    };
    let age = || {
        crate::telemetry::render_metrics()
            .lines()
            .find(|l| {
                l.starts_with("scim_gateway_events_oldest_undelivered_age_seconds{sink=\"stuck\"}")
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
    };
    let dispatcher = Dispatcher::new(settings).with_sink(Arc::new(Stuck), slow);
    dispatcher
        .run(async {
            // The sink tried once and now waits 30 to 60 s; housekeeping
            // keeps the gauge moving meanwhile.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let first = age().unwrap();
            tokio::time::sleep(Duration::from_millis(1100)).await;
            let later = age().unwrap();
            assert!(first >= 10.0, "{first}");
            assert!(later >= first + 1.0, "{first} then {later}");
        })
        .await
        .unwrap();
    assert_eq!(read_cursor(&dir, "stuck").unwrap(), None);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_cursor_waits_for_its_interval_not_for_the_end_of_a_batch() {
    let dir = outbox("interval", &["acme", "acme"]);
    let sink = ScriptedSink::new(None, Vec::new());
    let mut settings = DispatcherSettings::new(&dir);
    settings.poll_interval = Duration::from_millis(5);
    settings.cursor_flush_interval = Duration::from_secs(3600);
    let dispatcher = Dispatcher::new(settings).with_sink(sink.clone(), fast());
    let (watched, d) = (sink.clone(), dir.clone());
    dispatcher
        .run(async move {
            while watched.delivered.lock().unwrap().len() < 2 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            // Idle for many polls: the batch's end wrote nothing.
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(read_cursor(&d, "scripted").unwrap(), None);
        })
        .await
        .unwrap();
    // Shutdown writes it.
    assert_eq!(read_cursor(&dir, "scripted").unwrap(), Some(2));

    // With a short interval, an idle sink's cursor follows within it.
    let dir2 = outbox("interval-idle", &["acme", "acme", "acme"]);
    let sink = ScriptedSink::new(None, Vec::new());
    let mut settings = DispatcherSettings::new(&dir2);
    settings.poll_interval = Duration::from_secs(3600);
    settings.cursor_flush_interval = Duration::from_millis(50);
    let dispatcher = Dispatcher::new(settings).with_sink(sink, fast());
    let d = dir2.clone();
    dispatcher
        .run(async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while read_cursor(&d, "scripted").unwrap() != Some(3) {
                assert!(std::time::Instant::now() < deadline, "timed out");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&dir2).unwrap();
}

/// Takes batches of at most `max` events, answering from a script (then
/// `Ok`); records each attempt's seqs.
struct BatchSink {
    max: usize,
    script: Mutex<VecDeque<Result<(), DeliveryError>>>,
    attempts: Mutex<Vec<Vec<u64>>>,
}

impl Sink for BatchSink {
    fn name(&self) -> &str {
        "batched"
    }
    fn tenant(&self) -> Option<&str> {
        Some("acme")
    }
    fn deliver<'a>(&'a self, _: &'a OutboxRecord) -> DeliveryFuture<'a> {
        Box::pin(async { panic!("a batch sink is only handed batches") })
    }
    fn batch_limits(&self) -> Option<crate::events::BatchLimits> {
        Some(crate::events::BatchLimits {
            max_events: self.max,
            max_bytes: 1 << 20,
        })
    }
    fn deliver_batch<'a>(
        &'a self,
        events: &'a [crate::events::BatchEvent<'a>],
    ) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let seqs = events.iter().map(|e| e.record.seq).collect();
            self.attempts.lock().unwrap().push(seqs);
            for e in events {
                // The body is the event as delivered alone.
                let body: serde_json::Value = serde_json::from_slice(&e.body.to_vec()).unwrap();
                assert_eq!(body["sequence"], format!("{:020}", e.record.seq));
            }
            self.script.lock().unwrap().pop_front().unwrap_or(Ok(()))
        })
    }
}

#[tokio::test]
async fn batches_hold_a_tenants_consecutive_events_and_fail_whole() {
    let tenants = [
        "acme", "globex", "acme", "acme", "acme", "globex", "acme", "acme",
    ];
    let dir = outbox("batches", &tenants);
    let sink = Arc::new(BatchSink {
        max: 2,
        script: Mutex::new(
            vec![
                Err(DeliveryError::retryable("503")),
                Ok(()),
                Err(DeliveryError::permanent("400")),
            ]
            .into(),
        ),
        attempts: Mutex::new(Vec::new()),
    });
    let mut settings = DispatcherSettings::new(&dir);
    settings.poll_interval = Duration::from_millis(5);
    let dispatcher = Dispatcher::new(settings).with_sink(sink.clone(), fast());
    let d = dir.clone();
    dispatcher
        .run(async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while read_cursor(&d, "batched").unwrap() != Some(8) {
                assert!(std::time::Instant::now() < deadline, "timed out");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap();
    // [1, 3] failed and was retried as the same events; [4, 5] was
    // refused, so each of its events is a dead letter; later ones flowed.
    assert_eq!(
        *sink.attempts.lock().unwrap(),
        [vec![1, 3], vec![1, 3], vec![4, 5], vec![7, 8]]
    );
    let letters = deadletter::list(&dir, "batched").unwrap();
    let seqs: Vec<u64> = letters.iter().map(|l| l.seq).collect();
    assert_eq!(seqs, [4, 5]);
    assert!(letters
        .iter()
        .all(|l| l.last_error == "400" && l.attempts == 1));
    assert!(letters.iter().all(|l| l.tenant.as_deref() == Some("acme")));
    std::fs::remove_dir_all(&dir).unwrap();
}
