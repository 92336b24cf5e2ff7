//! The conformance matrix (docs/conformance.md): scim2-tester (every
//! check) and the Entra ID and Okta request fixtures, through gateway
//! tenants built from all pairs of upstream, schema, dialect and extras
//! (tests/support/matrix.rs). Prints the table to stderr at the end and
//! fails with every failure of every combination. A sibling test probes
//! each upstream kind once (`scim-gateway probe`) and checks its verdicts
//! against what a gateway tenant in front of it then emulates
//! (tests/support/probe_matrix.rs).
//!
//! `SCIM_MATRIX_ONLY=store-no-patch` runs the rows whose label contains
//! the text; `SCIM_MATRIX_THREADS` sets how many rows run at once (2).
use crate::support::idp_replay::{self, ReplayReport};
use crate::support::matrix::{self, Combo, Dialect, Rig, Upstream, DIMENSIONS};
use crate::support::peers::{self, TesterReport};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What one combination gave.
struct Outcome {
    combo: Combo,
    tester: Option<TesterReport>,
    replay: Option<ReplayReport>,
    /// Every failure, one line each (checks, replay steps, extras).
    problems: Vec<String>,
    secs: f64,
}

/// scim2-tester checks a combination may skip because it lacks the
/// feature, as `[ResourceType] title` (empty: no check may be skipped).
/// The gateway emulates PATCH, Bulk, filtering and ETags in front of every
/// upstream (docs/emulation.md), so no combination lacks one.
fn expected_skips(_combo: &Combo) -> BTreeSet<String> {
    BTreeSet::new()
}

fn check_key(c: &peers::TesterCheck) -> String {
    match &c.resource_type {
        Some(rt) => format!("[{rt}] {}", c.title),
        None => c.title.clone(),
    }
}

fn run_tester(rig: &Rig, combo: &Combo, problems: &mut Vec<String>) -> TesterReport {
    let report =
        peers::run_scim2_tester_with_headers(&rig.base, &[("Authorization", rig.auth.as_str())]);
    problems.extend(report.failures.iter().map(|f| format!("scim2-tester {f}")));
    problems.extend(
        report
            .checks
            .iter()
            .filter(|c| {
                !matches!(
                    c.status.as_str(),
                    "SUCCESS" | "COMPLIANT" | "ACCEPTABLE" | "ERROR" | "CRITICAL" | "SKIPPED"
                )
            })
            .map(|c| format!("scim2-tester {c}")),
    );
    let skipped: BTreeSet<String> = report
        .checks
        .iter()
        .filter(|c| c.status == "SKIPPED")
        .map(check_key)
        .collect();
    let expected = expected_skips(combo);
    for s in skipped.difference(&expected) {
        problems.push(format!(
            "scim2-tester skipped {s} (not a feature this combination lacks)"
        ));
    }
    for s in expected.difference(&skipped) {
        problems.push(format!(
            "scim2-tester ran {s}, listed as skipped here: update expected_skips"
        ));
    }
    // scim2-tester runs ~135 checks; far fewer means it stopped early.
    if report.total() < 100 {
        problems.push(format!("scim2-tester ran too few checks:\n{report}"));
    }
    report
}

