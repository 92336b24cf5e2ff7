//! The store's data: one collection per resource type, the
//! case-insensitive uniqueness indexes, and the direct-membership index
//! that keeps each User's read-only `groups` in step with Group `members`.
use serde_json::Value;
use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasher, Hasher};

/// The two resource types the store serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    User,
    Group,
}

/// One stored resource: its insertion sequence (list order) and its JSON
/// without the base-URL-dependent parts (`meta.location`, `$ref`s) and
/// without derived ones (`User.groups`), which are added when rendered.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub seq: u64,
    pub resource: Value,
    /// For a Group: member id → its index in `members`, built on the first
    /// single-member removal and kept by the member PATCH fast path
    /// (`member_patch`), so removing one member of 100,000 does not scan
    /// them. `None` (rebuilt when next needed) after any other change.
    pub member_pos: Option<HashMap<String, usize>>,
}

/// The resources of one type.
#[derive(Debug, Default)]
pub(crate) struct Collection {
    pub by_id: HashMap<String, Entry>,
    /// Insertion order, so that unsorted lists page stably.
    pub by_seq: BTreeMap<u64, String>,
    /// Lower-cased unique name (`userName`, Group `displayName`) → id.
    pub names: HashMap<String, String>,
}

/// Everything the store holds; guarded by one `RwLock` in [`super::Store`].
#[derive(Debug)]
pub(crate) struct State {
    pub users: Collection,
    pub groups: Collection,
    /// Member id (User or Group) → the Groups it is a direct member of.
    pub member_of: HashMap<String, BTreeSet<String>>,
    next_seq: u64,
    next_version: u64,
    id_seed: RandomState,
}

// === impl Kind ===

impl Kind {
    /// The resource type name (`User`, `Group`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }

    /// The endpoint (`/Users`, `/Groups`).
    pub(crate) fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "/Users",
            Kind::Group => "/Groups",
        }
    }

    /// The attribute that is unique across the collection, ignoring case.
    pub(crate) fn unique_attr(self) -> &'static str {
        match self {
            Kind::User => "userName",
            Kind::Group => "displayName",
        }
    }

    /// From an endpoint segment (`Users`), ignoring case.
    pub(crate) fn from_segment(segment: &str) -> Option<Kind> {
        if segment.eq_ignore_ascii_case("Users") {
            Some(Kind::User)
        } else if segment.eq_ignore_ascii_case("Groups") {
            Some(Kind::Group)
        } else {
            None
        }
    }
}

// === impl Collection ===

impl Collection {
    /// The id owning the unique name `name`, ignoring case.
    pub(crate) fn id_by_name(&self, name: &str) -> Option<&String> {
        self.names.get(&name.to_lowercase())
    }

    /// Stored resources in insertion order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Value> {
        self.by_seq
            .values()
            .filter_map(|id| self.by_id.get(id).map(|e| &e.resource))
    }
}

// === impl State ===

impl State {
    pub(crate) fn new() -> State {
        State {
            users: Collection::default(),
            groups: Collection::default(),
            member_of: HashMap::new(),
            next_seq: 1,
            next_version: 1,
            id_seed: RandomState::new(),
        }
    }

    pub(crate) fn collection(&self, kind: Kind) -> &Collection {
        match kind {
            Kind::User => &self.users,
            Kind::Group => &self.groups,
        }
    }

    pub(crate) fn collection_mut(&mut self, kind: Kind) -> &mut Collection {
        match kind {
            Kind::User => &mut self.users,
            Kind::Group => &mut self.groups,
        }
    }

    /// Number of resources of all types.
    pub(crate) fn len(&self) -> usize {
        self.users.by_id.len() + self.groups.by_id.len()
    }

    /// Which collection holds `id`, if any.
    pub(crate) fn kind_of(&self, id: &str) -> Option<Kind> {
        if self.users.by_id.contains_key(id) {
            Some(Kind::User)
        } else if self.groups.by_id.contains_key(id) {
            Some(Kind::Group)
        } else {
            None
        }
    }

    /// A fresh resource id in UUID form: unique (a counter is mixed in) and
    /// not guessable from the previous one.
    pub(crate) fn new_id(&mut self) -> String {
        loop {
            let seq = self.next_seq;
            self.next_seq += 1;
            let mut h1 = self.id_seed.build_hasher();
            h1.write_u64(seq);
            let a = h1.finish();
            let mut h2 = self.id_seed.build_hasher();
            h2.write_u64(a ^ seq.rotate_left(17));
            let b = h2.finish();
            let id = format!(
                "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0x0fff,
                0x8000 | ((b >> 48) & 0x3fff),
                b & 0xffff_ffff_ffff
            );
            if self.kind_of(&id).is_none() {
                return id;
            }
        }
    }

    /// A new resource version, `W/"<n>"`, never reused within the process.
    pub(crate) fn new_version(&mut self) -> String {
        let v = self.next_version;
        self.next_version += 1;
        format!("W/\"{v}\"")
    }

    /// Inserts or replaces a resource, keeping the name index current.
    pub(crate) fn put(&mut self, kind: Kind, id: &str, resource: Value) {
        let name = unique_name(kind, &resource);
        let seq = self.next_seq;
        let coll = self.collection_mut(kind);
        let seq = match coll.by_id.get(id) {
            Some(old) => {
                if let Some(old_name) = unique_name(kind, &old.resource) {
                    coll.names.remove(&old_name);
                }
                old.seq
            }
            None => {
                coll.by_seq.insert(seq, id.to_string());
                seq
            }
        };
        if let Some(name) = name {
            coll.names.insert(name, id.to_string());
        }
        coll.by_id.insert(
            id.to_string(),
            Entry {
                seq,
                resource,
                member_pos: None,
            },
        );
        self.next_seq += 1;
    }

    /// Removes a resource and its name; returns it.
    pub(crate) fn take(&mut self, kind: Kind, id: &str) -> Option<Value> {
        let coll = self.collection_mut(kind);
        let entry = coll.by_id.remove(id)?;
        coll.by_seq.remove(&entry.seq);
        if let Some(name) = unique_name(kind, &entry.resource) {
            coll.names.remove(&name);
        }
        Some(entry.resource)
    }
}

/// The lower-cased unique name of a resource.
pub(crate) fn unique_name(kind: Kind, resource: &Value) -> Option<String> {
    resource
        .get(kind.unique_attr())
        .and_then(Value::as_str)
        .map(str::to_lowercase)
}
