//! Tokens of the filter grammar, each with its 1-based character position.
use crate::scim::error::{ScimError, ScimResult};
use serde_json::Number;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// An attribute path, operator or keyword.
    Word(String),
    Str(String),
    Num(Number),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub tok: Tok,
    /// 1-based character position of the token's first character.
    pub pos: usize,
}

impl Tok {
    /// How the token reads in an error message.
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::LParen => "\"(\"".into(),
            Tok::RParen => "\")\"".into(),
            Tok::LBracket => "\"[\"".into(),
            Tok::RBracket => "\"]\"".into(),
            Tok::Word(w) => format!("\"{}\"", clip(w)),
            Tok::Str(s) => format!("the string \"{}\"", clip(s)),
            Tok::Num(n) => format!("the number {n}"),
        }
    }
}

fn clip(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

pub(super) fn error(pos: usize, what: &str) -> ScimError {
    ScimError::invalid_filter(format!("invalid filter at position {pos}: {what}"))
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '$')
}

/// Splits a filter into tokens.
pub(super) fn tokenize(input: &str) -> ScimResult<Vec<Token>> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let pos = i + 1;
        match c {
            ' ' | '\t' | '\r' | '\n' => i += 1,
            '(' => push(&mut tokens, Tok::LParen, pos, &mut i),
            ')' => push(&mut tokens, Tok::RParen, pos, &mut i),
            '[' => push(&mut tokens, Tok::LBracket, pos, &mut i),
            ']' => push(&mut tokens, Tok::RBracket, pos, &mut i),
            '"' => {
                let (s, next) = string(&chars, i)?;
                tokens.push(Token {
                    tok: Tok::Str(s),
                    pos,
                });
                i = next;
            }
            '-' | '0'..='9' if c != '-' || chars.get(i + 1).is_some_and(char::is_ascii_digit) => {
                let start = i;
                i += 1;
                while chars
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let n = is_json_number(&text)
                    .then(|| number(&text))
                    .flatten()
                    .ok_or_else(|| error(pos, &format!("\"{}\" is not a number", clip(&text))))?;
                tokens.push(Token {
                    tok: Tok::Num(n),
                    pos,
                });
            }
            c if is_word_char(c) => {
                let start = i;
                while chars.get(i).is_some_and(|c| is_word_char(*c)) {
                    i += 1;
                }
                tokens.push(Token {
                    tok: Tok::Word(chars[start..i].iter().collect()),
                    pos,
                });
            }
            other => {
                return Err(error(pos, &format!("unexpected character {other:?}")));
            }
        }
    }
    Ok(tokens)
}

fn push(tokens: &mut Vec<Token>, tok: Tok, pos: usize, i: &mut usize) {
    tokens.push(Token { tok, pos });
    *i += 1;
}

/// The value of a JSON number: integers exactly, others through Rust's
/// correctly rounding float parser (so printing and parsing round-trip).
fn number(text: &str) -> Option<Number> {
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(i) = text.parse::<i64>() {
            return Some(i.into());
        }
        if let Ok(u) = text.parse::<u64>() {
            return Some(u.into());
        }
    }
    text.parse::<f64>().ok().and_then(Number::from_f64)
}

/// JSON number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(c) if c.is_ascii_digit() => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// A JSON string starting at `chars[start] == '"'`; returns the value and
/// the index after the closing quote.
fn string(chars: &[char], start: usize) -> ScimResult<(String, usize)> {
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(error(start + 1, "unterminated string"));
        };
        match c {
            '"' => return Ok((out, i + 1)),
            '\\' => {
                let esc = chars.get(i + 1).copied();
                i += 2;
                match esc {
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some('/') => out.push('/'),
                    Some('b') => out.push('\u{8}'),
                    Some('f') => out.push('\u{c}'),
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('t') => out.push('\t'),
                    Some('u') => {
                        let hi = hex4(chars, i).ok_or_else(|| error(i - 1, "bad \\u escape"))?;
                        i += 4;
                        let ch = if (0xD800..0xDC00).contains(&hi) {
                            // A surrogate pair: \uD83D\uDE00.
                            let lo = (chars.get(i) == Some(&'\\')
                                && chars.get(i + 1) == Some(&'u'))
                            .then(|| hex4(chars, i + 2))
                            .flatten()
                            .filter(|lo| (0xDC00..0xE000).contains(lo))
                            .ok_or_else(|| error(i - 5, "unpaired surrogate in \\u escape"))?;
                            i += 6;
                            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                        } else {
                            char::from_u32(hi)
                        };
                        out.push(ch.ok_or_else(|| error(i - 5, "invalid \\u escape"))?);
                    }
                    _ => return Err(error(i - 1, "invalid escape in string")),
                }
            }
            c if u32::from(c) < 0x20 => {
                return Err(error(i + 1, "control character in string (escape it)"));
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
}

fn hex4(chars: &[char], at: usize) -> Option<u32> {
    let mut v = 0;
    for k in 0..4 {
        v = v * 16 + chars.get(at + k)?.to_digit(16)?;
    }
    Some(v)
}
