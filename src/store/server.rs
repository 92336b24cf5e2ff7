//! Puts the store on a socket: `scim-gateway store --listen ADDR`.
//!
//! HTTP/1.1 and HTTP/2 (prior knowledge) over plain TCP, for tests,
//! benchmarks and demos on loopback; the gateway adds TLS in front. Every
//! body read is bounded in size and time; the accept loop drains
//! connections gracefully on shutdown.
use super::routes::error_response;
use super::Store;
use crate::scim::error::ScimError;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long a client may take to send its request headers or body.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long open connections get to finish after shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `store` on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    store: Arc<Store>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(READ_TIMEOUT);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        // Out of descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Headers and body are written separately; without
                // TCP_NODELAY, delayed ACKs stall each response ~40 ms.
                let _ = stream.set_nodelay(true);
                let store = store.clone();
                let service = service_fn(move |req| {
                    let store = store.clone();
                    async move { Ok::<_, Infallible>(answer(&store, req).await) }
                });
                let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain timeout");
    }
    Ok(())
}

/// Reads the body (bounded) and hands the request to the store.
async fn answer(store: &Store, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let limit = store.config().max_body_bytes;
    let read = tokio::time::timeout(READ_TIMEOUT, Limited::new(body, limit).collect()).await;
    let response = match read {
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
    };
    response.map(Full::new)
}
