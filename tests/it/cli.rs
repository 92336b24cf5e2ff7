//! The command line as an operator meets it (the built binary): exit
//! statuses, `--config` and `SCIM_GATEWAY_CONFIG`, `--version`.
use crate::support::audited::temp_dir;
use std::path::Path;
use std::process::{Command, Output};

const GOOD: &str = r#"
[server]
listen = "127.0.0.1:0"
plaintext = true
[upstreams.store]
kind = "builtin"
[[tenants]]
id = "acme"
upstream = "store"
[[tenants.tokens]]
name = "t"
hash = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
"#;

/// The binary with `args`, `SCIM_GATEWAY_CONFIG` set to `env` (or unset).
fn gateway(args: &[&str], env: Option<&Path>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_scim-gateway"));
    c.args(args).env_remove("SCIM_GATEWAY_CONFIG");
    if let Some(path) = env {
        c.env("SCIM_GATEWAY_CONFIG", path);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_config_error_exits_78_from_run_and_check_config_alike() {
    let dir = temp_dir("cli-exit");
    let good = dir.join("good.toml");
    let bad = dir.join("bad.toml");
    std::fs::write(&good, GOOD).unwrap();
    std::fs::write(&bad, GOOD.replace("upstream = \"store\"", "upstream = \"nope\"")).unwrap();
    let (good_s, bad_s) = (good.to_str().unwrap(), bad.to_str().unwrap());

    for (args, env, want) in [
        (vec!["check-config", "--config", good_s], None, 0),
        (vec!["check-config", good_s], None, 0),
        (vec!["check-config", "--config", bad_s], None, 78),
        (vec!["check-config", bad_s], None, 78),
        // The environment variable is the default path...
        (vec!["check-config"], Some(&bad), 78),
        (vec!["check-config"], Some(&good), 0),
        // ...which an argument overrides.
        (vec!["check-config", "--config", good_s], Some(&bad), 0),
        (vec!["run", "--config", bad_s], None, 78),
        (vec!["run"], Some(&bad), 78),
        (vec!["check-config", "--config", "/nonexistent/gateway.toml"], None, 78),
        (vec!["run", "--no-such-flag"], None, 2),
    ] {
        let out = gateway(&args, env.map(|p| p.as_path()));
        assert_eq!(
            out.status.code(),
            Some(want),
            "{args:?} with SCIM_GATEWAY_CONFIG={env:?}:\n{}",
            text(&out)
        );
    }
    let out = gateway(&["run"], Some(&bad));
    assert!(text(&out).contains("no upstream named \"nope\""), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn version_names_the_commit_and_the_build_date() {
    let out = gateway(&["--version"], None);
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    // `scim-gateway 0.1.0 (commit 0123456789ab, built 2026-01-31)`; the
    // commit is "unknown" only outside a git checkout.
    let (_, rest) = line.split_once(" (commit ").unwrap_or_else(|| panic!("{line}"));
    let (commit, rest) = rest.split_once(", built ").unwrap_or_else(|| panic!("{line}"));
    let date = rest.trim_end().trim_end_matches(')');
    let in_git = Path::new(env!("CARGO_MANIFEST_DIR")).join(".git").exists();
    if in_git {
        assert!(
            commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit()),
            "{line}"
        );
    }
    let parts: Vec<&str> = date.split('-').collect();
    assert!(
        parts.len() == 3
            && [4, 2, 2] == [parts[0].len(), parts[1].len(), parts[2].len()]
            && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit())),
        "{line}"
    );
}
