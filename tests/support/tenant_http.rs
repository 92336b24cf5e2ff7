//! A tenant's SCIM requests through a test gateway, and requests straight
//! to a store that bypass it (the drift and shadow tests change a
//! backend behind the gateway's back).
use crate::support::gateway::{token_for, TestGateway};
use serde_json::Value;

/// `method` on `path` below `tenant`'s base (its host), with its token;
/// the status and the answer's JSON (`null` when not JSON).
pub async fn send(
    gw: &TestGateway,
    tenant: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}{path}", gw.base(&format!("{tenant}.localhost")));
    let mut req = gw
        .client()
        .request(method, url)
        .bearer_auth(token_for(tenant));
    if let Some(b) = body {
        req = req.header("content-type", "application/scim+json").json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Sends straight to a store at `base`, bypassing the gateway.
pub async fn direct(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{base}{path}"));
    if let Some(b) = body {
        req = req.header("content-type", "application/scim+json").json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}
