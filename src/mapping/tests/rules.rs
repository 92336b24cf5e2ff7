//! Every rule kind, both ways, on small inline tables.
use super::*;
use serde_json::json;

const UPSTREAM: &str = r#"
[resources.User.upstream]
schema = "urn:up:User"
[resources.User.upstream.attributes]
first = "string"
mail = "string"
dept = "string"
flag = "string"
flagNum = "integer"
roleList = "string"
source = "string"
secret = "string"
"urn:up:ext:User:title" = "string"
"#;

/// The table with only the upstream attributes its rules name declared
/// (an unused declaration is a compile error under `unmapped = "pass"`).
fn table(unmapped: &str, rules: &str) -> CompiledMapping {
    let upstream: Vec<&str> = UPSTREAM
        .lines()
        .filter(|l| match l.split_once(" = ") {
            Some(("schema", _)) => true,
            Some((k, _)) => rules.contains(&format!("\"{}\"", k.trim_matches('"'))),
            None => true,
        })
        .collect();
    let upstream = upstream.join("\n");
    inline(&format!("unmapped = \"{unmapped}\"\n{upstream}\n{rules}"))
}

#[test]
fn renames_a_sub_attribute_both_ways() {
    let m = table(
        "drop",
        "[[resources.User.rules]]\nfrom = \"name.givenName\"\nto = \"first\"",
    );
    let u = users(&m);
    let up = u
        .to_upstream(&json!({"id": "1", "name": {"givenName": "Ann", "familyName": "X"}}))
        .unwrap();
    assert_eq!(
        up,
        json!({"schemas": ["urn:up:User"], "id": "1", "first": "Ann"})
    );
    let back = u.to_tenant(&up);
    assert_eq!(
        back,
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "name": {"givenName": "Ann"}})
    );
}

#[test]
fn reads_tenant_names_ignoring_case() {
    let m = table(
        "drop",
        "[[resources.User.rules]]\nfrom = \"name.givenName\"\nto = \"first\"",
    );
    let up = users(&m)
        .to_upstream(&json!({"Name": {"GIVENNAME": "Ann"}}))
        .unwrap();
    assert_eq!(up["first"], "Ann");
}

#[test]
fn moves_between_extension_and_core_both_ways() {
    let m = table(
        "pass",
        r#"
[[resources.User.rules]]
from = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
to = "dept"
[[resources.User.rules]]
from = "title"
to = "urn:up:ext:User:title"
"#,
    );
    let u = users(&m);
    let tenant = json!({"title": "Boss", ENTERPRISE: {"department": "Sales", "division": "D"}});
    let up = u.to_upstream(&tenant).unwrap();
    assert_eq!(up["dept"], "Sales");
    assert_eq!(up["urn:up:ext:User"], json!({"title": "Boss"}));
    assert_eq!(up[ENTERPRISE], json!({"division": "D"}));
    assert_eq!(
        up["schemas"],
        json!(["urn:up:User", "urn:up:ext:User", ENTERPRISE])
    );
    let back = u.to_tenant(&up);
    assert_eq!(back["title"], "Boss");
    assert_eq!(
        back[ENTERPRISE],
        json!({"division": "D", "department": "Sales"})
    );
    assert!(back.get("urn:up:ext:User").is_none() && back.get("dept").is_none());
}

#[test]
fn filtered_element_in_and_out_with_primary() {
    let m = table("pass", "[[resources.User.rules]]\nfrom = 'emails[type eq \"work\"].value'\nto = \"mail\"\nprimary = true");
    let u = users(&m);
    let tenant = json!({"emails": [
        {"type": "home", "value": "h@x"},
        {"type": "Work", "value": "w@x", "primary": true},
    ]});
    let up = u.to_upstream(&tenant).unwrap();
    assert_eq!(up["mail"], "w@x");
    assert_eq!(up["emails"], json!([{"type": "home", "value": "h@x"}]));
    let back = u.to_tenant(&up);
    assert_eq!(
        back["emails"],
        json!([{"type": "work", "value": "w@x", "primary": true}, {"type": "home", "value": "h@x"}])
    );
    // Without a work element there is no mail, and nothing is invented.
    let up = u
        .to_upstream(&json!({"emails": [{"type": "home", "value": "h@x"}]}))
        .unwrap();
    assert!(up.get("mail").is_none());
    assert!(u.to_tenant(&json!({"id": "1"})).get("emails").is_none());
}

