//! A strict, allocation-free JSON scanner for the gateway's fast paths
//! (validation without building values, `meta.version` of an answer).
//!
//! It reads RFC 8259 JSON token by token over a byte slice that is valid
//! UTF-8. Every method returns `None` both for input that is not JSON and
//! for JSON it declines to read (a `\u` escape, a number with an exponent
//! or of more than 20 characters, nesting deeper than [`MAX_DEPTH`]):
//! callers then take their full path, which parses with `serde_json` and
//! decides. So whatever the scanner accepts, `serde_json` accepts too; the
//! tests hold it to that with generated and mutated documents.
//!
//! Why not serde's visitors: they decode every key and string through
//! serde_json's reader and validate UTF-8 per string. On a 1 KB User that
//! was 3 µs of the gateway's 32 µs per POST; this reads it in well under 1.

/// Deeper documents are left to serde_json (whose own limit is 128).
pub(crate) const MAX_DEPTH: usize = 64;

/// A string token: its text between the quotes, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Str<'a> {
    /// The raw text (escapes not decoded).
    pub raw: &'a str,
    /// Where the opening quote is.
    pub start: usize,
    /// True when the text holds a (simple) escape: `raw` is then not the
    /// value.
    pub escaped: bool,
}

impl<'a> Str<'a> {
    /// The value, when it is written without escapes.
    pub fn plain(&self) -> Option<&'a str> {
        (!self.escaped).then_some(self.raw)
    }

    /// The value, its (simple) escapes decoded.
    pub fn value(&self) -> std::borrow::Cow<'a, str> {
        if !self.escaped {
            return self.raw.into();
        }
        let mut out = String::with_capacity(self.raw.len());
        let mut chars = self.raw.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            out.push(match chars.next() {
                Some('b') => '\u{8}',
                Some('f') => '\u{c}',
                Some('n') => '\n',
                Some('r') => '\r',
                Some('t') => '\t',
                Some(other) => other,
                None => break,
            });
        }
        out.into()
    }
}

/// A number token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Num {
    /// No fraction, no exponent, and within i64/u64 (serde_json's
    /// integers).
    Integer,
    /// Anything else serde_json reads as an f64.
    Float,
}

/// What the next value is, by its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Object,
    Array,
    String,
    Number,
    True,
    False,
    Null,
}

/// The first of the eight bytes of `word` (little-endian: byte 0 is the
/// lowest) that is `"`, `\\` or below 0x20, if any. The classic "has a
/// zero byte" tests: a flag bit can be wrong only above a true one (a
/// borrow runs upward), so the lowest flag is exact.
#[inline]
fn first_special(word: u64) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let quote = zero(word ^ (ONES * u64::from(b'"')));
    let backslash = zero(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let flags = quote | backslash | control;
    (flags != 0).then(|| flags.trailing_zeros() as usize / 8)
}

/// The index of the first `"`, `\\` or control byte at or after `i`:
/// eight bytes at a time, byte by byte only in the last few.
#[inline]
fn next_special(bytes: &[u8], mut i: usize) -> Option<usize> {
    // Bounded by the last word's start, so that `i + 8` neither
    // overflows nor passes the end (one test per word).
    if let Some(last) = bytes.len().checked_sub(8) {
        while i <= last {
            let mut word = [0u8; 8];
            word.copy_from_slice(bytes.get(i..i + 8)?);
            if let Some(at) = first_special(u64::from_le_bytes(word)) {
                return Some(i + at);
            }
            i += 8;
        }
    }
    let special = |b: &u8| *b == b'"' || *b == b'\\' || *b < 0x20;
    Some(i + bytes.get(i..)?.iter().position(special)?)
}

