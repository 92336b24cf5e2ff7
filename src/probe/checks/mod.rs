//! The checks, in the order they run: discovery and version, resources
//! (create, read, replace, errors, ETags), filters (with sorting and
//! paging), PATCH, Bulk, delete. Each group records its checks in the
//! [`Ctx`]; a group that cannot run (no resource to work on) records its
//! checks as skipped, so the table always has the same rows.
mod bulk;
mod discovery;
mod filter;
mod patch;
mod resources;

use super::cleanup::Made;
use super::client::{Client, Reply};
use super::{Advertised, Area, Check, Outcome};
use serde_json::{json, Value};

/// The core User schema (RFC 7643 §4.1).
pub(super) const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema (RFC 7643 §4.2).
pub(super) const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension (RFC 7643 §4.3).
pub(super) const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The PATCH request schema (RFC 7644 §3.5.2).
pub(super) const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The error schema (RFC 7644 §3.12).
pub(super) const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A resource the probe made.
#[derive(Debug, Clone)]
pub(super) struct Made1 {
    pub id: String,
}

/// What the checks learned that later checks and the report need.
#[derive(Debug, Default)]
pub(super) struct Facts {
    pub version: &'static str,
    pub advertised: Advertised,
    /// `/Schemas` or `/ResourceTypes` name the enterprise extension.
    pub enterprise: bool,
    /// `userName eq` and `sw` filters return exactly the right users (the
    /// cleanup may then sweep by prefix).
    pub filter_eq_works: bool,
    pub alice: Option<Made1>,
    pub bob: Option<Made1>,
    pub group: Option<Made1>,
}

/// The state of one run.
pub(super) struct Ctx<'a> {
    pub client: &'a Client,
    pub made: &'a Made,
    pub prefix: String,
    pub facts: Facts,
    checks: Vec<Check>,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(client: &'a Client, made: &'a Made, prefix: String) -> Ctx<'a> {
        Ctx {
            client,
            made,
            prefix,
            facts: Facts {
                version: "unknown",
                ..Facts::default()
            },
            checks: Vec::new(),
        }
    }

    pub(super) fn record(
        &mut self,
        area: Area,
        name: &str,
        outcome: Outcome,
        detail: impl Into<String>,
    ) {
        self.checks.push(Check {
            area,
            name: name.to_string(),
            outcome,
            detail: detail.into(),
            // Decided once all checks are in (report::with_actions).
            action: super::Action::PassThrough,
        });
    }

    /// Pass when `ok`, else fail, with `detail` either way.
    pub(super) fn verdict(&mut self, area: Area, name: &str, ok: bool, detail: impl Into<String>) {
        let outcome = if ok { Outcome::Pass } else { Outcome::Fail };
        self.record(area, name, outcome, detail);
    }

    pub(super) fn skip(&mut self, area: Area, names: &[&str], why: &str) {
        for name in names {
            self.record(area, name, Outcome::Skip, why);
        }
    }

    /// `Some(true)` when every check of `area` that ran passed,
    /// `Some(false)` when one failed, `None` when none ran.
    pub(super) fn area_result(&self, area: Area) -> Option<bool> {
        let ran: Vec<&Check> = self
            .checks
            .iter()
            .filter(|c| c.area == area && c.outcome != Outcome::Skip)
            .collect();
        (!ran.is_empty()).then(|| ran.iter().all(|c| c.outcome == Outcome::Pass))
    }

    pub(super) fn finish(self) -> (Vec<Check>, Facts) {
        (self.checks, self.facts)
    }

    /// Creates a resource at `endpoint` and records it for the cleanup.
    pub(super) async fn create(&mut self, endpoint: &str, body: &Value) -> (Reply, Option<Made1>) {
        let reply = self.client.post(endpoint, body).await;
        let made = reply.str("id").map(|id| Made1 { id: id.to_string() });
        if let Some(m) = &made {
            self.made.add(format!("{endpoint}/{}", m.id));
        }
        (reply, made)
    }

    /// A PatchOp request body.
    pub(super) fn patch_body(ops: Value) -> Value {
        json!({ "schemas": [PATCH_OP], "Operations": ops })
    }

    /// The resource after a write: the write's answer when it carries the
    /// resource, else a fresh GET (a 204 answer, RFC 7644 §3.5.2).
    pub(super) async fn after_write(&self, reply: &Reply, path: &str) -> Value {
        if reply.body.get("id").is_some() {
            reply.body.clone()
        } else {
            self.client.get(path, None).await.body
        }
    }
}

/// Runs every check in order.
pub(super) async fn run_all(ctx: &mut Ctx<'_>) {
    discovery::run(ctx).await;
    if ctx.facts.version == "1.1" {
        ctx.skip(
            Area::Crud,
            &["the remaining checks"],
            "they speak SCIM 2.0; configure dialect = \"scim1.1\" and probe through the gateway",
        );
        return;
    }
    if !resources::run(ctx).await {
        return;
    }
    filter::run(ctx).await;
    patch::run(ctx).await;
    bulk::run(ctx).await;
    resources::delete(ctx).await;
    discovery::truthfulness(ctx);
}

/// The ids of a ListResponse's resources.
pub(super) fn ids(reply: &Reply) -> Vec<String> {
    reply
        .body
        .get("Resources")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
