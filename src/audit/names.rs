//! [`AttributeNames`]: the names an audit record lists, kept in one buffer.
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The names of the attributes a write changed, in order: one string that
/// holds them all, and where each ends. A record lists a dozen short names
/// per write; one allocation for all of them costs the request path less
/// than one per name. Serialized as a JSON array of strings.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AttributeNames {
    text: String,
    /// The end of each name in `text` (a name starts where the previous
    /// one ends).
    ends: Vec<usize>,
}

impl AttributeNames {
    pub fn new() -> AttributeNames {
        AttributeNames::default()
    }

    /// Room for `names` names of `bytes` bytes in all.
    pub fn with_capacity(names: usize, bytes: usize) -> AttributeNames {
        AttributeNames {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(names),
        }
    }

    /// Appends a name (as it is: bounding and deduplicating are the
    /// caller's).
    pub fn push(&mut self, name: &str) {
        self.text.push_str(name);
        self.ends.push(self.text.len());
    }

    /// Appends the name written in `parts` (`urn`, `:`, `attr`).
    pub fn push_parts(&mut self, parts: &[&str]) {
        for part in parts {
            self.text.push_str(part);
        }
        self.ends.push(self.text.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The bytes of all the names together.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter {
            names: self,
            next: 0,
        }
    }
}

/// The names of an [`AttributeNames`], in order.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    names: &'a AttributeNames,
    next: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let end = *self.names.ends.get(self.next)?;
        let start = match self.next {
            0 => 0,
            i => self.names.ends.get(i - 1).copied().unwrap_or(0),
        };
        self.next += 1;
        self.names.text.get(start..end)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.names.ends.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a AttributeNames {
    type Item = &'a str;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<S: AsRef<str>> FromIterator<S> for AttributeNames {
    fn from_iter<I: IntoIterator<Item = S>>(names: I) -> AttributeNames {
        let mut out = AttributeNames::new();
        for name in names {
            out.push(name.as_ref());
        }
        out
    }
}

impl<S: AsRef<str>> From<Vec<S>> for AttributeNames {
    fn from(names: Vec<S>) -> AttributeNames {
        names.iter().collect()
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for AttributeNames {
    fn eq(&self, other: &Vec<S>) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == b.as_ref())
    }
}

impl fmt::Debug for AttributeNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for AttributeNames {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for AttributeNames {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AttributeNames, D::Error> {
        Ok(Vec::<String>::deserialize(d)?.into())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn names_come_back_as_pushed_and_serialize_as_a_list(names in prop::collection::vec(".{0,12}", 0..20)) {
            let kept: AttributeNames = names.iter().collect();
            prop_assert_eq!(kept.len(), names.len());
            prop_assert_eq!(kept.iter().len(), names.len());
            prop_assert_eq!(kept.iter().collect::<Vec<_>>(), names.iter().map(String::as_str).collect::<Vec<_>>());
            prop_assert!(kept == names);
            let json = serde_json::to_string(&kept).unwrap();
            prop_assert_eq!(&json, &serde_json::to_string(&names).unwrap());
            let back: AttributeNames = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, kept);
        }
    }

    #[test]
    fn empty_names_are_names_too() {
        let names: AttributeNames = vec!["", "a", ""].into();
        assert_eq!(names.len(), 3);
        assert_eq!(names.iter().collect::<Vec<_>>(), ["", "a", ""]);
        assert_eq!(format!("{names:?}"), r#"["", "a", ""]"#);
        assert!(AttributeNames::new().is_empty());
    }
}
