//! Puts the store on a socket: `scim-gateway store --listen ADDR`.
//!
//! Plain HTTP/1.1 and HTTP/2 (prior knowledge), for tests, benchmarks and
//! demos on loopback; the gateway adds TLS in front. It runs on the same
//! listener machinery as the gateway (`crate::server`): connection cap,
//! header-read and idle timeouts, graceful drain. Every body read is
//! bounded in size and time.
use super::routes::error_response;
use super::Store;
use crate::conn_info::ConnInfo;
use crate::scim::error::ScimError;
use crate::server::RequestBody;
use crate::server::{self, Listening, Respond, SettingsSource};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long a client may take to send its request headers or body.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long open connections get to finish after shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Most concurrent connections.
const MAX_CONNECTIONS: usize = 4096;

/// Serves `store` on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    store: Arc<Store>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let settings: SettingsSource = Arc::new(|| Listening {
        identity: Default::default(),
        tls: None,
        header_read_timeout: READ_TIMEOUT,
        max_header_bytes: 16 * 1024,
        idle_timeout: Duration::from_secs(60),
    });
    server::serve(
        listener,
        settings,
        server::ConnectionCaps::total(MAX_CONNECTIONS),
        DRAIN_TIMEOUT,
        Arc::new(StoreServer { store }),
        shutdown,
    )
    .await
}

struct StoreServer {
    store: Arc<Store>,
}

impl Respond for StoreServer {
    fn call<'a>(
        &'a self,
        req: Request<RequestBody>,
        _conn: Arc<ConnInfo>,
    ) -> Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send + 'a>> {
        Box::pin(async move { answer(&self.store, req).await.map(Full::new) })
    }
}

/// Reads the body (bounded) and hands the request to the store.
async fn answer(store: &Store, req: Request<RequestBody>) -> Response<Bytes> {
    let (parts, body) = req.into_parts();
    let limit = store.config().max_body_bytes;
    let read = tokio::time::timeout(READ_TIMEOUT, Limited::new(body, limit).collect()).await;
    match read {
        Err(_) => error_response(&ScimError::new(
            408,
            None,
            "the request body did not arrive in time",
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => error_response(
            &ScimError::payload_too_large(format!("the request body is larger than {limit} bytes")),
        ),
        Ok(Err(_)) => error_response(&ScimError::invalid_syntax(
            "the request body could not be read",
        )),
        Ok(Ok(collected)) => {
            let req = Request::from_parts(parts, collected.to_bytes());
            store.handle(&req)
        }
    }
}
