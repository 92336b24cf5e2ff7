//! The compile step for how the shared Redis connection is reached:
//! `[limits.redis_tls]` (files read and checked now, so a missing or
//! unreadable file is a config error naming its path) and
//! `[limits.redis_sentinel]` (the master's name from `redis_url`'s host)
//! and `[limits.redis_auth]` (the password from the environment or a file).
//! No message here ever holds the URL's credentials or key material.
use super::{duration, resolve, secret, Problems};
use crate::config::raw::{
    RedisAuthSection, RedisSentinelSection, RedisTlsSection, SharedLimitsSection,
};
use crate::redis_conn::{RedisAuth, RedisLink, RedisTls, SentinelSettings};
use std::path::Path;

/// `[limits.redis_tls]` and `[limits.redis_sentinel]` for `url`.
pub(super) fn redis_link(
    l: &SharedLimitsSection,
    url: &str,
    base_dir: &Path,
    p: &mut Problems,
) -> Option<RedisLink> {
    let sentinel = match &l.redis_sentinel {
        None => None,
        Some(s) => Some(sentinel(s, url, p)?),
    };
    let tls = match &l.redis_tls {
        None => None,
        Some(t) => {
            let any_tls = is_tls(url)
                || sentinel
                    .as_ref()
                    .is_some_and(|s| s.sentinels.iter().any(|u| is_tls(u)));
            if !any_tls {
                p.add(
                    "limits.redis_tls",
                    "applies to rediss:// connections; redis_url (and every sentinel) is redis://",
                );
                return None;
            }
            Some(tls(t, base_dir, p)?)
        }
    };
    let auth = match &l.redis_auth {
        None => None,
        Some(a) => Some(auth(a, base_dir, p)?),
    };
    Some(RedisLink {
        tls,
        sentinel,
        auth,
    })
}

fn auth(a: &RedisAuthSection, base_dir: &Path, p: &mut Problems) -> Option<RedisAuth> {
    let password = secret(
        a.password_env.as_deref(),
        a.password_file.as_deref(),
        base_dir,
        p,
        "limits.redis_auth",
        "password",
    )?;
    Some(RedisAuth {
        username: a.username.clone(),
        password,
    })
}

fn is_tls(url: &str) -> bool {
    url.get(..9)
        .is_some_and(|s| s.eq_ignore_ascii_case("rediss://"))
}

fn tls(t: &RedisTlsSection, base_dir: &Path, p: &mut Problems) -> Option<RedisTls> {
    let read = |key: &str, file: &str, p: &mut Problems| {
        let path = resolve(base_dir, file);
        match std::fs::read(&path) {
            Ok(bytes) => Some((path, bytes)),
            Err(e) => {
                p.add(
                    format!("limits.redis_tls.{key}"),
                    format!("cannot read {}: {e}", path.display()),
                );
                None
            }
        }
    };
    let mut ok = true;
    let ca_pem = match &t.ca_file {
        None => None,
        Some(file) => {
            let (path, bytes) = read("ca_file", file, p)?;
            if let Err(e) = crate::tls::load_certs(&path) {
                p.add("limits.redis_tls.ca_file", e);
                ok = false;
            }
            Some(bytes)
        }
    };
    let client = match (&t.client_cert_file, &t.client_key_file) {
        (None, None) => None,
        (Some(cert), Some(key)) => {
            let (cert_path, cert) = read("client_cert_file", cert, p)?;
            let (key_path, key) = read("client_key_file", key, p)?;
            if let Err(e) = crate::tls::load_certs(&cert_path) {
                p.add("limits.redis_tls.client_cert_file", e);
                ok = false;
            }
            // The message names the file, never the key's bytes.
            if let Err(e) = crate::tls::load_key(&key_path) {
                p.add("limits.redis_tls.client_key_file", e);
                ok = false;
            }
            Some((cert, key))
        }
        _ => {
            p.add(
                "limits.redis_tls",
                "set both client_cert_file and client_key_file, or neither",
            );
            return None;
        }
    };
    ok.then_some(RedisTls { ca_pem, client })
}

