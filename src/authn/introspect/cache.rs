//! The introspection cache: verdicts keyed by the SHA-256 of the token, so
//! that a memory dump or a debug print never shows a token; bounded in
//! size, oldest entry out first.
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Instant;

/// The SHA-256 of a token: what the cache and the in-flight table key on.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TokenKey([u8; 32]);

/// Verdicts with an expiry, at most `max_entries` of them.
pub(crate) struct Cache<V> {
    entries: HashMap<TokenKey, Entry<V>>,
    /// Insertion order, for evicting the oldest entry when full.
    order: BTreeMap<u64, TokenKey>,
    next_seq: u64,
    max_entries: usize,
}

struct Entry<V> {
    value: V,
    expires: Instant,
    seq: u64,
}

// === impl TokenKey ===

impl TokenKey {
    pub(crate) fn of(token: &str) -> TokenKey {
        TokenKey(Sha256::digest(token.as_bytes()).into())
    }

    #[cfg(test)]
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix of the hash is enough to tell entries apart in logs.
        write!(f, "TokenKey(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

// === impl Cache ===

impl<V: Clone> Cache<V> {
    pub(crate) fn new(max_entries: usize) -> Cache<V> {
        Cache {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            max_entries,
        }
    }

    /// The live value for `key`; an expired one is removed.
    pub(crate) fn get(&mut self, key: &TokenKey, now: Instant) -> Option<V> {
        let entry = self.entries.get(key)?;
        if now < entry.expires {
            return Some(entry.value.clone());
        }
        self.remove(key);
        None
    }

    /// Stores `value` until `expires`, evicting expired entries, then the
    /// oldest, when full.
    pub(crate) fn insert(&mut self, key: TokenKey, value: V, expires: Instant, now: Instant) {
        if self.max_entries == 0 || expires <= now {
            return;
        }
        self.remove(&key);
        if self.entries.len() >= self.max_entries {
            self.purge_expired(now);
        }
        while self.entries.len() >= self.max_entries {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, key);
        self.entries.insert(
            key,
            Entry {
                value,
                expires,
                seq,
            },
        );
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    pub(crate) fn keys(&self) -> Vec<TokenKey> {
        self.entries.keys().copied().collect()
    }

    fn remove(&mut self, key: &TokenKey) {
        if let Some(entry) = self.entries.remove(key) {
            self.order.remove(&entry.seq);
        }
    }

    fn purge_expired(&mut self, now: Instant) {
        let order = &mut self.order;
        self.entries.retain(|_, entry| {
            let live = now < entry.expires;
            if !live {
                order.remove(&entry.seq);
            }
            live
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn key_is_the_sha256_of_the_token() {
        // FIPS 180-2 test vector for "abc".
        let key = TokenKey::of("abc");
        let hex: String = key.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let token = "opaque-token-value";
        let key = TokenKey::of(token);
        // No run of the token survives in the key.
        let token_runs: Vec<&[u8]> = token.as_bytes().windows(4).collect();
        assert!(!key.as_bytes().windows(4).any(|w| token_runs.contains(&w)));
        assert!(!format!("{key:?}").contains(token));
        assert_ne!(TokenKey::of("a"), TokenKey::of("b"));
    }

    #[test]
    fn entries_expire() {
        let now = Instant::now();
        let mut cache = Cache::new(10);
        cache.insert(TokenKey::of("a"), 1, now + Duration::from_secs(5), now);
        assert_eq!(cache.get(&TokenKey::of("a"), now), Some(1));
        assert_eq!(
            cache.get(&TokenKey::of("a"), now + Duration::from_secs(5)),
            None
        );
        assert_eq!(cache.len(), 0);
        // Already expired: not stored.
        cache.insert(TokenKey::of("b"), 2, now, now);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn full_cache_drops_expired_then_oldest() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let mut cache = Cache::new(3);
        cache.insert(TokenKey::of("old"), 0, later, now);
        cache.insert(TokenKey::of("short"), 1, now + Duration::from_secs(1), now);
        cache.insert(TokenKey::of("mid"), 2, later, now);
        // "short" has expired by now: it goes, "old" stays.
        let now2 = now + Duration::from_secs(2);
        cache.insert(TokenKey::of("new"), 3, later, now2);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&TokenKey::of("old"), now2), Some(0));
        assert_eq!(cache.get(&TokenKey::of("short"), now2), None);
        // Nothing expired: the oldest goes.
        cache.insert(TokenKey::of("newest"), 4, later, now2);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&TokenKey::of("old"), now2), None);
        assert_eq!(cache.get(&TokenKey::of("newest"), now2), Some(4));
        // Replacing a key does not grow the cache.
        cache.insert(TokenKey::of("newest"), 5, later, now2);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&TokenKey::of("newest"), now2), Some(5));
    }
}
