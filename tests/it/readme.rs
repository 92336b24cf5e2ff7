//! The README's promises, checked: the quickstart's commands run as written
//! against the gateway on (a copy of) `config/gateway.toml`; every file,
//! folder and subcommand it names exists; and the Rust version it states is
//! the one `Cargo.toml` declares, no older than what the locked
//! dependencies need.
use crate::support::redis::free_port;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).unwrap()
}

/// The code block after the `<!-- readme-check: NAME -->` marker.
fn block(text: &str, name: &str) -> String {
    let marker = format!("<!-- readme-check: {name} -->");
    let after = &text[text.find(&marker).unwrap_or_else(|| panic!("no {marker}"))..];
    let open = after.find("```sh\n").unwrap() + "```sh\n".len();
    let close = after[open..].find("```").unwrap();
    after[open..open + close].to_string()
}

#[tokio::test]
async fn the_quickstart_runs_as_written() {
    let dir = crate::support::audited::temp_dir("readme");
    std::fs::create_dir_all(dir.join("config")).unwrap();
    let (port, admin) = (free_port(), free_port());
    let config = std::fs::read_to_string(repo().join("config/gateway.toml"))
        .unwrap()
        .replace("127.0.0.1:8443", &format!("127.0.0.1:{port}"))
        .replace("127.0.0.1:9464", &format!("127.0.0.1:{admin}"));
    assert!(config.contains(&format!("127.0.0.1:{port}")));
    let path = dir.join("config/gateway.toml");
    std::fs::write(&path, config).unwrap();
    let mut gw = Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
        .args(["run", "--config"])
        .arg(&path)
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the quickstart gateway did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let script = block(&readme(), "quickstart").replace(":8443", &format!(":{port}"));
    let out = Command::new("bash")
        .args(["-eu", "-o", "pipefail", "-c", &script])
        .current_dir(&dir)
        .output()
        .unwrap();
    let _ = gw.kill();
    let _ = gw.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the quickstart failed:\n{script}\n--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The read, the filter and the patch answered the user; the delete 204.
    assert!(
        stdout.matches("\"userName\":\"bjensen\"").count() >= 3,
        "{stdout}"
    );
    assert!(stdout.contains("\"active\":false"), "{stdout}");
    assert!(stdout.trim_end().ends_with("}204"), "{stdout}");
}

/// Paths in backticks or links that start with a top-level folder of the
/// repository.
fn named_paths(text: &str) -> BTreeSet<String> {
    const ROOTS: [&str; 7] = [
        "config/", "docs/", "src/", "tests/", "benches/", "fuzz/", ".ci/",
    ];
    let mut paths = BTreeSet::new();
    for piece in text.split(['`', '(', ')', ' ', '\n', '"', '\'']) {
        let piece = piece.split('#').next().unwrap_or_default();
        let piece = piece.trim_end_matches([',', '.', ':', ';']);
        if ROOTS.iter().any(|r| piece.starts_with(r))
            && !piece.contains(['*', '<', '{', '$'])
            && piece.len() > 5
        {
            paths.insert(piece.to_string());
        }
    }
    paths
}

#[test]
fn every_file_and_subcommand_the_readme_names_exists() {
    let text = readme();
    let paths = named_paths(&text);
    assert!(paths.len() > 30, "{paths:?}");
    let missing: Vec<_> = paths.iter().filter(|p| !repo().join(p).exists()).collect();
    assert!(
        missing.is_empty(),
        "README names missing paths: {missing:?}"
    );

    // `scim-gateway WORD` and `cargo run --release -- WORD`, with the
    // second word of `audit` and `events`.
    let code = code_of(&text);
    let mut commands = BTreeSet::new();
    for prefix in ["scim-gateway ", "cargo run --release -- "] {
        for (at, _) in code.match_indices(prefix) {
            let words: Vec<&str> = code[at + prefix.len()..]
                .split_whitespace()
                .take(2)
                .map(|w| w.trim_matches(['`', ',', '.', ')', '(']))
                .collect();
            let Some(first) = words.first() else { continue };
            if first.is_empty()
                || first.starts_with('-')
                || !first.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            {
                continue;
            }
            let mut command = vec![first.to_string()];
            if matches!(*first, "audit" | "events") {
                if let Some(second) = words
                    .get(1)
                    .filter(|w| w.chars().all(|c| c.is_ascii_lowercase()))
                {
                    command.push(second.to_string());
                }
            }
            commands.insert(command);
        }
    }
    assert!(commands.len() >= 5, "{commands:?}");
    for command in &commands {
        let out = Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
            .args(command)
            .arg("--help")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README names `scim-gateway {}`, which is not a command:\n{}",
            command.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The README's code: its blocks and inline code spans, one per line.
fn code_of(text: &str) -> String {
    let mut code = String::new();
    for (i, part) in text.split("```").enumerate() {
        if i % 2 == 1 {
            // Without shell comments (prose).
            for line in part.lines() {
                let line = line.split(" #").next().unwrap_or_default();
                if !line.trim_start().starts_with('#') {
                    code.push_str(line);
                    code.push('\n');
                }
            }
        } else {
            for (j, span) in part.split('`').enumerate() {
                if j % 2 == 1 {
                    code.push_str(span);
                    code.push('\n');
                }
            }
        }
    }
    code
}

/// `rust-version` of a manifest or package, as numbers.
fn version(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

#[test]
fn the_stated_rust_version_covers_the_locked_dependencies() {
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let declared = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"')
        .to_string();
    assert!(
        readme().contains(&format!("stable **{declared} or newer**")),
        "the README states another Rust version than Cargo.toml's {declared}"
    );
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (needed, by) = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| Some((version(p["rust_version"].as_str()?), p["name"].to_string())))
        .max()
        .unwrap();
    assert!(
        version(&declared) >= needed,
        "Cargo.toml declares rust-version {declared}, but {by} needs {needed:?}"
    );
}

#[test]
fn the_path_reader_finds_paths() {
    let p =
        named_paths("see `config/monitoring/` and [x](docs/redis.md#when), (tests/it/readme.rs).");
    assert!(p.contains("config/monitoring/"), "{p:?}");
    assert!(p.contains("docs/redis.md"), "{p:?}");
    assert!(p.contains("tests/it/readme.rs"), "{p:?}");
}
