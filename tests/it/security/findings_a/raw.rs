//! Byte-exact HTTP/1.1 over the gateway's real TLS: a client that writes
//! requests as given and reads responses by their own framing, so a
//! response that frames itself wrongly shows up as a wrong body or a
//! broken next response, not as something a library smoothed over.
use crate::support::gateway::TestGateway;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// One TLS connection to the gateway, with what was read past the last
/// response kept for the next one.
pub struct RawClient {
    tls: TlsStream<TcpStream>,
    buf: Vec<u8>,
}

/// A response as it came over the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header fields in order, names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl RawClient {
    /// A TLS connection to the gateway for `host` (SNI and certificate).
    pub async fn connect(gw: &TestGateway, host: &str) -> RawClient {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(gw.ca_file()).unwrap())
            .unwrap();
        let config = rustls::ClientConfig::builder_with_provider(scim_gateway::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = TcpStream::connect(gw.bound.public).await.unwrap();
        let name = ServerName::try_from(host.to_string()).unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap();
        RawClient {
            tls,
            buf: Vec::new(),
        }
    }

    pub async fn write(&mut self, bytes: &[u8]) {
        self.tls.write_all(bytes).await.unwrap();
        self.tls.flush().await.unwrap();
    }

    /// The next response, read by its `Content-Length` (the gateway
    /// frames every answer by length); `Err` with what went wrong when the
    /// connection ends first or the head does not parse. Bounded by 10 s.
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
        let body_len = match lengths.as_slice() {
            [n] => *n,
            other => return Err(format!("not one Content-Length: {other:?}")),
        };
        while self.buf.len() < body_len {
            self.fill().await?;
        }
        let body = self.buf.drain(..body_len).collect();
        Ok(RawResponse {
            status,
            headers,
            body,
        })
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

    /// Bytes already received beyond the last response (none on a
    /// connection whose responses were framed right).
    pub fn leftover(&self) -> &[u8] {
        &self.buf
    }
}
