//! `scim-gateway probe` from the command line: the upstream from flags or
//! a config, Ctrl-C, the output and the exit status.
use super::{from_config, from_flags, render_table, run, FlagAuth, Options};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The command's arguments (the flags are documented in `src/main.rs`).
#[derive(Debug)]
pub struct Args {
    pub url: Option<String>,
    pub bearer_file: Option<PathBuf>,
    pub basic: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub upstream: Option<String>,
    pub name: Option<String>,
    pub json: bool,
    pub dry_run: bool,
    pub timeout: Duration,
    pub max_time: Duration,
}

/// Runs the probe and prints the scorecard (a table, or JSON). An error
/// when the run stopped early or left resources behind.
pub async fn main(a: Args) -> Result<(), String> {
    let (target, url) = match (&a.config, &a.upstream, &a.url) {
        (Some(config), Some(name), _) => from_config(config, name)?,
        (_, _, Some(url)) => {
            let auth = match (&a.bearer_file, &a.basic) {
                (Some(file), _) => FlagAuth::BearerFile(file.clone()),
                (None, Some(spec)) => {
                    let (user, file) = spec
                        .split_once(':')
                        .ok_or_else(|| format!("--basic {spec}: expected USER:FILE"))?;
                    FlagAuth::Basic {
                        username: user.to_string(),
                        file: PathBuf::from(file),
                    }
                }
                (None, None) => FlagAuth::None,
            };
            let t = from_flags(url, &auth, a.ca_file.as_deref(), a.timeout)?;
            (t, url.clone())
        }
        _ => return Err("give the upstream's URL, or --config FILE --upstream NAME".into()),
    };
    let options = Options {
        timeout: a.timeout,
        max_time: a.max_time,
        dry_run: a.dry_run,
        name: a.name.or(a.upstream).unwrap_or_else(|| "NAME".into()),
    };
    // The first Ctrl-C stops the checks and lets the cleanup run; a second
    // one gives up on the cleanup too.
    let interrupted = Arc::new(tokio::sync::Notify::new());
    let notify = interrupted.clone();
    let signals = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!("scim-gateway probe: interrupted; deleting what the probe made (Ctrl-C again to give up)");
        notify.notify_one();
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "scim-gateway probe: cleanup given up; delete the Users and Groups whose names start with scimprobe by hand"
            );
            std::process::exit(130);
        }
    });
    let card = run(target, url, &options, interrupted.notified()).await;
    signals.abort();
    if a.json {
        let text = serde_json::to_string_pretty(&card)
            .map_err(|e| format!("writing the scorecard: {e}"))?;
        println!("{text}");
    } else {
        print!("{}", render_table(&card));
    }
    if card.answered == 0 && !card.dry_run {
        return Err(format!("{} never answered", card.url));
    }
    if !card.left_behind.is_empty() {
        return Err(format!(
            "could not delete {}: delete them by hand",
            card.left_behind.join(", ")
        ));
    }
    match card.stopped {
        Some(why) => Err(format!("the probe stopped early ({why})")),
        None => Ok(()),
    }
}
