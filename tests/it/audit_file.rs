//! `scim-gateway audit verify` on a real audit log: the gateway binary
//! writes a few dozen records (rotating small files), then copies of the
//! log are tampered with (one byte changed, one line deleted, two adjacent
//! lines swapped); verify fails on each, naming the first bad record by
//! file, line and seq, and passes on the untouched copy. A Bulk request in
//! the log gets one record per operation.
use crate::support::audit_log::{audit_files, audit_verify, copy_audit_dir, read_records};
use crate::support::audited::{temp_dir, AuditedConfig};
use crate::support::gateway::token_for;
use crate::support::process::GatewayProcess;
use crate::support::store::TestStore;
use crate::support::write_stream::WriteStream;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

const WRITES: usize = 40;
/// Writes plus the operations of the one Bulk request.
const RECORDS: usize = WRITES + 3;
const BULK_REQUEST_ID: &str = "verify-bulk-1";

/// One Bulk request of three operations (create, patch that User, create
/// another); returns the ids the two creates got.
async fn bulk(gw: SocketAddr) -> (String, String) {
    let user = "urn:ietf:params:scim:schemas:core:2.0:User";
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "b1",
             "data": {"schemas": [user], "userName": "bulk-one"}},
            {"method": "PATCH", "path": "/Users/bulkId:b1",
             "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                      "Operations": [{"op": "replace", "path": "active", "value": false}]}},
            {"method": "POST", "path": "/Users", "bulkId": "b2",
             "data": {"schemas": [user], "userName": "bulk-two"}}
        ]
    });
    let resp = reqwest::Client::new()
        .post(format!("http://{gw}/scim/v2/Bulk"))
        .header("host", "acme.localhost")
        .header("x-request-id", BULK_REQUEST_ID)
        .header("content-type", "application/scim+json")
        .bearer_auth(token_for("acme"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().await.unwrap();
    let ops = answer["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["201", "200", "201"], "{answer}");
    let id = |o: &Value| {
        let location = o["location"].as_str().unwrap();
        location.rsplit('/').next().unwrap().to_string()
    };
    (id(&ops[0]), id(&ops[2]))
}

/// A real log of `WRITES` records in several files under `dir/audit`.
async fn real_log(dir: &Path) -> PathBuf {
    let store = TestStore::spawn();
    let config = AuditedConfig {
        upstream: store.base_url(),
        audit_extra: "max_file_bytes = 4096".into(),
        ..AuditedConfig::default()
    }
    .write(dir);
    let mut gw = tokio::task::block_in_place(|| GatewayProcess::spawn(&config));
    let stream = WriteStream::start(gw.public, "verify", 2, WRITES, Duration::ZERO);
    let writes = stream.finish().await;
    assert!(
        writes.iter().all(|w| w.acknowledged()),
        "{:?}",
        writes.iter().find(|w| !w.acknowledged())
    );
    let (first, second) = bulk(gw.public).await;
    let clean = tokio::task::block_in_place(|| gw.terminate(Duration::from_secs(15)));
    assert_eq!(clean, Some(true), "{}", gw.log_tail());
    let log = dir.join("audit");
    let records = read_records(&log);
    let of_bulk: Vec<(&str, &str)> = records
        .iter()
        .filter(|r| r["request_id"] == BULK_REQUEST_ID)
        .map(|r| {
            (
                r["method"].as_str().unwrap_or_default(),
                r["resource_id"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        of_bulk,
        [
            ("POST", first.as_str()),
            ("PATCH", first.as_str()),
            ("POST", second.as_str())
        ],
        "one audit record per Bulk operation"
    );
    log
}

/// The lines of `file` (without newlines).
fn lines(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(file: &Path, lines: &[String]) {
    std::fs::write(file, format!("{}\n", lines.join("\n"))).unwrap();
}

fn seq_of(line: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(line).unwrap()["seq"]
        .as_u64()
        .unwrap()
}

/// A copy of `log` in `to`, with `tamper` applied to the lines of its
/// second file (`file name`, lines); returns the copy and the file name.
fn tampered(log: &Path, to: &Path, tamper: impl FnOnce(&mut Vec<String>)) -> (PathBuf, String) {
    copy_audit_dir(log, to);
    let file = audit_files(to)[1].clone();
    let mut l = lines(&file);
    tamper(&mut l);
    write_lines(&file, &l);
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    (to.to_path_buf(), name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_names_the_first_bad_record_of_a_real_log() {
    let dir = temp_dir("audit-file");
    let log = real_log(&dir).await;
    tamper_and_verify(&dir, &log);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Checks the untouched copy of `log` (`WRITES` records, in at least
/// three files) and three tampered copies, each in a sub-directory of `dir`.
pub fn tamper_and_verify(dir: &Path, log: &Path) {
    let files = audit_files(log);
    assert!(files.len() >= 3, "rotation at 4096 bytes: {files:?}");
    assert_eq!(read_records(log).len(), RECORDS, "one record per write");
    let second = lines(&files[1]);
    assert!(second.len() >= 3, "{second:?}");
    let s = seq_of(&second[1]); // the record on line 2 of the second file

    // Untouched copy: passes.
    let copy = dir.join("untouched");
    copy_audit_dir(log, &copy);
    let ok = audit_verify(&[&copy]);
    assert!(ok.success, "{}", ok.output);
    assert!(
        ok.output.contains(&format!(
            "ok: {RECORDS} records in {} files, seq 1..{RECORDS}",
            files.len()
        )),
        "{}",
        ok.output
    );

    // (i) One byte changed inside the record on line 2 (JSON still valid:
    // a digit of its time).
    let (copy, name) = tampered(log, &dir.join("modified"), |l| {
        let line = &mut l[1];
        let at = line.find("\"time\":\"").unwrap() + "\"time\":\"".len() + 3;
        let digit = line.as_bytes()[at];
        let other = if digit == b'9' { '8' } else { '9' };
        line.replace_range(at..at + 1, &other.to_string());
    });
    let out = audit_verify(&[&copy]);
    assert!(!out.success, "a modified record passed: {}", out.output);
    assert!(
        out.output.contains(&format!("{name}:2: seq {s}: modified")),
        "{}",
        out.output
    );

    // (ii) Line 2 deleted: line 2 now holds seq s+1, and seq s is missing.
    let (copy, name) = tampered(log, &dir.join("deleted"), |l| {
        l.remove(1);
    });
    let out = audit_verify(&[&copy]);
    assert!(!out.success, "a deleted record passed: {}", out.output);
    assert!(
        out.output.contains(&format!(
            "{name}:2: seq {}: deleted: seq {s} is missing",
            s + 1
        )),
        "{}",
        out.output
    );

    // (iii) Lines 2 and 3 swapped: seq s+1 comes where seq s should.
    let (copy, name) = tampered(log, &dir.join("swapped"), |l| l.swap(1, 2));
    let out = audit_verify(&[&copy]);
    assert!(!out.success, "swapped records passed: {}", out.output);
    assert!(
        out.output
            .contains(&format!("{name}:2: seq {}: reordered", s + 1)),
        "{}",
        out.output
    );
    println!(
        "audit verify on a real log of {RECORDS} records in {} files: untouched ok; \
         modified, deleted, swapped each named at {name}:2",
        files.len()
    );
}
