//! A byte-exact HTTP/1.1 client over the gateway's real TLS: requests are
//! written as given (no URL library normalizes `..`, `%2e` or the Host
//! header) and answers are read by their own framing, so an answer that
//! frames itself wrongly shows up as an error, a wrong body or a broken
//! next answer, not as something a library smoothed over.
use super::gateway::TestGateway;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// One answer as it came over the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header fields in order, names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// Every value of a header (`name` in lower case).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of a header (`name` in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.all(name).first().copied()
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One TLS connection to the gateway (HTTP/1.1 by ALPN), with what was
/// read past the last answer kept for the next one.
pub struct RawClient {
    tls: TlsStream<TcpStream>,
    buf: Vec<u8>,
}

/// A TLS client configuration that trusts the gateway's test CA, offers
/// `alpn`, and presents `client` (a chain and its key) when given.
pub fn client_config(
    gw: &TestGateway,
    alpn: &[&[u8]],
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(gw.ca_pem().as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(scim_gateway::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match client {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

/// A TLS connection to the gateway naming `sni`, with `config`.
pub async fn tls_connect_with(
    gw: &TestGateway,
    sni: &str,
    config: rustls::ClientConfig,
) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(gw.bound.public).await.unwrap();
    let name = ServerName::try_from(sni.to_string()).unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap()
}

impl RawClient {
    /// A TLS connection to the gateway naming `host` (SNI and certificate).
    pub async fn connect(gw: &TestGateway, host: &str) -> RawClient {
        let config = client_config(gw, &[b"http/1.1"], None);
        RawClient {
            tls: tls_connect_with(gw, host, config).await,
            buf: Vec::new(),
        }
    }

    /// Writes `bytes` as they are.
    pub async fn write(&mut self, bytes: &[u8]) {
        self.tls.write_all(bytes).await.unwrap();
        self.tls.flush().await.unwrap();
    }

    /// The next answer; panics where [`RawClient::read_response`] errs.
    pub async fn read(&mut self) -> RawResponse {
        self.read_response().await.unwrap()
    }

    /// The next answer, read by exactly one framing (one `Content-Length`,
    /// or chunked without one; none for 1xx, 204 and 304); `Err` with what
    /// went wrong when the connection ends first, the head does not parse
    /// or the framing is ambiguous. Bounded by 10 s.
    pub async fn read_response(&mut self) -> Result<RawResponse, String> {
        tokio::time::timeout(Duration::from_secs(10), self.read_inner())
            .await
            .map_err(|_| "no complete response within 10 s".to_string())?
    }

    async fn read_inner(&mut self) -> Result<RawResponse, String> {
        let (len, status, headers) = loop {
            let mut slots = [httparse::EMPTY_HEADER; 64];
            let mut parsed = httparse::Response::new(&mut slots);
            match parsed.parse(&self.buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let headers: Vec<(String, String)> = parsed
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_ascii_lowercase(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect();
                    break (len, parsed.code.unwrap_or(0), headers);
                }
                Ok(httparse::Status::Partial) => self.fill().await?,
                Err(e) => {
                    return Err(format!(
                        "not an HTTP response ({e}): {:?}",
                        String::from_utf8_lossy(&self.buf)
                    ))
                }
            }
        };
        self.buf.drain(..len);
        let lengths: Vec<usize> = headers
            .iter()
            .filter(|(n, _)| n == "content-length")
            .map(|(_, v)| v.trim().parse().map_err(|_| format!("content-length {v}")))
            .collect::<Result<_, _>>()?;
        let chunked = headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
        let body = match (chunked, lengths.as_slice()) {
            _ if status < 200 || status == 204 || status == 304 => Vec::new(),
            (true, []) => self.read_chunked().await?,
            (false, [n]) => {
                while self.buf.len() < *n {
                    self.fill().await?;
                }
                self.buf.drain(..*n).collect()
            }
            (_, other) => {
                return Err(format!(
                    "not one framing: chunked {chunked}, Content-Length {other:?}"
                ))
            }
        };
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }

    async fn read_chunked(&mut self) -> Result<Vec<u8>, String> {
        let mut body = Vec::new();
        loop {
            let line = self.line().await?;
            let size = line.split(';').next().unwrap_or("").trim();
            let size =
                usize::from_str_radix(size, 16).map_err(|_| format!("chunk size {line:?}"))?;
            if size == 0 {
                while !self.line().await?.is_empty() {}
                return Ok(body);
            }
            while self.buf.len() < size + 2 {
                self.fill().await?;
            }
            body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
        }
    }

    async fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 8192];
        match self.tls.read(&mut chunk).await {
            Ok(0) => Err(format!(
                "the connection closed; unread: {:?}",
                String::from_utf8_lossy(&self.buf)
            )),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e) => Err(format!("read failed: {e}")),
        }
    }

    /// Bytes already received beyond the last answer (none on a
    /// connection whose answers were framed right).
    pub fn leftover(&self) -> &[u8] {
        &self.buf
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
    let mut client = RawClient::connect(gw, sni).await;
    let body = body.unwrap_or("");
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    client.write(head.as_bytes()).await;
    client.write(body.as_bytes()).await;
    client.read().await
}