fn sentinel(s: &RedisSentinelSection, url: &str, p: &mut Problems) -> Option<SentinelSettings> {
    let mut ok = true;
    if s.sentinels.is_empty() {
        p.add(
            "limits.redis_sentinel.sentinels",
            "name at least one sentinel, e.g. [\"redis://10.0.0.1:26379\"] (three for a quorum)",
        );
        ok = false;
    }
    for (i, u) in s.sentinels.iter().enumerate() {
        let lower = u.to_ascii_lowercase();
        if !lower.starts_with("redis://") && !lower.starts_with("rediss://") {
            p.add(
                format!("limits.redis_sentinel.sentinels[{i}]"),
                "must be a redis:// or rediss:// URL",
            );
            ok = false;
        }
    }
    let master_name = master_name(url);
    if master_name.is_none() {
        p.add(
            "limits.redis_url",
            "with [limits.redis_sentinel], the host of redis_url is the master's name (as in \
             `sentinel monitor NAME`), without a port: e.g. \"redis://scimgw/0\"",
        );
        ok = false;
    }
    let poll = duration(p, "limits.redis_sentinel.poll", s.poll.as_deref(), "1s")?;
    if poll.is_zero() {
        p.add("limits.redis_sentinel.poll", "must be more than zero");
        ok = false;
    }
    ok.then_some(())?;
    Some(SentinelSettings {
        master_name: master_name?,
        sentinels: s.sentinels.clone(),
        poll,
    })
}

/// The host of `redis[s]://[credentials@]host[/db]`, when there is one and
/// no port.
fn master_name(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, after)| after);
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty() && !host.contains(':') && !host.contains('[')).then(|| host.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::sync::Arc;

    fn pem(der: &[u8]) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
    }

    #[tokio::test]
    async fn a_reload_keeps_the_connection_unless_a_tls_file_changed() {
        use crate::tls::test_pki::TestCa;
        let dir = std::env::temp_dir().join(format!("scimgw-redis-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, pem(TestCa::root("one").cert.as_ref())).unwrap();
        let text = r#"
[server]
listen = "127.0.0.1:0"
plaintext = true

[limits]
backend = "redis"
redis_url = "rediss://:hunter2@127.0.0.1:1/0"

[limits.redis_tls]
ca_file = "ca.pem"

[upstreams.store]
kind = "builtin"

[[tenants]]
id = "acme"
hosts = ["acme.example"]
upstream = "store"
[[tenants.tokens]]
name = "okta"
hash = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
"#;
        let source = dir.join("gw.toml");
        let raw = super::super::parse(text, "gw.toml").unwrap();
        let first = super::super::compile(&raw, &source, None).unwrap();
        let second = super::super::compile(&raw, &source, Some(&first)).unwrap();
        let shared = |s: &crate::snapshot::Snapshot| s.shared_limits.clone().unwrap();
        assert!(Arc::ptr_eq(&shared(&first), &shared(&second)), "kept");
        let link = shared(&first).shared().link().clone();
        assert!(link.tls.unwrap().ca_pem.is_some());
        assert!(!format!("{:?}", shared(&first)).contains("hunter2"));
        // A rotated CA file: a new connection with the new contents.
        std::fs::write(&ca, pem(TestCa::root("two").cert.as_ref())).unwrap();
        let third = super::super::compile(&raw, &source, Some(&second)).unwrap();
        assert!(!Arc::ptr_eq(&shared(&second), &shared(&third)), "remade");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sentinel_and_tls_keys_are_checked_with_their_names() {
        let text = r#"
[server]
listen = "127.0.0.1:0"
plaintext = true

[limits]
backend = "redis"
redis_url = "redis://scimgw:6379/0"

[limits.redis_sentinel]
sentinels = ["http://10.0.0.1:26379"]
poll = "0s"

[limits.redis_tls]
client_cert_file = "c.pem"
"#;
        let raw = super::super::parse(text, "gw.toml").unwrap();
        let errors = super::super::compile(&raw, Path::new("/nonexistent/gw.toml"), None)
            .err()
            .unwrap()
            .to_string();
        for expected in [
            "limits.redis_url",
            "limits.redis_sentinel.sentinels[0]",
            "limits.redis_sentinel.poll",
        ] {
            assert!(errors.contains(expected), "{expected} missing: {errors}");
        }
    }

    #[test]
    fn the_master_name_is_the_urls_host_without_a_port() {
        assert_eq!(master_name("redis://scimgw/0").as_deref(), Some("scimgw"));
        assert_eq!(
            master_name("rediss://:p@ss/w@mymaster").as_deref(),
            Some("mymaster")
        );
        assert_eq!(master_name("redis://scimgw:6379/0"), None);
        assert_eq!(master_name("redis:///0"), None);
        assert_eq!(master_name("scimgw"), None);
        assert!(is_tls("REDISS://h") && !is_tls("redis://h") && !is_tls("r"));
    }
}
