#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use serde_json::json;
use std::io::Write;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scimgw-outbox-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(outbox_dir(&dir)).unwrap();
    dir
}

fn line(seq: u64) -> String {
    format!(
        "{}\n",
        json!({"seq": seq, "event": {"id": format!("e{seq}"), "tenant": "acme"}})
    )
}

fn append(dir: &Path, first: u64, text: &str) {
    let path = outbox_dir(dir).join(format!("{first:020}.jsonl"));
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn seqs(records: &[OutboxRecord]) -> Vec<u64> {
    records.iter().map(|r| r.seq).collect()
}

#[test]
fn reads_in_order_across_segments_in_batches() {
    let dir = tmp("order");
    append(&dir, 1, &(1..=3).map(line).collect::<String>());
    append(&dir, 4, &(4..=5).map(line).collect::<String>());
    let mut r = OutboxReader::new(&dir, 0);
    assert_eq!(seqs(&r.read_batch(2, None).unwrap()), [1, 2]);
    assert_eq!(seqs(&r.read_batch(10, None).unwrap()), [3, 4, 5]);
    assert!(r.read_batch(10, None).unwrap().is_empty());
    append(&dir, 4, &line(6));
    assert_eq!(seqs(&r.read_batch(10, None).unwrap()), [6]);
    // A new reader resumes after a cursor.
    let mut r = OutboxReader::new(&dir, 4);
    assert_eq!(seqs(&r.read_batch(10, None).unwrap()), [5, 6]);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_torn_line_is_not_read_until_complete() {
    let dir = tmp("torn");
    let full = line(2);
    let (a, b) = full.split_at(10);
    append(&dir, 1, &format!("{}{a}", line(1)));
    let mut r = OutboxReader::new(&dir, 0);
    assert_eq!(seqs(&r.read_batch(10, None).unwrap()), [1]);
    assert!(r.read_batch(10, None).unwrap().is_empty());
    append(&dir, 1, b);
    assert_eq!(seqs(&r.read_batch(10, None).unwrap()), [2]);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_torn_tail_of_an_older_segment_is_abandoned() {
    let dir = tmp("crash");
    append(&dir, 1, &format!("{}{{\"seq\":2,\"ev", line(1)));
    append(&dir, 2, &line(2));
    let mut r = OutboxReader::new(&dir, 0);
    assert_eq!(seqs(&r.read_batch(10, None).unwrap()), [1, 2]);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn nothing_beyond_the_durable_seq_is_read() {
    let dir = tmp("durable");
    append(&dir, 1, &(1..=4).map(line).collect::<String>());
    let mut r = OutboxReader::new(&dir, 0);
    assert_eq!(seqs(&r.read_batch(10, Some(2)).unwrap()), [1, 2]);
    assert!(r.read_batch(10, Some(2)).unwrap().is_empty());
    assert_eq!(seqs(&r.read_batch(10, Some(9)).unwrap()), [3, 4]);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn garbage_lines_are_skipped() {
    let dir = tmp("garbage");
    append(&dir, 1, &format!("{}not json\n{}", line(1), line(2)));
    let mut r = OutboxReader::new(&dir, 0);
    assert_eq!(seqs(&r.read_batch(10, None).unwrap()), [1, 2]);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn delivered_segments_are_removed_but_never_the_newest() {
    let dir = tmp("gc");
    append(&dir, 1, &(1..=3).map(line).collect::<String>());
    append(&dir, 4, &(4..=6).map(line).collect::<String>());
    append(&dir, 7, &line(7));
    assert_eq!(remove_delivered_segments(&dir, 2).unwrap(), 0);
    assert_eq!(remove_delivered_segments(&dir, 3).unwrap(), 1);
    assert_eq!(remove_delivered_segments(&dir, 100).unwrap(), 1);
    let left = list_segments(&outbox_dir(&dir)).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].first_seq, 7);
    // A reader whose cursor predates the oldest segment starts there.
    let mut r = OutboxReader::new(&dir, 0);
    assert_eq!(seqs(&r.read_batch(10, None).unwrap()), [7]);
    assert_eq!(highest_seq(&dir).unwrap(), Some(7));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn highest_seq_ignores_a_torn_tail_and_reads_long_files() {
    let dir = tmp("highest");
    assert_eq!(highest_seq(&dir).unwrap(), None);
    let many: String = (1..=3000).map(line).collect();
    append(&dir, 1, &format!("{many}{{\"seq\":3001"));
    assert_eq!(highest_seq(&dir).unwrap(), Some(3000));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_delivered_event_carries_its_sequence() {
    let r = OutboxRecord {
        seq: 9,
        event: json!({"id": "e9", "tenant": "acme", "time": "t"}).into(),
    };
    assert_eq!(r.delivered_event()["sequence"], "00000000000000000009");
    assert_eq!(r.tenant(), Some("acme"));
    assert_eq!(r.id(), "e9");
    assert_eq!(r.subject(), None);
    assert_eq!(r.body(), r.body());
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config { failure_persistence: None, ..proptest::test_runner::Config::with_cases(48) })]

    /// However the events are split into segments, appended between reads
    /// and read in batches, the reader yields each seq exactly once, in
    /// order, and never a torn line.
    #[test]
    fn every_event_once_in_order(
        n in 1u64..60,
        cuts in proptest::collection::vec(1u64..60, 0..5),
        batch in 1usize..9,
        reads_between in 1usize..4,
    ) {
        let dir = tmp(&format!("prop-{n}-{batch}-{}", cuts.len()));
        let mut starts: Vec<u64> = cuts.into_iter().filter(|c| *c <= n).collect();
        starts.push(1);
        starts.sort_unstable();
        starts.dedup();
        let mut reader = OutboxReader::new(&dir, 0);
        let mut got = Vec::new();
        for seq in 1..=n {
            let first = *starts.iter().rev().find(|s| **s <= seq).unwrap();
            // Half a line first: a read in between must not see it.
            let text = line(seq);
            let (head, tail) = text.split_at(text.len() / 2);
            append(&dir, first, head);
            got.extend(seqs(&reader.read_batch(batch, None).unwrap()));
            append(&dir, first, tail);
            if seq % reads_between as u64 == 0 {
                got.extend(seqs(&reader.read_batch(batch, None).unwrap()));
            }
        }
        loop {
            let more = seqs(&reader.read_batch(batch, None).unwrap());
            if more.is_empty() { break; }
            got.extend(more);
        }
        proptest::prop_assert_eq!(got, (1..=n).collect::<Vec<u64>>());
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn the_leading_seq_is_read_only_from_the_journal_s_shape() {
    assert_eq!(leading_seq(b"{\"seq\":42,\"event\":{}}\n"), Some(42));
    assert_eq!(leading_seq(b"{\"seq\": 42,\"event\":{}}"), None);
    assert_eq!(leading_seq(b"{\"event\":{},\"seq\":42}"), None);
    assert_eq!(leading_seq(b"{\"seq\":,\"event\":{}}"), None);
    assert_eq!(leading_seq(b"{\"seq\":42"), None);
    assert_eq!(leading_seq(b"{\"seq\":99999999999999999999,\"e\":1}"), None);
}

#[test]
fn a_reader_told_to_skip_goes_on_from_the_skipped_seq() {
    let dir = tmp("skip");
    append(&dir, 1, &(1..=3).map(line).collect::<String>());
    append(&dir, 4, &(4..=6).map(line).collect::<String>());
    let mut r = OutboxReader::new(&dir, 0);
    assert_eq!(seqs(&r.read_batch(1, None).unwrap()), [1]);
    r.skip_to(3);
    assert_eq!(seqs(&r.read_batch(10, None).unwrap()), [3, 4, 5, 6]);
    // Into a later segment: read from that segment's start.
    let mut r = OutboxReader::new(&dir, 0);
    assert_eq!(seqs(&r.read_batch(1, None).unwrap()), [1]);
    r.skip_to(5);
    assert_eq!(seqs(&r.read_batch(10, None).unwrap()), [5, 6]);
    // Never backwards.
    r.skip_to(2);
    assert!(r.read_batch(10, None).unwrap().is_empty());
    append(&dir, 4, &line(7));
    assert_eq!(seqs(&r.read_batch(10, Some(7)).unwrap()), [7]);
    fs::remove_dir_all(&dir).unwrap();
}
