//! A raw HTTP/1.1 client over the gateway's real TLS: the request is sent
//! byte for byte as written (no URL library normalizes `..`, `%2e` or the
//! Host header), and the answer is read with its framing checked. For the
//! tests that must send what a well-behaved client never would.
use super::gateway::TestGateway;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// One answer as it came off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first header of this name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// A TLS connection to the gateway with `sni` as the server name.
pub struct RawConn {
    stream: Box<dyn Stream>,
    buffered: Vec<u8>,
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

impl RawConn {
    /// Connects (TLS, HTTP/1.1 by ALPN) to `gw` naming `sni`.
    pub async fn open(gw: &TestGateway, sni: &str) -> RawConn {
        let mut roots = rustls::RootCertStore::empty();
        use rustls_pki_types::pem::PemObject;
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(gw.ca_pem().as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tcp = tokio::net::TcpStream::connect(gw.bound.public)
            .await
            .unwrap();
        let name = rustls_pki_types::ServerName::try_from(sni.to_string()).unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap();
        RawConn {
            stream: Box::new(tls),
            buffered: Vec::new(),
        }
    }

    /// Writes `request` as it is.
    pub async fn write(&mut self, request: &[u8]) {
        self.stream.write_all(request).await.unwrap();
        self.stream.flush().await.unwrap();
    }

    /// Reads one answer (Content-Length or chunked framing; a HEAD answer
    /// or a 1xx/204/304 has no body). Panics on a framing error, on two
    /// lengths, or after 20 s.
    pub async fn read(&mut self) -> RawResponse {
        tokio::time::timeout(Duration::from_secs(20), self.read_inner())
            .await
            .expect("an answer within 20 s")
    }

    async fn read_inner(&mut self) -> RawResponse {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut parsed = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(len) = parsed.parse(&self.buffered).unwrap() {
                let status = parsed.code.unwrap();
                let headers: Vec<(String, String)> = parsed
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_string(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                self.buffered.drain(..len);
                let lengths: Vec<&(String, String)> = headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .collect();
                let chunked = headers.iter().any(|(n, v)| {
                    n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")
                });
                assert!(
                    lengths.len() <= 1 && (!chunked || lengths.is_empty()),
                    "one framing only: {headers:?}"
                );
                let body = if chunked {
                    self.read_chunked().await
                } else {
                    let n: usize = lengths
                        .first()
                        .map_or(0, |(_, v)| v.trim().parse().unwrap());
                    self.fill(n).await;
                    self.buffered.drain(..n).collect()
                };
                return RawResponse {
                    status,
                    headers,
                    body,
                };
            }
            self.more().await;
        }
    }

    async fn read_chunked(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let line = self.line().await;
            let size = usize::from_str_radix(line.split(';').next().unwrap().trim(), 16).unwrap();
            if size == 0 {
                while !self.line().await.is_empty() {}
                return body;
            }
            self.fill(size + 2).await;
            body.extend(self.buffered.drain(..size));
            self.buffered.drain(..2);
        }
    }

    async fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buffered.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buffered[..i]).into_owned();
                self.buffered.drain(..i + 2);
                return line;
            }
            self.more().await;
        }
    }

    async fn fill(&mut self, n: usize) {
        while self.buffered.len() < n {
            self.more().await;
        }
    }

    async fn more(&mut self) {
        let mut buf = [0u8; 16 * 1024];
        let n = self.stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the connection closed mid-answer");
        self.buffered.extend_from_slice(&buf[..n]);
    }
}

/// One request on a new connection: `METHOD target` with `Host: host`,
/// a bearer token, and a JSON body when given.
pub async fn request(
    gw: &TestGateway,
    sni: &str,
    method: &str,
    target: &str,
    host: &str,
    token: &str,
    body: Option<&str>,
) -> RawResponse {
    let mut conn = RawConn::open(gw, sni).await;
    let body = body.unwrap_or("");
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write(head.as_bytes()).await;
    conn.write(body.as_bytes()).await;
    conn.read().await
}
