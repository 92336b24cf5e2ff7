//! A tiny outbox writer for tests, following the journal's format:
//! `<dir>/outbox/<20-digit first seq>.jsonl`, one `{"seq", "event"}` line
//! per event, seq contiguous from 1. Can rotate segments and leave a torn
//! last line, as a writer caught mid-append would.
use scim_gateway::events::{build_event, new_event_id, ChangeInput, EventData, WriteMethod};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct TestOutbox {
    pub dir: PathBuf,
    next_seq: u64,
    segment_first: u64,
    torn: Option<String>,
}

impl TestOutbox {
    /// A fresh events directory under the system temp dir.
    pub fn new(name: &str) -> TestOutbox {
        let dir = std::env::temp_dir().join(format!(
            "scimgw-events-{name}-{}-{}",
            std::process::id(),
            new_event_id()
        ));
        std::fs::create_dir_all(dir.join("outbox")).unwrap();
        TestOutbox {
            dir,
            next_seq: 1,
            segment_first: 1,
            torn: None,
        }
    }

    fn segment(&self) -> PathBuf {
        self.dir
            .join("outbox")
            .join(format!("{:020}.jsonl", self.segment_first))
    }

    fn write(&self, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.segment())
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f.sync_all().unwrap();
    }

    /// Appends an event; returns its seq.
    pub fn append(&mut self, event: Value) -> u64 {
        assert!(self.torn.is_none(), "finish the torn line first");
        let seq = self.next_seq;
        self.write(&format!("{}\n", json!({"seq": seq, "event": event})));
        self.next_seq += 1;
        seq
    }

    /// Appends the first half of an event's line (no newline yet).
    pub fn append_torn(&mut self, event: Value) -> u64 {
        let seq = self.next_seq;
        let line = format!("{}\n", json!({"seq": seq, "event": event}));
        let (head, tail) = line.split_at(line.len() / 2);
        self.write(head);
        self.torn = Some(tail.to_string());
        self.next_seq += 1;
        seq
    }

    /// Writes the rest of the torn line.
    pub fn finish_torn(&mut self) {
        if let Some(tail) = self.torn.take() {
            self.write(&tail);
        }
    }

    /// Starts a new segment at the next seq.
    pub fn rotate(&mut self) {
        self.segment_first = self.next_seq;
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TestOutbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `scim.user.updated` event of `tenant` for resource `id`.
pub fn user_event(tenant: &str, id: &str, display_name: &str) -> Value {
    let time = scim_gateway::scim::datetime::DateTime::now().to_rfc3339();
    let event_id = new_event_id();
    let resource = json!({"id": id, "userName": id, "displayName": display_name});
    build_event(&ChangeInput {
        id: &event_id,
        time: &time,
        tenant,
        method: WriteMethod::Put,
        resource_type: "User",
        resource_id: id,
        request_body: Some(&resource),
        response_body: Some(&resource),
        data: EventData::Resource,
    })
}
