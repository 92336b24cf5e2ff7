//! Filters a mapping table cannot send upstream (issue 6), through a real
//! gateway in front of the built-in store: with `emulate = true` the
//! gateway lists the collection, maps it to the tenant's schema and
//! filters, sorts, pages and projects itself; without, 400 invalidFilter
//! naming the attribute; past the emulation bounds, 400 tooMany. The
//! tenant's /ServiceProviderConfig shows the emulation bounds.
use crate::support::gateway::{token_for, TestGateway};
use serde_json::{json, Value};

const DEPT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const DEPARTMENTS: [&str; 3] = ["Sales", "Engineering", "Support"];

fn gateway() -> TestGateway {
    let table = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mapping/store-dept-codes.toml");
    let strict_dir = std::env::temp_dir().join(format!("scimgw-mapfilter-{}", std::process::id()));
    std::fs::create_dir_all(&strict_dir).unwrap();
    let strict = strict_dir.join("strict.toml");
    let text = std::fs::read_to_string(&table).unwrap();
    std::fs::write(&strict, text.replace("emulate = true", "emulate = false")).unwrap();
    let schema =
        |path: &std::path::Path| format!("[tenants.schema]\nmapping = \"{}\"\n", path.display());
    TestGateway::builder()
        .raw_upstream(
            "[upstreams.deptstore]\nkind = \"builtin\"\n\
             [upstreams.deptstore.capabilities]\nbulk = false\nbulk_max_operations = 5\n\
             filter_page_size = 7\nfilter_max_pages = 5\nfilter_max_results = 8\n",
        )
        .tenant_with(
            "mapfilt",
            &["mapfilt.localhost"],
            "deptstore",
            &schema(&table),
        )
        .tenant_with(
            "mapstrict",
            &["mapstrict.localhost"],
            "deptstore",
            &schema(&strict),
        )
        .spawn()
}

/// User `n` (1-based): departments in turn, every other one active.
async fn create_user(gw: &TestGateway, client: &reqwest::Client, n: usize) {
    let resp = client
        .post(format!("{}/Users", gw.base("mapfilt.localhost")))
        .bearer_auth(token_for("mapfilt"))
        .header("content-type", "application/scim+json")
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": format!("user{n:02}"),
            "active": n.is_multiple_of(2),
            "name": {"givenName": "Given", "familyName": format!("Family{n:02}")},
            ENTERPRISE: {"department": DEPARTMENTS[n % 3]}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
}

