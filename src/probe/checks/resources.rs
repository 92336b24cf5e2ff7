//! Create, read, replace and delete (RFC 7644 §3.3, §3.4.1, §3.5.1,
//! §3.6), error answers (§3.12) and versions (§3.14).
use super::{Ctx, Made1, ERROR_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use crate::probe::client::Reply;
use crate::probe::{Area, Outcome};
use serde_json::{json, Value};

/// A User the probe makes.
pub(super) fn user(prefix: &str, given: &str) -> Value {
    let lower = given.to_ascii_lowercase();
    json!({
        "schemas": [USER_SCHEMA],
        "userName": format!("{prefix}.{lower}"),
        "displayName": format!("{given} Probe"),
        "name": { "givenName": given, "familyName": "Probe" },
        "emails": [{ "value": format!("{prefix}.{lower}@example.com"), "type": "work", "primary": true }],
        "active": true
    })
}

/// Creates the probe's users and group and checks reading, replacing,
/// errors and versions. `false` when nothing could be created (the other
/// checks are then skipped).
pub(super) async fn run(ctx: &mut Ctx<'_>) -> bool {
    let prefix = ctx.prefix.clone();
    let mut alice_body = user(&prefix, "Alice");
    // Only Alice has a nickName: the `pr` filter and PATCH remove use it.
    if let Some(m) = alice_body.as_object_mut() {
        m.insert("nickName".into(), json!("probe"));
    }
    let alice_name = format!("{prefix}.alice");
    let (created, alice) = ctx.create("/Users", &alice_body).await;
    let (bob_reply, bob) = ctx.create("/Users", &user(&prefix, "Bob")).await;
    let echoed = created.str("userName") == Some(alice_name.as_str());
    ctx.verdict(
        Area::Crud,
        "create User (POST)",
        created.status == 201 && echoed && bob.is_some(),
        if alice.is_some() && bob.is_some() {
            created.describe()
        } else {
            format!("{}; second: {}", created.describe(), bob_reply.describe())
        },
    );
    let (Some(alice), Some(bob)) = (alice, bob) else {
        ctx.record(
            Area::Crud,
            "the remaining checks",
            Outcome::Skip,
            "nothing to work on: the creates failed",
        );
        return false;
    };
    let group_body = json!({
        "schemas": [GROUP_SCHEMA],
        "displayName": format!("{prefix} group"),
        "members": [{ "value": alice.id }]
    });
    let (g, group) = ctx.create("/Groups", &group_body).await;
    let holds = member_ids(&g.body).contains(&alice.id);
    ctx.verdict(
        Area::Crud,
        "create Group with a member",
        g.status == 201 && holds,
        g.describe(),
    );

    let path = format!("/Users/{}", alice.id);
    let read = ctx.client.get(&path, None).await;
    ctx.verdict(
        Area::Crud,
        "read (GET)",
        read.status == 200
            && read.str("id") == Some(alice.id.as_str())
            && read.str("userName") == Some(alice_name.as_str()),
        read.describe(),
    );
    let mut replaced = if read.ok() {
        read.body.clone()
    } else {
        alice_body.clone()
    };
    if let Some(m) = replaced.as_object_mut() {
        m.remove("meta");
        m.insert("displayName".into(), json!("Alice Replaced"));
    }
    let put = ctx.client.put(&path, &replaced, None).await;
    let after = ctx.after_write(&put, &path).await;
    ctx.verdict(
        Area::Crud,
        "replace (PUT)",
        put.ok() && after.get("displayName").and_then(Value::as_str) == Some("Alice Replaced"),
        put.describe(),
    );
    errors(ctx, &alice_body).await;
    etags(ctx, &path, &replaced).await;
    ctx.facts.alice = Some(alice);
    ctx.facts.bob = Some(bob);
    ctx.facts.group = group;
    true
}

async fn errors(ctx: &mut Ctx<'_>, alice_body: &Value) {
    let missing = format!("/Users/{}-missing", ctx.prefix);
    let r = ctx.client.get(&missing, None).await;
    ctx.verdict(
        Area::Errors,
        "404 for an unknown id",
        r.status == 404 && is_error(&r, "404"),
        error_detail(&r),
    );
    let dup = ctx.client.post("/Users", alice_body).await;
    if let Some(id) = dup.str("id") {
        // Accepted twice: clean it up too.
        ctx.made.add(format!("/Users/{id}"));
    }
    let uniqueness = dup.str("scimType") == Some("uniqueness");
    ctx.verdict(
        Area::Errors,
        "409 uniqueness for a taken userName",
        dup.status == 409 && is_error(&dup, "409") && uniqueness,
        error_detail(&dup),
    );
}

async fn etags(ctx: &mut Ctx<'_>, path: &str, body: &Value) {
    let read = ctx.client.get(path, None).await;
    let dry = ctx.client.dry_run().then(|| "{version}".to_string());
    let version = read.etag.clone().or(dry).or_else(|| {
        read.body
            .get("meta")
            .and_then(|m| m.get("version"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    ctx.verdict(
        Area::Etag,
        "ETag / meta.version on GET",
        version.is_some(),
        match (&read.etag, &version) {
            (Some(e), _) => format!("ETag {e}"),
            (None, Some(v)) => format!("meta.version {v} (no ETag header)"),
            _ => "no version".to_string(),
        },
    );
    let Some(version) = version else {
        ctx.skip(
            Area::Etag,
            &["If-Match current → 200", "If-Match stale → 412"],
            "no version to send",
        );
        return;
    };
    let current = ctx.client.put(path, body, Some(&version)).await;
    ctx.verdict(
        Area::Etag,
        "If-Match current → 200",
        current.ok(),
        current.describe(),
    );
    let stale = ctx
        .client
        .put(path, body, Some("W/\"scimprobe-stale\""))
        .await;
    ctx.verdict(
        Area::Etag,
        "If-Match stale → 412",
        stale.status == 412,
        error_detail(&stale),
    );
}

/// Deletes Bob and reads him back (404 expected).
pub(super) async fn delete(ctx: &mut Ctx<'_>) {
    let Some(Made1 { id, .. }) = ctx.facts.bob.clone() else {
        return;
    };
    let path = format!("/Users/{id}");
    let d = ctx.client.delete(&path).await;
    if d.ok() {
        ctx.made.deleted(&path);
    }
    let gone = ctx.client.get(&path, None).await;
    ctx.verdict(
        Area::Crud,
        "delete (DELETE), then 404",
        d.status == 204 && gone.status == 404,
        format!("{}; GET after: {}", d.describe(), gone.status),
    );
}

/// An RFC 7644 §3.12 error body with `status` as a string.
fn is_error(r: &Reply, status: &str) -> bool {
    let schema = r
        .body
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(ERROR_SCHEMA)));
    let st = r.body.get("status");
    schema && (st.and_then(Value::as_str) == Some(status))
}

fn error_detail(r: &Reply) -> String {
    let mut s = r.describe();
    if r.status >= 400 && !is_error(r, &r.status.to_string()) {
        if r.body.get("status").is_some_and(Value::is_number) {
            s.push_str("; status is a number, RFC 7644 §3.12 says a string");
        } else {
            s.push_str("; not a SCIM error body");
        }
    }
    if let Some(t) = r.str("scimType") {
        s.push_str(&format!("; scimType {t}"));
    }
    s
}

pub(super) fn member_ids(group: &Value) -> Vec<String> {
    group
        .get("members")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
