//! The Dockerfile, checked statically: no container engine runs where the
//! tests run (docs/deployment.md says so), so this test holds what a build
//! would trip over: the stages, a non-root user, the health check on the
//! admin listener's /readyz, the config at the path the image names, and
//! every copied path present in the build context.
use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Dockerfile's instructions, continuation lines joined.
fn instructions() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(line);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    out
}

#[test]
fn the_dockerfile_builds_in_stages_runs_as_non_root_and_checks_readyz() {
    let all = instructions();
    let with = |keyword: &str| -> Vec<&String> {
        all.iter()
            .filter(|i| i.split_whitespace().next() == Some(keyword))
            .collect()
    };
    let froms = with("FROM");
    assert_eq!(froms.len(), 2, "{froms:?}");
    assert!(
        froms[0].contains("rust:") && froms[0].ends_with("AS builder"),
        "{}",
        froms[0]
    );
    assert!(
        froms[1].contains("-slim") && froms[1].ends_with("AS runtime"),
        "{}",
        froms[1]
    );

    // The last USER is the one the container runs as: not root.
    let user = with("USER").last().map(|u| u.to_string()).expect("a USER");
    let who = user.split_whitespace().nth(1).unwrap();
    assert!(!["root", "0", "0:0"].contains(&who), "{user}");

    // The health check asks /readyz on the admin port of the image's config.
    let config_text = std::fs::read_to_string(root().join("config/docker/gateway.toml")).unwrap();
    let config: toml::Table = toml::from_str(&config_text).unwrap();
    let admin = config["admin"]["listen"].as_str().unwrap();
    let port = admin.rsplit_once(':').unwrap().1;
    let health = with("HEALTHCHECK");
    assert_eq!(health.len(), 1);
    assert!(
        health[0].contains(&format!("127.0.0.1:{port}/readyz")),
        "{} does not ask the admin listener ({admin})",
        health[0]
    );

    // Every COPY from the context exists and is not ignored; the config
    // lands where SCIM_GATEWAY_CONFIG points.
    let ignored = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    let mut config_dest = None;
    for copy in with("COPY") {
        let words: Vec<&str> = copy.split_whitespace().skip(1).collect();
        if words.iter().any(|w| w.starts_with("--from")) {
            continue;
        }
        let (dest, sources) = words.split_last().unwrap();
        for source in sources {
            if *source == "." {
                continue;
            }
            assert!(
                root().join(source).exists(),
                "COPY {source}: not in the repository"
            );
            let first = source.split('/').next().unwrap();
            assert!(
                !ignored.lines().any(|l| l.trim_end_matches('/') == first),
                "COPY {source}: excluded by .dockerignore"
            );
            if *source == "config/docker/gateway.toml" {
                config_dest = Some(dest.to_string());
            }
        }
    }
    let config_dest = config_dest.expect("the image copies config/docker/gateway.toml");
    assert!(
        with("ENV")
            .iter()
            .any(|e| e.contains(&format!("SCIM_GATEWAY_CONFIG={config_dest}"))),
        "SCIM_GATEWAY_CONFIG does not name {config_dest}"
    );
    assert!(!ignored
        .lines()
        .any(|l| matches!(l.trim(), "src/" | "src" | "Cargo.lock")));
}

#[test]
fn the_image_config_loads_and_writes_only_to_the_volume() {
    let path = root().join("config/docker/gateway.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // What the gateway writes (the audit log, the development
    // certificates) must be on the writable volume.
    let config: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let tls = config["server"]["tls"].as_table().unwrap();
    for written in [
        config["audit"]["dir"].as_str().unwrap(),
        tls["cert_file"].as_str().unwrap(),
        tls["key_file"].as_str().unwrap(),
    ] {
        assert!(written.starts_with("/var/lib/scim-gateway/"), "{written}");
    }
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("VOLUME [\"/var/lib/scim-gateway\"]"));
}
