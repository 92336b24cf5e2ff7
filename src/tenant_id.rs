//! A tenant's id: the key of every per-tenant thing (credentials, limits,
//! cache entries, metric labels, audit records), so the one type every
//! layer may name.
//!
//! Ground layer: imports nothing of the crate.

use std::fmt;
use std::sync::Arc;

/// A tenant id: `[a-z0-9-]{1,64}`, so it is safe as a metric label, a
/// log field, a Redis key part and a file name without escaping.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(Arc<str>);

impl TenantId {
    /// A tenant id, if `s` is `[a-z0-9-]{1,64}`.
    pub fn new(s: &str) -> Option<TenantId> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        ok.then(|| TenantId(Arc::from(s)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for TenantId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lower_case_letters_digits_and_dashes() {
        assert!(TenantId::new("acme-1").is_some());
        assert!(TenantId::new(&"a".repeat(64)).is_some());
        assert!(TenantId::new(&"a".repeat(65)).is_none());
        assert!(TenantId::new("Acme").is_none());
        assert!(TenantId::new("").is_none());
        assert!(TenantId::new("a/b").is_none());
        assert!(TenantId::new("a.b").is_none());
    }
}
