use super::support::*;
use crate::audit::chain::{hex, line_hash, ZERO_HASH};
use crate::audit::files::{audit_file_name, parse_audit_file_name, read_tail};
use crate::audit::writer::Writer;
use crate::scim::datetime::DateTime;

#[test]
fn lines_chain_by_the_hash_of_the_previous_line() {
    let dir = temp_dir("chain");
    let files = write_log(&dir, 3);
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let l: Vec<&str> = text.lines().collect();
    let v: Vec<serde_json::Value> = l.iter().map(|s| serde_json::from_str(s).unwrap()).collect();
    assert!(l[0].starts_with("{\"seq\":1,\"prev\":\""), "{}", l[0]);
    assert_eq!(v[0]["prev"], ZERO_HASH);
    assert_eq!(v[1]["prev"], hex(&line_hash(l[0].as_bytes())));
    assert_eq!(v[2]["seq"], 3);
    assert_eq!(v[2]["request_id"], "req-2");
}

#[test]
fn file_names_sort_by_seq_and_round_trip() {
    let t = DateTime::parse("2026-11-23T12:35:01Z").unwrap();
    let name = audit_file_name(42, t);
    assert_eq!(name, "audit-00000000000000000042-20261123T123501Z.jsonl");
    assert_eq!(parse_audit_file_name(&name), Some((42, t.secs)));
}

#[test]
fn restart_continues_the_chain_and_cuts_a_torn_tail() {
    let dir = temp_dir("restart");
    let files = write_log(&dir, 5);
    let last = files.last().unwrap().clone();
    // A crash mid-write: half a line.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&last)
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"seq\":6,\"prev\":\"ab").unwrap();
    let outbox = files_in(&dir.join("outbox"));
    let mut o = std::fs::OpenOptions::new()
        .append(true)
        .open(outbox.last().unwrap())
        .unwrap();
    std::io::Write::write_all(&mut o, b"{\"seq\":6,\"ev").unwrap();
    let mut w = Writer::open(&settings(&dir)).unwrap();
    assert_eq!(w.head().seq, 5);
    assert_eq!(w.durable_outbox_seq(), 5);
    assert_eq!(read_tail(&last).unwrap().torn_bytes, 0);
    let r = w.write_batch(&[entry(5, true)], true).unwrap();
    assert_eq!((r[0].seq, r[0].outbox_seq), (6, Some(6)));
    let report =
        crate::audit::verify_paths(std::slice::from_ref(&dir), Default::default()).unwrap();
    assert_eq!(report.last_seq, 6);
}

#[test]
fn outbox_segments_follow_the_contract() {
    let dir = temp_dir("outbox");
    write_log(&dir, 200);
    let segs = files_in(&dir.join("outbox"));
    assert!(segs.len() >= 2);
    let mut expected = 1;
    for seg in &segs {
        let name = seg.file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(name, format!("{expected:020}.jsonl"));
        for line in std::fs::read_to_string(seg).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["seq"], expected);
            assert_eq!(v["event"]["id"], format!("ev-{}", expected - 1));
            expected += 1;
        }
        assert!(std::fs::metadata(seg).unwrap().len() <= 4096);
    }
    assert_eq!(expected, 201);
}

fn files_in(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn an_interval_sync_beside_the_writer_makes_durable_only_what_came_before_it() {
    let dir = temp_dir("pending-sync");
    let mut w = Writer::open(&settings(&dir)).unwrap();
    w.write_batch(&[entry(0, true), entry(1, true)], false)
        .unwrap();
    let pending = w.begin_sync().unwrap();
    // Written while the sync runs: not covered by it.
    w.write_batch(&[entry(2, true)], false).unwrap();
    assert_eq!(w.durable_outbox_seq(), 0);
    let seq = pending.run().unwrap();
    assert_eq!(seq, 2);
    w.synced(seq);
    assert_eq!(w.durable_outbox_seq(), 2);
    // The next sync takes the third.
    let next = w.begin_sync().unwrap();
    assert_eq!(next.run().unwrap(), 3);
    w.synced(3);
    let again = w.begin_sync().unwrap();
    assert_eq!(again.run().unwrap(), 3);
    // An older sync ending late never moves the durable seq back.
    w.synced(1);
    assert_eq!(w.durable_outbox_seq(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn line_hashes_are_plain_sha256() {
    // FIPS 180-2's test vectors: `audit verify` of files written by any
    // version holds as long as this does.
    assert_eq!(
        hex(&line_hash(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_eq!(
        hex(&line_hash(long)),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
}

#[test]
fn hex_and_seq_digits_are_the_formatters() {
    use crate::audit::chain::{push_line, FieldValue};
    let bytes: Vec<u8> = (0..=255).collect();
    let formatted: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex(&bytes), formatted);
    for n in [0, 7, 10, 99, 1_000_000, u64::MAX] {
        let mut out = Vec::new();
        push_line(&mut out, &[("seq", FieldValue::U64(n))], b"{\"a\":1}");
        assert_eq!(out, format!("{{\"seq\":{n},\"a\":1}}\n").into_bytes());
    }
}
