//! The gateway's own outbound HTTP client: the calls it makes on its own
//! account, not a client's (an issuer's key set, a token endpoint, an
//! introspection endpoint, webhook endpoints). Proxied requests go through
//! each upstream's own connection pool, not this.
//!
//! Owns [`HttpClient`], [`build_http_client`] and, in [`form`], the bounded
//! form POST to an authorization server with its client credentials.
//! Ground: depends on `tls` (client TLS settings) and `secret` only, so
//! every stage may use it.
pub(crate) mod form;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::path::Path;
use std::time::Duration;

/// A pooled HTTP(S) client for auxiliary calls (key sets, token and
/// introspection endpoints, webhooks): HTTP/1.1 and HTTP/2, rustls.
pub(crate) type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client for one endpoint: HTTP/1.1 and HTTP/2 (ALPN), HTTPS through
/// rustls trusting the public roots or only `ca_file`, TCP_NODELAY, a
/// connect timeout, and up to `pool_max_idle` idle pooled connections.
pub(crate) fn build_http_client(
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
