#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::config::raw::FileConfig;
use crate::secret::Secret;
use crate::upstream::UpstreamAuth;
use std::time::Duration;

const HASH: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn toml(text: &str) -> FileConfig {
    super::parse(text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn good() -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
plaintext = true

[upstreams.store]
kind = "builtin"

[upstreams.legacy]
kind = "http"
url = "http://127.0.0.1:9/scim/v2/"

[[tenants]]
id = "acme"
hosts = ["ACME.example"]
upstream = "store"
[[tenants.tokens]]
name = "okta"
hash = "{HASH}"
"#
    )
}

#[tokio::test]
async fn a_good_config_compiles() {
    let s = compile(&toml(&good()), Path::new("/etc/gw/test.toml"), None).unwrap();
    assert_eq!(s.server.base_path, "/scim/v2");
    assert_eq!(s.server.request_timeout, Duration::from_secs(60));
    assert!(s.tenant_by_host("acme.example:443").is_some());
    let legacy = &s.upstreams["legacy"];
    match &legacy.target {
        UpstreamTarget::Http(http) => {
            assert_eq!(http.base().to_string(), "http://127.0.0.1:9/scim/v2")
        }
        UpstreamTarget::Builtin(_) => panic!("http expected"),
    }
}

#[tokio::test]
async fn builtin_stores_survive_recompiles() {
    let raw = toml(&good());
    let first = compile(&raw, Path::new("t.toml"), None).unwrap();
    let second = compile(&raw, Path::new("t.toml"), Some(&first)).unwrap();
    let store = |s: &Snapshot| match &s.upstreams["store"].target {
        UpstreamTarget::Builtin(st) => st.clone(),
        UpstreamTarget::Http { .. } => panic!(),
    };
    assert!(Arc::ptr_eq(&store(&first), &store(&second)));
    let third = compile(&raw, Path::new("t.toml"), None).unwrap();
    assert!(!Arc::ptr_eq(&store(&first), &store(&third)));
}

#[tokio::test]
async fn three_mistakes_are_all_reported() {
    let text = good()
        .replace("listen = \"127.0.0.1:0\"", "listen = \"localhost\"")
        .replace("upstream = \"store\"", "upstream = \"stor\"")
        .replace(HASH, "md5:abc");
    let e = compile(&toml(&text), Path::new("gateway.toml"), None).unwrap_err();
    let text = e.to_string();
    assert_eq!(e.0.len(), 3, "{text}");
    assert!(text.contains("gateway.toml: server.listen"), "{text}");
    assert!(
        text.contains(
            "gateway.toml: tenants[0] (id \"acme\").upstream: no upstream named \"stor\""
        ),
        "{text}"
    );
    assert!(
        text.contains("gateway.toml: tenants[0] (id \"acme\").tokens[0].hash"),
        "{text}"
    );
}

#[test]
fn syntax_and_unknown_keys_have_line_and_column() {
    let e = super::parse("[server]\nlisten = \"x\"\nlisen = 1\n", "g.toml").unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("g.toml:3:1"), "{text}");
    assert!(text.contains("lisen"), "{text}");
}

#[tokio::test]
async fn each_check_names_its_key() {
    let cases: Vec<(String, &str)> = vec![
        (good().replace("plaintext = true", ""), "server.tls"),
        (good().replace("plaintext = true", "plaintext = true\n[server.tls]\ncert_file = \"a\"\nkey_file = \"b\""), "server.plaintext"),
        (good().replace("[server]", "[server]\nrequest_timeout = \"soon\""), "server.request_timeout"),
        (good().replace("[server]", "[server]\nmax_connections = 0"), "server.max_connections"),
        (good().replace("[server]", "[server]\nbase_path = \"scim/\""), "server.base_path"),
        (good().replace("id = \"acme\"", "id = \"Acme Corp\""), ".id"),
        (good().replace("url = \"http://127.0.0.1:9/scim/v2/\"", "url = \"ftp://x\""), "upstreams.legacy.url"),
        (good().replace("url = \"http://127.0.0.1:9/scim/v2/\"", ""), "upstreams.legacy.url"),
        (good().replace("kind = \"builtin\"", "kind = \"magic\""), "upstreams.store.kind"),
        (good().replace("kind = \"builtin\"", "kind = \"builtin\"\nurl = \"http://x\""), "upstreams.store.url"),
        (good().replace("url = \"http://127.0.0.1:9/scim/v2/\"", "url = \"http://x\"\nca_file = \"/nonexistent/ca.pem\""), "upstreams.legacy.ca_file"),
        (good().replace("url = \"http://127.0.0.1:9/scim/v2/\"", "url = \"http://x\"\n[upstreams.legacy.auth]\nkind = \"bearer\"\ntoken_env = \"SCIMGW_TEST_UNSET_VAR\""), "token_env"),
        (good().replace("url = \"http://127.0.0.1:9/scim/v2/\"", "url = \"http://x\"\n[upstreams.legacy.auth]\nkind = \"basic\"\npassword_file = \"/nonexistent\""), "username"),
        (good().replace("hosts = [\"ACME.example\"]", "hosts = [\"https://acme.example\"]"), "hosts[0]"),
        (format!("{}\n[[tenants]]\nid = \"other\"\nhosts = [\"acme.example\"]\nupstream = \"store\"\n[[tenants.tokens]]\nname = \"t\"\nhash = \"{HASH}\"\n", good()), "already belongs"),
        (format!("{}\n[[tenants]]\nid = \"acme\"\nupstream = \"store\"\n[[tenants.tokens]]\nname = \"t\"\nhash = \"{HASH}\"\n", good()), "used twice"),
        (format!("{}\n[[tenants.tokens]]\nname = \"okta\"\nhash = \"{HASH}\"\n", good()), "tokens[1].name"),
        (good().replace(&format!("[[tenants.tokens]]\nname = \"okta\"\nhash = \"{HASH}\""), ""), "tokens"),
    ];
    for (text, needle) in cases {
        let e = compile(&toml(&text), Path::new("gateway.toml"), None)
            .map(|_| ())
            .unwrap_err();
        assert!(
            e.to_string().contains(needle),
            "expected {needle:?} in:\n{e}\n--- config:\n{text}"
        );
    }
}

