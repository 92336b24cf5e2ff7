//! A SCIM client streaming writes through a gateway that may die and come
//! back on another port: several tasks, each walking Users through their
//! life (POST, PATCH, PUT, PATCH `active` false, DELETE), one write at a
//! time per User, each with its own `X-Request-Id`. Every write puts its
//! request id into `displayName` (except DELETE), so the event it caused
//! can be told apart from every other. Records what the client saw.
use super::gateway::token_for;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// What a write does to its User.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Create,
    Update,
    Replace,
    Deactivate,
    Delete,
}

impl Kind {
    pub fn method(self) -> &'static str {
        match self {
            Kind::Create => "POST",
            Kind::Update | Kind::Deactivate => "PATCH",
            Kind::Replace => "PUT",
            Kind::Delete => "DELETE",
        }
    }

    /// The CloudEvent type it must cause (docs/events.md).
    pub fn event_type(self) -> &'static str {
        match self {
            Kind::Create => "scim.user.created",
            Kind::Update | Kind::Replace => "scim.user.updated",
            Kind::Deactivate => "scim.user.deactivated",
            Kind::Delete => "scim.user.deleted",
        }
    }
}

const LIFE: [Kind; 5] = [
    Kind::Create,
    Kind::Update,
    Kind::Replace,
    Kind::Deactivate,
    Kind::Delete,
];

/// One write and what the client saw.
#[derive(Debug, Clone)]
pub struct Write {
    pub task: usize,
    /// Order within the task (the order of the writes of one User).
    pub step: usize,
    pub request_id: String,
    pub kind: Kind,
    /// The User's id (for a POST: from its answer; `None` without one).
    pub resource_id: Option<String>,
    /// The status, or `None` when no answer came (the gateway died).
    pub status: Option<u16>,
    pub error: Option<String>,
}

impl Write {
    pub fn acknowledged(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

pub struct WriteStream {
    target: watch::Sender<Option<SocketAddr>>,
    log: Arc<Mutex<Vec<Write>>>,
    tasks: tokio::task::JoinSet<()>,
}

struct Task {
    n: usize,
    prefix: String,
    client: reqwest::Client,
    target: watch::Receiver<Option<SocketAddr>>,
    log: Arc<Mutex<Vec<Write>>>,
    tickets: Arc<AtomicUsize>,
    total: usize,
    pace: Duration,
}

impl WriteStream {
    /// `tasks` tasks writing `total` writes in all to tenant `acme` at
    /// `addr`, each waiting `pace` after each write. Request ids start with
    /// `prefix`.
    pub fn start(
        addr: SocketAddr,
        prefix: &str,
        tasks: usize,
        total: usize,
        pace: Duration,
    ) -> WriteStream {
        let (target, rx) = watch::channel(Some(addr));
        let log = Arc::new(Mutex::new(Vec::new()));
        let tickets = Arc::new(AtomicUsize::new(0));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            // A fresh connection per write: a refused connect then always
            // means the write was never sent.
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let mut set = tokio::task::JoinSet::new();
        for n in 0..tasks {
            let task = Task {
                n,
                prefix: prefix.to_string(),
                client: client.clone(),
                target: rx.clone(),
                log: log.clone(),
                tickets: tickets.clone(),
                total,
                pace,
            };
            set.spawn(task.run());
        }
        WriteStream {
            target,
            log,
            tasks: set,
        }
    }

    /// Where the gateway listens now; `None` while it is down.
    pub fn set_target(&self, addr: Option<SocketAddr>) {
        self.target.send_replace(addr);
    }

    /// Writes that got an answer so far.
    pub fn answered(&self) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|w| w.status.is_some())
            .count()
    }

    /// Waits until `n` writes got an answer (panics after `within`).
    pub async fn wait_answered(&self, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.answered() < n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} writes answered within {within:?}",
                self.answered()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits for every task to finish; every write, in no particular order.
    pub async fn finish(mut self) -> Vec<Write> {
        while let Some(r) = self.tasks.join_next().await {
            r.unwrap();
        }
        self.log.lock().unwrap().clone()
    }
}

impl Task {
    async fn run(mut self) {
        let mut step = 0;
        'users: loop {
            let mut id: Option<String> = None;
            let mut user_name = String::new();
            for kind in LIFE {
                if kind != Kind::Create && id.is_none() {
                    continue 'users;
                }
                if self.tickets.fetch_add(1, Ordering::SeqCst) >= self.total {
                    return;
                }
                step += 1;
                let request_id = format!("{}-t{}-s{step}", self.prefix, self.n);
                if kind == Kind::Create {
                    user_name = format!("user-{request_id}");
                }
                let mut write = Write {
                    task: self.n,
                    step,
                    request_id: request_id.clone(),
                    kind,
                    resource_id: id.clone(),
                    status: None,
                    error: None,
                };
                match self
                    .send(kind, &request_id, &user_name, id.as_deref())
                    .await
                {
                    Ok((status, body)) => {
                        write.status = Some(status);
                        if kind == Kind::Create {
                            id = body["id"].as_str().map(str::to_string);
                            write.resource_id = id.clone();
                        }
                    }
                    Err(e) => write.error = Some(e),
                }
                let failed = !write.acknowledged();
                self.log.lock().unwrap().push(write);
                if failed && matches!(kind, Kind::Create | Kind::Delete) {
                    continue 'users;
                }
                tokio::time::sleep(self.pace).await;
            }
        }
    }

    /// Sends one write; retries (same request id) while the connection is
    /// refused, which means the request never left. `Err` when it was
    /// sent and no answer came.
    async fn send(
        &mut self,
        kind: Kind,
        request_id: &str,
        user_name: &str,
        id: Option<&str>,
    ) -> Result<(u16, Value), String> {
        let body = match kind {
            Kind::Create => json!({"schemas": [USER], "userName": user_name,
                "displayName": request_id, "active": true}),
            Kind::Update => json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "path": "displayName", "value": request_id}]}),
            Kind::Replace => json!({"schemas": [USER], "userName": user_name,
                "displayName": request_id, "active": true, "title": "replaced"}),
            Kind::Deactivate => json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "path": "active", "value": false},
                {"op": "replace", "path": "displayName", "value": request_id}]}),
            Kind::Delete => Value::Null,
        };
        let path = match id {
            Some(id) if kind != Kind::Create => format!("/scim/v2/Users/{id}"),
            _ => "/scim/v2/Users".to_string(),
        };
        let method = reqwest::Method::from_bytes(kind.method().as_bytes()).unwrap();
        loop {
            let current = *self.target.borrow();
            let Some(addr) = current else {
                self.wait_for_other_target(None).await;
                continue;
            };
            let mut req = self
                .client
                .request(method.clone(), format!("http://{addr}{path}"))
                .header("host", "acme.localhost")
                .header("x-request-id", request_id)
                .bearer_auth(token_for("acme"));
            if !body.is_null() {
                req = req
                    .header("content-type", "application/scim+json")
                    .body(body.to_string());
            }
            match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let text = resp.text().await.map_err(|e| format!("body: {e}"))?;
                    return Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)));
                }
                Err(e) if e.is_connect() => self.wait_for_other_target(Some(addr)).await,
                Err(e) => return Err(format!("{e:?}")),
            }
        }
    }

    /// Waits until the target is an address other than `used` (any
    /// address when `used` is `None`); panics after 30 s.
    async fn wait_for_other_target(&mut self, used: Option<SocketAddr>) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = *self.target.borrow_and_update();
            if now.is_some() && now != used {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "task {}: no gateway to write to", self.n);
            let _ = tokio::time::timeout(left, self.target.changed()).await;
        }
    }
}
