//! Response rewriting (pure): locations that point at the upstream are
//! rewritten to the gateway's public URL for the tenant, so clients never
//! see, or call, an upstream address.
//!
//! What is rewritten: every JSON string value that is exactly `from_base`
//! or starts with `from_base/` — in practice `meta.location` of resources
//! and of every ListResponse item, Bulk `Operations[].location`, and the
//! `$ref` of members, groups and manager. Scheme and host compare ignoring
//! case, and an explicit default port (`:80`, `:443`) matches its absence.
//!
//! The fast path never parses JSON: a body that does not contain the
//! upstream's host is returned untouched, and otherwise the string values
//! are rewritten in the bytes, without re-serializing.
use bytes::Bytes;

/// A base URL split for matching.
struct Base<'a> {
    /// `http://` or `https://`, lower-cased on comparison.
    scheme: &'a str,
    host: &'a str,
    /// `:port` or empty (default ports removed).
    port: &'a str,
    path: &'a str,
}

fn split(base: &str) -> Option<Base<'_>> {
    let (scheme, rest) = base.split_once("://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let (host, port) = host_port(scheme, authority);
    Some(Base {
        scheme,
        host,
        port,
        path,
    })
}

/// An authority's host and `:port`, the port empty when absent or the
/// scheme's default (`:80` for http, `:443` for https). The colons of an
/// IPv6 literal stay in the host.
fn host_port<'a>(scheme: &str, authority: &'a str) -> (&'a str, &'a str) {
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => authority.split_at(i),
        _ => (authority, ""),
    };
    let default = (scheme.eq_ignore_ascii_case("http") && port == ":80")
        || (scheme.eq_ignore_ascii_case("https") && port == ":443");
    (host, if default { "" } else { port })
}

/// If `value` is `from` or below it, the part after `from`'s path.
fn strip_base<'v>(value: &'v str, from: &Base<'_>) -> Option<&'v str> {
    let (scheme, rest) = value.split_once("://")?;
    if !scheme.eq_ignore_ascii_case(from.scheme) {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) = host_port(scheme, authority);
    if !host.eq_ignore_ascii_case(from.host) || port != from.port {
        return None;
    }
    let after = tail.strip_prefix(from.path)?;
    (after.is_empty() || after.starts_with(['/', '?', '#'])).then_some(after)
}

/// Rewrites one URL from `from_base` to `to_base`, or `None` when it does
/// not point under `from_base`.
pub(crate) fn rewrite_location_header(
    value: &str,
    from_base: &str,
    to_base: &str,
) -> Option<String> {
    let from = split(from_base)?;
    let after = strip_base(value, &from)?;
    Some(joined(to_base, after))
}

/// `to_base` without its trailing `/`, then `after`: allocated once, at
/// its length.
fn joined(to_base: &str, after: &str) -> String {
    let to = to_base.trim_end_matches('/');
    let mut out = String::with_capacity(to.len() + after.len());
    out.push_str(to);
    out.push_str(after);
    out
}

/// Rewrites every location in a JSON value; `true` when something changed.
pub(crate) fn rewrite_locations(
    body: &mut serde_json::Value,
    from_base: &str,
    to_base: &str,
) -> bool {
    use serde_json::Value;
    match body {
        Value::String(s) => match rewrite_location_header(s, from_base, to_base) {
            Some(new) => {
                *s = new;
                true
            }
            None => false,
        },
        Value::Array(items) => items.iter_mut().fold(false, |acc, v| {
            rewrite_locations(v, from_base, to_base) | acc
        }),
        Value::Object(o) => o.values_mut().fold(false, |acc, v| {
            rewrite_locations(v, from_base, to_base) | acc
        }),
        _ => false,
    }
}

/// Rewrites the locations in a JSON response body; `None` when nothing
/// changed (the common case for bodies without locations costs one scan).
/// For tests: the live path calls [`Rebase`] directly.
#[cfg(test)]
pub(crate) fn rewrite_response_body(
    bytes: &Bytes,
    from_base: &str,
    to_base: &str,
) -> Option<Bytes> {
    Rebase::new(from_base)?.body(bytes, to_base)
}

