//! `scim-gateway guardrail list|show|release|drop`: the deprovisioning
//! guardrail's held operations on a running gateway, through its admin
//! API ([`super::admin_client`]; docs/safety.md).
use super::admin_client::{segment as seg, AdminArgs, AdminTarget};
use http::Method;
use serde_json::Value;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum GuardrailCommand {
    /// List a tenant's held operations (pending first, then those decided
    /// in the last day).
    List {
        /// The tenant id.
        #[arg(long)]
        tenant: String,
        /// Print the admin API's JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Show one held operation, with its body.
    Show {
        #[arg(long)]
        tenant: String,
        /// The held operation's id (from `list`).
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Release held operations: each is sent upstream through the gateway,
    /// as the principal that asked for it, and audited.
    Release {
        #[arg(long)]
        tenant: String,
        /// Held operation ids (from `list`).
        #[arg(required_unless_present = "all")]
        ids: Vec<String>,
        /// Every pending operation of the tenant, oldest first.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// Who decides (written in the audit record; default: $USER).
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Drop held operations: never sent upstream (the IdP's retries get
    /// 403); audited.
    Drop {
        #[arg(long)]
        tenant: String,
        #[arg(required_unless_present = "all")]
        ids: Vec<String>,
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// Runs one command; prints to stdout. An error (or any operation that
/// could not be decided) is `Err`.
pub async fn main(command: GuardrailCommand) -> Result<(), String> {
    match command {
        GuardrailCommand::List {
            tenant,
            json,
            admin,
        } => {
            let target = AdminTarget::from_args(&admin)?;
            target
                .show(&format!("/tenants/{}/guardrail", seg(&tenant)), json, table)
                .await?;
            Ok(())
        }
        GuardrailCommand::Show { tenant, id, admin } => {
            let target = AdminTarget::from_args(&admin)?;
            let one = target
                .get(&format!("/tenants/{}/guardrail/{}", seg(&tenant), seg(&id)))
                .await?;
            println!("{}", serde_json::to_string_pretty(&one).unwrap_or_default());
            Ok(())
        }
        GuardrailCommand::Release {
            tenant,
            ids,
            all,
            by,
            admin,
        } => decide(&admin, &tenant, ids, all, by, "release").await,
        GuardrailCommand::Drop {
            tenant,
            ids,
            all,
            by,
            admin,
        } => decide(&admin, &tenant, ids, all, by, "drop").await,
    }
}

async fn decide(
    admin: &AdminArgs,
    tenant: &str,
    ids: Vec<String>,
    all: bool,
    by: Option<String>,
    action: &str,
) -> Result<(), String> {
    let target = AdminTarget::from_args(admin)?;
    let by = by
        .or_else(|| std::env::var("USER").ok())
        .filter(|b| !b.trim().is_empty())
        .ok_or("name who decides: --by NAME")?;
    let ids = if all {
        let list = target
            .get(&format!("/tenants/{}/guardrail", seg(tenant)))
            .await?;
        pending_ids(&list)
    } else {
        ids
    };
    if ids.is_empty() {
        println!("nothing pending");
        return Ok(());
    }
    let mut failed = 0;
    for id in &ids {
        let path = format!(
            "/tenants/{}/guardrail/{}/{action}?by={}",
            seg(tenant),
            seg(id),
            seg(&by)
        );
        let (status, answer) = target.call(Method::POST, &path, None).await?;
        if status == 200 {
            let upstream = answer["upstream_status"]
                .as_u64()
                .map(|s| format!(" (upstream {s})"))
                .unwrap_or_default();
            println!(
                "{id}: {}{upstream}",
                answer["state"].as_str().unwrap_or("?")
            );
        } else {
            failed += 1;
            println!("{id}: {status} {}", answer["error"].as_str().unwrap_or(""));
        }
    }
    if failed > 0 {
        let done = if action == "release" {
            "released"
        } else {
            "dropped"
        };
        return Err(format!("{failed} of {} not {done}", ids.len()));
    }
    Ok(())
}

/// The ids of the pending operations of a list, oldest first.
fn pending_ids(list: &Value) -> Vec<String> {
    list["held"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| matches!(o["state"].as_str(), Some("held" | "releasing")))
        .filter_map(|o| o["id"].as_str().map(str::to_string))
        .collect()
}

/// The list as a table.
fn table(list: &Value) -> String {
    let mut out = format!(
        "tenant {}: {} pending; limit {} deprovisions per {} s ({})\n",
        list["tenant"].as_str().unwrap_or("?"),
        list["pending"],
        list["max_deprovisions"],
        list["window_seconds"],
        list["mode"].as_str().unwrap_or("?"),
    );
    let held = list["held"].as_array().cloned().unwrap_or_default();
    if held.is_empty() {
        return out;
    }
    out.push_str(&format!(
        "{:<32}  {:<9}  {:<22}  {:<6}  {:<44}  {:<24}  {}\n",
        "ID", "STATE", "KIND", "METHOD", "PATH", "HELD AT", "ASKED BY"
    ));
    for o in held {
        out.push_str(&format!(
            "{:<32}  {:<9}  {:<22}  {:<6}  {:<44}  {:<24}  {}\n",
            o["id"].as_str().unwrap_or(""),
            o["state"].as_str().unwrap_or(""),
            format!("{} x{}", o["kind"].as_str().unwrap_or(""), o["weight"]),
            o["method"].as_str().unwrap_or(""),
            o["path"].as_str().unwrap_or(""),
            o["held_at"].as_str().unwrap_or(""),
            o["asked_by"]["subject"].as_str().unwrap_or(""),
        ));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_table_and_the_pending_ids_come_from_the_list() {
        let list = json!({"tenant": "acme", "pending": 1, "max_deprovisions": 5,
            "window_seconds": 3600, "mode": "hold", "held": [
            {"id": "a".repeat(32), "state": "held", "kind": "user_delete", "weight": 1,
             "method": "DELETE", "path": "/Users/1", "held_at": "2026-12-07T03:00:00Z",
             "asked_by": {"subject": "okta"}},
            {"id": "b".repeat(32), "state": "released", "kind": "user_delete", "weight": 1,
             "method": "DELETE", "path": "/Users/2", "held_at": "2026-12-07T03:00:01Z",
             "asked_by": {"subject": "okta"}}]});
        assert_eq!(pending_ids(&list), vec!["a".repeat(32)]);
        let t = table(&list);
        assert!(t.starts_with("tenant acme: 1 pending; limit 5 deprovisions per 3600 s (hold)"));
        assert!(t.contains("/Users/2") && t.contains("released"));
        assert_eq!(seg("a b/c"), "a+b%2Fc");
    }
}