/// True when `s` can be written as a JSON string between quotes as it is
/// (no `"`, `\\` or control character: what serde_json would escape).
/// Eight bytes at a time to the end: a short string is tested as one word
/// padded with a plain byte, a longer one's last word overlaps the word
/// before it (bytes already found plain), so no byte is tested alone.
pub fn is_plain(s: &str) -> bool {
    let bytes = s.as_bytes();
    let word = |chunk: &[u8]| {
        let mut word = [b'a'; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        first_special(u64::from_le_bytes(word)).is_none()
    };
    if bytes.len() <= 8 {
        return word(bytes);
    }
    let mut chunks = bytes.chunks_exact(8);
    if !chunks.all(word) {
        return false;
    }
    chunks.remainder().is_empty() || word(&bytes[bytes.len() - 8..])
}

/// Appends `s` as a JSON string, byte for byte as serde_json writes it:
/// a plain string (most) copied as it is, eight bytes checked at a time,
/// anything else escaped by serde_json.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    if is_plain(s) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

#[derive(Debug)]
pub struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Scanner<'a> {
    pub fn new(text: &'a str) -> Scanner<'a> {
        Scanner {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            depth: 0,
        }
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The kind of the next value (whitespace skipped).
    #[inline]
    pub fn peek(&mut self) -> Option<Kind> {
        self.ws();
        Some(match self.bytes.get(self.pos)? {
            b'{' => Kind::Object,
            b'[' => Kind::Array,
            b'"' => Kind::String,
            b'-' | b'0'..=b'9' => Kind::Number,
            b't' => Kind::True,
            b'f' => Kind::False,
            b'n' => Kind::Null,
            _ => return None,
        })
    }

    /// Where the scanner is: the byte after the last token read (after
    /// [`Scanner::peek`], the next value's first byte). Callers that keep
    /// a value's text slice the input from one position to the next.
    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Only whitespace is left.
    pub fn end(&mut self) -> Option<()> {
        self.ws();
        (self.pos == self.bytes.len()).then_some(())
    }

    #[inline]
    fn eat(&mut self, b: u8) -> Option<()> {
        self.ws();
        if self.bytes.get(self.pos) == Some(&b) {
            self.pos += 1;
            Some(())
        } else {
            None
        }
    }

    /// `{`: an object begins; read its members with [`Scanner::key`].
    #[inline]
    pub fn begin_object(&mut self) -> Option<()> {
        self.eat(b'{')?;
        self.deeper()
    }

    /// `[`: an array begins; read its elements with [`Scanner::element`].
    #[inline]
    pub fn begin_array(&mut self) -> Option<()> {
        self.eat(b'[')?;
        self.deeper()
    }

    #[inline]
    fn deeper(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// The next member's key and its `:`, or `Some(None)` at the object's
    /// end. `first` is true for the first call on an object.
    #[inline]
    pub fn key(&mut self, first: bool) -> Option<Option<Str<'a>>> {
        self.ws();
        match self.bytes.get(self.pos)? {
            b'}' => {
                self.pos += 1;
                self.depth -= 1;
                return Some(None);
            }
            b',' if !first => {
                self.pos += 1;
                self.ws();
            }
            _ if first => {}
            _ => return None,
        }
        let key = self.string()?;
        self.eat(b':')?;
        Some(Some(key))
    }

    /// True when another element follows (its value is next), false at the
    /// array's end. `first` is true for the first call on an array.
    #[inline]
    pub fn element(&mut self, first: bool) -> Option<bool> {
        self.ws();
        match self.bytes.get(self.pos)? {
            b']' => {
                self.pos += 1;
                self.depth -= 1;
                Some(false)
            }
            b',' if !first => {
                self.pos += 1;
                Some(true)
            }
            _ if first => Some(true),
            _ => None,
        }
    }

    /// A string. Simple escapes (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`,
    /// `\r`, `\t`) are read; `\u` is declined (surrogate rules are
    /// serde_json's to apply).
    #[inline]
    pub fn string(&mut self) -> Option<Str<'a>> {
        self.ws();
        let start = self.pos;
        if self.bytes.get(start) != Some(&b'"') {
            return None;
        }
        let mut i = start + 1;
        let mut escaped = false;
        loop {
            // The next quote, backslash or (not JSON) raw control character
            // (RFC 8259 §7).
            i = next_special(self.bytes, i)?;
            match self.bytes[i] {
                b'"' => break,
                b'\\' => match *self.bytes.get(i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                        escaped = true;
                        i += 2;
                    }
                    _ => return None,
                },
                _ => return None,
            }
        }
        self.pos = i + 1;
        Some(Str {
            raw: self.text.get(start + 1..i)?,
            start,
            escaped,
        })
    }

    /// A string read and dropped: [`Scanner::string`] without building
    /// its token.
    #[inline]
    fn skip_string(&mut self) -> Option<()> {
        let mut i = self.pos + 1;
        loop {
            i = next_special(self.bytes, i)?;
            match self.bytes[i] {
                b'"' => break,
                b'\\' => match *self.bytes.get(i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                    _ => return None,
                },
                _ => return None,
            }
        }
        self.pos = i + 1;
        Some(())
    }

    /// A number (RFC 8259 §6). Exponents and numbers longer than 20
    /// characters are declined (serde_json's range rules apply there).
    pub fn number(&mut self) -> Option<Num> {
        self.ws();
        let start = self.pos;
        let b = self.bytes;
        let mut i = start;
        let negative = b.get(i) == Some(&b'-');
        if negative {
            i += 1;
        }
        let digits = |i: &mut usize| {
            let from = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - from
        };
        let int_start = i;
        let int_digits = digits(&mut i);
        if int_digits == 0 || (b[int_start] == b'0' && int_digits > 1) {
            return None;
        }
        let mut integer = true;
        if b.get(i) == Some(&b'.') {
            i += 1;
            if digits(&mut i) == 0 {
                return None;
            }
            integer = false;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) || i - start > 20 {
            return None;
        }
        self.pos = i;
        if !integer {
            return Some(Num::Float);
        }
        let text = self.text.get(start..i)?;
        // serde_json reads -0 as the float -0.0.
        let fits = if negative {
            (int_digits > 1 || b[int_start] != b'0') && text.parse::<i64>().is_ok()
        } else {
            text.parse::<u64>().is_ok()
        };
        Some(if fits { Num::Integer } else { Num::Float })
    }

    /// `true`, `false` or `null`.
    #[inline]
    pub fn literal(&mut self, word: &str) -> Option<()> {
        self.ws();
        let end = self.pos + word.len();
        if self.bytes.get(self.pos..end)? == word.as_bytes() {
            self.pos = end;
            Some(())
        } else {
            None
        }
    }

    /// Any value, read and dropped.
    pub fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            Kind::Object => {
                self.begin_object()?;
                let mut first = true;
                while self.key(first)?.is_some() {
                    first = false;
                    self.skip()?;
                }
            }
            Kind::Array => {
                self.begin_array()?;
                let mut first = true;
                while self.element(first)? {
                    first = false;
                    self.skip()?;
                }
            }
            Kind::String => self.skip_string()?,
            Kind::Number => {
                self.number()?;
            }
            Kind::True => self.literal("true")?,
            Kind::False => self.literal("false")?,
            Kind::Null => self.literal("null")?,
        }
        Some(())
    }
}

