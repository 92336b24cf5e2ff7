//! A real OAuth 2.0 authorization server for the tests, on 127.0.0.1:
//! OIDC discovery, a JWKS document that the test can rotate, and an
//! RFC 7662 introspection endpoint (Basic-authenticated) answering from a
//! table the test fills. Keys are generated in the test; every request is
//! counted.
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "../../src/authn/jwt/test_keys.rs"]
pub mod keys;

/// The introspection client the gateway must present.
pub const INTROSPECTION_CLIENT: (&str, &str) = ("gw-client", "gw-secret-0123456789");
/// The client the gateway uses for its upstream tokens.
pub const UPSTREAM_CLIENT: (&str, &str) = ("gw-upstream", "up-secret-0123456789");

#[derive(Default)]
struct State {
    jwks: Value,
    active: HashMap<String, Value>,
    jwks_fetches: usize,
    introspections: usize,
    bad_client_auth: usize,
    /// Tokens issued at `/token`, and the one `/scim/v2` accepts.
    tokens_issued: usize,
    valid_upstream_token: Option<String>,
    token_lifetime: u64,
    protected_hits: usize,
}

pub struct Issuer {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Issuer {
    /// Serves `jwks` until dropped.
    pub fn spawn(jwks: Value) -> Issuer {
        let state = Arc::new(Mutex::new(State {
            jwks,
            token_lifetime: 3600,
            ..State::default()
        }));
        let shared = state.clone();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                addr_tx.send(addr).unwrap();
                let issuer = format!("http://{addr}");
                loop {
                    let (stream, _) = tokio::select! {
                        a = listener.accept() => a.unwrap(),
                        _ = &mut stop_rx => return,
                    };
                    let state = shared.clone();
                    let issuer = issuer.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                            let state = state.clone();
                            let issuer = issuer.clone();
                            async move { Ok::<_, Infallible>(answer(req, &state, &issuer).await) }
                        });
                        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            });
        });
        Issuer {
            addr: addr_rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// The issuer identifier (`iss`), also the discovery base.
    pub fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn introspection_endpoint(&self) -> String {
        format!("http://{}/introspect", self.addr)
    }

    /// The token endpoint (client credentials for [`UPSTREAM_CLIENT`]).
    pub fn token_endpoint(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// A SCIM-ish resource server that accepts only the last token issued.
    pub fn protected_base(&self) -> String {
        format!("http://{}/scim/v2", self.addr)
    }

    /// The resource server stops accepting the current token.
    pub fn revoke_upstream_token(&self) {
        self.state.lock().unwrap().valid_upstream_token = None;
    }

    /// `expires_in` of tokens issued from now on.
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.state.lock().unwrap().token_lifetime = seconds;
    }

    pub fn tokens_issued(&self) -> usize {
        self.state.lock().unwrap().tokens_issued
    }

    pub fn protected_hits(&self) -> usize {
        self.state.lock().unwrap().protected_hits
    }

    pub fn set_jwks(&self, jwks: Value) {
        self.state.lock().unwrap().jwks = jwks;
    }

    /// Makes `token` active with these introspection fields.
    pub fn activate(&self, token: &str, fields: Value) {
        let mut answer = fields;
        answer["active"] = json!(true);
        self.state
            .lock()
            .unwrap()
            .active
            .insert(token.to_string(), answer);
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.lock().unwrap().jwks_fetches
    }

    pub fn introspections(&self) -> usize {
        self.state.lock().unwrap().introspections
    }

    pub fn bad_client_auth(&self) -> usize {
        self.state.lock().unwrap().bad_client_auth
    }
}

async fn answer(
    req: hyper::Request<hyper::body::Incoming>,
    state: &Mutex<State>,
    issuer: &str,
) -> hyper::Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let json_response = |v: Value| {
        let mut r = hyper::Response::new(Full::new(Bytes::from(v.to_string())));
        r.headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        r
    };
    let basic = |client: (&str, &str)| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", client.0, client.1))
        )
    };
    if path.starts_with("/scim/v2") {
        let presented = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let mut s = state.lock().unwrap();
        s.protected_hits += 1;
        let ok = s
            .valid_upstream_token
            .as_ref()
            .is_some_and(|t| presented == format!("Bearer {t}"));
        let mut r = json_response(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                         "id": "p1", "userName": "protected"}),
        );
        if !ok {
            *r.status_mut() = hyper::StatusCode::UNAUTHORIZED;
        }
        return r;
    }
    match path.as_str() {
        "/token" => {
            let authorized = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                == Some(basic(UPSTREAM_CLIENT).as_str());
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let grant = form_urlencoded::parse(&body)
                .find(|(k, _)| k == "grant_type")
                .map(|(_, v)| v.into_owned());
            let mut s = state.lock().unwrap();
            if !authorized || grant.as_deref() != Some("client_credentials") {
                s.bad_client_auth += 1;
                let mut r = json_response(json!({"error": "invalid_client"}));
                *r.status_mut() = hyper::StatusCode::UNAUTHORIZED;
                return r;
            }
            s.tokens_issued += 1;
            let token = format!("upstream-at-{}", s.tokens_issued);
            s.valid_upstream_token = Some(token.clone());
            json_response(json!({"access_token": token, "token_type": "Bearer",
                                 "expires_in": s.token_lifetime}))
        }
        "/.well-known/openid-configuration" => json_response(json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/jwks"),
            "introspection_endpoint": format!("{issuer}/introspect"),
        })),
        "/jwks" => {
            let mut s = state.lock().unwrap();
            s.jwks_fetches += 1;
            json_response(s.jwks.clone())
        }
        "/introspect" => {
            use base64::Engine;
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    INTROSPECTION_CLIENT.0, INTROSPECTION_CLIENT.1
                ))
            );
            let authorized = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                == Some(expected.as_str());
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let mut s = state.lock().unwrap();
            s.introspections += 1;
            if !authorized {
                s.bad_client_auth += 1;
                let mut r = json_response(json!({"error": "invalid_client"}));
                *r.status_mut() = hyper::StatusCode::UNAUTHORIZED;
                return r;
            }
            let token = form_urlencoded::parse(&body)
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            json_response(
                s.active
                    .get(&token)
                    .cloned()
                    .unwrap_or_else(|| json!({"active": false})),
            )
        }
        _ => {
            let mut r = hyper::Response::new(Full::new(Bytes::new()));
            *r.status_mut() = hyper::StatusCode::NOT_FOUND;
            r
        }
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