async fn list(
    gw: &TestGateway,
    client: &reqwest::Client,
    tenant: &str,
    query: &[(&str, &str)],
) -> (u16, Value) {
    let resp = client
        .get(format!("{}/Users", gw.base(&format!("{tenant}.localhost"))))
        .query(query)
        .bearer_auth(token_for(tenant))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn user_names(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn filters_without_an_upstream_equivalent_are_evaluated_by_the_gateway() {
    let gw = gateway();
    let client = gw.client();
    for n in 1..=30 {
        create_user(&gw, &client, n).await;
    }
    // The backend holds the department as a code in `title`.
    let held: Value = client
        .get(format!("{}/Users", gw.base("mapfilt.localhost")))
        .query(&[("filter", "userName eq \"user01\"")])
        .bearer_auth(token_for("mapfilt"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        held["Resources"][0][ENTERPRISE]["department"], "Engineering",
        "{held}"
    );

    // `co` cannot go through the code map: the gateway filters. Engineering
    // is n % 3 == 1: users 1, 4, ..., 28.
    let filter = format!("{DEPT} co \"ngin\"");
    let (status, all) = list(
        &gw,
        &client,
        "mapfilt",
        &[("filter", &filter), ("sortBy", "userName")],
    )
    .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["totalResults"], json!(10), "{all}");
    // filter_max_results = 8 caps a response.
    assert_eq!(all["itemsPerPage"], json!(8), "{all}");
    assert_eq!(user_names(&all)[..3], ["user01", "user04", "user07"]);
    for r in all["Resources"].as_array().unwrap() {
        assert_eq!(r[ENTERPRISE]["department"], "Engineering", "{r}");
        assert!(r.get("title").is_none(), "upstream names never show: {r}");
    }

    // Paging, descending order and a projection, all in the tenant's names.
    let attributes = format!("userName,{DEPT}");
    let (status, page) = list(
        &gw,
        &client,
        "mapfilt",
        &[
            ("filter", &filter),
            ("sortBy", "name.familyName"),
            ("sortOrder", "descending"),
            ("startIndex", "3"),
            ("count", "4"),
            ("attributes", &attributes),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["totalResults"], json!(10));
    assert_eq!(page["startIndex"], json!(3));
    assert_eq!(user_names(&page), ["user22", "user19", "user16", "user13"]);
    let first = &page["Resources"][0];
    assert!(
        first.get("name").is_none() && first.get("active").is_none(),
        "{first}"
    );
    assert_eq!(first[ENTERPRISE]["department"], "Engineering");

    // A search with a conjunction: the mappable half narrows upstream, the
    // whole filter is evaluated here.
    let search: Value = client
        .post(format!("{}/Users/.search", gw.base("mapfilt.localhost")))
        .bearer_auth(token_for("mapfilt"))
        .header("content-type", "application/scim+json")
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": format!("active eq true and {DEPT} sw \"eng\""),
            "sortBy": "userName"
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(search["totalResults"], json!(5), "{search}");
    assert_eq!(
        user_names(&search),
        ["user04", "user10", "user16", "user22", "user28"]
    );

    // Without `emulate`: 400 invalidFilter naming the attribute.
    let (status, refused) = list(&gw, &client, "mapstrict", &[("filter", &filter)]).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["scimType"], "invalidFilter");
    assert!(
        refused["detail"].as_str().unwrap().contains(DEPT),
        "{refused}"
    );

    // A sort the backend cannot do (`nickName` is dropped by the table):
    // the gateway sorts, the filter that maps narrows; without `emulate`,
    // 400 invalidPath.
    let sorted = [("filter", "active eq true"), ("sortBy", "nickName")];
    let (status, by_nick) = list(&gw, &client, "mapfilt", &sorted).await;
    assert_eq!(status, 200, "{by_nick}");
    assert_eq!(by_nick["totalResults"], json!(15), "{by_nick}");
    let (status, refused) = list(&gw, &client, "mapstrict", &sorted).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["scimType"], "invalidPath", "{refused}");

    // Counted as its own kind of emulation.
    let metrics = gw.metrics().await;
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("scim_gateway_emulated_total")
                && l.contains("upstream=\"deptstore\"")
                && l.contains("capability=\"mapped_filter\"")
        })
        .unwrap_or_else(|| panic!("{metrics}"));
    // Three filtered lists and the sorted one.
    assert!(line.ends_with(" 4"), "{line}");

    // Discovery shows the emulation bounds (Bulk emulated: 5 operations;
    // filters the gateway may evaluate: 8 results).
    let spc: Value = client
        .get(format!(
            "{}/ServiceProviderConfig",
            gw.base("mapfilt.localhost")
        ))
        .bearer_auth(token_for("mapfilt"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spc["bulk"]["supported"], json!(true), "{spc}");
    assert_eq!(spc["bulk"]["maxOperations"], json!(5), "{spc}");
    assert_eq!(spc["filter"]["supported"], json!(true), "{spc}");
    assert_eq!(spc["filter"]["maxResults"], json!(8), "{spc}");
    assert_eq!(spc["patch"]["supported"], json!(true), "{spc}");

    // Past filter_max_pages (5) × filter_page_size (7) = 35: tooMany.
    for n in 31..=36 {
        create_user(&gw, &client, n).await;
    }
    let (status, too_many) = list(&gw, &client, "mapfilt", &[("filter", &filter)]).await;
    assert_eq!(status, 400, "{too_many}");
    assert_eq!(too_many["scimType"], "tooMany");
    let detail = too_many["detail"].as_str().unwrap();
    assert!(
        detail.contains("filter_max_pages") && detail.contains(DEPT),
        "{detail}"
    );
    // A filter the backend can run is not bounded by the emulation.
    let eq = format!("{DEPT} eq \"Engineering\"");
    let (status, native) = list(&gw, &client, "mapfilt", &[("filter", &eq)]).await;
    assert_eq!(status, 200, "{native}");
    assert_eq!(native["totalResults"], json!(12), "{native}");
}
