//! The store's operations on resources (RFC 7644 §3.3 create, §3.4.1
//! read, §3.4.2 query, §3.5.1 replace, §3.5.2 modify, §3.6 delete), each
//! returning a [`Reply`] or a SCIM error. HTTP framing lives in `routes`.
use super::members;
use super::state::{unique_name, Kind, State};
use super::Store;
use crate::scim::datetime::DateTime;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::etag;
use crate::scim::filter::EvalContext;
use crate::scim::patch::{apply_patch, PatchRequest};
use crate::scim::projection::Projection;
use crate::scim::query::{list_response, ListQuery};
use crate::scim::schema::ResourceType;
use crate::scim::validate::validate_resource;
use serde_json::{json, Map, Value};

/// A successful outcome, before HTTP framing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    /// `ETag`, equal to `meta.version`.
    pub etag: Option<String>,
    /// `Location`, equal to `meta.location` (set on create).
    pub location: Option<String>,
}

// === impl Reply ===

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            etag: None,
            location: None,
        }
    }

    pub(super) fn resource(status: u16, body: Value, version: Option<String>) -> Reply {
        Reply {
            status,
            body: Some(body),
            etag: version,
            location: None,
        }
    }
}

// === impl Store: operations ===

impl Store {
    pub(crate) fn resource_type(&self, kind: Kind) -> ScimResult<&ResourceType> {
        self.registry.resource_type(kind.name()).ok_or_else(|| {
            ScimError::internal(format!("resource type {} is not configured", kind.name()))
        })
    }

    /// POST `/Users`, `/Groups`.
    pub(crate) fn create(
        &self,
        kind: Kind,
        body: &Value,
        base: &str,
        projection: &Projection,
    ) -> ScimResult<Reply> {
        let rt = self.resource_type(kind)?;
        let new = validate_resource(&self.registry, rt, body, None)?;
        let mut state = self.write();
        if state.len() >= self.config.max_resources {
            return Err(ScimError::insufficient_storage(format!(
                "the store holds its maximum of {} resources",
                self.config.max_resources
            )));
        }
        let id = state.new_id();
        let stored = self.commit(&mut state, kind, &id, new, None)?;
        let version = version_of(&stored);
        let body = self.render(&state, kind, &id, &stored, base, projection)?;
        let location = format!("{base}{}/{id}", kind.endpoint());
        Ok(Reply {
            status: 201,
            body: Some(body),
            etag: version,
            location: Some(location),
        })
    }

    /// GET `/Users/{id}`; `None` when `If-None-Match` names the current
    /// version (304).
    pub(crate) fn get(
        &self,
        kind: Kind,
        id: &str,
        base: &str,
        projection: &Projection,
        if_none_match: Option<&str>,
    ) -> ScimResult<Reply> {
        let state = self.read();
        let stored = find(&state, kind, id)?;
        let version = version_of(stored);
        if let (Some(inm), Some(v)) = (if_none_match, version.as_deref()) {
            if etag::if_none_match_hits(Some(inm), v) {
                return Ok(Reply {
                    status: 304,
                    body: None,
                    etag: version,
                    location: None,
                });
            }
        }
        let body = self.render(&state, kind, id, stored, base, projection)?;
        Ok(Reply::resource(200, body, version))
    }

    /// PUT `/Users/{id}`.
    pub(crate) fn replace(
        &self,
        kind: Kind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        base: &str,
        projection: &Projection,
    ) -> ScimResult<Reply> {
        self.update(kind, id, if_match, base, projection, |rt, existing| {
            check_id(body, id)?;
            validate_resource(&self.registry, rt, body, Some(existing))
        })
    }

    /// PATCH `/Users/{id}`: all operations or none (RFC 7644 §3.5.2).
    pub(crate) fn modify(
        &self,
        kind: Kind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        base: &str,
        projection: &Projection,
    ) -> ScimResult<Reply> {
        self.modify_parsed(
            kind,
            id,
            &PatchRequest::parse(body)?,
            if_match,
            base,
            projection,
        )
    }

    /// [`Store::modify`] of a parsed request.
    pub(crate) fn modify_parsed(
        &self,
        kind: Kind,
        id: &str,
        request: &PatchRequest,
        if_match: Option<&str>,
        base: &str,
        projection: &Projection,
    ) -> ScimResult<Reply> {
        if kind == Kind::Group {
            if let Some(reply) = self.modify_members(id, request, if_match, base, projection)? {
                return Ok(reply);
            }
        }
        self.modify_general(kind, id, request, if_match, base, projection)
    }

    /// PATCH by copying, patching and re-validating the whole resource.
    pub(crate) fn modify_general(
        &self,
        kind: Kind,
        id: &str,
        request: &PatchRequest,
        if_match: Option<&str>,
        base: &str,
        projection: &Projection,
    ) -> ScimResult<Reply> {
        self.update(kind, id, if_match, base, projection, |rt, existing| {
            let patched = apply_patch(&self.registry, rt, existing, request)?;
            validate_resource(&self.registry, rt, &patched, Some(existing))
        })
    }

