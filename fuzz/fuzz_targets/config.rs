//! Config loading (src/config/): TOML text parsed into the raw types, then
//! compiled the way `scim-gateway check` does (no certificates written),
//! from a file in a fresh temporary directory. Properties: parsing and
//! compiling end in a snapshot or in problems, never a panic; every problem
//! has a location and a message; `parse` and the file path agree on syntax.
//!
//! Inputs naming absolute paths or `..` are skipped, so that a run reads
//! and writes inside its temporary directory only.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scim_gateway::config;
use std::sync::LazyLock;

fn confined(v: &toml::Value) -> bool {
    match v {
        toml::Value::String(s) => !s.starts_with('/') && !s.starts_with('~') && !s.contains(".."),
        toml::Value::Array(items) => items.iter().all(confined),
        toml::Value::Table(t) => t.iter().all(|(k, v)| !k.contains("..") && confined(v)),
        _ => true,
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    });
    &RT
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = config::parse(text, "fuzz.toml");
    let Ok(value) = text.parse::<toml::Table>() else {
        return;
    };
    if !value.iter().all(|(_, v)| confined(v)) {
        return;
    }
    let Ok(_) = parsed else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, text).expect("the config file");
    let _guard = runtime().enter();
    if let Err(problems) = config::check(&path) {
        assert!(!problems.0.is_empty(), "a failure without problems");
        for p in &problems.0 {
            assert!(!p.location.is_empty() && !p.message.is_empty(), "{p:?}");
        }
    }
});
