//! Recursive-descent parser for RFC 7644 §3.4.2.2 filters. Precedence,
//! highest first: grouping (`( )`, `not ( )`, `[ ]`), `and`, `or`; both
//! binary operators associate to the left.
use super::lexer::{error, tokenize, Tok, Token};
use super::{CompValue, CompareOp, Filter};
use crate::scim::error::ScimResult;
use crate::scim::path::AttrPath;

/// Deepest nesting of groups accepted: bounds the recursion whatever the
/// input.
const MAX_DEPTH: usize = 64;

/// Most comparisons in one filter. `a and b and c ...` builds a tree one
/// level deeper per operand, and evaluating, printing, cloning and
/// dropping it recurse that deep: an unbounded chain (a `/.search` body
/// may be megabytes) would overflow the stack.
const MAX_TERMS: usize = 1000;

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// Comparisons and presence tests seen so far.
    terms: usize,
    /// Position just past the end, for "unexpected end" errors.
    end: usize,
}

pub(super) fn parse(input: &str) -> ScimResult<Filter> {
    let tokens = tokenize(input)?;
    let mut p = Parser {
        tokens,
        at: 0,
        terms: 0,
        end: input.chars().count() + 1,
    };
    if p.tokens.is_empty() {
        return Err(error(1, "the filter is empty"));
    }
    let f = p.or(0, false)?;
    if let Some(t) = p.peek() {
        return Err(error(
            t.pos,
            &format!(
                "expected \"and\", \"or\" or the end, found {}",
                t.tok.describe()
            ),
        ));
    }
    Ok(f)
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
    }

    fn expect(&mut self, want: Tok, what: &str) -> ScimResult<()> {
        match self.next() {
            Some(t) if t.tok == want => Ok(()),
            Some(t) => Err(error(
                t.pos,
                &format!("expected {what}, found {}", t.tok.describe()),
            )),
            None => Err(error(
                self.end,
                &format!("expected {what}, found the end of the filter"),
            )),
        }
    }

    /// `or`-expression.
    fn or(&mut self, depth: usize, in_value_path: bool) -> ScimResult<Filter> {
        let mut left = self.and(depth, in_value_path)?;
        while self.peek_keyword("or") {
            self.at += 1;
            let right = self.and(depth, in_value_path)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// `and`-expression.
    fn and(&mut self, depth: usize, in_value_path: bool) -> ScimResult<Filter> {
        let mut left = self.unary(depth, in_value_path)?;
        while self.peek_keyword("and") {
            self.at += 1;
            let right = self.unary(depth, in_value_path)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// `not ( F )`, `( F )` or an attribute expression.
    fn unary(&mut self, depth: usize, in_value_path: bool) -> ScimResult<Filter> {
        let Some(t) = self.peek().cloned() else {
            return Err(error(
                self.end,
                "expected an expression, found the end of the filter",
            ));
        };
        if depth >= MAX_DEPTH {
            return Err(error(
                t.pos,
                &format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        match &t.tok {
            Tok::LParen => {
                self.at += 1;
                let inner = self.or(depth + 1, in_value_path)?;
                self.expect(Tok::RParen, "\")\"")?;
                Ok(inner)
            }
            Tok::Word(w)
                if w.eq_ignore_ascii_case("not")
                    && matches!(
                        self.tokens.get(self.at + 1),
                        Some(Token {
                            tok: Tok::LParen,
                            ..
                        })
                    ) =>
            {
                self.at += 2;
                let inner = self.or(depth + 1, in_value_path)?;
                self.expect(Tok::RParen, "\")\" closing \"not (\"")?;
                Ok(Filter::Not(Box::new(inner)))
            }
            Tok::Word(_) => self.attr_exp(depth, in_value_path),
            other => Err(error(
                t.pos,
                &format!(
                    "expected an attribute path, \"(\" or \"not\", found {}",
                    other.describe()
                ),
            )),
        }
    }

    /// `attrPath pr`, `attrPath op value` or `attrPath [ valFilter ]`.
    fn attr_exp(&mut self, depth: usize, in_value_path: bool) -> ScimResult<Filter> {
        let Some(Token {
            tok: Tok::Word(word),
            pos,
        }) = self.next()
        else {
            return Err(error(self.end, "expected an attribute path"));
        };
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(error(
                pos,
                &format!("more than {MAX_TERMS} comparisons in one filter"),
            ));
        }
        let path = AttrPath::parse(&word)
            .map_err(|_| error(pos, &format!("\"{word}\" is not an attribute path")))?;
        let Some(t) = self.next() else {
            return Err(error(
                self.end,
                &format!("expected an operator after \"{word}\", found the end of the filter"),
            ));
        };
        match t.tok {
            Tok::LBracket => {
                if in_value_path {
                    return Err(error(
                        t.pos,
                        "a value filter cannot contain another value filter",
                    ));
                }
                if path.sub_attr.is_some() {
                    return Err(error(t.pos, &format!("\"{word}\" has a sub-attribute; a value filter applies to a multi-valued attribute")));
                }
                let inner = self.or(depth + 1, true)?;
                self.expect(Tok::RBracket, "\"]\" closing the value filter")?;
                if let Some(Token {
                    tok: Tok::Word(w),
                    pos,
                }) = self.peek()
                {
                    if w.starts_with('.') {
                        return Err(error(*pos, "a sub-attribute after a value filter is PATCH path syntax, not a filter"));
                    }
                }
                Ok(Filter::ValuePath {
                    path,
                    filter: Box::new(inner),
                })
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("pr") => Ok(Filter::Present(path)),
            Tok::Word(w) => {
                let op = CompareOp::parse(&w).ok_or_else(|| {
                    error(t.pos, &format!("expected a comparison operator (eq, ne, co, sw, ew, gt, lt, ge, le, pr) after \"{word}\", found \"{w}\""))
                })?;
                let value = self.value(op)?;
                Ok(Filter::Compare { path, op, value })
            }
            other => Err(error(
                t.pos,
                &format!(
                    "expected a comparison operator after \"{word}\", found {}",
                    other.describe()
                ),
            )),
        }
    }

    /// `compValue = false / null / true / number / string`.
    fn value(&mut self, op: CompareOp) -> ScimResult<CompValue> {
        let Some(t) = self.next() else {
            return Err(error(
                self.end,
                &format!(
                    "expected a value after \"{}\", found the end of the filter",
                    op.as_str()
                ),
            ));
        };
        let v = match t.tok {
            Tok::Str(s) => CompValue::String(s),
            Tok::Num(n) => CompValue::Number(n),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            other => {
                return Err(error(
                    t.pos,
                    &format!(
                        "expected a value (a string, number, true, false or null), found {}",
                        other.describe()
                    ),
                ))
            }
        };
        if op.is_ordering() && matches!(v, CompValue::Bool(_) | CompValue::Null) {
            // RFC 7644 §3.4.2.2: gt/ge/lt/le on booleans are invalidFilter.
            return Err(error(
                t.pos,
                &format!(
                    "\"{}\" cannot compare with true, false or null",
                    op.as_str()
                ),
            ));
        }
        Ok(v)
    }
}
