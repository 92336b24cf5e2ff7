//! Discovery (RFC 7644 §4, RFC 7643 §5 to §7) and the SCIM version, and
//! at the end of the run whether `/ServiceProviderConfig` told the truth.
use super::{Ctx, ENTERPRISE};
use crate::probe::client::Reply;
use crate::probe::{Area, Outcome};
use serde_json::Value;

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// SCIM 1.1's core schema URN (RFC 7643's predecessor, 1.1 core §3).
const SCIM11_CORE: &str = "urn:scim:schemas:core:1.0";
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

pub(super) async fn run(ctx: &mut Ctx<'_>) {
    let spc = ctx.client.get("/ServiceProviderConfig", None).await;
    let v2 = spc.ok() && has_schema(&spc.body, SPC_SCHEMA);
    if v2 {
        ctx.facts.version = "2.0";
        let a = &mut ctx.facts.advertised;
        let supported = |key: &str| spc.body.get(key)?.get("supported")?.as_bool();
        a.patch = supported("patch");
        a.bulk = supported("bulk");
        a.filter = supported("filter");
        a.etag = supported("etag");
        a.sort = supported("sort");
        // RFC 9865 (cursor-based pagination): `pagination.cursor`.
        a.cursor = spc
            .body
            .get("pagination")
            .and_then(|p| p.get("cursor"))
            .and_then(Value::as_bool);
        let detail = format!(
            "patch {}, bulk {}, filter {}, etag {}, sort {}",
            said(a.patch),
            said(a.bulk),
            said(a.filter),
            said(a.etag),
            said(a.sort)
        );
        ctx.verdict(Area::Discovery, "/ServiceProviderConfig", true, detail);
    } else {
        // SCIM 1.1 named it in the plural (1.1 protocol §4).
        let old = ctx.client.get("/ServiceProviderConfigs", None).await;
        if old.ok() && (has_schema(&old.body, SCIM11_CORE) || old.body.get("schemas").is_none()) {
            ctx.facts.version = "1.1";
        } else {
            // No discovery at all (common for 1.1 services): a list and
            // the error shapes tell the version apart.
            let list = ctx.client.get("/Users", Some("count=1")).await;
            let v11 =
                |r: &Reply| has_schema(&r.body, SCIM11_CORE) || r.body.get("Errors").is_some();
            if v11(&list) || v11(&spc) || v11(&old) {
                ctx.facts.version = "1.1";
            } else if has_schema(&list.body, LIST_RESPONSE) {
                ctx.facts.version = "2.0";
            }
        }
        ctx.verdict(
            Area::Discovery,
            "/ServiceProviderConfig",
            ctx.client.dry_run(),
            format!(
                "{}; /ServiceProviderConfigs: {}",
                describe(&spc),
                describe(&old)
            ),
        );
    }
    let version = ctx.facts.version;
    let detail = match version {
        "2.0" if !v2 => "SCIM 2.0 lists, but no /ServiceProviderConfig".to_string(),
        "2.0" => "SCIM 2.0 (RFC 7643/7644)".to_string(),
        "1.1" => "SCIM 1.1: set dialect = \"scim1.1\"; the gateway translates".to_string(),
        _ => "neither a 2.0 nor a 1.1 ServiceProviderConfig".to_string(),
    };
    ctx.verdict(Area::Version, "SCIM version", version != "unknown", detail);
    if version == "1.1" {
        return;
    }
    let types = ctx.client.get("/ResourceTypes", None).await;
    let names: Vec<String> = listed(&types)
        .iter()
        .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_string))
        .collect();
    let extended = listed(&types).iter().any(|t| {
        t.get("schemaExtensions")
            .and_then(Value::as_array)
            .is_some_and(|x| {
                x.iter()
                    .any(|e| e.get("schema").and_then(Value::as_str) == Some(ENTERPRISE))
            })
    });
    let both = names.iter().any(|n| n == "User") && names.iter().any(|n| n == "Group");
    ctx.verdict(
        Area::Discovery,
        "/ResourceTypes",
        both,
        if types.ok() {
            format!("lists {}", names.join(", "))
        } else {
            describe(&types)
        },
    );
    let schemas = ctx.client.get("/Schemas", None).await;
    let ids: Vec<String> = listed(&schemas)
        .iter()
        .filter_map(|s| s.get("id").and_then(Value::as_str).map(str::to_string))
        .collect();
    let core =
        ids.iter().any(|i| i == super::USER_SCHEMA) && ids.iter().any(|i| i == super::GROUP_SCHEMA);
    ctx.facts.enterprise = extended || ids.iter().any(|i| i == ENTERPRISE);
    ctx.verdict(
        Area::Discovery,
        "/Schemas",
        core,
        if schemas.ok() {
            format!(
                "{} schemas{}",
                ids.len(),
                if ctx.facts.enterprise {
                    ", enterprise extension"
                } else {
                    ""
                }
            )
        } else {
            describe(&schemas)
        },
    );
}

/// After the run: each capability the upstream claims (or denies) against
/// what the checks saw. A gateway with `"auto"` believes the claim; where
/// it is wrong, the block pins the capability.
pub(super) fn truthfulness(ctx: &mut Ctx<'_>) {
    let a = ctx.facts.advertised.clone();
    for (name, claim, area) in [
        ("claims: patch", a.patch, Area::Patch),
        ("claims: filter", a.filter, Area::Filter),
        ("claims: sort", a.sort, Area::Sort),
        ("claims: etag", a.etag, Area::Etag),
        ("claims: bulk", a.bulk, Area::Bulk),
    ] {
        let seen = ctx.area_result(area);
        match (claim, seen) {
            (_, None) => ctx.record(Area::Discovery, name, Outcome::Skip, "not observed"),
            (None, Some(s)) => ctx.record(
                Area::Discovery,
                name,
                Outcome::Fail,
                format!("not said; it {}", if s { "works" } else { "does not work" }),
            ),
            (Some(c), Some(s)) => ctx.verdict(
                Area::Discovery,
                name,
                c == s,
                format!(
                    "says {}; seen: {}",
                    if c { "supported" } else { "unsupported" },
                    if s {
                        "works"
                    } else {
                        "fails (in part or whole)"
                    }
                ),
            ),
        }
    }
}

fn said(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unsaid",
    }
}

fn has_schema(body: &Value, urn: &str) -> bool {
    body.get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(urn)))
}

/// The members of a ListResponse's `Resources`, or of a bare array (some
/// servers answer discovery lists that way).
fn listed(reply: &Reply) -> Vec<Value> {
    match &reply.body {
        Value::Array(a) => a.clone(),
        b => b
            .get("Resources")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    }
}

fn describe(r: &Reply) -> String {
    r.describe()
}