#[tokio::test]
async fn secrets_come_from_files_and_never_print() {
    let dir = std::env::temp_dir().join(format!("scimgw-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), "s3cr3t-upstream-token\n").unwrap();
    let text = good().replace(
        "url = \"http://127.0.0.1:9/scim/v2/\"",
        "url = \"http://x\"\n[upstreams.legacy.auth]\nkind = \"bearer\"\ntoken_file = \"token\"",
    );
    let s = compile(&toml(&text), &dir.join("gateway.toml"), None).unwrap();
    let auth = &s.upstreams["legacy"].auth;
    assert!(matches!(auth, UpstreamAuth::Bearer(t) if *t == Secret::new("s3cr3t-upstream-token")));
    assert!(!format!("{s:?}").contains("s3cr3t"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn checking_a_dev_cert_config_writes_nothing() {
    let dir = std::env::temp_dir().join(format!("scimgw-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let text = good().replace(
        "plaintext = true",
        "[server.tls]\ncert_file = \"certs/server.crt\"\nkey_file = \"certs/server.key\"\ndev_certs = true",
    );
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    assert!(super::check(&path).is_ok());
    assert!(!dir.join("certs").exists(), "check-config made no files");
    let s = super::load(&path, None).unwrap();
    assert!(
        s.server.tls.is_some() && dir.join("certs/server.crt").exists(),
        "start-up makes them"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_audit_log_is_on_by_default_beside_the_config() {
    let s = compile(&toml(&good()), Path::new("/etc/gw/test.toml"), None).unwrap();
    let audit = s.audit.as_ref().expect("on by default");
    assert_eq!(audit.dir, Path::new("/etc/gw/audit"));
    let tenant = s.tenant("acme").unwrap();
    assert!(!tenant.journal.events, "no sink, no events");
    let off = format!("[audit]\nenabled = false\n{}", good());
    assert!(compile(&toml(&off), Path::new("t.toml"), None)
        .unwrap()
        .audit
        .is_none());
}

#[tokio::test]
async fn audit_and_event_problems_are_all_reported_with_their_keys() {
    let text = format!(
        "[audit]\nenabled = false\n[events.kafka]\nbrokers = []\ntopic = \"t\"\n{}\n[[tenants.webhooks]]\nname = \"hr\"\nurl = \"ftp://x\"\n[[tenants.webhooks]]\nname = \"hr\"\nurl = \"http://127.0.0.1:9/h\"\nsecret_env = [\"SCIMGW_TEST_UNSET_SECRET\"]\n[tenants.okta_hook]\n",
        good()
    );
    let errors = compile(&toml(&text), Path::new("t.toml"), None)
        .unwrap_err()
        .to_string();
    for expected in [
        "events.kafka",
        "tenants[0] (id \"acme\").webhooks[0]",
        "expected an http:// or https:// URL",
        "at least one signing secret",
        "webhook name \"hr\" is used twice",
        "okta_hook",
        "set exactly one of secret_env or secret_file",
        "need the audit journal",
    ] {
        assert!(errors.contains(expected), "{expected} in:\n{errors}");
    }
    let bad = format!("[audit]\nfsync_interval = \"2m\"\nqueue = 0\n{}", good());
    let errors = compile(&toml(&bad), Path::new("t.toml"), None)
        .unwrap_err()
        .to_string();
    assert!(errors.contains("audit.fsync_interval"), "{errors}");
    assert!(errors.contains("audit.queue"), "{errors}");
}

#[tokio::test]
async fn grant_credentials_name_their_method() {
    let grant = |credentials: &str| {
        format!(
            "{}[[tenants.grants]]\ncredentials = [{credentials}]\nresources = [\"*\"]\nmethods = [\"*\"]\n",
            good()
        )
    };
    let ok =
        grant("\"static:okta\", \"jwt:0oa1\", \"introspection:tool\", \"cert:CN=okta,O=Acme\"");
    compile(&toml(&ok), Path::new("t.toml"), None).unwrap();
    // A bare name is an error that says how to write it; so is a method
    // the gateway does not have. Both are reported at once.
    let bad = grant("\"okta\", \"token:okta\"");
    let errors = compile(&toml(&bad), Path::new("t.toml"), None)
        .unwrap_err()
        .to_string();
    for expected in [
        "tenants[0] (id \"acme\").grants[0].credentials[0]: \"okta\" does not say how the client authenticates",
        "\"static:okta\", \"jwt:okta\", \"introspection:okta\", \"cert:okta\"",
        "tenants[0] (id \"acme\").grants[0].credentials[1]: \"token:okta\"",
    ] {
        assert!(errors.contains(expected), "{expected} in:\n{errors}");
    }
}

#[tokio::test]
async fn crl_expired_is_deny_or_allow() {
    let text = format!(
        "{}[tenants.mtls]\nca_files = [\"/nonexistent/ca.pem\"]\ncrl_expired = \"sometimes\"\n",
        good()
    );
    let errors = compile(&toml(&text), Path::new("t.toml"), None)
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("tenants[0] (id \"acme\").mtls.crl_expired: \"sometimes\" is not \"deny\""),
        "{errors}"
    );
}

/// The shipped quickstart config's commented Entra and Okta tenants are a
/// valid config once uncommented, with the dialect each names.
#[tokio::test]
async fn the_quickstart_idp_tenants_compile_uncommented() {
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/gateway.toml"),
    )
    .unwrap();
    let (head, example) = shipped
        .split_once("# --- An identity provider's tenant")
        .expect("the quickstart config has the IdP example");
    // The prose ends at the first bare "#" line; the config follows.
    let (_, commented) = example.split_once("\n#\n").unwrap();
    let uncommented: Vec<&str> = commented
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l.trim_start_matches('#')))
        .collect();
    let text = format!("{head}\n{}\n", uncommented.join("\n"));
    let parsed = toml(&text);
    let dialects: Vec<(&str, Option<&str>)> = parsed
        .tenants
        .iter()
        .map(|t| {
            (
                t.id.as_str(),
                t.dialect.as_ref().and_then(|d| d.profile.as_deref()),
            )
        })
        .collect();
    assert!(dialects.contains(&("entra", Some("entra"))), "{dialects:?}");
    assert!(dialects.contains(&("okta", Some("okta"))), "{dialects:?}");
    let dir = std::env::temp_dir().join(format!("scimgw-quickstart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("config")).unwrap();
    let path = dir.join("config/gateway.toml");
    std::fs::write(&path, &text).unwrap();
    let checked = super::check(&path);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(checked.is_ok(), "{checked:?}");
}

#[tokio::test]
async fn traces_are_off_by_default_and_checked_when_configured() {
    let s = compile(&toml(&good()), Path::new("t.toml"), None).unwrap();
    assert!(s.traces.is_none());
    let on = format!(
        "[telemetry.traces]\nendpoint = \"http://127.0.0.1:4318/v1/traces\"\nca_file = \"ca.pem\"\n{}",
        good()
    );
    let s = compile(&toml(&on), Path::new("/etc/gw/t.toml"), None).unwrap();
    let t = s.traces.unwrap();
    assert_eq!(t.endpoint, "http://127.0.0.1:4318/v1/traces");
    assert_eq!((t.sampling_ratio, t.parent_based), (1.0, true));
    assert_eq!((t.max_queue_spans, t.max_export_batch_spans), (4096, 512));
    assert_eq!(t.export_interval, Duration::from_secs(1));
    assert_eq!(t.export_timeout, Duration::from_secs(10));
    assert_eq!(t.service_name, "scim-gateway");
    assert_eq!(t.ca_file.as_deref(), Some(Path::new("/etc/gw/ca.pem")));
    let off = format!("[telemetry.traces]\nenabled = false\n{}", good());
    assert!(compile(&toml(&off), Path::new("t.toml"), None)
        .unwrap()
        .traces
        .is_none());
    let bad = format!(
        "[telemetry.traces]\nendpoint = \"grpc://x\"\nsampling_ratio = 1.5\nmax_queue_spans = 0\nexport_timeout = \"0s\"\n{}",
        good()
    );
    let errors = compile(&toml(&bad), Path::new("t.toml"), None)
        .unwrap_err()
        .to_string();
    for key in [
        "endpoint",
        "sampling_ratio",
        "max_queue_spans",
        "export_timeout",
    ] {
        assert!(
            errors.contains(&format!("telemetry.traces.{key}")),
            "{key}: {errors}"
        );
    }
    let missing = format!("[telemetry.traces]\n{}", good());
    let errors = compile(&toml(&missing), Path::new("t.toml"), None)
        .unwrap_err()
        .to_string();
    assert!(errors.contains("telemetry.traces.endpoint"), "{errors}");
}

#[tokio::test]
async fn drift_reports_need_the_audit_journal_and_sane_settings() {
    let on = format!(
        "{}\n[tenants.drift]\ninterval = \"24h\"\nmax_rate = 5\n",
        good()
    );
    let s = compile(&toml(&on), Path::new("t.toml"), None).unwrap();
    let drift = s.tenant("acme").unwrap().journal.drift.clone().unwrap();
    assert_eq!(drift.interval, Some(std::time::Duration::from_secs(86_400)));
    assert_eq!((drift.max_rate, drift.page_size), (5.0, 100));
    let off = format!("[audit]\nenabled = false\n{on}");
    let errors = compile(&toml(&off), Path::new("t.toml"), None)
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("drift reports keep their digests beside the audit journal"),
        "{errors}"
    );
    let bad = format!(
        "{}\n[tenants.drift]\nmax_rate = 0\npage_size = 5000\ninterval = \"soon\"\n",
        good()
    );
    let errors = compile(&toml(&bad), Path::new("t.toml"), None)
        .unwrap_err()
        .to_string();
    for key in ["drift.max_rate", "drift.page_size", "drift.interval"] {
        assert!(errors.contains(key), "{key}: {errors}");
    }
}

#[tokio::test]
async fn a_shadow_compiles_and_a_cutover_swaps_the_two_roles() {
    let shadowed = format!(
        "{}[tenants.shadow]\nupstream = \"legacy\"\nignore = [\"Title\"]\n",
        good()
    );
    let s = compile(&toml(&shadowed), Path::new("/etc/gw/test.toml"), None).unwrap();
    let t = s.tenant("acme").unwrap();
    let shadow = t.shadow.as_ref().unwrap();
    assert_eq!(t.upstream.name, "store");
    assert_eq!(shadow.tenant.upstream.name, "legacy");
    assert_eq!(shadow.settings.upstream, "legacy");
    assert_eq!(shadow.settings.ignore, vec!["title".to_string()]);
    assert!(!shadow.settings.reads && !shadow.settings.cutover);
    assert_eq!(shadow.settings.queue, 10_000);
    let cut = shadowed.replace(
        "upstream = \"legacy\"\n",
        "upstream = \"legacy\"\ncutover = true\n",
    );
    let s = compile(&toml(&cut), Path::new("/etc/gw/test.toml"), None).unwrap();
    let t = s.tenant("acme").unwrap();
    assert_eq!(
        t.upstream.name, "legacy",
        "the IdP is answered by the shadow"
    );
    let shadow = t.shadow.as_ref().unwrap();
    assert_eq!(shadow.tenant.upstream.name, "store");
    assert_eq!(shadow.settings.upstream, "store");

    for (bad, expected) in [
        ("upstream = \"nope\"\n", "no upstream named \"nope\""),
        (
            "upstream = \"store\"\n",
            "another upstream than the tenant's own",
        ),
        (
            "upstream = \"legacy\"\nqueue = 0\n",
            "between 1 and 1000000",
        ),
        (
            "upstream = \"legacy\"\nignore = [\"a b\"]\n",
            "is not an attribute path",
        ),
        (
            "upstream = \"legacy\"\nmapping = \"missing.toml\"\n",
            "shadow.schema.mapping",
        ),
    ] {
        let text = format!("{}[tenants.shadow]\n{bad}", good());
        let e = compile(&toml(&text), Path::new("t.toml"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(expected), "{bad}: {e}");
    }
    let off = format!("[audit]\nenabled = false\n{shadowed}");
    let e = compile(&toml(&off), Path::new("t.toml"), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs the audit journal"), "{e}");
    let replicas = shadowed.replace(
        "[[tenants]]",
        "[limits]\nbackend = \"local\"\nreplicas = 2\n\n[[tenants]]",
    );
    let e = compile(&toml(&replicas), Path::new("t.toml"), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("shadow the tenant from one gateway"), "{e}");
}
