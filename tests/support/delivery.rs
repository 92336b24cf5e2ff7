//! Checks what a sink received against what the client wrote
//! ([`super::write_stream`]): each acknowledged successful write's event
//! arrived (duplicates allowed, told apart by event id), exactly one
//! distinct event per write, of the right type and subject, and per User
//! the first arrivals in the order of the writes (and `sequence` rising
//! with them). Events of writes that got no answer may or may not be
//! there; no event may belong to a failed write or to no write at all.
use super::write_stream::{Kind, Write};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// What one sink got, measured against the writes.
#[derive(Debug, Default)]
pub struct SinkCheck {
    /// Acknowledged successful writes whose event arrived.
    pub delivered: usize,
    /// Deliveries in all (duplicates included).
    pub deliveries: usize,
    /// Event ids that arrived more than once, with how often.
    pub duplicates: BTreeMap<String, usize>,
    /// Events of writes that got no answer (allowed).
    pub of_unanswered: usize,
    /// The request ids of those writes.
    pub unanswered_with_event: std::collections::HashSet<String>,
    /// Request id -> event id, for acknowledged writes.
    pub event_ids: HashMap<String, String>,
    /// Everything wrong, one line each.
    pub problems: Vec<String>,
}

impl SinkCheck {
    /// Acknowledged successful writes whose event did not arrive.
    pub fn lost(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.starts_with("lost"))
            .count()
    }
}

/// The key that ties an event to its write: the request id in
/// `displayName`, or for a DELETE (whose data is only the id) the subject.
fn event_key(event: &Value) -> Option<String> {
    let kind = event["type"].as_str()?;
    if kind.ends_with(".deleted") {
        return Some(format!("delete:{}", event["subject"].as_str()?));
    }
    Some(format!("mark:{}", event["data"]["displayName"].as_str()?))
}

fn write_key(w: &Write) -> Option<String> {
    match w.kind {
        Kind::Delete => Some(format!("delete:{}", w.resource_id.as_deref()?)),
        _ => Some(format!("mark:{}", w.request_id)),
    }
}

/// Checks `events` (in arrival order, duplicates included) of `sink`.
pub fn check_sink(sink: &str, writes: &[Write], events: &[Value]) -> SinkCheck {
    let mut c = SinkCheck {
        deliveries: events.len(),
        ..SinkCheck::default()
    };
    // First arrival of each event id, and the distinct ids per key.
    let mut first: HashMap<String, usize> = HashMap::new();
    let mut by_key: HashMap<String, Vec<(String, usize)>> = HashMap::new();
    let mut events_by_id: HashMap<String, &Value> = HashMap::new();
    for (pos, e) in events.iter().enumerate() {
        let Some(id) = e["id"].as_str() else {
            c.problems.push(format!("{sink}: an event without id: {e}"));
            continue;
        };
        if first.contains_key(id) {
            *c.duplicates.entry(id.to_string()).or_insert(1) += 1;
            if events_by_id.get(id).is_some_and(|seen| *seen != e) {
                c.problems.push(format!(
                    "{sink}: event {id} arrived twice with different bodies"
                ));
            }
            continue;
        }
        first.insert(id.to_string(), pos);
        events_by_id.insert(id.to_string(), e);
        match event_key(e) {
            Some(k) => by_key.entry(k).or_default().push((id.to_string(), pos)),
            None => c
                .problems
                .push(format!("{sink}: an event no write explains: {e}")),
        }
    }
    let mut known = std::collections::HashSet::new();
    // Per User, (step, first arrival, sequence) of its acknowledged writes.
    let mut order: BTreeMap<String, Vec<(usize, usize, u64, String)>> = BTreeMap::new();
    for w in writes {
        let Some(key) = write_key(w) else { continue };
        known.insert(key.clone());
        let found = by_key.get(&key).cloned().unwrap_or_default();
        if w.status.is_none() {
            c.of_unanswered += found.len().min(1);
            if !found.is_empty() {
                c.unanswered_with_event.insert(w.request_id.clone());
            }
            if found.len() > 1 {
                c.problems.push(format!(
                    "{sink}: {} distinct events for the unanswered write {}",
                    found.len(),
                    w.request_id
                ));
            }
            continue;
        }
        if !w.acknowledged() {
            if !found.is_empty() {
                c.problems.push(format!(
                    "{sink}: an event for the failed write {} ({:?})",
                    w.request_id, w.status
                ));
            }
            continue;
        }
        let [(id, pos)] = found.as_slice() else {
            if found.is_empty() {
                c.problems.push(format!(
                    "lost: {sink}: no event for acknowledged write {} ({:?} of {:?})",
                    w.request_id, w.kind, w.resource_id
                ));
            } else {
                c.problems.push(format!(
                    "{sink}: {} distinct event ids for the one write {}: {found:?}",
                    found.len(),
                    w.request_id
                ));
            }
            continue;
        };
        c.delivered += 1;
        c.event_ids.insert(w.request_id.clone(), id.clone());
        let e = events_by_id[id];
        if e["type"] != w.kind.event_type() {
            c.problems.push(format!(
                "{sink}: write {} ({:?}) caused a {} event",
                w.request_id, w.kind, e["type"]
            ));
        }
        if e["subject"].as_str() != w.resource_id.as_deref() || e["tenant"] != "acme" {
            c.problems.push(format!(
                "{sink}: event {id} of write {} has subject {} tenant {}, want {:?} acme",
                w.request_id, e["subject"], e["tenant"], w.resource_id
            ));
        }
        let seq = e["sequence"]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        if let Some(rid) = &w.resource_id {
            order
                .entry(rid.clone())
                .or_default()
                .push((w.step, *pos, seq, w.request_id.clone()));
        }
    }
    for key in by_key.keys() {
        if !known.contains(key) {
            c.problems
                .push(format!("{sink}: events of no write: {key}"));
        }
    }
    for (rid, mut ws) in order {
        ws.sort_unstable();
        for pair in ws.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if a.1 >= b.1 {
                c.problems.push(format!(
                    "{sink}: order of User {rid}: the event of {} (arrival {}) came after the one of {} (arrival {})",
                    a.3, a.1, b.3, b.1
                ));
            }
            if a.2 >= b.2 {
                c.problems.push(format!(
                    "{sink}: sequence of User {rid}: {} has {} but the later write {} has {}",
                    a.3, a.2, b.3, b.2
                ));
            }
        }
    }
    c
}

/// The request ids of `writes`' acknowledged successful writes whose key
/// has an event among `events` (to poll a sink until all arrived).
pub fn delivered_count(writes: &[Write], events: &[Value]) -> usize {
    let keys: std::collections::HashSet<String> = events.iter().filter_map(event_key).collect();
    writes
        .iter()
        .filter(|w| w.acknowledged())
        .filter_map(write_key)
        .filter(|k| keys.contains(k))
        .count()
}
