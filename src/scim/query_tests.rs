#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::scim::schema::SchemaRegistry;
use crate::scim::ScimType;

#[test]
fn query_strings_decode_and_parse() {
    assert_eq!(
        query_pairs("a=b%20c&d=e+f&g&h=%zz&%41=1"),
        vec![
            ("a".into(), "b c".into()),
            ("d".into(), "e f".into()),
            ("g".into(), "".into()),
            ("h".into(), "%zz".into()),
            ("A".into(), "1".into()),
        ]
    );
    let q = ListQuery::from_query(
        "SORTBY=userName&sortOrder=Descending&startIndex=0&count=-5&attributes=userName&other=1",
    )
    .unwrap();
    assert_eq!(
        q.sort_by.as_ref().map(|p| p.attr.as_str()),
        Some("userName")
    );
    assert_eq!(q.sort_order, SortOrder::Descending);
    assert_eq!((q.start_index, q.count), (1, Some(0)));
    assert_eq!(q.projection.attributes.len(), 1);
}

#[test]
fn bad_parameters_are_named() {
    for (q, needle, t) in [
        ("count=ten", "count", ScimType::InvalidValue),
        ("startIndex=1.5", "startIndex", ScimType::InvalidValue),
        ("sortOrder=up", "sortOrder", ScimType::InvalidValue),
        ("sortBy=a%20b", "sortBy", ScimType::InvalidPath),
    ] {
        let e = ListQuery::from_query(q).unwrap_err();
        assert_eq!((e.status(), e.scim_type()), (400, Some(t)), "{q}");
        assert!(e.detail().contains(needle), "{q}: {}", e.detail());
    }
}

#[test]
fn search_bodies() {
    let q = ListQuery::from_search_body(&json!({
        "schemas": [SEARCH_REQUEST_SCHEMA],
        "attributes": ["userName", "emails"],
        "excludedAttributes": [],
        "sortBy": "userName",
        "startIndex": 3,
        "count": 10
    }))
    .unwrap();
    assert_eq!((q.start_index, q.count), (3, Some(10)));
    assert_eq!(q.projection.attributes.len(), 2);
    let e = ListQuery::from_search_body(&json!({"count": 1})).unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::InvalidSyntax));
    let e = ListQuery::from_search_body(&json!({"schemas": [SEARCH_REQUEST_SCHEMA], "count": "x"}))
        .unwrap_err();
    assert!(e.detail().contains("count"));
    let e = ListQuery::from_search_body(
        &json!({"schemas": [SEARCH_REQUEST_SCHEMA], "attributes": [1]}),
    )
    .unwrap_err();
    assert!(e.detail().contains("attributes"));
}

#[test]
fn pages() {
    let mut q = ListQuery::default();
    assert_eq!(q.page_range(5), 0..5);
    q.start_index = 2;
    q.count = Some(2);
    assert_eq!(q.page_range(5), 1..3);
    q.start_index = 9;
    assert_eq!(q.page_range(5), 5..5);
    q.start_index = 4;
    q.count = Some(usize::MAX);
    assert_eq!(q.page_range(5), 3..5);
}

#[test]
fn sorting_follows_types_case_and_missing_values() {
    let r = SchemaRegistry::builtin();
    let rt = r.resource_type("User").unwrap();
    let ctx = EvalContext {
        registry: &r,
        resource_type: rt,
    };
    let users = [
        json!({"userName": "bravo", "emails": [{"value": "z@x"}, {"value": "a@x", "primary": true}]}),
        json!({"userName": "Alpha", "emails": [{"value": "m@x"}]}),
        json!({"userName": "charlie"}),
        json!({"userName": "alpha2", "meta": {"lastModified": "2011-05-13T04:42:34Z"}}),
    ];
    let names = |q: &ListQuery| {
        let mut refs: Vec<&Value> = users.iter().collect();
        q.sort(&mut refs, &ctx);
        refs.iter()
            .map(|u| u["userName"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let mut q = ListQuery {
        sort_by: Some(AttrPath::simple("userName")),
        ..ListQuery::default()
    };
    assert_eq!(names(&q), ["Alpha", "alpha2", "bravo", "charlie"]);
    q.sort_order = SortOrder::Descending;
    assert_eq!(names(&q), ["charlie", "bravo", "alpha2", "Alpha"]);
    // By the primary (else first) email; resources without one go last.
    let q = ListQuery {
        sort_by: Some(AttrPath::simple("emails")),
        ..ListQuery::default()
    };
    assert_eq!(names(&q), ["bravo", "Alpha", "charlie", "alpha2"]);
    let q = ListQuery {
        sort_by: Some(AttrPath::sub("meta", "lastModified")),
        ..ListQuery::default()
    };
    assert_eq!(names(&q)[0], "alpha2");
}
