//! SCIM filters, RFC 7644 §3.4.2.2: a typed AST, a parser that reports
//! the position of every error, a printer that round-trips, and an
//! evaluator with the RFC's semantics (caseExact from the schema, dateTime
//! comparison, any-match over multi-valued attributes).
mod eval;
mod lexer;
mod parser;
mod print;

use crate::scim::error::ScimResult;
use crate::scim::path::AttrPath;
use crate::scim::schema::{ResourceType, SchemaRegistry};
use serde_json::{Number, Value};

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `a and b`
    And(Box<Filter>, Box<Filter>),
    /// `a or b`
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`
    Not(Box<Filter>),
    /// `attrPath compareOp compValue`
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    /// `attrPath pr`
    Present(AttrPath),
    /// `attrPath "[" valFilter "]"`: `emails[type eq "work"]`. The inner
    /// filter's paths are relative to the elements of `path`.
    ValuePath { path: AttrPath, filter: Box<Filter> },
}

/// The comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Lt,
    Ge,
    Le,
}

/// A comparison literal: `false / null / true / number / string`
/// (a dateTime is a string literal compared as a dateTime when the
/// attribute's type says so).
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
}

/// What the evaluator needs to know of the schema: attribute types and
/// `caseExact`.
#[derive(Debug, Clone, Copy)]
pub struct EvalContext<'a> {
    pub registry: &'a SchemaRegistry,
    pub resource_type: &'a ResourceType,
}

impl CompareOp {
    /// The operator keyword (lower case).
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Lt => "lt",
            CompareOp::Ge => "ge",
            CompareOp::Le => "le",
        }
    }

    /// The operator named `s`, ignoring case.
    pub fn parse(s: &str) -> Option<CompareOp> {
        use CompareOp::*;
        [Eq, Ne, Co, Sw, Ew, Gt, Lt, Ge, Le]
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(s))
    }

    /// `gt`, `ge`, `lt`, `le`: meaningless for booleans and null.
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }
}

impl Filter {
    /// Parses a filter. Errors are 400 `invalidFilter` naming the position.
    pub fn parse(s: &str) -> ScimResult<Filter> {
        parser::parse(s)
    }

    /// Every attribute path the filter names at the resource level (the
    /// paths of value paths, not the relative paths inside them).
    pub fn paths(&self) -> Vec<&AttrPath> {
        let mut out = Vec::new();
        self.collect_paths(&mut out);
        out
    }

    fn collect_paths<'a>(&'a self, out: &mut Vec<&'a AttrPath>) {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.collect_paths(out);
                b.collect_paths(out);
            }
            Filter::Not(a) => a.collect_paths(out),
            Filter::Compare { path, .. } | Filter::Present(path) => out.push(path),
            Filter::ValuePath { path, .. } => out.push(path),
        }
    }

    /// Evaluates the filter against a whole resource.
    pub fn matches(&self, resource: &Value, ctx: &EvalContext<'_>) -> bool {
        eval::matches(self, resource, ctx)
    }

    /// Evaluates a value filter (the inside of `emails[...]`) against one
    /// element of the multi-valued attribute `parent`.
    pub fn matches_element(
        &self,
        element: &Value,
        parent: &AttrPath,
        ctx: &EvalContext<'_>,
    ) -> bool {
        eval::matches_element(self, element, parent, ctx)
    }
}

#[cfg(test)]
mod tests;
