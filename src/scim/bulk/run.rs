//! Running a Bulk request step by step (RFC 7644 §3.7): which operation
//! goes next, with its `bulkId:` references resolved, what its outcome does
//! to the references after it, when `failOnErrors` stops the run, and the
//! BulkResponse at the end. Pure: the caller executes each operation,
//! synchronously ([`super::run_bulk`], the built-in store) or with awaits
//! in between (the gateway's Bulk emulation).
use super::{
    bulk_id_refs, BulkOperation, BulkOutcome, BulkRequest, BULK_ID_PREFIX, BULK_RESPONSE_SCHEMA,
};
use crate::scim::error::ScimError;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};

/// The state of one Bulk run.
///
/// Operations run in request order, except that one whose references are
/// not yet resolvable waits until the POST it references has run (RFC 7644
/// §3.7.1 lets a reference point forward). A reference to a bulkId that
/// failed, does not exist, or is part of a cycle fails with 409.
#[derive(Debug)]
pub struct BulkRun<'r> {
    request: &'r BulkRequest,
    defined: HashSet<&'r str>,
    refs: Vec<Vec<String>>,
    outcomes: Vec<Option<BulkOutcome>>,
    created: HashMap<String, String>,
    failed_ids: HashSet<String>,
    errors: usize,
    limit: usize,
    /// Where the current pass over the operations stands.
    cursor: usize,
    /// Whether the current pass has run (or failed) any operation.
    progressed: bool,
}

impl<'r> BulkRun<'r> {
    pub fn new(request: &'r BulkRequest) -> BulkRun<'r> {
        let ops = &request.operations;
        BulkRun {
            request,
            defined: ops.iter().filter_map(|o| o.bulk_id.as_deref()).collect(),
            refs: ops.iter().map(bulk_id_refs).collect(),
            outcomes: vec![None; ops.len()],
            created: HashMap::new(),
            failed_ids: HashSet::new(),
            errors: 0,
            limit: request.fail_on_errors.unwrap_or(usize::MAX),
            cursor: 0,
            progressed: false,
        }
    }

    /// The next operation to execute, as `(index, operation with its
    /// references replaced by the created ids)`; `None` when the run is
    /// over. Call [`BulkRun::record`] with its outcome before asking again.
    pub fn next_operation(&mut self) -> Option<(usize, BulkOperation)> {
        let ops = &self.request.operations;
        loop {
            while self.cursor < ops.len() {
                let i = self.cursor;
                self.cursor += 1;
                if self.outcomes.get(i).is_some_and(Option::is_some) {
                    continue;
                }
                if self.errors >= self.limit {
                    return None;
                }
                let (Some(op), Some(refs)) = (ops.get(i), self.refs.get(i)) else {
                    continue;
                };
                let bad = refs
                    .iter()
                    .find(|r| self.failed_ids.contains(*r) || !self.defined.contains(r.as_str()));
                if let Some(bad) = bad {
                    let outcome = conflict(format!(
                        "bulkId \"{bad}\" does not refer to a resource created by this request"
                    ));
                    self.record(i, outcome);
                    continue;
                }
                if refs.iter().all(|r| self.created.contains_key(r)) {
                    self.progressed = true;
                    return Some((i, resolve(op, &self.created)));
                }
            }
            if !self.progressed {
                return None;
            }
            self.progressed = false;
            self.cursor = 0;
        }
    }

    /// Replaces the `bulkId:` references in `value` that the run has
    /// resolved so far, as in the operations it hands out (for a view of
    /// an operation's data kept elsewhere, such as a mapped tenant's PATCH).
    pub fn resolve_refs(&self, value: &mut Value) {
        replace_refs(value, &self.created);
    }

    /// What operation `i` produced.
    pub fn record(&mut self, i: usize, outcome: BulkOutcome) {
        let Some(op) = self.request.operations.get(i) else {
            return;
        };
        self.progressed = true;
        if outcome.status >= 400 {
            self.errors += 1;
            if let Some(b) = &op.bulk_id {
                self.failed_ids.insert(b.clone());
            }
        } else if let (Some(b), Some(id)) = (&op.bulk_id, &outcome.id) {
            self.created.insert(b.clone(), id.clone());
        }
        if let Some(slot) = self.outcomes.get_mut(i) {
            *slot = Some(outcome);
        }
    }

    /// True once `failOnErrors` errors have happened.
    pub fn stopped(&self) -> bool {
        self.errors >= self.limit
    }

    /// The BulkResponse body (RFC 7644 §3.7.3). Operations left waiting on
    /// a cycle fail with 409, unless `failOnErrors` stopped the run (then
    /// the operations not run are not listed).
    pub fn finish(mut self) -> Value {
        if !self.stopped() {
            for (i, slot) in self.outcomes.iter_mut().enumerate() {
                if slot.is_none() {
                    let pending: Vec<&str> = self
                        .refs
                        .get(i)
                        .into_iter()
                        .flatten()
                        .filter(|r| !self.created.contains_key(*r))
                        .map(String::as_str)
                        .collect();
                    *slot = Some(conflict(format!(
                        "bulkId references {pending:?} form a cycle and cannot be resolved"
                    )));
                }
            }
        }
        let listed: Vec<Value> = self
            .request
            .operations
            .iter()
            .zip(self.outcomes)
            .filter_map(|(op, outcome)| outcome.map(|o| operation_response(op, o)))
            .collect();
        json!({"schemas": [BULK_RESPONSE_SCHEMA], "Operations": listed})
    }
}

/// Replaces references by the created ids.
fn resolve(op: &BulkOperation, ids: &HashMap<String, String>) -> BulkOperation {
    let path = op
        .path
        .split('/')
        .map(
            |seg| match seg.strip_prefix(BULK_ID_PREFIX).and_then(|b| ids.get(b)) {
                Some(id) => id.as_str(),
                None => seg,
            },
        )
        .collect::<Vec<_>>()
        .join("/");
    let mut data = op.data.clone();
    if let Some(d) = &mut data {
        replace_refs(d, ids);
    }
    BulkOperation {
        path,
        data,
        ..op.clone()
    }
}

fn replace_refs(v: &mut Value, ids: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(BULK_ID_PREFIX).and_then(|b| ids.get(b)) {
                *s = id.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| replace_refs(i, ids)),
        Value::Object(o) => o.values_mut().for_each(|i| replace_refs(i, ids)),
        _ => {}
    }
}

fn conflict(detail: String) -> BulkOutcome {
    let e = ScimError::conflict(detail);
    BulkOutcome {
        status: e.status(),
        id: None,
        location: None,
        version: None,
        response: Some(e.to_json()),
    }
}

/// One entry of the BulkResponse (RFC 7644 §3.7.3: `status` is a string;
/// `response` is included for errors).
fn operation_response(op: &BulkOperation, o: BulkOutcome) -> Value {
    let mut m = Map::new();
    m.insert("method".into(), json!(op.method.as_str()));
    if let Some(b) = &op.bulk_id {
        m.insert("bulkId".into(), json!(b));
    }
    if let Some(v) = o.version {
        m.insert("version".into(), json!(v));
    }
    if let Some(l) = o.location {
        m.insert("location".into(), json!(l));
    }
    m.insert("status".into(), json!(o.status.to_string()));
    if o.status >= 400 {
        if let Some(r) = o.response {
            m.insert("response".into(), r);
        }
    }
    Value::Object(m)
}