/// The string value of `meta.version` of a JSON object (a SCIM resource),
/// found without reading the whole document; `None` when there is none,
/// or when the scanner declines it: then the caller parses.
///
/// An answer's `meta` usually comes last, so this looks for `"meta"` keys
/// (a vectorized substring search) and reads from the first one that
/// proves to be a member of the top-level object: its value, then the
/// rest of the object to its closing brace and the end of the text. A
/// `"meta"` nested deeper fails that proof (more closing brackets follow
/// than one), and so does one before a second top-level `meta` (as in
/// serde_json, the last one counts). What precedes the key is not read:
/// a body broken there still yields its version, which only names it.
pub fn meta_version(text: &str) -> Option<std::borrow::Cow<'_, str>> {
    let bytes = text.as_bytes();
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    // Built once: a searcher's set-up costs more than most searches.
    static META: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"meta\""));
    META.find_iter(bytes)
        .find_map(|at| top_level_meta(text, at))
}

/// The version of the `meta` member whose key starts at `at`, if that is
/// a member of the top-level object.
fn top_level_meta(text: &str, at: usize) -> Option<std::borrow::Cow<'_, str>> {
    let bytes = text.as_bytes();
    // A key follows `{` or `,` (an escaped quote follows a backslash).
    let before = bytes
        .get(..at)?
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())?;
    if !matches!(bytes[before], b'{' | b',') {
        return None;
    }
    let mut s = Scanner {
        text,
        bytes,
        pos: at,
        depth: 1,
    };
    s.string()?;
    s.eat(b':')?;
    if s.peek()? != Kind::Object {
        return None;
    }
    s.begin_object()?;
    let mut version = None;
    let mut first = true;
    while let Some(key) = s.key(first)? {
        first = false;
        if key.raw == "version" && !key.escaped {
            if version.is_some() || s.peek()? != Kind::String {
                return None;
            }
            version = Some(s.string()?.value());
        } else {
            s.skip()?;
        }
    }
    let version = version?;
    // The rest of the top-level object: members (no other `meta`), its
    // closing brace, and nothing after.
    loop {
        s.ws();
        match *s.bytes.get(s.pos)? {
            b'}' => {
                s.pos += 1;
                s.end()?;
                return Some(version);
            }
            b',' => {
                s.pos += 1;
                if s.string()?.raw == "meta" {
                    return None;
                }
                s.eat(b':')?;
                s.skip()?;
            }
            _ => return None,
        }
    }
}

/// The length of a top-level object's `Operations` array (any case; the
/// longest, if the key is repeated), without building values: the cap on
/// PATCH operations for a request nobody else parses. `Some(0)` when there
/// is no such array; `None` when the scanner declines the document.
pub(crate) fn operations_len(text: &str) -> Option<usize> {
    let mut s = Scanner::new(text);
    s.begin_object()?;
    let mut longest = 0;
    let mut first = true;
    while let Some(key) = s.key(first)? {
        first = false;
        let named = key
            .plain()
            .is_some_and(|k| k.eq_ignore_ascii_case("Operations"));
        if !named || s.peek()? != Kind::Array {
            s.skip()?;
            continue;
        }
        s.begin_array()?;
        let mut count = 0;
        while s.element(count == 0)? {
            s.skip()?;
            count += 1;
        }
        longest = longest.max(count);
    }
    s.end()?;
    Some(longest)
}

#[cfg(test)]
#[path = "json_scan_tests.rs"]
pub(crate) mod tests;
