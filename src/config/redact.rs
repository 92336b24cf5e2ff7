//! The loaded config file as the admin API shows it: its hash, when it was
//! read, and the document with every secret replaced.
//!
//! Secrets are never written inline in the file (they are named by `*_env`
//! or `*_file`, or stored as hashes), but the redaction does not rely on
//! that: the value of every key whose name says secret (token, hash,
//! password, secret, key, credential, passphrase), whatever its type, is
//! replaced, and so are the credentials of every URL anywhere in the
//! document (`redis://user:pass@host` keeps `redis://<redacted>@host`).
//! Only the names of environment variables and files (`*_env`, `*_file`)
//! stay: they say where a secret is, never what it is. Done once at load,
//! so the unredacted document is never kept.
use crate::snapshot::Loaded;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// What replaces a secret.
pub(crate) const REDACTED: &str = "<redacted>";

/// Words in a key's name that mark its value as secret.
const SECRET_WORDS: [&str; 7] = [
    "token",
    "hash",
    "password",
    "secret",
    "key",
    "credential",
    "passphrase",
];

/// The admin API's view of the file `text`, read now.
pub(crate) fn loaded(text: &str) -> Loaded {
    let hash = Sha256::digest(text.as_bytes())
        .iter()
        .fold(String::from("sha256:"), |mut s, b| {
            use std::fmt::Write;
            let _ = write!(s, "{b:02x}");
            s
        });
    let document = toml::from_str::<toml::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_value(v).ok())
        .map_or(Value::Null, redact);
    Loaded {
        hash,
        at: Some(std::time::SystemTime::now()),
        redacted: Arc::new(document),
    }
}

/// `value` with every secret replaced (see the module docs).
pub(crate) fn redact(value: Value) -> Value {
    redact_in(value, false)
}

/// `strict`: inside a table or list whose own key says secret (`tokens`,
/// `[upstreams.X.auth]`'s secrets): only `name` and the `*_env`/`*_file`
/// references stay readable there.
fn redact_in(value: Value, strict: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let secret = is_secret_key(&k);
                    let container = v.is_object()
                        || v.as_array()
                            .is_some_and(|a| a.iter().all(Value::is_object) && !a.is_empty());
                    let v = if container {
                        redact_in(v, strict || secret)
                    } else if secret || (strict && !is_reference(&k) && k != "name") {
                        Value::String(REDACTED.into())
                    } else {
                        redact_in(v, strict)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| redact_in(v, strict)).collect())
        }
        Value::String(s) => Value::String(without_url_credentials(&s)),
        other => other,
    }
}

/// A key that names where a secret is, never the secret.
fn is_reference(key: &str) -> bool {
    key.ends_with("_env") || key.ends_with("_file")
}

/// Whether a key's value is secret: a secret word in its name, unless it
/// only names where the secret is (`*_env`, `*_file`).
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    if is_reference(&key) {
        return false;
    }
    SECRET_WORDS.iter().any(|w| key.contains(w))
}

/// `scheme://user:pass@host/path?query#f` →
/// `scheme://<redacted>@host/path?<redacted>#f`: the credentials and the
/// query (where a receiver's token often sits, e.g. a webhook URL's) go;
/// any string that is not a URL stays unchanged.
pub(crate) fn without_url_credentials(s: &str) -> String {
    let Some(scheme_end) = s.find("://") else {
        return s.to_string();
    };
    let (scheme, rest) = s.split_at(scheme_end + 3);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = match authority.rfind('@') {
        Some(at) => format!("{REDACTED}{}", authority.get(at..).unwrap_or("")),
        None => authority.to_string(),
    };
    let tail = match tail.find('?') {
        Some(q) => {
            let fragment = tail
                .get(q..)
                .and_then(|t| t.find('#'))
                .map_or("", |f| tail.get(q + f..).unwrap_or(""));
            format!("{}?{REDACTED}{fragment}", tail.get(..q).unwrap_or(""))
        }
        None => tail.to_string(),
    };
    format!("{scheme}{host}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_url_credentials_are_replaced() {
        let text = r#"
[admin]
listen = "0.0.0.0:9464"
token_hash = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
[limits]
backend = "redis"
redis_url = "redis://user:hunter2@redis.internal:6379/0"
[limits.redis_auth]
password_env = "REDIS_PASSWORD"
[upstreams.app]
kind = "http"
urls = ["https://svc:s3cr3t@a.example/scim", "https://b.example/scim"]
[upstreams.app.auth]
client_secret = "inline-client-secret"
client_secret_env = "APP_SECRET"
[[tenants]]
id = "acme"
[[tenants.tokens]]
name = "okta"
hash = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
[tenants.secrets]
anything = "inline-under-a-secret-table"
"#;
        let loaded = loaded(text);
        let shown = loaded.redacted.to_string();
        for secret in [
            "aaaaaaaa",
            "bbbbbbbb",
            "hunter2",
            "s3cr3t",
            "inline-client-secret",
            "inline-under-a-secret-table",
        ] {
            assert!(!shown.contains(secret), "{secret} shown in {shown}");
        }
        // What is not secret stays readable.
        assert!(
            shown.contains("redis://<redacted>@redis.internal:6379/0"),
            "{shown}"
        );
        assert!(shown.contains("https://b.example/scim"), "{shown}");
        assert!(shown.contains("REDIS_PASSWORD"), "{shown}");
        assert!(
            shown.contains("\"okta\""),
            "a token's name is not secret: {shown}"
        );
        assert!(loaded.hash.starts_with("sha256:") && loaded.hash.len() == 71);
    }

    #[test]
    fn strings_without_credentials_are_kept() {
        for s in [
            "plain",
            "https://a.example/x@y",
            "mailto:a@b",
            "http://h:1/p#f",
        ] {
            assert_eq!(without_url_credentials(s), s);
        }
        assert_eq!(
            without_url_credentials("https://hooks.example/in?token=abc@d#top"),
            "https://hooks.example/in?<redacted>#top"
        );
        assert_eq!(
            without_url_credentials("rediss://:pw@h:6380"),
            "rediss://<redacted>@h:6380"
        );
    }
}
