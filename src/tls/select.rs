//! Per-connection choice of the `ServerConfig` from the ClientHello's SNI
//! ([`TlsSelector`]): a tenant with its own host name can have its own
//! certificate and its own client verifier; every other name (and a
//! ClientHello without SNI) gets the default config.
use rustls::ServerConfig;
use std::collections::HashMap;
use std::sync::Arc;

/// The listener's server configs, by SNI host name.
///
/// Each config keeps its own session cache, so a session (and the client
/// certificate verified in it) is never resumed under another host's
/// verifier; rustls also refuses resumption under a different SNI.
#[derive(Debug, Clone)]
pub struct TlsSelector {
    default: Arc<ServerConfig>,
    /// Keys are lower-case host names.
    by_host: HashMap<String, Arc<ServerConfig>>,
}

// === impl TlsSelector ===

impl TlsSelector {
    /// A selector that serves `default` to every host name.
    pub fn new(default: Arc<ServerConfig>) -> Self {
        Self {
            default,
            by_host: HashMap::new(),
        }
    }

    /// Serves `config` to clients asking for `host` (case-insensitive).
    /// A later call for the same host replaces the earlier one.
    pub fn with_host(mut self, host: &str, config: Arc<ServerConfig>) -> Self {
        self.insert_host(host, config);
        self
    }

    /// Like [`TlsSelector::with_host`], in place.
    pub fn insert_host(&mut self, host: &str, config: Arc<ServerConfig>) {
        self.by_host.insert(host.to_ascii_lowercase(), config);
    }

    /// The config for a ClientHello with server name `sni`.
    pub fn config_for(&self, sni: Option<&str>) -> Arc<ServerConfig> {
        let Some(sni) = sni else {
            return self.default.clone();
        };
        let found = if sni.bytes().any(|b| b.is_ascii_uppercase()) {
            self.by_host.get(&sni.to_ascii_lowercase())
        } else {
            self.by_host.get(sni)
        };
        found.unwrap_or(&self.default).clone()
    }

    /// The config for names without an entry of their own.
    pub fn default_config(&self) -> &Arc<ServerConfig> {
        &self.default
    }

    /// The host names with a config of their own (lower case).
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        self.by_host.keys().map(String::as_str)
    }
}

impl From<Arc<ServerConfig>> for TlsSelector {
    fn from(default: Arc<ServerConfig>) -> Self {
        Self::new(default)
    }
}
