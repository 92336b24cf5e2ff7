//! What a config declared for several replicas (`[limits] replicas` > 1)
//! must not hold, and what it should know: a `builtin` upstream is refused
//! (each replica would keep its own in-memory store, and they would
//! silently diverge); without the Redis backend, what stays per process is
//! said as warnings (`check-config` prints them, `run` logs them at start
//! and on reload): limits, the response cache, write ordering and event
//! versions.
use super::Problems;
use crate::config::raw::FileConfig;

/// Checks `raw` for the replicas it declares.
pub(super) fn check(raw: &FileConfig, p: &mut Problems) {
    let Some(limits) = &raw.limits else {
        return;
    };
    let replicas = limits.replicas.unwrap_or(1);
    if replicas <= 1 {
        return;
    }
    for (name, upstream) in &raw.upstreams {
        if upstream.kind != "builtin" {
            continue;
        }
        let users: Vec<&str> = raw
            .tenants
            .iter()
            .filter(|t| t.upstream == *name)
            .map(|t| t.id.as_str())
            .collect();
        if users.is_empty() {
            continue;
        }
        p.add(
            format!("upstreams.{name}"),
            format!(
                "kind = \"builtin\" keeps its data in each gateway process: with replicas = {replicas} the tenants {users:?} would each see {replicas} diverging stores; run one `scim-gateway store` and use it as kind = \"http\""
            ),
        );
    }
    for (i, t) in raw.tenants.iter().enumerate() {
        if t.shadow.is_some() {
            p.add(
                format!("tenants[{i}] (id \"{}\").shadow", t.id),
                format!(
                    "a shadow upstream keeps its id map in the gateway process: with replicas = {replicas} each replica would map only the resources it created, and the copies of the others' would go to the wrong ids; shadow the tenant from one gateway"
                ),
            );
        }
    }
    if limits.backend == "redis" {
        return;
    }
    p.warn(
        "limits",
        format!(
            "replicas = {replicas} with backend = \"{}\": each replica enforces every rate alone (up to {replicas} times the configured rate in all), orders only its own writes to a resource, and versions events by its own clock; use backend = \"redis\"",
            limits.backend
        ),
    );
    for (i, tenant) in raw.tenants.iter().enumerate() {
        let caching = tenant
            .cache
            .as_ref()
            .is_some_and(|c| c.enabled != Some(false));
        if caching {
            p.warn(
                format!("tenants[{i}] (id \"{}\").cache", tenant.id),
                format!(
                    "a per-process cache with replicas = {replicas}: a write through one replica leaves the others serving the old answer and ETag until the TTL; use [limits] backend = \"redis\" (shared invalidation)"
                ),
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::{compile, parse};
    use std::path::Path;

    const HASH: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn config(limits: &str, upstream: &str, cache: &str) -> String {
        format!(
            r#"
[server]
listen = "127.0.0.1:0"
plaintext = true
{limits}
[upstreams.app]
{upstream}

[[tenants]]
id = "acme"
hosts = ["acme.example"]
upstream = "app"
[[tenants.tokens]]
name = "okta"
hash = "{HASH}"
{cache}
"#
        )
    }

    const HTTP: &str = "kind = \"http\"\nurl = \"http://127.0.0.1:9/scim/v2\"";
    const CACHE: &str = "[tenants.cache]\nttl = \"30s\"";

    async fn outcome(text: &str) -> Result<Vec<String>, String> {
        let raw = parse(text, "t.toml").unwrap();
        compile(&raw, Path::new("t.toml"), None)
            .map(|s| s.warnings)
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn a_builtin_store_shared_by_replicas_is_refused() {
        let text = config(
            "[limits]\nbackend = \"local\"\nreplicas = 3\n",
            "kind = \"builtin\"",
            "",
        );
        let err = outcome(&text).await.unwrap_err();
        assert!(err.contains("upstreams.app"), "{err}");
        assert!(err.contains("diverging"), "{err}");
        // One process: the builtin store is fine.
        let one = config(
            "[limits]\nbackend = \"local\"\nreplicas = 1\n",
            "kind = \"builtin\"",
            "",
        );
        assert_eq!(outcome(&one).await.unwrap(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn per_process_state_with_replicas_is_warned_about() {
        let text = config("[limits]\nbackend = \"local\"\nreplicas = 2\n", HTTP, CACHE);
        let warnings = outcome(&text).await.unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("2 times the configured rate"));
        assert!(warnings[1].contains("cache"), "{warnings:?}");
        assert!(warnings[1].contains("acme"), "{warnings:?}");
        // A disabled cache is not warned about.
        let off = config(
            "[limits]\nbackend = \"local\"\nreplicas = 2\n",
            HTTP,
            "[tenants.cache]\nenabled = false",
        );
        assert_eq!(outcome(&off).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn with_redis_nothing_is_per_process() {
        let text = config(
            "[limits]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:9\"\nreplicas = 3\n",
            HTTP,
            CACHE,
        );
        assert_eq!(outcome(&text).await.unwrap(), Vec::<String>::new());
    }
}
