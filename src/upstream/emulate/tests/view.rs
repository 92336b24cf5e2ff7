//! An emulated PATCH applied through a [`patch::View`] (a mapped tenant's):
//! the request's own body is not read, every attempt applies the view to
//! what it read, and the retry and `If-Match` rules are the same.
use super::*;
use crate::scim::error::ScimError;
use std::sync::Arc;

/// Renames a group: the view's result stands for the upstream resource.
#[derive(Debug)]
struct Rename {
    to: String,
    applied: Arc<AtomicUsize>,
}

impl patch::View for Rename {
    fn apply(&self, current: &Value, _: bool) -> Result<patch::Viewed, ScimError> {
        self.applied.fetch_add(1, Ordering::SeqCst);
        if current["displayName"] == self.to.as_str() {
            return Ok(patch::Viewed::default());
        }
        let mut next = current.clone();
        next["displayName"] = Value::String(self.to.clone());
        Ok(patch::Viewed {
            written: Some(next),
            upserted: false,
        })
    }

    fn with_references(&self, _: &dyn Fn(&mut Value)) -> Arc<dyn patch::View> {
        Arc::new(Rename {
            to: self.to.clone(),
            applied: self.applied.clone(),
        })
    }
}

fn viewed<'e>(e: &'e Emulation, applied: &Arc<AtomicUsize>) -> Context<'e> {
    let mut c = ctx(e);
    c.patch_view = Some(patch::Views::One(Arc::new(Rename {
        to: "renamed".into(),
        applied: applied.clone(),
    })));
    c
}

/// Not a PatchOp at all: with a view, the emulation never reads it.
fn unreadable_patch(path: &str) -> UpstreamRequest {
    let mut r = request(Method::PATCH, path, None, Value::Null);
    r.body = Bytes::from_static(b"not json");
    r
}

#[tokio::test]
async fn the_view_is_applied_and_the_body_is_not_read_again() {
    let store = legacy_store();
    let g = group(&store);
    let path = format!("/Groups/{g}");
    let calls = AtomicUsize::new(0);
    let send = |r| std::future::ready(Ok(call(&store, &calls, r)));
    let e = emulation(EmulationSettings {
        patch: Support::No,
        ..EmulationSettings::default()
    });
    let applied = Arc::new(AtomicUsize::new(0));
    let r = forward(&viewed(&e, &applied), unreadable_patch(&path), &send)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.body());
    assert_eq!(body(&r)["displayName"], "renamed");
    assert_eq!(applied.load(Ordering::SeqCst), 1);
    // Unchanged the second time: answered with the resource, no PUT.
    let before = calls.load(Ordering::SeqCst);
    let r = forward(&viewed(&e, &applied), unreadable_patch(&path), &send)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), before + 1, "one GET only");
}

#[tokio::test]
async fn each_attempt_applies_the_view_to_what_it_read() {
    let store = legacy_store();
    let g = group(&store);
    let path = format!("/Groups/{g}");
    let calls = AtomicUsize::new(0);
    // Another writer changes the group before our first PUT only.
    let raced = AtomicUsize::new(0);
    let send = |r: UpstreamRequest| {
        if r.method == Method::PUT && raced.fetch_add(1, Ordering::SeqCst) == 0 {
            let other = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                               "displayName": "other", "externalId": "x-1"});
            call(&store, &calls, request(Method::PUT, &path, None, other));
        }
        std::future::ready(Ok(call(&store, &calls, r)))
    };
    let e = emulation(EmulationSettings {
        patch: Support::No,
        patch_attempts: 3,
        ..EmulationSettings::default()
    });
    let applied = Arc::new(AtomicUsize::new(0));
    let r = forward(&viewed(&e, &applied), unreadable_patch(&path), &send)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.body());
    assert_eq!(
        applied.load(Ordering::SeqCst),
        2,
        "applied again after the 412"
    );
    // The other writer's change is kept: the second attempt read it.
    let held = body(&call(
        &store,
        &calls,
        request(Method::GET, &path, None, Value::Null),
    ));
    assert_eq!(held["displayName"], "renamed");
    assert_eq!(held["externalId"], "x-1");

    // The client's stale If-Match: 412, nothing applied to a write.
    let mut req = unreadable_patch(&path);
    req.headers
        .insert(IF_MATCH, HeaderValue::from_static("W/\"stale\""));
    let err = forward(&viewed(&e, &applied), req, &send)
        .await
        .unwrap_err();
    assert_eq!(err.status(), 412);
}
