//! PATCH (RFC 7644 §3.5.2): each operation with and without a path,
//! value filters, an extension path, group members. Each result is read
//! back (from the answer, or a GET after a 204).
use super::{Ctx, ENTERPRISE};
use crate::probe::client::Reply;
use crate::probe::{Area, Outcome};
use serde_json::{json, Value};

/// One PATCH check: its name, the operations, and what must then hold.
struct Case {
    name: &'static str,
    ops: Value,
    holds: Box<dyn Fn(&Value) -> bool + Send + Sync>,
}

pub(super) async fn run(ctx: &mut Ctx<'_>) {
    let (Some(alice), Some(bob)) = (ctx.facts.alice.clone(), ctx.facts.bob.clone()) else {
        return;
    };
    let p = ctx.prefix.clone();
    let home = format!("{p}.alice@home.example.com");
    let work = format!("{p}.alice@work.example.com");
    let mut cases = vec![
        Case {
            name: "replace with path",
            ops: json!([{ "op": "replace", "path": "displayName", "value": "Alice P1" }]),
            holds: Box::new(|r| str_at(r, "displayName") == Some("Alice P1")),
        },
        Case {
            name: "replace without path",
            ops: json!([{ "op": "replace", "value": { "displayName": "Alice P2" } }]),
            holds: Box::new(|r| str_at(r, "displayName") == Some("Alice P2")),
        },
        Case {
            name: "add with path",
            ops: json!([{ "op": "add", "path": "title", "value": "Prober" }]),
            holds: Box::new(|r| str_at(r, "title") == Some("Prober")),
        },
        Case {
            name: "add without path",
            ops: json!([{ "op": "add", "value": { "userType": "Probe" } }]),
            holds: Box::new(|r| str_at(r, "userType") == Some("Probe")),
        },
        Case {
            name: "add to a multi-valued attribute",
            ops: json!([{ "op": "add", "path": "emails", "value": [{ "value": home, "type": "home" }] }]),
            holds: Box::new(|r| emails(r).len() == 2),
        },
        Case {
            name: "remove with path",
            ops: json!([{ "op": "remove", "path": "nickName" }]),
            holds: Box::new(|r| r.get("nickName").is_none_or(Value::is_null)),
        },
        Case {
            name: "replace with a value filter",
            ops: json!([{ "op": "replace", "path": "emails[type eq \"work\"].value", "value": work }]),
            holds: Box::new({
                let work = work.clone();
                move |r| emails(r).iter().any(|(t, v)| t == "work" && *v == work)
            }),
        },
        Case {
            name: "remove with a value filter",
            ops: json!([{ "op": "remove", "path": "emails[type eq \"home\"]" }]),
            holds: Box::new(|r| {
                let e = emails(r);
                e.len() == 1 && e.iter().all(|(t, _)| t == "work")
            }),
        },
    ];
    if ctx.facts.enterprise {
        cases.push(Case {
            name: "replace an extension path",
            ops: json!([{ "op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Probing" }]),
            holds: Box::new(|r| r.get(ENTERPRISE).and_then(|e| e.get("department")).and_then(Value::as_str) == Some("Probing")),
        });
    }
    let user = format!("/Users/{}", alice.id);
    let mut unsupported: Option<String> = None;
    for case in &cases {
        check(ctx, &user, case, &mut unsupported).await;
    }
    if !ctx.facts.enterprise {
        ctx.record(
            Area::Patch,
            "replace an extension path",
            Outcome::Skip,
            "the enterprise extension is not offered",
        );
    }
    let Some(group) = ctx.facts.group.clone() else {
        ctx.skip(
            Area::Patch,
            &["add group members", "remove a member by value filter"],
            "no group",
        );
        return;
    };
    let (a, b) = (alice.id.clone(), bob.id.clone());
    let group_cases = [
        Case {
            name: "add group members",
            ops: json!([{ "op": "add", "path": "members", "value": [{ "value": b }] }]),
            holds: Box::new({
                let (a, b) = (a.clone(), b.clone());
                move |g| {
                    let m = super::resources::member_ids(g);
                    m.contains(&a) && m.contains(&b)
                }
            }),
        },
        Case {
            name: "remove a member by value filter",
            ops: json!([{ "op": "remove", "path": format!("members[value eq \"{b}\"]") }]),
            holds: Box::new(move |g| super::resources::member_ids(g) == [a.clone()]),
        },
    ];
    let path = format!("/Groups/{}", group.id);
    for case in &group_cases {
        check(ctx, &path, case, &mut unsupported).await;
    }
}

/// Sends one case (unless PATCH is known to be unsupported) and records it.
async fn check(ctx: &mut Ctx<'_>, path: &str, case: &Case, unsupported: &mut Option<String>) {
    if let Some(why) = unsupported {
        let why = why.clone();
        ctx.record(Area::Patch, case.name, Outcome::Fail, why);
        return;
    }
    let reply: Reply = ctx
        .client
        .patch(path, &Ctx::patch_body(case.ops.clone()))
        .await;
    // RFC 7644 §3.5.2: a service provider that does not support PATCH
    // answers 501; 405 is what a plain HTTP server says.
    if matches!(reply.status, 405 | 501) {
        let why = format!("PATCH answered {}: not supported", reply.status);
        *unsupported = Some(why.clone());
        ctx.record(Area::Patch, case.name, Outcome::Fail, why);
        return;
    }
    let after = ctx.after_write(&reply, path).await;
    let ok = reply.ok() && (case.holds)(&after);
    let detail = if reply.ok() && !ok {
        format!("{}, but the change is not there", reply.status)
    } else {
        reply.describe()
    };
    ctx.verdict(Area::Patch, case.name, ok, detail);
}

fn str_at<'v>(r: &'v Value, key: &str) -> Option<&'v str> {
    r.get(key).and_then(Value::as_str)
}

/// `(type, value)` of each email.
fn emails(r: &Value) -> Vec<(String, String)> {
    r.get("emails")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|e| {
                    let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    (s("type"), s("value"))
                })
                .collect()
        })
        .unwrap_or_default()
}
