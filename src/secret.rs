//! A secret string (client secrets, upstream passwords and tokens, hook
//! secrets): one type, so that one `Debug` decides how every secret prints.
//!
//! Ground layer: imports nothing of the crate. `Debug` prints
//! `<redacted>` and there is no `Display`, so a secret reaches a log line,
//! a metric label, an audit record or an error body only through an
//! explicit [`Secret::expose`], whose callers put it on the wire.

use std::fmt;
use std::sync::Arc;

/// A secret value; cheap to clone (clones share the bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself: only for putting it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("hunter2");
        let printed = format!("{s:?} {:?}", Some(s.clone()));
        assert!(!printed.contains("hunter2"), "{printed}");
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(Secret::new(String::from("x")), Secret::new("x"));
    }
}
