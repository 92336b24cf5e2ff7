//! Build metadata for `scim-gateway --version`: the git commit and the
//! build date, as `SCIM_GATEWAY_COMMIT` and `SCIM_GATEWAY_BUILD_DATE`.
//!
//! Outside a git checkout (a source tarball, a container build without
//! `.git`) the commit is "unknown" unless the `SCIM_GATEWAY_COMMIT`
//! environment variable gives it. The date is `SOURCE_DATE_EPOCH`'s when
//! set (reproducible builds), else the day this script ran. The script
//! reruns only when HEAD moves (a commit, a checkout) or those variables
//! change, never merely because a source file did.
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=src/build.rs");
    println!("cargo:rerun-if-env-changed=SCIM_GATEWAY_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = std::env::var("SCIM_GATEWAY_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&dir, &["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    // What moves when HEAD does: HEAD itself (a checkout), its reflog (every
    // commit), the branch's ref and the packed refs. Only files that exist:
    // cargo reruns a script on every build for a missing one.
    let mut watched = vec!["HEAD".to_string(), "logs/HEAD".into(), "packed-refs".into()];
    if let Some(r) = git(&dir, &["rev-parse", "--symbolic-full-name", "HEAD"]) {
        watched.push(r);
    }
    for name in watched {
        if let Some(path) = git(&dir, &["rev-parse", "--git-path", &name]) {
            let path = dir.join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    let seconds = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    println!("cargo:rustc-env=SCIM_GATEWAY_COMMIT={commit}");
    println!("cargo:rustc-env=SCIM_GATEWAY_BUILD_DATE={}", date(seconds));
}

/// `git ARGS` in `dir`: its trimmed output, or `None` (no git, no repo).
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
}

/// `YYYY-MM-DD` (UTC) of a Unix time: Howard Hinnant's days-to-civil.
fn date(seconds: u64) -> String {
    let z = (seconds / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
