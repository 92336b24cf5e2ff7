//! `scim-gateway drift --tenant T [--wait] [--json]`: starts a drift run in
//! the running gateway through its admin API (`POST
//! /admin/v1/tenants/{T}/drift`) and, with `--wait`, prints its report
//! (docs/safety.md, "Drift reports"). Exit status: 0 no drift found
//! (or, without `--wait`, the run started), 3 drift found (changed,
//! created outside or missing), 1 an error or a failed run.
use super::admin_client::{AdminArgs, AdminTarget};
use http::Method;
use serde_json::Value;
use std::time::{Duration, Instant};

/// `scim-gateway drift`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct DriftArgs {
    /// The tenant whose upstream is compared.
    #[arg(long)]
    pub tenant: String,
    /// Wait for the run to end and print its report.
    #[arg(long)]
    pub wait: bool,
    /// Print the report as JSON (the admin API's) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// How long `--wait` waits at most (the run goes on regardless).
    #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = humantime::parse_duration)]
    pub wait_timeout: Duration,
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// Exit status when the run found drift.
pub const DRIFT_FOUND: i32 = 3;

/// Runs the command; the process's exit status.
pub async fn command(args: DriftArgs) -> i32 {
    match drift(&args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("scim-gateway drift: {e}");
            1
        }
    }
}

async fn drift(args: &DriftArgs) -> Result<i32, String> {
    let target = AdminTarget::from_args(&args.admin)?;
    let path = format!("/tenants/{}/drift", args.tenant);
    let (status, answer) = target.call(Method::POST, &path, None).await?;
    let run_id = match status {
        202 => answer["run_id"].as_u64(),
        // One runs already: follow it.
        409 if answer["run"]["state"] == "running" => {
            eprintln!("a run of this tenant is already running: following it");
            answer["run_id"].as_u64()
        }
        _ => {
            let why = answer["error"].as_str().unwrap_or("unexpected answer");
            return Err(format!("{}: {status}: {why}", target.base));
        }
    }
    .ok_or("the answer named no run")?;
    if !args.wait {
        println!("drift run {run_id} of tenant {} started", args.tenant);
        return Ok(0);
    }
    let until = Instant::now() + args.wait_timeout;
    let report = loop {
        let (status, answer) = target.call(Method::GET, &path, None).await?;
        if status != 200 {
            return Err(format!("{}: {status} while waiting", target.base));
        }
        let run = &answer["run"];
        if run["run_id"].as_u64() == Some(run_id) && run["state"] != "running" {
            break run.clone();
        }
        if Instant::now() > until {
            return Err(format!(
                "run {run_id} did not end within {:?}",
                args.wait_timeout
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", table(&report));
    }
    if report["state"] != "done" {
        return Ok(1);
    }
    let counts = &report["counts"];
    let drifted: u64 = ["changed", "created_outside", "missing"]
        .iter()
        .map(|k| counts[*k].as_u64().unwrap_or(0))
        .sum();
    Ok(if drifted > 0 { DRIFT_FOUND } else { 0 })
}

/// The report as text: the counts, then one line per resource listed.
pub(crate) fn table(report: &Value) -> String {
    let mut out = String::new();
    let took = match (
        report["started_at_ms"].as_u64(),
        report["finished_at_ms"].as_u64(),
    ) {
        (Some(a), Some(b)) => format!(" in {:.1} s", b.saturating_sub(a) as f64 / 1000.0),
        _ => String::new(),
    };
    out.push_str(&format!(
        "tenant {}, drift run {}: {}{took}, {} pages\n",
        report["tenant"].as_str().unwrap_or("?"),
        report["run_id"],
        report["state"].as_str().unwrap_or("?"),
        report["pages"],
    ));
    if let Some(e) = report["error"].as_str() {
        out.push_str(&format!("error: {e}\n"));
    }
    let kinds = [
        "clean",
        "changed",
        "created_outside",
        "missing",
        "unverified",
        "written_during_run",
    ];
    for k in kinds {
        out.push_str(&format!("  {k:<20} {}\n", report["counts"][k]));
    }
    let mut first = true;
    for k in ["changed", "created_outside", "missing", "unverified"] {
        for item in report[k].as_array().into_iter().flatten() {
            if first {
                out.push('\n');
                first = false;
            }
            out.push_str(&format!(
                "  {k:<16} {:<6} {}\n",
                item["resource_type"].as_str().unwrap_or("?"),
                item["id"].as_str().unwrap_or("?")
            ));
        }
    }
    if report["truncated"] == true {
        out.push_str("  (lists truncated at 1000 ids each; the counts are exact)\n");
    }
    out
}