    /// The shared path of PUT and PATCH: under the write lock, check the
    /// version, compute the new state from the existing one, store it.
    fn update(
        &self,
        kind: Kind,
        id: &str,
        if_match: Option<&str>,
        base: &str,
        projection: &Projection,
        next: impl FnOnce(&ResourceType, &Value) -> ScimResult<Value>,
    ) -> ScimResult<Reply> {
        let rt = self.resource_type(kind)?;
        let mut state = self.write();
        let existing = find(&state, kind, id)?.clone();
        etag::check_if_match(if_match, version_of(&existing).as_deref())?;
        let new = next(rt, &existing)?;
        let stored = self.commit(&mut state, kind, id, new, Some(&existing))?;
        let version = version_of(&stored);
        let body = self.render(&state, kind, id, &stored, base, projection)?;
        Ok(Reply::resource(200, body, version))
    }

    /// DELETE `/Users/{id}`.
    pub(crate) fn delete(&self, kind: Kind, id: &str, if_match: Option<&str>) -> ScimResult<Reply> {
        let mut state = self.write();
        let existing = find(&state, kind, id)?;
        etag::check_if_match(if_match, version_of(existing).as_deref())?;
        let now = DateTime::now().to_rfc3339();
        if let Some(gone) = state.take(kind, id) {
            members::forget(&mut state, kind, id, &gone, &now);
        }
        Ok(Reply {
            status: 204,
            body: None,
            etag: None,
            location: None,
        })
    }

    /// GET `/Users?...`, POST `/Users/.search`, and the same over several
    /// resource types for the root endpoints.
    pub(crate) fn list(&self, kinds: &[Kind], query: &ListQuery, base: &str) -> ScimResult<Reply> {
        let state = self.read();
        let mut hits: Vec<(Kind, &Value)> = Vec::new();
        for &kind in kinds {
            let rt = self.resource_type(kind)?;
            let ctx = EvalContext {
                registry: &self.registry,
                resource_type: rt,
            };
            let coll = state.collection(kind);
            match &query.filter {
                None => hits.extend(coll.iter().map(|r| (kind, r))),
                Some(filter) => {
                    // `groups` and `meta.location` exist only when rendered.
                    let derived = filter.paths().iter().any(|p| {
                        p.attr.eq_ignore_ascii_case("groups")
                            || (p.attr.eq_ignore_ascii_case("meta")
                                && p.sub_attr.as_deref() == Some("location"))
                    });
                    for r in coll.iter() {
                        let ok = if derived {
                            let id = r.get("id").and_then(Value::as_str).unwrap_or_default();
                            let full =
                                self.render(&state, kind, id, r, base, &Projection::default())?;
                            filter.matches(&full, &ctx)
                        } else {
                            filter.matches(r, &ctx)
                        };
                        if ok {
                            hits.push((kind, r));
                        }
                    }
                }
            }
        }
        if query.sort_by.is_some() {
            let rt = self.resource_type(kinds.first().copied().unwrap_or(Kind::User))?;
            let ctx = EvalContext {
                registry: &self.registry,
                resource_type: rt,
            };
            let mut refs: Vec<&Value> = hits.iter().map(|(_, r)| *r).collect();
            query.sort(&mut refs, &ctx);
            hits = refs.into_iter().map(|r| (kind_of_stored(r), r)).collect();
        }
        let total = hits.len();
        let mut range = query.page_range(total);
        if range.len() > self.config.max_results {
            range.end = range.start + self.config.max_results;
        }
        let mut page = Vec::with_capacity(range.len());
        for (kind, r) in hits.get(range).unwrap_or_default() {
            let id = r.get("id").and_then(Value::as_str).unwrap_or_default();
            page.push(self.render(&state, *kind, id, r, base, &query.projection)?);
        }
        Ok(Reply::json(
            200,
            list_response(total, query.start_index.max(1), page),
        ))
    }

