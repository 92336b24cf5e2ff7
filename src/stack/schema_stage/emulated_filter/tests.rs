#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::scim::error::ScimType;
use crate::scim::schema::ENTERPRISE_USER_SCHEMA;
use crate::upstream::Deadline;
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
        "active": i.is_multiple_of(2),
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
fn a_sort_the_mapping_cannot_send_is_planned_too() {
    // `nickName` is dropped by the table: the upstream cannot sort on it.
    with_plan("sortBy=nickName", |p| {
        let p = p.expect("planned for the sort");
        assert!(p.for_sort);
        assert_eq!(p.attribute, "nickName");
        assert!(p.narrow.is_none());
        let users: Vec<Value> = (0..30).map(upstream_user).collect();
        let list = answer(&p, users, 1000);
        assert_eq!(list["totalResults"], json!(30), "{list}");
    });
    // A filter that maps goes with it, whole, as the narrowing filter.
    let q = format!(
        "filter={}&sortBy=nickName",
        crate::scim::query::encode_component("userName sw \"user1\"")
    );
    with_plan(&q, |p| {
        let p = p.expect("planned");
        assert!(p.for_sort);
        assert_eq!(p.narrow.unwrap().to_string(), "userName sw \"user1\"");
    });
    // A sort that maps is the upstream's.
    with_plan("sortBy=userName", |p| assert!(p.is_none()));
    // Without `emulate`, nothing is planned (the mapping refuses the sort).
    let registry = SchemaRegistry::builtin();
    let t = table(false);
    let rt = registry.resource_type("User").unwrap();
    assert!(
        plan_query(&registry, rt, t.resource("User"), Some("sortBy=nickName"))
            .unwrap()
            .is_none()
    );
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

// === `run` against a fake upstream ===

use crate::scim::query::list_response;
use crate::upstream::emulate::{Discovery, Emulation, EmulationSettings};
use std::sync::Mutex;

/// A fake upstream collection of `n` users: pages by `startIndex`/`count`;
/// a `filter` is applied (`refuse`: answered 400 invalidFilter instead);
/// every query recorded.
struct Fake {
    users: Vec<Value>,
    refuse: bool,
    queries: Mutex<Vec<String>>,
}

impl Fake {
    fn new(n: usize, refuse: bool) -> Fake {
        Fake {
            users: (0..n).map(upstream_user).collect(),
            refuse,
            queries: Mutex::new(Vec::new()),
        }
    }

    fn answer(&self, req: &UpstreamRequest) -> Response<Bytes> {
        assert_eq!(req.method, http::Method::GET);
        assert_eq!(req.path, "/Users");
        assert!(req.body.is_empty());
        let q = req.query.clone().unwrap_or_default();
        self.queries.lock().unwrap().push(q.clone());
        let query = ListQuery::from_query(&q).unwrap();
        if query.filter.is_some() && self.refuse {
            let body = json!({"status": "400", "scimType": "invalidFilter", "detail": "no"});
            return json_response(400, &body);
        }
        let registry = SchemaRegistry::builtin();
        let eval = crate::scim::filter::EvalContext {
            registry: &registry,
            resource_type: registry.resource_type("User").unwrap(),
        };
        let matching: Vec<&Value> = self
            .users
            .iter()
            .filter(|u| query.filter.as_ref().is_none_or(|f| f.matches(u, &eval)))
            .collect();
        let range = query.page_range(matching.len());
        let page: Vec<Value> = matching[range].iter().map(|v| (*v).clone()).collect();
        json_response(200, &list_response(matching.len(), query.start_index, page))
    }
}

fn request() -> UpstreamRequest {
    UpstreamRequest {
        method: http::Method::GET,
        path: "/Users".into(),
        query: None,
        headers: http::HeaderMap::new(),
        body: Bytes::new(),
        request_id: "t".into(),
        client_ip: std::net::IpAddr::from([127, 0, 0, 1]),
        forwarded_for: None,
        client_proto: "https",
        client_host: "gw".into(),
        public_base: None,
        filtered_upsert: false,
    }
}

fn emulation(page_size: usize, max_pages: usize) -> Emulation {
    Emulation {
        settings: EmulationSettings {
            filter_page_size: page_size,
            filter_max_pages: max_pages,
            ..EmulationSettings::default()
        },
        discovery: Discovery::default(),
    }
}

fn context(e: &Emulation) -> Context<'_> {
    Context {
        upstream: "fake",
        emulation: e,
        builtin: false,
        deadline: Deadline {
            at: tokio::time::Instant::now() + std::time::Duration::from_secs(10),
            within: std::time::Duration::from_secs(10),
        },
        patch_view: None,
    }
}