/// An upstream base prepared once (per upstream, at config time) for
/// rewriting: split for matching, with its substring searchers built.
pub struct Rebase {
    /// The base as configured, without a trailing slash.
    from: String,
    scheme: String,
    host: String,
    port: String,
    path: String,
    /// `"` + `from`: where a JSON string starts with the base.
    quoted: memchr::memmem::Finder<'static>,
    /// The host, when it has no letters (an IP address): case cannot
    /// vary, so one substring count finds every mention.
    caseless_host: Option<memchr::memmem::Finder<'static>>,
}

impl Rebase {
    /// `None` when `from_base` is not an absolute URL with a host.
    pub fn new(from_base: &str) -> Option<Rebase> {
        let from = from_base.trim_end_matches('/');
        let base = split(from)?;
        if base.host.is_empty() {
            return None;
        }
        let quoted = format!("\"{from}");
        let caseless_host = (!base.host.bytes().any(|b| b.is_ascii_alphabetic()))
            .then(|| memchr::memmem::Finder::new(base.host.as_bytes()).into_owned());
        Some(Rebase {
            scheme: base.scheme.to_string(),
            host: base.host.to_string(),
            port: base.port.to_string(),
            path: base.path.to_string(),
            from: from.to_string(),
            quoted: memchr::memmem::Finder::new(quoted.as_bytes()).into_owned(),
            caseless_host,
        })
    }