    /// Stores the validated new state of a resource: checks uniqueness,
    /// completes Group members, sets `id` and `meta`, and keeps the
    /// membership index current. Returns the stored JSON.
    fn commit(
        &self,
        state: &mut State,
        kind: Kind,
        id: &str,
        new: Value,
        existing: Option<&Value>,
    ) -> ScimResult<Value> {
        let Value::Object(mut fields) = new else {
            return Err(ScimError::invalid_syntax(
                "a resource must be a JSON object",
            ));
        };
        // RFC 7643 §7: a writeOnly attribute is never returned; the store
        // keeps no secrets at all.
        fields.shift_remove("password");
        let mut resource = Value::Object(fields);
        if let Some(name) = unique_name(kind, &resource) {
            if let Some(owner) = state.collection(kind).id_by_name(&name) {
                if owner != id {
                    return Err(ScimError::uniqueness(format!(
                        "{} \"{}\" is already taken by another {}",
                        kind.unique_attr(),
                        resource
                            .get(kind.unique_attr())
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                        kind.name()
                    )));
                }
            }
        }
        let new_members = match kind {
            Kind::Group => Some(members::complete_members(state, id, &mut resource)?),
            Kind::User => None,
        };
        let now = DateTime::now().to_rfc3339();
        let created = existing
            .and_then(|e| e.pointer("/meta/created"))
            .cloned()
            .unwrap_or_else(|| json!(now));
        let version = state.new_version();
        let mut ordered = Map::new();
        let Value::Object(mut fields) = resource else {
            return Err(ScimError::internal("resource lost its shape"));
        };
        if let Some(s) = fields.shift_remove("schemas") {
            ordered.insert("schemas".into(), s);
        }
        ordered.insert("id".into(), json!(id));
        fields.shift_remove("id");
        fields.shift_remove("meta");
        ordered.extend(fields);
        ordered.insert(
            "meta".into(),
            json!({
                "resourceType": kind.name(),
                "created": created,
                "lastModified": now,
                "version": version,
            }),
        );
        let stored = Value::Object(ordered);
        state.put(kind, id, stored.clone());
        if let Some(new_members) = new_members {
            let old_members = existing.map(members::member_ids).unwrap_or_default();
            members::reindex(state, id, &old_members, &new_members, &now);
        }
        if kind == Kind::Group && existing.is_some() {
            // A renamed Group changes the `groups.display` of its members.
            let renamed = existing.and_then(|e| e.get("displayName")) != stored.get("displayName");
            if renamed {
                members::touch_members(state, id, &now);
            }
        }
        Ok(stored)
    }

    /// The resource as served under `base`: `meta.location`, member `$ref`s,
    /// a User's `groups`, then the projection.
    pub(crate) fn render(
        &self,
        state: &State,
        kind: Kind,
        id: &str,
        stored: &Value,
        base: &str,
        projection: &Projection,
    ) -> ScimResult<Value> {
        let rt = self.resource_type(kind)?;
        // Copy only what the projection may return (a Group's members are
        // neither copied nor given `$ref`s when excluded).
        let mut out = match stored {
            Value::Object(o) => Value::Object(projection.copy_kept(&self.registry, rt, o)),
            other => other.clone(),
        };
        if let Some(Value::Object(meta)) = out.get_mut("meta") {
            meta.insert(
                "location".into(),
                json!(format!("{base}{}/{id}", kind.endpoint())),
            );
        }
        match kind {
            Kind::User => {
                if let Some(groups) = members::groups_of(state, id, base) {
                    if let Value::Object(o) = &mut out {
                        // Keep `meta` last for readability.
                        let meta = o.shift_remove("meta");
                        o.insert("groups".into(), groups);
                        if let Some(meta) = meta {
                            o.insert("meta".into(), meta);
                        }
                    }
                }
            }
            Kind::Group => {
                if let Some(ms) = out.get_mut("members").and_then(Value::as_array_mut) {
                    for m in ms.iter_mut() {
                        let endpoint = match m.get("type").and_then(Value::as_str) {
                            Some("Group") => "/Groups",
                            _ => "/Users",
                        };
                        let value = m.get("value").and_then(Value::as_str).unwrap_or_default();
                        let r = format!("{base}{endpoint}/{value}");
                        if let Value::Object(o) = m {
                            o.insert("$ref".into(), json!(r));
                        }
                    }
                }
            }
        }
        Ok(projection.apply_owned(&self.registry, rt, out))
    }
}

/// The stored resource or 404.
pub(super) fn find<'s>(state: &'s State, kind: Kind, id: &str) -> ScimResult<&'s Value> {
    state
        .collection(kind)
        .by_id
        .get(id)
        .map(|e| &e.resource)
        .ok_or_else(|| ScimError::not_found(format!("{} \"{id}\" not found", kind.name())))
}

/// `meta.version`.
pub(super) fn version_of(resource: &Value) -> Option<String> {
    resource
        .pointer("/meta/version")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A PUT body that carries an `id` must carry this resource's id.
fn check_id(body: &Value, id: &str) -> ScimResult<()> {
    let given = body
        .as_object()
        .and_then(|o| crate::scim::json::get_ci(o, "id"));
    match given {
        Some(Value::String(s)) if s != id => Err(ScimError::mutability(format!(
            "id \"{s}\" in the body does not match the resource id \"{id}\" (id is readOnly)"
        ))),
        _ => Ok(()),
    }
}

/// The kind of a stored resource, from `meta.resourceType`.
fn kind_of_stored(r: &Value) -> Kind {
    match r.pointer("/meta/resourceType").and_then(Value::as_str) {
        Some("Group") => Kind::Group,
        _ => Kind::User,
    }
}
