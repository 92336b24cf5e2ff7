//! Raw sections of the shared Redis connection (`[limits] backend =
//! "redis"`): `[limits.redis_tls]` (the files of a `rediss://`
//! connection), `[limits.redis_sentinel]` (where the sentinels are) and
//! `[limits.redis_auth]` (the server's user and password, kept out of the
//! URL and the config file).
//! See docs/redis.md.
use serde::Deserialize;

/// `[limits.redis_tls]`: for every `rediss://` connection (the server,
/// and the sentinels and master with Sentinel). Named like an upstream's
/// TLS files.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisTlsSection {
    /// PEM bundle of CAs to trust instead of the system's roots (the
    /// operator's private CA).
    pub ca_file: Option<String>,
    /// A client certificate chain (PEM), for servers with
    /// `tls-auth-clients yes`.
    pub client_cert_file: Option<String>,
    /// The key of `client_cert_file` (PEM).
    pub client_key_file: Option<String>,
}

/// `[limits.redis_sentinel]`: the master is asked of these sentinels;
/// `redis_url`'s host is then the master's name (`sentinel monitor NAME`),
/// and its scheme, credentials and database are the master's.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisSentinelSection {
    /// `redis://host:26379` (or `rediss://`), one per sentinel.
    pub sentinels: Vec<String>,
    /// How often the sentinels are asked whether the master moved.
    /// Default `"1s"`.
    pub poll: Option<String>,
}

/// `[limits.redis_auth]`: Redis's ACL user and password (`AUTH`), for the
/// server (with Sentinel, the master); instead of a password in
/// `redis_url`. Sentinels that need a password take it in their URL.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisAuthSection {
    /// The ACL user. Default: `default`.
    pub username: Option<String>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// File holding the password.
    pub password_file: Option<String>,
}