#[test]
fn constant_is_written_upstream_and_never_shown() {
    let m = table(
        "drop",
        "[[resources.User.rules]]\nto = \"source\"\nvalue = \"scim\"",
    );
    let u = users(&m);
    assert_eq!(
        u.to_upstream(&json!({"id": "1"})).unwrap()["source"],
        "scim"
    );
    assert!(u
        .to_tenant(&json!({"id": "1", "source": "scim"}))
        .get("source")
        .is_none());
}

#[test]
fn default_fills_an_absent_value_on_the_way_in_only() {
    let m = table("drop", "[[resources.User.rules]]\nfrom = \"active\"\nto = \"flag\"\ntransform = [{ bool = [\"Y\", \"N\"] }]\ndefault = \"Y\"");
    let u = users(&m);
    assert_eq!(u.to_upstream(&json!({})).unwrap()["flag"], "Y");
    assert_eq!(
        u.to_upstream(&json!({"active": false})).unwrap()["flag"],
        "N"
    );
    assert!(u.to_tenant(&json!({})).get("active").is_none());
}

#[test]
fn case_and_trim_apply_on_the_way_in_only() {
    let m = table("drop", "[[resources.User.rules]]\nfrom = \"userName\"\nto = \"first\"\ntransform = [\"trim\", { case = \"upper\" }]");
    let u = users(&m);
    assert_eq!(
        u.to_upstream(&json!({"userName": " ann "})).unwrap()["first"],
        "ANN"
    );
    assert_eq!(u.to_tenant(&json!({"first": "ANN"}))["userName"], "ANN");
}

#[test]
fn value_map_is_reversed_and_passes_unknown_values() {
    let m = table("drop", "[[resources.User.rules]]\nfrom = \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department\"\nto = \"dept\"\ntransform = [{ map = { Sales = \"S01\", Support = \"C07\" } }]");
    let u = users(&m);
    let up = u
        .to_upstream(&json!({ENTERPRISE: {"department": "sales"}}))
        .unwrap();
    assert_eq!(up["dept"], "S01");
    assert_eq!(u.to_tenant(&up)[ENTERPRISE]["department"], "Sales");
    let up = u
        .to_upstream(&json!({ENTERPRISE: {"department": "Legal"}}))
        .unwrap();
    assert_eq!(up["dept"], "Legal");
    assert_eq!(
        u.to_tenant(&json!({"dept": "Z99"}))[ENTERPRISE]["department"],
        "Z99"
    );
}

#[test]
fn strict_value_map_refuses_unknown_values_naming_the_attribute() {
    let m = table("drop", "[[resources.User.rules]]\nfrom = \"title\"\nto = \"dept\"\ntransform = [{ map_strict = { A = \"1\" } }]");
    let e = users(&m).to_upstream(&json!({"title": "B"})).unwrap_err();
    assert_eq!(e.scim_type(), Some(crate::scim::ScimType::InvalidValue));
    assert!(
        e.detail().contains("title") && e.detail().contains("\"A\""),
        "{}",
        e.detail()
    );
}

#[test]
fn boolean_coercions_both_ways() {
    let m = table(
        "drop",
        r#"
[[resources.User.rules]]
from = "active"
to = "flag"
transform = [{ bool = ["true", "false"] }]
[[resources.User.rules]]
from = 'emails[type eq "work"].primary'
to = "flagNum"
transform = [{ bool = [1, 0] }]
"#,
    );
    let u = users(&m);
    let up = u
        .to_upstream(&json!({"active": false, "emails": [{"type": "work", "primary": true}]}))
        .unwrap();
    assert_eq!(up["flag"], "false");
    assert_eq!(up["flagNum"], 1);
    let back = u.to_tenant(&json!({"flag": "TRUE", "flagNum": 0}));
    assert_eq!(back["active"], true);
    assert_eq!(back["emails"], json!([{"type": "work", "primary": false}]));
}

#[test]
fn join_and_split_a_list() {
    let m = table("drop", "[[resources.User.rules]]\nfrom = \"roles.value\"\nto = \"roleList\"\ntransform = [{ join = \";\" }]");
    let u = users(&m);
    let up = u
        .to_upstream(&json!({"roles": [{"value": "a"}, {"value": "b c"}]}))
        .unwrap();
    assert_eq!(up["roleList"], "a;b c");
    assert_eq!(
        u.to_tenant(&up)["roles"],
        json!([{"value": "a"}, {"value": "b c"}])
    );
    assert_eq!(u.to_tenant(&json!({"roleList": ""}))["roles"], json!([]));
}

