//! A hash of JSON values that agrees with their equality, and an index of
//! a list's values by it: "is this value already in the list" in constant
//! time, for PATCH adds to long multi-valued attributes (a group's
//! members).
//!
//! `serde_json::Value` is not `Hash`. Equality of objects ignores member
//! order (with `preserve_order` too), so an object hashes as the sum of
//! its members' hashes; numbers hash by what `==` compares (integers by
//! value, floats by bits, with -0.0 as 0.0, which `==` makes equal).
use serde_json::Value;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// The hash of `v`: equal values hash equally.
pub(super) fn value_hash(v: &Value) -> u64 {
    let mut h = DefaultHasher::new();
    feed(v, &mut h);
    h.finish()
}

fn feed(v: &Value, h: &mut DefaultHasher) {
    match v {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => (1u8, b).hash(h),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                (2u8, u).hash(h);
            } else if let Some(i) = n.as_i64() {
                (3u8, i).hash(h);
            } else {
                let f = n.as_f64().unwrap_or_default();
                let bits = if f == 0.0 { 0 } else { f.to_bits() };
                (4u8, bits).hash(h);
            }
        }
        Value::String(s) => (5u8, s).hash(h),
        Value::Array(items) => {
            (6u8, items.len()).hash(h);
            for item in items {
                feed(item, h);
            }
        }
        Value::Object(members) => {
            let sum = members.iter().fold(0u64, |sum, (k, v)| {
                let mut m = DefaultHasher::new();
                k.hash(&mut m);
                feed(v, &mut m);
                sum.wrapping_add(m.finish())
            });
            (7u8, members.len(), sum).hash(h);
        }
    }
}

/// The positions of a list's values by their hash.
pub(super) struct ValueIndex {
    by_hash: HashMap<u64, Vec<usize>>,
}

impl ValueIndex {
    /// Indexes every value of `items`.
    pub(super) fn of(items: &[Value]) -> ValueIndex {
        let mut index = ValueIndex {
            by_hash: HashMap::with_capacity(items.len()),
        };
        for (i, v) in items.iter().enumerate() {
            index.insert(i, v);
        }
        index
    }

    /// Records that `items[at]` is `v`.
    pub(super) fn insert(&mut self, at: usize, v: &Value) {
        self.by_hash.entry(value_hash(v)).or_default().push(at);
    }

    /// Whether `items` (the list this index describes) holds a value
    /// equal to `v`.
    pub(super) fn contains(&self, items: &[Value], v: &Value) -> bool {
        self.by_hash
            .get(&value_hash(v))
            .is_some_and(|at| at.iter().any(|&i| items.get(i) == Some(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-3i64..3).prop_map(|n| json!(n)),
            prop::sample::select(vec![0.0f64, -0.0, 1.5, 1.0]).prop_map(|f| json!(f)),
            prop::sample::select(vec!["a", "b", "A"]).prop_map(|s| json!(s)),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(3, 16, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::vec((prop::sample::select(vec!["x", "y", "z"]), inner), 0..3)
                    .prop_map(|members| {
                        Value::Object(
                            members
                                .into_iter()
                                .map(|(k, v)| (k.to_string(), v))
                                .collect(),
                        )
                    }),
            ]
        })
    }

    proptest! {
        #[test]
        fn equal_values_hash_equally(a in value(), b in value()) {
            if a == b {
                prop_assert_eq!(value_hash(&a), value_hash(&b));
            }
            // Member order does not matter to `==`, nor to the hash.
            if let Value::Object(m) = &a {
                let reversed: serde_json::Map<String, Value> =
                    m.iter().rev().map(|(k, v)| (k.clone(), v.clone())).collect();
                let r = Value::Object(reversed);
                prop_assert_eq!(&a, &r);
                prop_assert_eq!(value_hash(&a), value_hash(&r));
            }
        }

        #[test]
        fn the_index_agrees_with_contains(items in prop::collection::vec(value(), 0..12), v in value()) {
            let index = ValueIndex::of(&items);
            prop_assert_eq!(index.contains(&items, &v), items.contains(&v));
        }
    }
}
