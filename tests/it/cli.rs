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
    std::fs::write(
        &bad,
        GOOD.replace("upstream = \"store\"", "upstream = \"nope\""),
    )
    .unwrap();
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
        (
            vec!["check-config", "--config", "/nonexistent/gateway.toml"],
            None,
            78,
        ),
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
    assert!(
        text(&out).contains("no upstream named \"nope\""),
        "{}",
        text(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn version_names_the_commit_and_the_build_date() {
    let out = gateway(&["--version"], None);
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    // `scim-gateway 0.1.0 (commit 0123456789ab, built 2026-01-31)`; the
    // commit is "unknown" only outside a git checkout.
    let (_, rest) = line
        .split_once(" (commit ")
        .unwrap_or_else(|| panic!("{line}"));
    let (commit, rest) = rest
        .split_once(", built ")
        .unwrap_or_else(|| panic!("{line}"));
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

/// The binary's stdout for `args` (which must succeed).
fn stdout_of(args: &[&str]) -> String {
    let out = gateway(args, None);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Every gateway config shipped in `config/` (mapping tables are another
/// format), and the quickstart with its commented IdP tenants uncommented.
fn shipped_configs() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for dir in [
        "config",
        "config/examples",
        "config/kubernetes",
        "config/docker",
    ] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let name = path.strip_prefix(root).unwrap().display().to_string();
                found.push((name, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let quickstart = std::fs::read_to_string(root.join("config/gateway.toml")).unwrap();
    let (head, example) = quickstart
        .split_once("# --- An identity provider's tenant")
        .unwrap();
    let (_, commented) = example.split_once("\n#\n").unwrap();
    let uncommented: Vec<&str> = commented
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l.trim_start_matches('#')))
        .collect();
    found.push((
        "config/gateway.toml (IdP tenants uncommented)".into(),
        format!("{head}\n{}\n", uncommented.join("\n")),
    ));
    found
}

#[test]
fn config_schema_accepts_every_shipped_config_and_refuses_mistakes() {
    let schema: serde_json::Value = serde_json::from_str(&stdout_of(&["config-schema"])).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let as_json = |toml_text: &str| {
        serde_json::to_value(toml::from_str::<toml::Value>(toml_text).unwrap()).unwrap()
    };

    let shipped = shipped_configs();
    assert!(
        shipped.len() >= 6,
        "{:?}",
        shipped.iter().map(|s| &s.0).collect::<Vec<_>>()
    );
    for (name, text) in &shipped {
        let errors: Vec<String> = validator
            .iter_errors(&as_json(text))
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{name} fails the schema:\n{}",
            errors.join("\n")
        );
    }
    for (mistake, text) in [
        (
            "an unknown key",
            "[server]\nlisten = \"127.0.0.1:8443\"\nlisen = \"x\"\n",
        ),
        ("a wrong type", "[server]\nmax_connections = \"many\"\n"),
        ("tenants as a table", "[tenants]\nid = \"acme\"\n"),
        ("a tenant without id", "[[tenants]]\nupstream = \"store\"\n"),
    ] {
        assert!(
            !validator.is_valid(&as_json(text)),
            "{mistake} passes the schema"
        );
    }
    // Descriptions come from the doc comments (what an editor shows).
    let drain = &schema["$defs"]["ServerSection"]["properties"]["drain_delay"];
    assert!(
        drain["description"]
            .as_str()
            .unwrap_or_default()
            .contains("/readyz"),
        "{drain}"
    );
}

#[test]
fn completions_and_the_man_page_name_every_command() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout_of(&["completions", shell]);
        for command in ["check-config", "config-schema", "hash-token"] {
            assert!(
                script.contains(command),
                "{shell} completions lack {command}"
            );
        }
    }
    let man = stdout_of(&["man"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH scim-gateway 1"),
        "{man}"
    );
    assert!(man.contains(".TH scim-gateway 1"), "{man}");
    assert!(man.contains("check\\-config"), "{man}");
    // One page per command, with its options.
    let run = stdout_of(&["man", "run"]);
    assert!(run.contains(".TH scim-gateway-run 1"), "{run}");
    assert!(run.contains("SCIM_GATEWAY_CONFIG"), "{run}");
    assert_eq!(gateway(&["man", "nope"], None).status.code(), Some(1));
    assert!(gateway(&["completions", "tcsh"], None).status.code() == Some(2));
}