async fn run_on(
    fake: &Fake,
    e: &Emulation,
    filter: &str,
    narrow: bool,
) -> Result<Response<Bytes>, GatewayError> {
    let registry = SchemaRegistry::builtin();
    let t = table(true);
    let rt = registry.resource_type("User").unwrap();
    let q = format!(
        "filter={}&sortBy=userName",
        crate::scim::query::encode_component(filter)
    );
    let plan = plan_query(&registry, rt, t.resource("User"), Some(&q))
        .unwrap()
        .unwrap();
    let send = |r: UpstreamRequest| async move { Ok(fake.answer(&r)) };
    run(&plan, &context(e), &request(), narrow, &send).await
}

fn json_of(r: &Response<Bytes>) -> Value {
    serde_json::from_slice(r.body()).unwrap()
}

#[tokio::test]
async fn the_collection_is_read_page_by_page_without_the_filter() {
    let fake = Fake::new(10, false);
    let e = emulation(4, 5);
    let r = run_on(&fake, &e, &format!("{DEPT} co \"ngin\""), true)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let list = json_of(&r);
    // Engineering: users 1, 4, 7.
    assert_eq!(list["totalResults"], json!(3), "{list}");
    assert_eq!(list["Resources"][2]["userName"], "user07");
    assert_eq!(
        *fake.queries.lock().unwrap(),
        [
            "startIndex=1&count=4",
            "startIndex=5&count=4",
            "startIndex=9&count=4"
        ]
    );
}

#[tokio::test]
async fn the_mappable_part_narrows_and_a_refusal_falls_back() {
    let filter = format!("active eq true and {DEPT} sw \"eng\"");
    // Narrowed: only active users are read; the whole filter still holds.
    let fake = Fake::new(12, false);
    let list = json_of(
        &run_on(&fake, &emulation(100, 1), &filter, true)
            .await
            .unwrap(),
    );
    assert_eq!(list["totalResults"], json!(2), "{list}");
    let names: Vec<&str> = list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["user04", "user10"]);
    assert_eq!(
        *fake.queries.lock().unwrap(),
        ["startIndex=1&count=100&filter=active%20eq%20true"]
    );
    // Not known to filter: no filter goes upstream.
    let fake = Fake::new(12, false);
    run_on(&fake, &emulation(100, 1), &filter, false)
        .await
        .unwrap();
    assert_eq!(*fake.queries.lock().unwrap(), ["startIndex=1&count=100"]);
    // It filters, but refuses this one: read again without.
    let fake = Fake::new(12, true);
    let list = json_of(
        &run_on(&fake, &emulation(100, 1), &filter, true)
            .await
            .unwrap(),
    );
    assert_eq!(list["totalResults"], json!(2), "{list}");
    assert_eq!(fake.queries.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn past_the_bounds_the_client_gets_too_many() {
    let fake = Fake::new(13, false);
    let e = run_on(
        &fake,
        &emulation(4, 3),
        &format!("{DEPT} co \"ngin\""),
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(e.scim().status(), 400);
    assert_eq!(e.scim().scim_type(), Some(ScimType::TooMany));
    let detail = e.scim().detail();
    assert!(
        detail.contains(DEPT) && detail.contains("filter_max_pages (3)"),
        "{detail}"
    );
    // The bound is read from the first page: one call.
    assert_eq!(fake.queries.lock().unwrap().len(), 1);
}
