//! The exact-name indexes [`verbatim`](super::verbatim) looks attribute
//! names up in, built once per schema registry
//! ([`SchemaRegistry::raw_plans`]) and dropped by every change to it.
use crate::scim::schema::{Attribute, Mutability, ResourceType, SchemaRegistry};

/// What [`verbatim`](super::verbatim) looks names up in, built once per registry
/// ([`SchemaRegistry::raw_plans`]): per resource type, the schemas it
/// reads and an exact-name index of every attribute list.
#[derive(Debug, Clone, Default)]
pub struct Plans {
    /// By the registry's resource type index; `None` where the type is
    /// too wide for the bit sets (or its schema is not loaded): the full
    /// path then validates.
    types: Vec<Option<TypePlan>>,
}

#[derive(Debug, Clone)]
pub(super) struct TypePlan {
    /// The core schema's index in the registry.
    pub(super) core: usize,
    /// The common attributes (`id`, ...) then the core schema's, as one
    /// list: index `i < common` is `common[i]`, else `core[i - common]`.
    pub(super) top: Names,
    pub(super) common: usize,
    /// The core schema's required attributes the client writes.
    pub(super) required: u64,
    /// Per extension of the type: its schema's index and attributes.
    pub(super) extensions: Vec<Option<(usize, Names)>>,
}

/// An exact-name index over one attribute list, and the same for the
/// sub-attributes of each of its attributes.
#[derive(Debug, Clone, Default)]
pub(super) struct Names {
    keys: Vec<Key>,
    /// Required attributes the client writes (bit i: attribute i).
    pub(super) required: u64,
    /// Per attribute: its sub-attributes' index (empty when it has none).
    pub(super) subs: Vec<Names>,
}

/// One name: its first eight bytes as a number (zero-padded), its length
/// and the rest. Names the full path's case-blind lookup would resolve to
/// an earlier attribute are left out: a key spelled so takes the full
/// path, which re-spells it.
#[derive(Debug, Clone)]
struct Key {
    head: u64,
    len: usize,
    name: Box<str>,
    at: usize,
}

#[inline]
fn head(name: &[u8]) -> u64 {
    match name.get(..8) {
        Some(first) => first.iter().rev().fold(0, |h, b| h << 8 | u64::from(*b)),
        // Byte by byte: a copy of a variable length is a call to memmove.
        None => name.iter().rev().fold(0, |h, b| h << 8 | u64::from(*b)),
    }
}

impl Names {
    /// The index over `attrs`, given as (attribute, shadowed) pairs.
    fn build<'a>(attrs: impl Iterator<Item = (&'a Attribute, bool)>) -> Names {
        let mut names = Names::default();
        for (i, (attr, shadowed)) in attrs.enumerate() {
            if !shadowed {
                names.keys.push(Key {
                    head: head(attr.name.as_bytes()),
                    len: attr.name.len(),
                    name: attr.name.as_str().into(),
                    at: i,
                });
            }
            if attr.required && attr.mutability != Mutability::ReadOnly && i < 64 {
                names.required |= 1 << i;
            }
            names.subs.push(Names::of(&attr.sub_attributes));
        }
        names
    }

    fn of(attrs: &[Attribute]) -> Names {
        Names::build(
            attrs
                .iter()
                .enumerate()
                .map(|(i, a)| (a, shadowed(&attrs[..i], a))),
        )
    }

    /// The index of the attribute spelled exactly `name`.
    #[inline]
    pub(super) fn find(&self, name: &str) -> Option<usize> {
        let (h, len) = (head(name.as_bytes()), name.len());
        self.keys
            .iter()
            .find(|k| k.head == h && k.len == len && (len <= 8 || *k.name == *name))
            .map(|k| k.at)
    }
}

/// Whether the full path's case-blind lookup finds one of `earlier` for
/// `attr`'s name.
fn shadowed(earlier: &[Attribute], attr: &Attribute) -> bool {
    earlier
        .iter()
        .any(|a| a.name.eq_ignore_ascii_case(&attr.name))
}

impl Plans {
    pub(crate) fn build(registry: &SchemaRegistry) -> Plans {
        let schema_index = |urn: &str| {
            registry
                .schemas()
                .iter()
                .position(|s| s.id.eq_ignore_ascii_case(urn))
        };
        let common = registry.common_attributes();
        let types =
            registry
                .resource_types()
                .iter()
                .map(|rt| {
                    let core = schema_index(&rt.schema)?;
                    let attrs = &registry.schemas()[core].attributes;
                    // Presence is tracked in bit sets; wider schemas take the
                    // full path.
                    if attrs.len() > 64 || common.len() > 8 || rt.extensions.len() > 32 {
                        return None;
                    }
                    let top =
                        common
                            .iter()
                            .enumerate()
                            .map(|(i, a)| (a, shadowed(&common[..i], a)))
                            .chain(attrs.iter().enumerate().map(|(i, a)| {
                                (a, shadowed(common, a) || shadowed(&attrs[..i], a))
                            }));
                    let top = Names::build(top);
                    let extensions = rt
                        .extensions
                        .iter()
                        .map(|e| {
                            let i = schema_index(&e.schema)?;
                            let attrs = &registry.schemas()[i].attributes;
                            (attrs.len() <= 64).then(|| (i, Names::of(attrs)))
                        })
                        .collect();
                    Some(TypePlan {
                        core,
                        top,
                        common: common.len(),
                        required: Names::of(attrs).required,
                        extensions,
                    })
                })
                .collect();
        Plans { types }
    }

    /// The plan of `rt`, one of `registry`'s resource types.
    pub(super) fn for_type(
        &self,
        registry: &SchemaRegistry,
        rt: &ResourceType,
    ) -> Option<&TypePlan> {
        let types = registry.resource_types();
        let i = types
            .iter()
            .position(|t| std::ptr::eq(t, rt))
            .or_else(|| types.iter().position(|t| t == rt))?;
        self.types.get(i)?.as_ref()
    }
}
