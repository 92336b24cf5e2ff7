//! Headless Chromium (Debian's `chromium`, or `CHROMIUM`) for the console
//! test: one bounded run per page (`--dump-dom` or `--screenshot`), the
//! numbers a page tagged with `data-stat`/`data-value`, and where
//! screenshots are kept. A missing browser is a failure, never a skip.
use crate::support::audited::temp_dir;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a browser run may take before it is killed.
const BROWSER_BOUND: Duration = Duration::from_secs(60);

/// The browser: `CHROMIUM`, else `chromium` on the PATH.
pub fn chromium() -> String {
    let bin = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{bin} is required for the console test (tests/run installs Debian's chromium)"
    );
    bin
}

/// Runs headless chromium on `url` with `extra` arguments, killed after
/// [`BROWSER_BOUND`]; its stdout.
pub fn browse(url: &str, extra: &[&str]) -> String {
    let profile = temp_dir("chromium-profile");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut out);
        out
    });
    let deadline = Instant::now() + BROWSER_BOUND;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = reader.join().unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        status.is_some_and(|s| s.success()),
        "chromium did not finish within {BROWSER_BOUND:?}: {status:?}"
    );
    out
}

/// Every `data-stat`/`data-value` pair of the dumped DOM: the JSON path
/// into the stats and the value shown.
pub fn rendered_stats(dom: &str) -> Vec<(Vec<String>, Value)> {
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let attr = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let len = tag.get(start..)?.find('"')?;
        Some(unescape(tag.get(start..start + len)?))
    };
    dom.split('<')
        .filter(|tag| tag.contains("data-stat=\""))
        .map(|tag| {
            let path: Vec<String> = serde_json::from_str(&attr(tag, "data-stat").unwrap()).unwrap();
            let value: Value = serde_json::from_str(&attr(tag, "data-value").unwrap()).unwrap();
            (path, value)
        })
        .collect()
}

/// `<target dir>/test-artifacts/console.png` (the target dir is the test
/// binary's grandparent, `CARGO_TARGET_DIR` or `target/`).
pub fn screenshot_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"));
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("console.png")
}
