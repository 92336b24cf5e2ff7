//! Every config the repository ships (the default, the examples, the
//! Kubernetes one) parses: no unknown or misspelled key, no wrong type. The
//! ones that name no files outside the repository also compile.
use scim_gateway::config::{compile, parse};
use std::path::{Path, PathBuf};

fn shipped() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![
        root.join("config/gateway.toml"),
        root.join("config/kubernetes/gateway.toml"),
    ];
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root.join("config/examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    examples.sort();
    assert!(!examples.is_empty());
    files.extend(examples);
    files
}

#[tokio::test]
async fn every_shipped_config_parses_and_the_self_contained_ones_compile() {
    for file in shipped() {
        let text = std::fs::read_to_string(&file).unwrap();
        let raw = parse(&text, &file.display().to_string())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        // Files under /etc or /var (TLS, audit) exist only where deployed.
        if text.contains("\"/etc/") {
            continue;
        }
        let dir = std::env::temp_dir().join(format!(
            "scimgw-shipped-{}-{}",
            std::process::id(),
            file.file_stem().unwrap().to_string_lossy()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        if let Err(e) = compile(&raw, &dir.join("gateway.toml"), None) {
            // Only the absent deployment paths may fail.
            let text = e.to_string();
            assert!(
                text.lines()
                    .all(|l| l.contains("/var/lib/") || l.contains("dev_certs")),
                "{}: {text}",
                file.display()
            );
        }
    }
}
