//! Every Entra ID and Okta request fixture (tests/fixtures/idp), replayed
//! in a provisioning order through any gateway tenant, judged only by what
//! the IdP can see: each request gets a success status, and the resource,
//! read back through the gateway, ends in the state the request asked for.
//! What a particular backend received is not looked at (tests/it/replay.rs
//! does that for one mapped backend), so the same script runs against every
//! upstream of the conformance matrix.
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

mod entra;
mod okta;

pub use entra::entra;
pub use okta::okta;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// How one IdP's replay went: one step per fixture request.
#[derive(Debug, Default, Clone)]
pub struct ReplayReport {
    pub idp: &'static str,
    pub steps: usize,
    pub passed: usize,
    /// `fixture: what went wrong` (the gateway's status and body).
    pub failures: Vec<String>,
}

impl std::fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.idp, self.passed, self.steps)
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/idp")
}

/// A tenant's SCIM base (`http://.../tenants/ID/scim/v2`) and credential.
pub struct Session {
    client: reqwest::Client,
    base: String,
    auth: String,
    report: ReplayReport,
}

/// What a step expects of the resource read back: JSON pointer and value.
type Want = Vec<(String, Value)>;

impl Session {
    pub fn new(idp: &'static str, base: &str, auth: &str) -> Session {
        Session {
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(20))
                .build()
                .unwrap(),
            base: base.to_string(),
            auth: auth.to_string(),
            report: ReplayReport {
                idp,
                ..ReplayReport::default()
            },
        }
    }

    /// Sends fixture `name` as the IdP would, its ids replaced by `ids`
    /// and its body edited by `edit`; the status and the parsed answer.
    async fn send(
        &self,
        name: &str,
        ids: &[(&str, &str)],
        edit: impl FnOnce(&mut Value),
    ) -> Result<(u16, Value), String> {
        let text = std::fs::read_to_string(fixtures().join(format!("{name}.json")))
            .map_err(|e| format!("fixture {name}: {e}"))?;
        let text = ids.iter().fold(text, |t, (from, to)| t.replace(from, to));
        let mut fixture: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        edit(&mut fixture["body"]);
        let path = fixture["path"].as_str().unwrap_or_default();
        let path = path.strip_prefix("/scim/v2").unwrap_or(path);
        let method =
            reqwest::Method::from_bytes(fixture["method"].as_str().unwrap_or("").as_bytes())
                .map_err(|e| e.to_string())?;
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("authorization", &self.auth)
            .header("content-type", "application/scim+json");
        if let Some(Value::Object(headers)) = fixture.get("headers") {
            for (k, v) in headers {
                req = req.header(k.as_str(), v.as_str().unwrap_or_default());
            }
        }
        if !fixture["body"].is_null() {
            req = req.body(fixture["body"].to_string());
        }
        let resp = req.send().await.map_err(|e| format!("{name}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    async fn read(&self, path: &str) -> Result<Value, String> {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .header("authorization", &self.auth)
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status == 200 {
            Ok(body)
        } else {
            Err(format!("GET {path}: {status} {body}"))
        }
    }

    /// One step: the fixture must get one of `ok` statuses, then the
    /// resource at `read` (or the one the answer names) must hold `want`.
    /// The answer's `id` comes back for later steps.
    async fn step(
        &mut self,
        name: &str,
        ids: &[(&str, &str)],
        edit: impl FnOnce(&mut Value),
        ok: &[u16],
        read: Option<&str>,
        want: Want,
    ) -> Option<String> {
        self.report.steps += 1;
        let outcome = async {
            let (status, body) = self.send(name, ids, edit).await?;
            if !ok.contains(&status) {
                return Err(format!("got {status}, expected {ok:?}: {body}"));
            }
            let id = body["id"].as_str().map(str::to_string);
            let path = match (read, &id, name.contains("group")) {
                (Some(p), _, _) => p.to_string(),
                (None, Some(id), true) => format!("/Groups/{id}"),
                (None, Some(id), false) => format!("/Users/{id}"),
                (None, None, _) => return Err(format!("{status} without an id: {body}")),
            };
            let now = self.read(&path).await?;
            let wrong: Vec<String> = want
                .iter()
                .filter(|(ptr, v)| value_at(&now, ptr) != *v)
                .map(|(ptr, v)| format!("{ptr} is {}, expected {v}", value_at(&now, ptr)))
                .collect();
            if wrong.is_empty() {
                Ok(id)
            } else {
                Err(format!("read back: {}; resource {now}", wrong.join("; ")))
            }
        }
        .await;
        match outcome {
            Ok(id) => {
                self.report.passed += 1;
                id
            }
            Err(why) => {
                self.report.failures.push(format!("{name}: {why}"));
                None
            }
        }
    }
}

/// A JSON pointer into `v`, with two extensions for SCIM: `/emails[work]`
/// picks the element of that `type`, and `/members*` is the sorted list
/// of member values (an absent `members` is the empty list).
fn value_at(v: &Value, ptr: &str) -> Value {
    if ptr == "/members*" {
        let mut ids: Vec<&str> = v["members"]
            .as_array()
            .map(|m| m.iter().filter_map(|m| m["value"].as_str()).collect())
            .unwrap_or_default();
        ids.sort_unstable();
        return json!(ids);
    }
    if let Some(rest) = ptr.strip_prefix("/emails[work]") {
        let work = v["emails"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["type"] == "work"))
            .cloned()
            .unwrap_or(Value::Null);
        return work.pointer(rest).cloned().unwrap_or(Value::Null);
    }
    v.pointer(ptr).cloned().unwrap_or(Value::Null)
}

fn want(items: &[(&str, Value)]) -> Want {
    items
        .iter()
        .map(|(p, v)| (p.to_string(), v.clone()))
        .collect()
}

fn ent(attr: &str) -> String {
    format!("/{ENTERPRISE}/{attr}")
}

const PATCHED: &[u16] = &[200, 204];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_at_reads_pointers_work_emails_and_member_sets() {
        let user = json!({
            "name": {"givenName": "A"},
            "emails": [{"type": "home", "value": "h@x"}, {"type": "work", "value": "w@x"}],
            ENTERPRISE: {"manager": {"value": "m1"}}
        });
        assert_eq!(value_at(&user, "/name/givenName"), json!("A"));
        assert_eq!(value_at(&user, "/emails[work]/value"), json!("w@x"));
        assert_eq!(value_at(&user, &ent("manager/value")), json!("m1"));
        assert_eq!(value_at(&user, "/nickName"), Value::Null);
        let group = json!({"members": [{"value": "b"}, {"value": "a"}]});
        assert_eq!(value_at(&group, "/members*"), json!(["a", "b"]));
        assert_eq!(value_at(&json!({}), "/members*"), json!([]));
        assert_eq!(
            value_at(&json!({"emails": []}), "/emails[work]/value"),
            Value::Null
        );
    }

    /// A fixture added to tests/fixtures/idp is replayed too.
    #[test]
    fn every_fixture_is_replayed() {
        let scripts = [include_str!("entra.rs"), include_str!("okta.rs")].concat();
        for entry in std::fs::read_dir(fixtures()).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if let Some(name) = name.strip_suffix(".json") {
                assert!(
                    scripts.contains(&format!("\"{name}\"")),
                    "{name} is not replayed"
                );
            }
        }
    }
}
