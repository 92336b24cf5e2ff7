//! One bounded, timed `application/x-www-form-urlencoded` POST to an
//! authorization server (token endpoint, introspection endpoint), and the
//! HTTP Basic client credentials of RFC 6749 §2.3.1.
//!
//! Used by both ends of OAuth 2.0 the gateway speaks: the client
//! credentials grant (`upstream::oauth`) and token introspection
//! (`authn::introspect`), so that neither imports the other.
//! Depends on the pooled [`HttpClient`] and the redacting `Secret` only;
//! knows nothing of the meaning of the fields it sends.
use super::HttpClient;
use crate::secret::Secret;
use base64::Engine;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

/// The largest response body read from an authorization server.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// A response of an authorization server, its body read in full.
#[derive(Debug)]
pub(crate) struct FormResponse {
    pub status: StatusCode,
    pub body: Bytes,
}

/// Why a POST got no complete response. Cloneable so that one failure can
/// be handed to every caller waiting on the same request.
#[derive(Debug, Clone)]
pub(crate) enum PostError {
    /// The whole exchange did not finish within its deadline.
    Timeout,
    /// No connection, or the connection broke before the response head.
    Transport(Arc<dyn StdError + Send + Sync>),
    /// The body broke off, or exceeded [`MAX_BODY`].
    Body(Arc<dyn StdError + Send + Sync>),
    TooLarge,
}

/// POSTs `form` to `uri` and reads the response, all within `timeout`.
pub(crate) async fn post_form(
    client: &HttpClient,
    uri: &Uri,
    authorization: Option<&HeaderValue>,
    form: String,
    timeout: Duration,
) -> Result<FormResponse, PostError> {
    let mut request = Request::new(Full::new(Bytes::from(form)));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri.clone();
    let headers = request.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    if let Some(value) = authorization {
        headers.insert(AUTHORIZATION, value.clone());
    }
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| PostError::Transport(Arc::new(e)))?;
        let status = response.status();
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY as u64) {
            return Err(PostError::TooLarge);
        }
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    PostError::TooLarge
                } else {
                    PostError::Body(Arc::from(e))
                }
            })?
            .to_bytes();
        Ok(FormResponse { status, body })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| PostError::Timeout)?
}

/// `Authorization: Basic …` for a client, RFC 6749 §2.3.1: both the id and
/// the secret are form-urlencoded before they are joined and encoded.
/// Marked sensitive so that no header dump shows it.
pub(crate) fn basic_credentials(client_id: &str, secret: &Secret) -> HeaderValue {
    let id: String = form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    let password: String = form_urlencoded::byte_serialize(secret.expose().as_bytes()).collect();
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{password}").as_bytes());
    // Base64 output is always a valid header value.
    let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

impl std::fmt::Display for PostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PostError::Timeout => f.write_str("timed out"),
            PostError::Transport(_) => f.write_str("request failed"),
            PostError::Body(_) => f.write_str("response body broke off"),
            PostError::TooLarge => write!(f, "response body over {MAX_BODY} bytes"),
        }
    }
}

impl StdError for PostError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            PostError::Transport(e) | PostError::Body(e) => Some(&**e),
            PostError::Timeout | PostError::TooLarge => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_urlencode_then_base64() {
        let value = basic_credentials("my client", &Secret::new("p@ss:w/rd"));
        assert!(value.is_sensitive());
        let text = value.to_str().unwrap();
        let b64 = text.strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            "my+client:p%40ss%3Aw%2Frd"
        );
    }
}
