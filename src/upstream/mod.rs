//! Upstream calls: the pooled HTTP(S) client, the in-process built-in
//! store, header hygiene and credential injection, timeouts and body caps.
//!
//! PLACEHOLDER: the client type is fixed; the rest is being written.
use bytes::Bytes;
use http_body_util::Full;

/// The pooled client used for every `kind = "http"` upstream: HTTP/1.1
/// and HTTP/2, HTTPS through rustls (public roots or a custom CA bundle).
pub type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;
