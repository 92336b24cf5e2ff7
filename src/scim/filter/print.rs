//! The canonical text form of a filter: lower-case keywords, JSON string
//! literals, and only the parentheses the precedence needs, so that
//! printing and parsing again gives the same AST.
use super::{CompValue, Filter};
use std::fmt;

/// Binding strength: `or` < `and` < everything else.
fn precedence(f: &Filter) -> u8 {
    match f {
        Filter::Or(..) => 1,
        Filter::And(..) => 2,
        _ => 3,
    }
}

fn write_at(f: &mut fmt::Formatter<'_>, filter: &Filter, min: u8) -> fmt::Result {
    if precedence(filter) < min {
        f.write_str("(")?;
        write_filter(f, filter)?;
        f.write_str(")")
    } else {
        write_filter(f, filter)
    }
}

fn write_filter(f: &mut fmt::Formatter<'_>, filter: &Filter) -> fmt::Result {
    match filter {
        // Left-associative: a right operand of the same operator needs
        // parentheses to keep its shape.
        Filter::Or(a, b) => {
            write_at(f, a, 1)?;
            f.write_str(" or ")?;
            write_at(f, b, 2)
        }
        Filter::And(a, b) => {
            write_at(f, a, 2)?;
            f.write_str(" and ")?;
            write_at(f, b, 3)
        }
        Filter::Not(a) => {
            f.write_str("not (")?;
            write_filter(f, a)?;
            f.write_str(")")
        }
        Filter::Compare { path, op, value } => {
            write!(f, "{path} {} ", op.as_str())?;
            write_value(f, value)
        }
        Filter::Present(path) => write!(f, "{path} pr"),
        Filter::ValuePath { path, filter } => {
            write!(f, "{path}[")?;
            write_filter(f, filter)?;
            f.write_str("]")
        }
    }
}

fn write_value(f: &mut fmt::Formatter<'_>, v: &CompValue) -> fmt::Result {
    match v {
        CompValue::Null => f.write_str("null"),
        CompValue::Bool(b) => write!(f, "{b}"),
        CompValue::Number(n) => write!(f, "{n}"),
        CompValue::String(s) => {
            let quoted = serde_json::to_string(s).map_err(|_| fmt::Error)?;
            f.write_str(&quoted)
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_filter(f, self)
    }
}
