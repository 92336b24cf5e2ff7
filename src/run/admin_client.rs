//! The client side of the admin API, for the commands that act on a
//! running gateway (`scim-gateway guardrail`, `scim-gateway drift`): one
//! bounded JSON call to `/admin/v1/...` on the admin listener, with the
//! admin token when one is given.
//!
//! Where the listener is: `--admin URL`, else the `[admin] listen` of the
//! config file (an unspecified address such as `0.0.0.0` is reached on
//! loopback). The token is read from a file, never from the command line
//! (where `ps` would show it).
use crate::config::ConfigHandle;
use crate::http_client::build_http_client;
use bytes::Bytes;
use http::{header, Method, Request};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The largest answer read (a long list of held operations fits).
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// The options that name a running gateway's admin API (flattened into
/// each command that uses it).
#[derive(Debug, Clone, clap::Args)]
pub struct AdminArgs {
    /// The admin listener's URL, e.g. `http://127.0.0.1:9090`.
    #[arg(long, value_name = "URL", env = "SCIM_GATEWAY_ADMIN")]
    pub admin: Option<String>,
    /// The gateway's config file, to find its `[admin] listen` (when
    /// --admin is not given).
    #[arg(long, value_name = "PATH", env = "SCIM_GATEWAY_CONFIG")]
    pub config: Option<PathBuf>,
    /// A file holding the admin API token (`[admin] token_hash`).
    #[arg(long, value_name = "FILE", env = "SCIM_GATEWAY_ADMIN_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
}

/// A running gateway's admin API: its base URL and token.
#[derive(Clone)]
pub struct AdminTarget {
    /// E.g. `http://127.0.0.1:9090` (no trailing slash).
    pub base: String,
    token: Option<String>,
    /// Bound of one call, connection included.
    pub timeout: Duration,
}

impl std::fmt::Debug for AdminTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminTarget")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl AdminTarget {
    /// The admin API the command's options name.
    pub fn from_args(args: &AdminArgs) -> Result<AdminTarget, String> {
        AdminTarget::resolve(
            args.admin.as_deref(),
            args.config.as_deref(),
            args.token_file.as_deref(),
        )
    }

    /// The admin API at `admin` (a URL), else at the `[admin] listen` of
    /// `config`; with the token in `token_file` (trailing newline ignored).
    pub fn resolve(
        admin: Option<&str>,
        config: Option<&Path>,
        token_file: Option<&Path>,
    ) -> Result<AdminTarget, String> {
        let base = match (admin, config) {
            (Some(url), _) => {
                let url = url.trim_end_matches('/');
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(format!(
                        "--admin {url:?}: give the admin listener's URL, e.g. http://127.0.0.1:9090"
                    ));
                }
                url.to_string()
            }
            (None, Some(path)) => {
                let handle = ConfigHandle::new(path)
                    .map_err(|e| format!("the config {} has problems:\n{e}", path.display()))?;
                let Some(addr) = handle.load().admin else {
                    return Err(format!(
                        "the config {} has no [admin] listen: the command talks to the running gateway's admin API",
                        path.display()
                    ));
                };
                format!("http://{}", reachable(addr))
            }
            (None, None) => return Err("give --admin URL or --config FILE".into()),
        };
        let token = match token_file {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?;
                let token = text.trim_end_matches(['\n', '\r']).to_string();
                if token.is_empty() {
                    return Err(format!("the token file {} is empty", path.display()));
                }
                Some(token)
            }
        };
        Ok(AdminTarget {
            base,
            token,
            timeout: Duration::from_secs(30),
        })
    }

    /// `GET /admin/v1{path}`: the answer's JSON when 200, else the API's
    /// `error` with the status.
    pub async fn get(&self, path: &str) -> Result<Value, String> {
        let (status, answer) = self.call(Method::GET, path, None).await?;
        if status != 200 {
            return Err(format!(
                "{status}: {}",
                answer["error"].as_str().unwrap_or("the admin API refused")
            ));
        }
        Ok(answer)
    }

    /// GETs `path` and prints it: pretty JSON with `json`, else as
    /// `table` renders it. Returns what it got, for the caller's verdict.
    pub async fn show(
        &self,
        path: &str,
        json: bool,
        table: impl Fn(&Value) -> String,
    ) -> Result<Value, String> {
        let got = self.get(path).await?;
        if json {
            println!("{}", serde_json::to_string_pretty(&got).unwrap_or_default());
        } else {
            print!("{}", table(&got));
        }
        Ok(got)
    }

    /// One call: `method` on `/admin/v1{path}`, with `body` as JSON.
    /// Gives the status and the answer's JSON (`null` for an empty one).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let url = format!("{}/admin/v1{path}", self.base);
        let client = build_http_client(None, Duration::from_secs(5), 0)?;
        let mut req = Request::builder()
            .method(method)
            .uri(&url)
            .header(header::ACCEPT, "application/json");
        if let Some(token) = &self.token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let payload = match body {
            Some(value) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(value).map_err(|e| e.to_string())?)
            }
            None => Bytes::new(),
        };
        let req = req
            .body(Full::new(payload))
            .map_err(|e| format!("{url}: {e}"))?;
        let exchange = async {
            let response = client
                .request(req)
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            let status = response.status().as_u16();
            let bytes = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| format!("{url}: reading the answer: {e}"))?
                .to_bytes();
            Ok::<_, String>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("{url}: no answer within {:?}", self.timeout))??;
        if bytes.is_empty() {
            return Ok((status, Value::Null));
        }
        let value = serde_json::from_slice(&bytes).map_err(|_| {
            format!(
                "{url}: answered {status} with a body that is not JSON: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            )
        })?;
        Ok((status, value))
    }
}

/// An address a local client can connect to: a listener on an unspecified
/// address is reached on loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

/// A path segment of the admin API, percent-encoded.
pub fn segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_listener_is_reached_on_loopback() {
        let any: SocketAddr = "0.0.0.0:9090".parse().unwrap();
        assert_eq!(reachable(any).to_string(), "127.0.0.1:9090");
        let any6: SocketAddr = "[::]:9090".parse().unwrap();
        assert_eq!(reachable(any6).to_string(), "[::1]:9090");
        let one: SocketAddr = "10.0.0.7:9090".parse().unwrap();
        assert_eq!(reachable(one), one);
    }

    #[test]
    fn the_url_must_be_http_and_the_token_is_never_shown() {
        assert!(AdminTarget::resolve(Some("127.0.0.1:9090"), None, None).is_err());
        assert!(AdminTarget::resolve(None, None, None).is_err());
        let dir = std::env::temp_dir().join(format!("scimgw-admin-client-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "s3cret-admin-token\n").unwrap();
        let target =
            AdminTarget::resolve(Some("http://127.0.0.1:9090/"), None, Some(&file)).unwrap();
        assert_eq!(target.base, "http://127.0.0.1:9090");
        assert_eq!(target.token.as_deref(), Some("s3cret-admin-token"));
        assert!(!format!("{target:?}").contains("s3cret"));
        std::fs::write(&file, "\n").unwrap();
        assert!(AdminTarget::resolve(Some("http://x"), None, Some(&file)).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
