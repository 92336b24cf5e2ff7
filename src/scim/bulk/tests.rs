#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::scim::ScimType;
use serde_json::json;

const LIMITS: BulkLimits = BulkLimits {
    max_operations: 10,
    max_payload_size: 4096,
};

fn req(ops: Value) -> BulkRequest {
    let body = json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": ops});
    BulkRequest::parse(&serde_json::to_vec(&body).unwrap(), LIMITS).unwrap()
}

/// A fake service provider: POST creates `id-<n>`, paths with "fail" fail.
fn exec_log(log: &mut Vec<BulkOperation>) -> impl FnMut(&BulkOperation) -> BulkOutcome + '_ {
    move |op| {
        log.push(op.clone());
        if op.path.contains("fail") {
            return BulkOutcome {
                status: 400,
                id: None,
                location: None,
                version: None,
                response: Some(json!({"detail": "bad"})),
            };
        }
        let id = format!("id-{}", log.len());
        BulkOutcome {
            status: if op.method == BulkMethod::Post {
                201
            } else {
                200
            },
            id: Some(id.clone()),
            location: Some(format!("https://x/{id}")),
            version: Some("W/\"1\"".into()),
            response: None,
        }
    }
}

#[test]
fn parse_errors_and_limits() {
    let parse = |v: Value| BulkRequest::parse(&serde_json::to_vec(&v).unwrap(), LIMITS);
    let e = BulkRequest::parse(&[b' '; 5000], LIMITS).unwrap_err();
    assert_eq!(e.status(), 413);
    assert!(e.detail().contains("4096"));
    let many: Vec<Value> = (0..11)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
        .collect();
    let e = parse(json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": many})).unwrap_err();
    assert_eq!(e.status(), 413);
    assert!(e.detail().contains("maxOperations"));
    let e = BulkRequest::parse(b"{", LIMITS).unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::InvalidSyntax));
    let e = parse(json!({"Operations": []})).unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::InvalidSyntax));
    let e = parse(json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": [{"method": "POST", "path": "/Users", "data": {}}]})).unwrap_err();
    assert!(e.detail().contains("bulkId"));
    let e = parse(json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": [{"method": "GET", "path": "/Users"}]})).unwrap_err();
    assert!(e.detail().contains("GET"));
    let e = parse(json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {}},
        {"method": "post", "path": "/Users", "bulkId": "a", "data": {}}
    ]}))
    .unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::InvalidValue));
    let e = parse(json!({"schemas": [BULK_REQUEST_SCHEMA], "failOnErrors": 0, "Operations": []}))
        .unwrap_err();
    assert!(e.detail().contains("failOnErrors"));
}

#[test]
fn forward_and_nested_references_resolve() {
    let r = req(json!([
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"members": [{"value": "bulkId:u"}]}},
        {"method": "PATCH", "path": "/Groups/bulkId:g", "data": {"Operations": []}},
        {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "x"}}
    ]));
    let mut log = Vec::new();
    let resp = run_bulk(&r, exec_log(&mut log));
    // The user ran first; the group got its id; the PATCH the group's id.
    assert_eq!(log[0].path, "/Users");
    assert_eq!(log[1].data.as_ref().unwrap()["members"][0]["value"], "id-1");
    assert_eq!(log[2].path, "/Groups/id-2");
    let ops = resp["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 3);
    assert_eq!(ops[0]["bulkId"], "g", "listed in request order");
    assert_eq!(ops[0]["status"], "201");
    assert_eq!(ops[1]["status"], "200");
    assert!(ops[0].get("response").is_none());
}

#[test]
fn broken_references_and_cycles_are_409() {
    let r = req(json!([
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"manager": "bulkId:b"}},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"manager": "bulkId:a"}},
        {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"x": "bulkId:nope"}},
        {"method": "POST", "path": "/fail", "bulkId": "d", "data": {}},
        {"method": "POST", "path": "/Users", "bulkId": "e", "data": {"x": "bulkId:d"}}
    ]));
    let mut log = Vec::new();
    let resp = run_bulk(&r, exec_log(&mut log));
    let status: Vec<&str> = resp["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["409", "409", "409", "400", "409"]);
    assert_eq!(log.len(), 1, "only the failing POST ran");
    assert!(resp["Operations"][2]["response"]["detail"]
        .as_str()
        .unwrap()
        .contains("nope"));
}

#[test]
fn fail_on_errors_stops_the_run() {
    let body = json!({"schemas": [BULK_REQUEST_SCHEMA], "failOnErrors": 1, "Operations": [
        {"method": "DELETE", "path": "/fail/1"},
        {"method": "DELETE", "path": "/Users/2"},
    ]});
    let r = BulkRequest::parse(&serde_json::to_vec(&body).unwrap(), LIMITS).unwrap();
    let mut log = Vec::new();
    let resp = run_bulk(&r, exec_log(&mut log));
    assert_eq!(log.len(), 1);
    assert_eq!(resp["Operations"].as_array().unwrap().len(), 1);
    assert_eq!(bulk_id_refs(&r.operations[0]), Vec::<String>::new());
}

#[test]
fn operation_paths_follow_the_request_path_rules() {
    let parse = |path: &str| {
        let v = json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": [
            {"method": "DELETE", "path": path}
        ]});
        BulkRequest::parse(&serde_json::to_vec(&v).unwrap(), LIMITS)
    };
    for path in [
        "/Users/../Groups/g1",
        "/Users/%2e%2e/%2e%2e/t2/Users/1",
        "/Users/a%2fb",
        "/Users//1",
        "/Users/1/..",
        "/Users/a%00",
        "/Users/1/extra",
    ] {
        let e = parse(path).unwrap_err();
        assert_eq!(e.scim_type(), Some(ScimType::InvalidPath), "{path}");
        assert!(e.detail().starts_with("Operations[0]: "), "{}", e.detail());
    }
    let ok = parse("/Users/a%41+b").unwrap();
    assert_eq!(ok.operations[0].path, "/Users/aA%2Bb");
    let ok = parse("/Users/bulkId:x1").unwrap();
    assert_eq!(ok.operations[0].path, "/Users/bulkId:x1");
}
