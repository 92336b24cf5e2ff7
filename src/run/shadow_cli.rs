//! `scim-gateway shadow status|backfill`: a tenant's shadow upstream on a
//! running gateway, through its admin API ([`super::admin_client`];
//! docs/safety.md, "Shadow upstream"). `status` prints the comparison
//! summary (exit status 3 when answers differed or copies failed);
//! `backfill` copies the resources the shadow lacks, and with `--wait`
//! prints how it went.
use super::admin_client::{segment as seg, AdminArgs, AdminTarget};
use http::Method;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Exit status of `status` when answers differed or copies failed.
pub const DIFFERENCES_FOUND: i32 = 3;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ShadowCommand {
    /// The comparison summary: copies, matches, differences by attribute
    /// path (never values), the latest differences, the last backfill.
    Status {
        #[arg(long)]
        tenant: String,
        /// Print the admin API's JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Copy the tenant's Users and Groups the shadow does not have yet
    /// (paged from the primary, created at the shadow, their ids mapped).
    Backfill {
        #[arg(long)]
        tenant: String,
        /// Wait for the backfill to end and print its counts.
        #[arg(long)]
        wait: bool,
        /// How long `--wait` waits at most (the backfill goes on).
        #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = humantime::parse_duration)]
        wait_timeout: Duration,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// Runs one command; the process's exit status.
pub async fn command(command: ShadowCommand) -> i32 {
    match run(command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("scim-gateway shadow: {e}");
            1
        }
    }
}

async fn run(command: ShadowCommand) -> Result<i32, String> {
    match command {
        ShadowCommand::Status {
            tenant,
            json,
            admin,
        } => {
            let target = AdminTarget::from_args(&admin)?;
            let report = target
                .show(&format!("/tenants/{}/shadow", seg(&tenant)), json, table)
                .await?;
            let bad = report["differed"].as_u64().unwrap_or(0)
                + report["failed"].as_u64().unwrap_or(0)
                + report["dropped"].as_u64().unwrap_or(0);
            Ok(if bad > 0 { DIFFERENCES_FOUND } else { 0 })
        }
        ShadowCommand::Backfill {
            tenant,
            wait,
            wait_timeout,
            admin,
        } => {
            let target = AdminTarget::from_args(&admin)?;
            let path = format!("/tenants/{}/shadow/backfill", seg(&tenant));
            let (status, answer) = target.call(Method::POST, &path, None).await?;
            match status {
                202 => {}
                409 if answer["backfill"]["state"] == "running" => {
                    eprintln!("a backfill of this tenant is already running: following it");
                }
                _ => {
                    let why = answer["error"].as_str().unwrap_or("unexpected answer");
                    return Err(format!("{}: {status}: {why}", target.base));
                }
            }
            if !wait {
                println!("backfill of tenant {tenant} started");
                return Ok(0);
            }
            let until = Instant::now() + wait_timeout;
            let b = loop {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let answer = target.get(&path).await?;
                let b = &answer["backfill"];
                if b["state"] != "running" {
                    break b.clone();
                }
                if Instant::now() > until {
                    return Err(format!("the backfill did not end within {wait_timeout:?}"));
                }
            };
            println!(
                "backfill of tenant {tenant}: {}; read {}, created {}, already there {}, linked {}, failed {}",
                b["state"].as_str().unwrap_or("?"),
                b["read"],
                b["created"],
                b["present"],
                b["linked"],
                b["failed"]
            );
            if let Some(e) = b["error"].as_str() {
                println!("error: {e}");
            }
            Ok(if b["state"] == "done" && b["failed"] == 0 {
                0
            } else {
                1
            })
        }
    }
}

/// The summary as text.
pub(crate) fn table(r: &Value) -> String {
    let mut out = format!(
        "tenant {}, shadow {} (since {}): {} copies, {} matched, {} differed, {} failed, {} dropped, {} skipped; {} ids mapped\n",
        r["tenant"].as_str().unwrap_or("?"),
        r["shadow_upstream"].as_str().unwrap_or("?"),
        r["since"].as_str().unwrap_or("?"),
        r["mirrored"],
        r["matched"],
        r["differed"],
        r["failed"],
        r["dropped"],
        r["skipped"],
        r["id_map_entries"],
    );
    if let Some(methods) = r["by_method"].as_object() {
        let list: Vec<String> = methods.iter().map(|(m, n)| format!("{m} {n}")).collect();
        out.push_str(&format!("  by method: {}\n", list.join(", ")));
    }
    if let Some(paths) = r["paths"].as_object().filter(|p| !p.is_empty()) {
        out.push_str("  differing attributes:\n");
        let mut list: Vec<(&String, u64)> = paths
            .iter()
            .map(|(p, n)| (p, n.as_u64().unwrap_or(0)))
            .collect();
        list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        for (p, n) in list {
            out.push_str(&format!("    {n:>6}  {p}\n"));
        }
    }
    if let Some(recent) = r["recent"].as_array().filter(|l| !l.is_empty()) {
        out.push_str("  latest:\n");
        for d in recent.iter().rev().take(10) {
            let paths: Vec<&str> = d["paths"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            out.push_str(&format!(
                "    {} {:<6} {} {} -> {} {}{}\n",
                d["at"].as_str().unwrap_or("?"),
                d["method"].as_str().unwrap_or("?"),
                d["path"].as_str().unwrap_or("?"),
                d["primary_status"],
                d["shadow_status"],
                d["outcome"].as_str().unwrap_or("?"),
                match (paths.is_empty(), d["error"].as_str()) {
                    (false, _) => format!(": {}", paths.join(", ")),
                    (true, Some(e)) => format!(": {e}"),
                    _ => String::new(),
                }
            ));
        }
    }
    if let Some(b) = r["backfill"].as_object() {
        out.push_str(&format!(
            "  backfill: {} (started {}); read {}, created {}, already there {}, linked {}, failed {}\n",
            b.get("state").and_then(Value::as_str).unwrap_or("?"),
            b.get("started").and_then(Value::as_str).unwrap_or("?"),
            b.get("read").unwrap_or(&Value::Null),
            b.get("created").unwrap_or(&Value::Null),
            b.get("present").unwrap_or(&Value::Null),
            b.get("linked").unwrap_or(&Value::Null),
            b.get("failed").unwrap_or(&Value::Null),
        ));
    }
    out
}
