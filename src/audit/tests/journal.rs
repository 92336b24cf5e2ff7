use super::support::*;
use crate::audit::{AuditRecord, FsyncPolicy, Journal};
use std::time::Duration;

async fn run_journal(policy: FsyncPolicy) {
    let dir = temp_dir("journal");
    let mut s = settings(&dir);
    s.fsync = policy;
    s.queue = 4;
    let journal = Journal::open(s.clone()).unwrap();
    let mut watch = journal.outbox_watch();
    let acks: Vec<_> = (0..50)
        .map(|i| {
            let r = AuditRecord::write(&format!("r{i}"), "PATCH", [10, 0, 0, 1].into());
            journal.append(r, Some(serde_json::json!({"id": i}).into()))
        })
        .collect();
    let mut seqs = Vec::new();
    for ack in acks {
        seqs.push(ack.await.unwrap());
    }
    assert_eq!(
        seqs.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=50).collect::<Vec<_>>()
    );
    tokio::time::timeout(Duration::from_secs(5), watch.wait_for(|s| *s == 50))
        .await
        .unwrap()
        .unwrap();
    let fail = journal.auth_failure(
        "r-x",
        "GET",
        [10, 0, 0, 2].into(),
        Some("acme"),
        401,
        "invalid_token",
    );
    assert_eq!(fail.await.unwrap().outbox_seq, None);
    journal.shutdown().await.unwrap();
    let after = AuditRecord::write("late", "POST", [10, 0, 0, 1].into());
    assert!(journal.append(after, None).await.unwrap_err().is_closed());
    let report =
        crate::audit::verify_paths(std::slice::from_ref(&dir), Default::default()).unwrap();
    assert_eq!(report.last_seq, 51);
    // A restart continues both sequences.
    let journal = Journal::open(s).unwrap();
    assert_eq!(*journal.outbox_watch().borrow(), 50);
    let r = AuditRecord::write("again", "DELETE", [10, 0, 0, 1].into());
    let receipt = journal
        .append(r, Some(serde_json::json!({"id": "x"}).into()))
        .await
        .unwrap();
    assert_eq!((receipt.seq, receipt.outbox_seq), (52, Some(51)));
    journal.shutdown().await.unwrap();
}

#[tokio::test]
async fn interval_journal_appends_chains_and_publishes() {
    run_journal(FsyncPolicy::Interval).await;
}

#[tokio::test]
async fn per_record_journal_appends_chains_and_publishes() {
    run_journal(FsyncPolicy::PerRecord).await;
}