/// The extras are really on (a matrix row whose cache or sink silently
/// did nothing would prove nothing).
async fn check_extras(rig: &Rig, combo: &Combo, problems: &mut Vec<String>) {
    let client = reqwest::Client::new();
    let list = format!("{}/Users?count=1", rig.base);
    let mut hit = None;
    for _ in 0..2 {
        match client
            .get(&list)
            .header("authorization", &rig.auth)
            .send()
            .await
        {
            Ok(resp) => hit = Some(resp.headers().get("x-cache").is_some_and(|v| v == "hit")),
            Err(e) => problems.push(format!("cache probe: {e}")),
        }
    }
    // scim2-server marks every answer `Cache-Control: no-cache`, which the
    // cache honours (docs/configuration.md, `[tenants.cache]`).
    let cacheable = combo.cache && combo.upstream != Upstream::Scim2Server;
    if hit != Some(cacheable) {
        problems.push(format!(
            "cache {}: a repeated GET got X-Cache hit = {hit:?}",
            if combo.cache { "on" } else { "off" }
        ));
    }
    let metrics = match client.get(rig.gateway.admin_url("/metrics")).send().await {
        Ok(resp) => resp.text().await.unwrap_or_default(),
        Err(e) => {
            problems.push(format!("metrics: {e}"));
            String::new()
        }
    };
    // The dialect's rules fired (the replays send what they fix) only
    // where a dialect is on; limits on are never reached.
    let dialect_fired = metric_sum(
        &metrics,
        "scim_gateway_dialect_rules_total",
        &rig.tenant,
        "mode=\"applied\"",
    );
    if (combo.dialect != Dialect::None) != (dialect_fired > 0.0) {
        problems.push(format!(
            "dialect {}: {dialect_fired} dialect rules applied",
            combo.dialect.name()
        ));
    }
    let limited = metric_sum(&metrics, "scim_gateway_limited_total", &rig.tenant, "");
    if limited > 0.0 {
        problems.push(format!("{limited} requests were limited (429)"));
    }
    if let Some(hook) = &rig.webhook {
        let deadline = Instant::now() + Duration::from_secs(10);
        while hook.received().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if hook.received().is_empty() {
            problems.push("audit on: no change event reached the webhook within 10 s".into());
        }
        if hook.bad_signatures() > 0 {
            problems.push(format!(
                "audit on: {} badly signed deliveries",
                hook.bad_signatures()
            ));
        }
    }
}

/// The sum of the samples of `name` for `tenant` whose labels contain
/// `label` (Prometheus text format).
fn metric_sum(text: &str, name: &str, tenant: &str, label: &str) -> f64 {
    let tenant = format!("tenant=\"{tenant}\"");
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| l.contains(&tenant) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn run_one(combo: Combo) -> Outcome {
    let started = Instant::now();
    let mut problems = Vec::new();
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut problems = Vec::new();
        let rig = Rig::spawn(&combo);
        let tester = run_tester(&rig, &combo, &mut problems);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let replay = rt.block_on(async {
            let replay = match combo.dialect {
                Dialect::None => None,
                Dialect::Entra => Some(idp_replay::entra(&rig.base, &rig.auth).await),
                Dialect::Okta => Some(idp_replay::okta(&rig.base, &rig.auth).await),
            };
            check_extras(&rig, &combo, &mut problems).await;
            replay
        });
        if let Some(r) = &replay {
            problems.extend(r.failures.iter().map(|f| format!("replay {f}")));
        }
        if !problems.is_empty() {
            if let Some(log) = rig.upstream_log() {
                let tail: String = log.lines().rev().take(20).collect::<Vec<_>>().join("\n");
                problems.push(format!("upstream log (last lines, newest first):\n{tail}"));
            }
        }
        (tester, replay, problems)
    }));
    let (tester, replay) = match ran {
        Ok((tester, replay, found)) => {
            problems = found;
            (Some(tester), replay)
        }
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            problems.push(format!("the run broke: {why}"));
            (None, None)
        }
    };
    Outcome {
        combo,
        tester,
        replay,
        problems,
        secs: started.elapsed().as_secs_f64(),
    }
}

fn table(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let mut head: Vec<&str> = vec!["#"];
    head.extend(DIMENSIONS.iter().map(|(name, _)| *name));
    head.extend(["passed", "failed", "skipped", "other", "replay", "secs"]);
    out += &format!("| {} |\n", head.join(" | "));
    out += &format!("|{}\n", "---|".repeat(head.len()));
    for (i, o) in outcomes.iter().enumerate() {
        let mut cells: Vec<String> = vec![(i + 1).to_string()];
        cells.extend(o.combo.cells().iter().map(|c| c.to_string()));
        match &o.tester {
            Some(t) => {
                cells.extend([t.passed, t.failed, t.skipped, t.other].map(|n| n.to_string()))
            }
            None => cells.extend(["-", "broke", "-", "-"].map(String::from)),
        }
        cells.push(match &o.replay {
            Some(r) => r.to_string(),
            None => "-".into(),
        });
        cells.push(format!("{:.0}", o.secs));
        out += &format!("| {} |\n", cells.join(" | "));
    }
    out
}

