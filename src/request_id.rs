//! The request id: the client's `X-Request-Id` when it is short and
//! plain, else a fresh one. It travels as a [`HeaderValue`] so that the
//! response header and the upstream's header are clones of one buffer (a
//! reference count, no copy); logs, events and audit records read it as
//! text with [`RequestId::as_str`].
//!
//! Why a type: as a `String` one id cost four allocations per request (the
//! string, its copy into the upstream request, and a header value made from
//! each). Now a client's id costs none (its header value is shared), and a
//! fresh one costs one (its digits and their reference count together).
use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use std::fmt;

/// `X-Request-Id`.
pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client id reused as is.
const MAX_LEN: usize = 128;

/// One request's id: printable ASCII by construction (hex, or a client's
/// id of letters, digits and `-_.:`).
#[derive(Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The client's `X-Request-Id` when it is valid (1 to 128 bytes of
    /// letters, digits and `-_.:`), shared, not copied; else a fresh id.
    pub fn of_request(headers: &HeaderMap) -> RequestId {
        headers
            .get(&X_REQUEST_ID)
            .filter(|v| is_plain(v.as_bytes()))
            .map(|v| RequestId(v.clone()))
            .unwrap_or_else(RequestId::generate)
    }

    /// A fresh id: 128 random bits as 32 lower-case hex digits, from a
    /// per-process random hasher and a counter.
    pub fn generate() -> RequestId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        use std::hash::{BuildHasher, Hasher};
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::OnceLock;
        static SEED: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let seed = SEED.get_or_init(std::collections::hash_map::RandomState::new);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut a = seed.build_hasher();
        a.write_u64(n);
        let mut b = seed.build_hasher();
        b.write_u64(!n);
        // Built on the stack, then moved into one allocation that holds the
        // digits and their reference count together (`Bytes::from_owner`):
        // clones are a count. (A `Vec` would take a second allocation, the
        // shared header `bytes` adds when it is first cloned.)
        let mut id = [0u8; 32];
        let digits = [a.finish(), b.finish()]
            .into_iter()
            .flat_map(|word| (0..16).rev().map(move |shift| (word >> (shift * 4)) & 0xf));
        for (slot, digit) in id.iter_mut().zip(digits) {
            *slot = HEX[digit as usize];
        }
        // Hex digits are always a valid header value.
        RequestId(
            HeaderValue::from_maybe_shared(Bytes::from_owner(id))
                .unwrap_or_else(|_| HeaderValue::from_static("00000000000000000000000000000000")),
        )
    }

    /// The id as text (for logs, events and audit records).
    pub fn as_str(&self) -> &str {
        // Always ASCII by construction: the fallback is never taken.
        self.0.to_str().unwrap_or("")
    }

    /// The id as a header value: a clone of the shared buffer (a reference
    /// count, no copy).
    pub fn header(&self) -> HeaderValue {
        self.0.clone()
    }
}

/// Whether a client's id is reused as is: short and plain, so that it is
/// safe in logs and audit records.
fn is_plain(v: &[u8]) -> bool {
    !v.is_empty()
        && v.len() <= MAX_LEN
        && v.iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// `s` when it is a valid client id, else a fresh id (for tests and
/// callers that hold an id as text).
impl From<&str> for RequestId {
    fn from(s: &str) -> RequestId {
        if is_plain(s.as_bytes()) {
            if let Ok(v) = HeaderValue::from_str(s) {
                return RequestId(v);
            }
        }
        RequestId::generate()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn headers(id: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(&X_REQUEST_ID, HeaderValue::from_bytes(id).unwrap());
        h
    }

    fn is_fresh(id: &RequestId) -> bool {
        id.as_str().len() == 32
            && id
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }

    #[test]
    fn a_plain_client_id_is_shared_not_copied() {
        let h = headers(b"trace-42:a_b.c");
        let id = RequestId::of_request(&h);
        assert_eq!(id.as_str(), "trace-42:a_b.c");
        assert_eq!(id.to_string(), "trace-42:a_b.c");
        assert_eq!(id.header(), "trace-42:a_b.c");
        // The same buffer as the client's header: nothing was copied.
        assert_eq!(id.as_str().as_ptr(), h[&X_REQUEST_ID].as_bytes().as_ptr());
        assert_eq!(id.header().as_bytes().as_ptr(), id.as_str().as_ptr());
    }

    #[test]
    fn unusable_client_ids_get_a_fresh_one() {
        let long = vec![b'a'; MAX_LEN + 1];
        for bad in [
            &b""[..],
            b"has space",
            b"semi;colon",
            b"\xc3\xa9t\xc3\xa9",
            &long,
        ] {
            let id = RequestId::of_request(&headers(bad));
            assert!(is_fresh(&id), "{bad:?} gave {id}");
        }
        assert!(is_fresh(&RequestId::of_request(&HeaderMap::new())));
        let longest = vec![b'a'; MAX_LEN];
        assert_eq!(
            RequestId::of_request(&headers(&longest)).as_str().len(),
            MAX_LEN
        );
    }

    #[test]
    fn fresh_ids_are_hex_and_differ() {
        let (a, b) = (RequestId::generate(), RequestId::generate());
        assert!(is_fresh(&a) && is_fresh(&b));
        assert_ne!(a, b);
        assert_eq!(a.header(), a.as_str());
        // Clones share the digits.
        assert_eq!(a.header().as_bytes().as_ptr(), a.as_str().as_ptr());
        assert_eq!(a.clone().as_str().as_ptr(), a.as_str().as_ptr());
    }

    #[test]
    fn from_text_keeps_a_valid_id_only() {
        let id: RequestId = "r1".into();
        assert_eq!(id.as_str(), "r1");
        assert_eq!(format!("{id:?}"), "\"r1\"");
        assert!(is_fresh(&RequestId::from("not valid")));
    }
}
