#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::scim::error::ScimType;
use crate::scim::schema::ENTERPRISE_USER_SCHEMA;
use serde_json::json;

fn table(emulate: bool) -> CompiledMapping {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mapping/store-dept-codes.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.replace("emulate = true", &format!("emulate = {emulate}"));
    let raw = crate::mapping::MappingTable::from_toml(&text).unwrap();
    crate::mapping::compile("dept", &raw, &SchemaRegistry::builtin()).unwrap()
}

/// An upstream user: department as a code in `title`.
fn upstream_user(i: usize) -> Value {
    let code = ["S01", "E01", "C07"][i % 3];
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": format!("id{i:02}"),
        "userName": format!("user{i:02}"),
        "active": i % 2 == 0,
        "title": code,
        "meta": {"resourceType": "User"}
    })
}

fn with_plan<R>(query: &str, f: impl FnOnce(Option<EmulatedList<'_>>) -> R) -> R {
    let registry = SchemaRegistry::builtin();
    let t = table(true);
    let rt = registry.resource_type("User").unwrap();
    let plan = plan_query(&registry, rt, t.resource("User"), Some(query)).unwrap();
    f(plan)
}

const DEPT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";

#[test]
fn only_filters_the_mapping_cannot_send_are_planned() {
    let q = |f: &str| format!("filter={}", crate::scim::query::encode_component(f));
    with_plan(&q(&format!("{DEPT} co \"ngin\"")), |p| {
        let p = p.expect("planned");
        assert_eq!(p.attribute, DEPT);
        assert!(p.narrow.is_none());
    });
    // `eq` through a value map is sent upstream as it is.
    with_plan(
        &q(&format!("{DEPT} eq \"Sales\"")),
        |p| assert!(p.is_none()),
    );
    with_plan("count=3", |p| assert!(p.is_none()));
    with_plan(&q("userName sw \"u\""), |p| assert!(p.is_none()));
    // A dropped attribute has no upstream equivalent either.
    with_plan(&q("nickName pr"), |p| {
        assert_eq!(p.unwrap().attribute, "nickName")
    });
}

#[test]
fn mappable_operands_of_an_and_narrow_the_listing() {
    let f = format!("active eq true and {DEPT} sw \"Eng\" and userName sw \"user1\"");
    let q = format!("filter={}", crate::scim::query::encode_component(&f));
    with_plan(&q, |p| {
        let narrow = p.unwrap().narrow.unwrap().to_string();
        assert_eq!(narrow, "active eq true and userName sw \"user1\"");
    });
    // Under an `or`, nothing can narrow.
    let f = format!("active eq true or {DEPT} sw \"Eng\"");
    let q = format!("filter={}", crate::scim::query::encode_component(&f));
    with_plan(&q, |p| assert!(p.unwrap().narrow.is_none()));
}

#[test]
fn the_answer_is_filtered_sorted_paged_and_projected_in_tenant_names() {
    let f = format!("{DEPT} co \"ngin\"");
    let q = format!(
        "filter={}&sortBy=userName&sortOrder=descending&startIndex=2&count=3&attributes=userName,{DEPT}",
        crate::scim::query::encode_component(&f)
    );
    with_plan(&q, |p| {
        let plan = p.unwrap();
        let users: Vec<Value> = (0..30).map(upstream_user).collect();
        let list = answer(&plan, users, 1000);
        // Engineering is i % 3 == 1: 10 of 30.
        assert_eq!(list["totalResults"], json!(10), "{list}");
        assert_eq!(list["startIndex"], json!(2));
        let names: Vec<&str> = list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["user25", "user22", "user19"]);
        let first = &list["Resources"][0];
        assert_eq!(first[ENTERPRISE_USER_SCHEMA]["department"], "Engineering");
        assert!(first.get("title").is_none(), "{first}");
        assert!(first.get("active").is_none(), "projected: {first}");
        assert_eq!(first["id"], "id25", "id is always returned");
    });
}

#[test]
fn responses_hold_at_most_max_results() {
    let f = format!("not ({DEPT} co \"zz\")");
    let q = format!("filter={}", crate::scim::query::encode_component(&f));
    with_plan(&q, |p| {
        let plan = p.unwrap();
        let list = answer(&plan, (0..30).map(upstream_user).collect(), 4);
        assert_eq!(list["totalResults"], json!(30), "{list}");
        assert_eq!(list["Resources"].as_array().unwrap().len(), 4);
    });
}

#[test]
fn a_search_body_is_planned_like_a_query() {
    let registry = SchemaRegistry::builtin();
    let t = table(true);
    let rt = registry.resource_type("User").unwrap();
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": format!("{DEPT} ew \"port\""),
        "sortBy": DEPT
    });
    let plan = plan_search(&registry, rt, t.resource("User"), &body)
        .unwrap()
        .unwrap();
    let list = answer(&plan, (0..6).map(upstream_user).collect(), 100);
    assert_eq!(list["totalResults"], json!(2), "{list}");
    assert_eq!(list["Resources"][0]["userName"], "user02");
    // Without emulation nothing is planned (the stage reports the filter).
    let strict = table(false);
    assert!(plan_search(&registry, rt, strict.resource("User"), &body)
        .unwrap()
        .is_none());
}

#[test]
fn a_root_search_needing_the_gateway_points_to_the_type() {
    let t = table(true);
    let f = Filter::parse(&format!("{DEPT} co \"ngin\"")).unwrap();
    let e = refuse_at_root(&t, &f).unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::InvalidFilter));
    assert!(e.detail().contains(DEPT), "{}", e.detail());
    assert!(e.detail().contains("/Users/.search"), "{}", e.detail());
    let fine = Filter::parse("userName eq \"a\"").unwrap();
    assert!(refuse_at_root(&t, &fine).is_ok());
}
