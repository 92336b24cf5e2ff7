//! The pooled HTTP(S) client of an `http` upstream.
use crate::upstream::HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::path::Path;
use std::time::Duration;

/// A client for one upstream: HTTP/1.1 and HTTP/2 (ALPN), HTTPS through
/// rustls trusting the public roots or only `ca_file`, TCP_NODELAY, a
/// connect timeout, and up to `pool_max_idle` idle pooled connections.
pub fn build_http_client(
    ca_file: Option<&Path>,
    connect_timeout: Duration,
    pool_max_idle: usize,
) -> Result<HttpClient, String> {
    let tls = crate::tls::client_config(ca_file)?;
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    http.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(pool_max_idle)
        .build(connector))
}
