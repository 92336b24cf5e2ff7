//! What the shared Redis connection is made of: the address and key
//! settings every user reads ([`RedisSettings`]), and how to reach the
//! server ([`RedisLink`]: TLS files, Sentinel). Both compare by value so
//! that a reload with unchanged settings keeps the live connection, and
//! neither prints a secret (the URL's password, the client key).
use std::time::Duration;

/// Where the shared state is, and what its users need to know.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://host:port/db` (or `rediss://` with TLS). With Sentinel,
    /// the host is the master's name (see [`SentinelSettings`]). May hold
    /// a password: print it only through [`redact_url`].
    pub url: String,
    /// How many gateway replicas share the limits (for the fallback).
    pub replicas: u32,
    /// The longest wait for Redis per decision (and per connection).
    pub timeout: Duration,
    /// Prefix of every key, e.g. `scimgw`.
    pub prefix: String,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &redact_url(&self.url))
            .field("replicas", &self.replicas)
            .field("timeout", &self.timeout)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// How to reach Redis beyond the URL: TLS material, Sentinel, the
/// password.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedisLink {
    /// For every `rediss://` connection (the server and the sentinels).
    pub tls: Option<RedisTls>,
    /// Ask these sentinels where the master is, instead of the URL's host.
    pub sentinel: Option<SentinelSettings>,
    /// The server's (master's) ACL user and password, instead of the URL's.
    pub auth: Option<RedisAuth>,
}

/// `AUTH [username] password` for the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisAuth {
    pub username: Option<String>,
    pub password: crate::secret::Secret,
}

/// TLS material for `rediss://`, read from the configured files (the
/// contents, not the paths, so that a reload after a certificate rotation
/// makes a new connection).
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTls {
    /// PEM CAs trusted instead of the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// A client certificate chain (PEM) and its key (PEM), for servers
    /// with `tls-auth-clients yes`.
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for RedisTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTls")
            .field("ca", &self.ca_pem.is_some())
            .field("client_certificate", &self.client.is_some())
            .finish()
    }
}

impl RedisTls {
    pub fn certificates(&self) -> redis::TlsCertificates {
        redis::TlsCertificates {
            client_tls: self
                .client
                .as_ref()
                .map(|(cert, key)| redis::ClientTlsConfig {
                    client_cert: cert.clone(),
                    client_key: key.clone(),
                }),
            root_cert: self.ca_pem.clone(),
        }
    }
}

/// Redis Sentinel: the master of `master_name` is asked of the sentinels,
/// and asked again every [`SentinelSettings::poll`] so a failover is
/// followed.
#[derive(Clone, PartialEq, Eq)]
pub struct SentinelSettings {
    /// The service name the sentinels monitor (`sentinel monitor NAME`).
    pub master_name: String,
    /// `redis://host:26379` (or `rediss://`, with a password if the
    /// sentinels need one).
    pub sentinels: Vec<String>,
    /// How often the sentinels are asked whether the master moved.
    pub poll: Duration,
}

impl std::fmt::Debug for SentinelSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sentinels: Vec<String> = self.sentinels.iter().map(|s| redact_url(s)).collect();
        f.debug_struct("SentinelSettings")
            .field("master_name", &self.master_name)
            .field("sentinels", &sentinels)
            .field("poll", &self.poll)
            .finish()
    }
}

/// The URL with any user and password replaced by `<redacted>`: the only
/// way a Redis URL reaches a log line, an error or `check-config`.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    // The last `@` ends the credentials, wherever it is: a password may
    // hold `/`, `?` or `#` unescaped, and over-redacting is harmless.
    match rest.rfind('@') {
        Some(at) => format!("{scheme}<redacted>@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_print_without_credentials() {
        for (url, shown) in [
            ("redis://:hunter2@h:6379/0", "redis://<redacted>@h:6379/0"),
            ("rediss://u:hunter2@h", "rediss://<redacted>@h"),
            ("redis://hunter2@h/1", "redis://<redacted>@h/1"),
            ("redis://h:6379", "redis://h:6379"),
            ("hunter2@h", "<redacted>@h"),
            ("redis://:pa/ss?x#hunter2@h/0", "redis://<redacted>@h/0"),
            ("redis://:p@ss:hunter2@h", "redis://<redacted>@h"),
        ] {
            assert_eq!(redact_url(url), shown);
        }
        let s = RedisSettings {
            url: "redis://:hunter2@h".into(),
            replicas: 1,
            timeout: Duration::from_millis(50),
            prefix: "p".into(),
        };
        assert!(!format!("{s:?}").contains("hunter2"));
        let tls = RedisTls {
            ca_pem: None,
            client: Some((b"cert".to_vec(), b"hunter2".to_vec())),
        };
        assert!(!format!("{tls:?}").contains("hunter2"));
        let sentinel = SentinelSettings {
            master_name: "m".into(),
            sentinels: vec!["redis://:hunter2@s:26379".into()],
            poll: Duration::from_secs(1),
        };
        assert!(!format!("{sentinel:?}").contains("hunter2"));
    }
}
