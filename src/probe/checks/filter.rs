//! Filters (RFC 7644 §3.4.2.2: every operator, `and`/`or`/`not`, value
//! paths, case rules), sorting (§3.4.2.3) and paging (§3.4.2.4, and
//! RFC 9865 cursors where offered). Each filter is judged by which of the
//! probe's two users it returns; other resources on the server are
//! ignored, and filters that would match other users are narrowed with
//! `and userName sw PREFIX`.
use super::{ids, Ctx};
use crate::probe::client::{encode, Reply};
use crate::probe::{Area, Outcome};
use serde_json::Value;

pub(super) async fn run(ctx: &mut Ctx<'_>) {
    let (Some(alice), Some(bob)) = (ctx.facts.alice.clone(), ctx.facts.bob.clone()) else {
        return;
    };
    let p = ctx.prefix.clone();
    let (a, b) = (alice.id.as_str(), bob.id.as_str());
    let scope = format!("userName sw \"{p}\"");
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("eq", format!("userName eq \"{p}.alice\""), vec![a]),
        (
            "ne",
            format!("userName ne \"{p}.alice\" and {scope}"),
            vec![b],
        ),
        ("co", format!("userName co \"{p}.ali\""), vec![a]),
        ("sw", scope.clone(), vec![a, b]),
        ("ew", format!("userName ew \"{p}.bob\""), vec![b]),
        ("pr", format!("nickName pr and {scope}"), vec![a]),
        (
            "gt",
            format!("userName gt \"{p}.alice\" and {scope}"),
            vec![b],
        ),
        (
            "ge",
            format!("userName ge \"{p}.bob\" and {scope}"),
            vec![b],
        ),
        (
            "lt",
            format!("userName lt \"{p}.bob\" and {scope}"),
            vec![a],
        ),
        (
            "le",
            format!("userName le \"{p}.alice\" and {scope}"),
            vec![a],
        ),
        (
            "and",
            format!("{scope} and name.givenName eq \"Bob\""),
            vec![b],
        ),
        (
            "or",
            format!("userName eq \"{p}.alice\" or userName eq \"{p}.bob\""),
            vec![a, b],
        ),
        (
            "not",
            format!("{scope} and not (userName eq \"{p}.alice\")"),
            vec![b],
        ),
        (
            "value path",
            format!("emails[type eq \"work\" and value eq \"{p}.bob@example.com\"]"),
            vec![b],
        ),
        (
            "sub-attribute",
            format!("name.givenName eq \"Alice\" and {scope}"),
            vec![a],
        ),
        (
            "userName ignores case",
            format!(
                "userName eq \"{}\"",
                format!("{p}.alice").to_ascii_uppercase()
            ),
            vec![a],
        ),
        (
            "names ignore case",
            format!("USERNAME EQ \"{p}.alice\""),
            vec![a],
        ),
    ];
    let mut eq_sw = 0;
    for (name, filter, expected) in cases {
        let r = list(ctx, "/Users", &format!("filter={}", encode(&filter))).await;
        let got: Vec<String> = ids(&r).into_iter().filter(|i| i == a || i == b).collect();
        let ok = r.status == 200 && same(&got, &expected);
        if ok && (name == "eq" || name == "sw") {
            eq_sw += 1;
        }
        let detail = if r.status == 200 {
            format!("{filter} → {}", names(&got, a, b))
        } else {
            format!("{filter} → {}", r.describe())
        };
        ctx.verdict(Area::Filter, &format!("filter {name}"), ok, detail);
    }
    ctx.facts.filter_eq_works = eq_sw == 2;
    if let Some(group) = ctx.facts.group.clone() {
        // The group holds Alice only: found by her id, not by Bob's.
        let by = |id: &str| format!("filter={}", encode(&format!("members.value eq \"{id}\"")));
        let with_a = list(ctx, "/Groups", &by(a)).await;
        let with_b = list(ctx, "/Groups", &by(b)).await;
        let (found, wrong) = (
            ids(&with_a).contains(&group.id),
            ids(&with_b).contains(&group.id),
        );
        let ok = with_a.status == 200 && with_b.status == 200 && found && !wrong;
        let detail = match (with_a.status, with_b.status) {
            (200, 200) => format!(
                "by a member's id: {}; by a non-member's id: {}",
                if found { "found" } else { "not found" },
                if wrong { "found" } else { "not found" }
            ),
            (200, _) => with_b.describe(),
            _ => with_a.describe(),
        };
        ctx.verdict(Area::Filter, "filter Groups by members.value", ok, detail);
    }
    sort(ctx, &scope, a, b).await;
    paging(ctx).await;
}

async fn sort(ctx: &mut Ctx<'_>, scope: &str, a: &str, b: &str) {
    for (order, expected) in [("ascending", [a, b]), ("descending", [b, a])] {
        let q = format!("filter={}&sortBy=userName&sortOrder={order}", encode(scope));
        let r = list(ctx, "/Users", &q).await;
        let got: Vec<String> = ids(&r).into_iter().filter(|i| i == a || i == b).collect();
        let ok = r.status == 200 && got == expected;
        let detail = if r.status == 200 {
            names(&got, a, b)
        } else {
            r.describe()
        };
        ctx.verdict(Area::Sort, &format!("sortBy userName {order}"), ok, detail);
    }
}

async fn paging(ctx: &mut Ctx<'_>) {
    let first = list(ctx, "/Users", "startIndex=1&count=1").await;
    let second = list(ctx, "/Users", "startIndex=2&count=1").await;
    let (f, s) = (ids(&first), ids(&second));
    let total = first
        .body
        .get("totalResults")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    ctx.verdict(
        Area::Paging,
        "startIndex/count",
        first.status == 200
            && second.status == 200
            && f.len() == 1
            && s.len() == 1
            && f != s
            && total >= 2,
        format!(
            "pages of 1: {} and {} resources, totalResults {total}",
            f.len(),
            s.len()
        ),
    );
    let none = list(ctx, "/Users", "count=0").await;
    let n = none
        .body
        .get("totalResults")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    ctx.verdict(
        Area::Paging,
        "count=0 → totalResults only",
        none.status == 200 && ids(&none).is_empty() && n >= 2,
        format!("{} resources, totalResults {n}", ids(&none).len()),
    );
    if ctx.facts.advertised.cursor != Some(true) {
        ctx.record(
            Area::Paging,
            "cursor (RFC 9865)",
            Outcome::Skip,
            "not offered",
        );
        return;
    }
    let start = list(ctx, "/Users", "cursor&count=1").await;
    let next = start.str("nextCursor").map(str::to_string);
    let ok = match &next {
        Some(c) => {
            let page = list(ctx, "/Users", &format!("cursor={}&count=1", encode(c))).await;
            page.status == 200 && ids(&page).len() == 1 && ids(&page) != ids(&start)
        }
        None => false,
    };
    ctx.verdict(Area::Paging, "cursor (RFC 9865)", ok, start.describe());
}

async fn list(ctx: &Ctx<'_>, endpoint: &str, query: &str) -> Reply {
    ctx.client.get(endpoint, Some(query)).await
}

fn same(got: &[String], expected: &[&str]) -> bool {
    got.len() == expected.len() && expected.iter().all(|e| got.iter().any(|g| g == e))
}

fn names(got: &[String], a: &str, b: &str) -> String {
    if got.is_empty() {
        return "none of the probe's users".into();
    }
    got.iter()
        .map(|g| {
            if g == a {
                "alice"
            } else if g == b {
                "bob"
            } else {
                "?"
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