    /// The base as configured, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.from
    }

    fn base(&self) -> Base<'_> {
        Base {
            scheme: &self.scheme,
            host: &self.host,
            port: &self.port,
            path: &self.path,
        }
    }

    /// Rewrites one URL (a `Location` header) to `to_base`, or `None`
    /// when it does not point under this base.
    pub fn location(&self, value: &str, to_base: &str) -> Option<String> {
        let after = strip_base(value, &self.base())?;
        Some(joined(to_base, after))
    }

    /// Rewrites the locations in a JSON body; `None` when nothing changed.
    pub fn body(&self, bytes: &Bytes, to_base: &str) -> Option<Bytes> {
        let (any_case, exact) = match &self.caseless_host {
            Some(finder) => {
                let n = finder.find_iter(bytes).count();
                (n, n)
            }
            None => count_host(bytes, self.host.as_bytes()),
        };
        if any_case == 0 {
            return None;
        }
        let to = to_base.trim_end_matches('/');
        if let Some(fast) = (any_case == exact)
            .then(|| self.rewrite_exact(bytes, to, exact))
            .flatten()
        {
            return fast;
        }
        let from = self.base();
        if to.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
            // Would need JSON escaping: take the exact path.
            let mut v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
            return rewrite_locations(&mut v, &self.from, to)
                .then(|| serde_json::to_vec(&v).ok().map(Bytes::from))
                .flatten();
        }
        let mut out: Vec<u8> = Vec::with_capacity(bytes.len() + 64);
        let mut changed = false;
        let mut i = 0;
        let b = bytes.as_ref();
        while i < b.len() {
            // Copy up to the next string literal.
            let Some(q) = b[i..].iter().position(|&c| c == b'"') else {
                out.extend_from_slice(&b[i..]);
                break;
            };
            out.extend_from_slice(&b[i..=i + q]);
            let start = i + q + 1;
            // Find the closing quote, honouring escapes.
            let mut j = start;
            let mut escaped = false;
            while j < b.len() {
                match (escaped, b[j]) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => break,
                    _ => {}
                }
                j += 1;
            }
            let literal = &b[start..j.min(b.len())];
            let rewritten = (starts_like_url(literal) && !literal.contains(&b'\\'))
                .then(|| std::str::from_utf8(literal).ok())
                .flatten()
                .and_then(|s| strip_base(s, &from));
            match rewritten {
                Some(after) => {
                    out.extend_from_slice(to.as_bytes());
                    out.extend_from_slice(after.as_bytes());
                    changed = true;
                }
                None => out.extend_from_slice(literal),
            }
            if j < b.len() {
                out.push(b'"');
            }
            i = j + 1;
        }
        changed.then(|| Bytes::from(out))
    }
    /// The common case, found with a substring search: string literals that
    /// start with `from_base` spelled exactly as configured. `None` when the
    /// body may hold other spellings (case, default port) and the full scan
    /// must decide; `Some(None)` when nothing needs rewriting.
    ///
    /// The hits are found first (on the stack; a body with more than
    /// [`HITS_ON_STACK`] searches twice) so that the output is allocated
    /// at its exact length: `Bytes::from` then needs no second allocation.
    #[allow(clippy::option_option)]
    fn rewrite_exact(&self, bytes: &Bytes, to: &str, host_count: usize) -> Option<Option<Bytes>> {
        if to.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
            return None;
        }
        let b = bytes.as_ref();
        let mut on_stack = [0usize; HITS_ON_STACK];
        let mut hits = 0;
        for at in self.exact_hits(b) {
            if let Some(slot) = on_stack.get_mut(hits) {
                *slot = at;
            }
            hits += 1;
        }
        // Every mention of the host must have been one of these locations;
        // otherwise another spelling (an explicit default port) may hide one
        // and the full scan decides.
        if host_count != hits {
            return None;
        }
        if hits == 0 {
            return Some(None);
        }
        // Each hit keeps its quote and swaps the base for `to`.
        let from_len = self.quoted.needle().len().saturating_sub(1);
        let len = b
            .len()
            .checked_sub(hits.checked_mul(from_len)?)?
            .checked_add(hits.checked_mul(to.len())?)?;
        let mut out: Vec<u8> = Vec::with_capacity(len);
        let mut copied = 0;
        let mut splice = |at: usize| {
            out.extend_from_slice(b.get(copied..=at).unwrap_or_default());
            out.extend_from_slice(to.as_bytes());
            copied = at + 1 + from_len;
        };
        match on_stack.get(..hits) {
            Some(found) => found.iter().for_each(|&at| splice(at)),
            None => self.exact_hits(b).for_each(splice),
        }
        out.extend_from_slice(b.get(copied..).unwrap_or_default());
        Some(Some(Bytes::from(out)))
    }

    /// Where a JSON string literal starts with the base exactly (the
    /// position of its opening quote).
    fn exact_hits<'b>(&'b self, b: &'b [u8]) -> impl Iterator<Item = usize> + 'b {
        let after_len = self.quoted.needle().len();
        self.quoted.find_iter(b).filter(move |&at| {
            // An escaped quote is inside a string, not the start of one.
            let backslashes = b
                .get(..at)
                .unwrap_or_default()
                .iter()
                .rev()
                .take_while(|&&c| c == b'\\')
                .count();
            let boundary = matches!(b.get(at + after_len), Some(b'/' | b'"' | b'?' | b'#'));
            backslashes % 2 == 0 && boundary
        })
    }
}

/// Location hits remembered on the stack by [`Rebase::rewrite_exact`] (a
/// resource has one or a few; a long list page searches twice).
const HITS_ON_STACK: usize = 32;

/// How often `needle` occurs in `hay` ignoring ASCII case, and how many
/// of those are spelled exactly: one pass, candidates found by memchr.
fn count_host(hay: &[u8], needle: &[u8]) -> (usize, usize) {
    let Some((&first, rest)) = needle.split_first() else {
        return (0, 0);
    };
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let (mut any_case, mut exact) = (0, 0);
    let mut at = 0;
    while let Some(pos) = hay.get(at..).and_then(|h| memchr::memchr2(lo, up, h)) {
        let start = at + pos;
        if let Some(w) = hay.get(start..start + needle.len()) {
            if w.get(1..).is_some_and(|w| w.eq_ignore_ascii_case(rest)) {
                any_case += 1;
                if w == needle {
                    exact += 1;
                }
            }
        }
        at = start + 1;
    }
    (any_case, exact)
}

/// Whether a JSON string literal can be a URL under some base at all.
fn starts_like_url(literal: &[u8]) -> bool {
    literal.len() > 7 && literal[..4].eq_ignore_ascii_case(b"http")
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