#[test]
fn conformance_matrix() {
    let only = std::env::var("SCIM_MATRIX_ONLY").unwrap_or_default();
    let combos: Vec<Combo> = matrix::combos()
        .into_iter()
        .filter(|c| c.label().contains(&only) || c.cells().join(" ").contains(&only))
        .collect();
    assert!(
        !combos.is_empty(),
        "SCIM_MATRIX_ONLY={only:?} matches no row"
    );
    let threads: usize = std::env::var("SCIM_MATRIX_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    // Install the peers once, before the workers race for it.
    peers::venv();
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(combo) = combos.get(i) else { break };
                let outcome = run_one(*combo);
                eprintln!(
                    "matrix row {}/{} done in {:.0}s: {} ({} problems)",
                    i + 1,
                    combos.len(),
                    outcome.secs,
                    combo.label(),
                    outcome.problems.len()
                );
                done.lock().unwrap().push((i, outcome));
            });
        }
    });
    let mut outcomes = done.into_inner().unwrap();
    outcomes.sort_by_key(|(i, _)| *i);
    let outcomes: Vec<Outcome> = outcomes.into_iter().map(|(_, o)| o).collect();
    eprintln!(
        "\nconformance matrix: {} combinations in {:.0}s ({threads} at a time)\n{}",
        outcomes.len(),
        started.elapsed().as_secs_f64(),
        table(&outcomes)
    );
    let failures: Vec<String> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| !o.problems.is_empty())
        .map(|(i, o)| {
            format!(
                "row {} {}:\n  {}",
                i + 1,
                o.combo.label(),
                o.problems.join("\n  ")
            )
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// The probe against each upstream kind of the matrix, once each: its
/// verdict per capability must be what a gateway tenant in front of that
/// upstream (capabilities `"auto"`) then does. Prints the second table of
/// docs/conformance.md: upstream × capability → probe verdict, gateway
/// behaviour, agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_verdicts_match_what_the_gateway_does() {
    use crate::support::probe_matrix::{probe_and_compare, Row};
    tokio::task::spawn_blocking(peers::venv).await.unwrap();
    let started = Instant::now();
    let mut rows: Vec<Row> = Vec::new();
    let mut problems = Vec::new();
    let mut tables = String::new();
    // The store first: the builtin row takes its verdicts.
    let mut store_verdicts = None;
    for kind in [
        Upstream::Store,
        Upstream::Builtin,
        Upstream::StoreNoPatch,
        Upstream::StoreLegacy,
        Upstream::Scim2Server,
    ] {
        let (probed, verdicts) = probe_and_compare(kind, store_verdicts).await;
        if kind == Upstream::Store {
            store_verdicts = Some(verdicts);
        }
        problems.extend(
            probed
                .problems
                .iter()
                .map(|p| format!("{}: {p}", kind.name())),
        );
        tables += &probed.table;
        rows.extend(probed.rows);
    }
    let verdict = |v: Option<bool>| match v {
        Some(true) => "works",
        Some(false) => "FAILS",
        None => "not observed",
    };
    let mut out = String::from("| upstream | capability | probe verdict | gateway | request | agree |\n|---|---|---|---|---|---|\n");
    for r in &rows {
        out += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.upstream,
            r.capability,
            verdict(r.verdict),
            if r.emulated {
                "emulates"
            } else {
                "passes through"
            },
            r.detail,
            if r.agrees() { "yes" } else { "NO" }
        );
    }
    println!("{tables}");
    eprintln!(
        "\nprobe verdicts against the gateway, {} upstreams in {:.0}s:\n{out}",
        5,
        started.elapsed().as_secs_f64()
    );
    problems.extend(rows.iter().filter(|r| !r.agrees()).map(|r| {
        format!(
            "{} {}: probe {}, gateway {} ({})",
            r.upstream,
            r.capability,
            verdict(r.verdict),
            if r.emulated {
                "emulates"
            } else {
                "passes through"
            },
            r.detail
        )
    }));
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