#[test]
fn hidden_upstream_attribute_never_reaches_the_tenant() {
    let m = table(
        "pass",
        "[[resources.User.rules]]\nto = \"secret\"\nhidden = true",
    );
    let back = users(&m).to_tenant(&json!({"id": "1", "secret": "s", "userName": "a"}));
    assert_eq!(
        back,
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "a"})
    );
}

#[test]
fn never_upstream_attribute_is_accepted_and_dropped() {
    let m = table(
        "pass",
        "[[resources.User.rules]]\nfrom = \"password\"\nnever_upstream = true",
    );
    let up = users(&m)
        .to_upstream(&json!({"userName": "a", "password": "p"}))
        .unwrap();
    assert!(up.get("password").is_none());
    assert_eq!(up["userName"], "a");
}

#[test]
fn unmapped_attributes_pass_or_drop() {
    let rule = "[[resources.User.rules]]\nfrom = \"name.givenName\"\nto = \"first\"";
    let tenant = json!({"id": "1", "nickName": "n", "name": {"givenName": "A", "middleName": "M"}, "meta": {"version": "W/\"1\""}});
    let pass = table("pass", rule);
    let up = users(&pass).to_upstream(&tenant).unwrap();
    assert_eq!(up["nickName"], "n");
    assert_eq!(up["name"], json!({"middleName": "M"}));
    assert_eq!(
        users(&pass).to_tenant(&up)["name"],
        json!({"givenName": "A", "middleName": "M"})
    );
    let drop = table("drop", rule);
    let up = users(&drop).to_upstream(&tenant).unwrap();
    assert_eq!(
        up,
        json!({"schemas": ["urn:up:User"], "id": "1", "first": "A", "meta": {"version": "W/\"1\""}})
    );
    assert!(users(&drop)
        .to_tenant(&json!({"first": "A", "other": 1}))
        .get("other")
        .is_none());
}

#[test]
fn list_response_items_are_mapped() {
    let m = table(
        "drop",
        "[[resources.User.rules]]\nfrom = \"userName\"\nto = \"first\"",
    );
    let list = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 2,
        "Resources": [{"id": "1", "first": "a"}, {"id": "2", "first": "b"}]});
    let out = users(&m).list_to_tenant(&list);
    assert_eq!(out["totalResults"], 2);
    assert_eq!(out["Resources"][1]["userName"], "b");
    assert!(out["Resources"][0].get("first").is_none());
}

#[test]
fn bulk_request_and_response_are_mapped_per_operation() {
    let m = table(
        "drop",
        "[[resources.User.rules]]\nfrom = \"userName\"\nto = \"first\"",
    );
    let req = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "ann"}},
        {"method": "PATCH", "path": "/Users/1", "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "userName", "value": "bob"}]}},
        {"method": "DELETE", "path": "/Groups/9"},
    ]});
    let up = m.bulk_request_to_upstream(&req).unwrap();
    assert_eq!(up["Operations"][0]["data"]["first"], "ann");
    assert_eq!(
        up["Operations"][1]["data"]["Operations"][0],
        json!({"op": "replace", "path": "first", "value": "bob"})
    );
    assert_eq!(up["Operations"][2], req["Operations"][2]);
    let resp = json!({"Operations": [
        {"method": "POST", "location": "https://up/v2/Users/1", "status": "201", "response": {"id": "1", "first": "ann"}},
        {"method": "PATCH", "status": "400", "response": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400", "detail": "first is too long"}},
    ]});
    let out = m.bulk_response_to_tenant(&resp);
    assert_eq!(out["Operations"][0]["response"]["userName"], "ann");
    assert_eq!(
        out["Operations"][1]["response"]["detail"],
        "userName is too long"
    );
    // A bad operation is named.
    let bad = json!({"Operations": [{"method": "PATCH", "path": "/Users/1", "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "nickName", "value": "x"}]}}]});
    let e = m.bulk_request_to_upstream(&bad).unwrap_err();
    assert!(
        e.detail()
            .starts_with("Operations[0]: Operations[0]: attribute \"nickName\""),
        "{}",
        e.detail()
    );
}
