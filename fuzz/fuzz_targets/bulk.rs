//! Bulk (RFC 7644 §3.7): parse a BulkRequest under limits and run it with a
//! fake executor. Properties: the limits hold; every operation runs at most
//! once; an operation runs only with its bulkId references resolved to ids
//! the run created; the response lists every operation, one entry each,
//! unless failOnErrors stopped the run; and the run ends (a cycle never
//! loops: the fuzzer's timeout would catch it).
#![no_main]
use libfuzzer_sys::fuzz_target;
use scim_gateway::scim::bulk::{bulk_id_refs, BulkLimits, BulkOutcome, BulkRequest, BulkRun};
use scim_gateway_fuzz::split_first;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let (seed, body) = split_first(data);
    let limits = BulkLimits {
        max_operations: 1 + usize::from(seed % 16),
        max_payload_size: 16 * 1024,
    };
    let Ok(request) = BulkRequest::parse(body, limits) else {
        return;
    };
    assert!(request.operations.len() <= limits.max_operations);
    assert!(body.len() <= limits.max_payload_size);

    let n = request.operations.len();
    let mut ran = vec![false; n];
    let mut run = BulkRun::new(&request);
    let mut steps = 0;
    while let Some((i, op)) = run.next_operation() {
        steps += 1;
        assert!(steps <= n, "more steps than operations");
        assert!(i < n);
        assert!(!ran[i], "operation {i} runs twice");
        ran[i] = true;
        // The executor's ids never look like references, so none may be
        // left after resolution.
        assert!(
            bulk_id_refs(&op).is_empty(),
            "operation {i} runs with unresolved references: {op:?}"
        );
        // Every other operation fails, as the seed decides.
        let fails = (seed >> (i % 8)) & 1 == 1;
        let outcome = if fails {
            BulkOutcome {
                status: 400,
                id: None,
                location: None,
                version: None,
                response: Some(serde_json::json!({"status": "400"})),
            }
        } else {
            BulkOutcome {
                status: 201,
                id: Some(format!("id-{i}")),
                location: Some(format!("https://example.test/Users/id-{i}")),
                version: Some(format!("W/\"{i}\"")),
                response: None,
            }
        };
        run.record(i, outcome);
    }
    let stopped = run.stopped();
    let response = run.finish();
    let listed = response
        .get("Operations")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if stopped {
        assert!(listed <= n);
    } else {
        assert_eq!(listed, n, "not every operation is answered: {response}");
    }
});
