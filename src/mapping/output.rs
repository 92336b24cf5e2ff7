//! The output text of the member-wise path (`members.rs`): `schemas`, then
//! each member as mapped (a `Value`, or the flat path's text) or as the
//! input wrote it, compact, as `serde_json::to_writer` would write the
//! general path's `Value`.
use super::flat::Flat;
use crate::scim::json_scan::is_plain;
use crate::scim::path::has_urn_prefix;
use serde_json::Value;

/// An output member's value: mapped, the input's text, or the flat
/// path's.
pub(super) enum Text<'a> {
    Value(&'a Value),
    Raw(&'a str),
    Flat(&'a Flat<'a>),
}

impl Text<'_> {
    fn is_object(&self) -> bool {
        match self {
            Text::Value(v) => v.is_object(),
            Text::Raw(t) => t.starts_with('{'),
            Text::Flat(f) => f.is_object(),
        }
    }
}

/// The output text: `schemas`, then the entries in order.
pub(super) fn write(core: &str, entries: &[(usize, &str, Text<'_>)]) -> Option<Vec<u8>> {
    let len: usize = entries
        .iter()
        .map(|(_, k, t)| {
            k.len()
                + match t {
                    Text::Raw(r) => r.len(),
                    Text::Value(_) | Text::Flat(_) => 64,
                }
        })
        .sum();
    let mut buf = Vec::with_capacity(len + 4 * entries.len() + core.len() + 128);
    buf.extend_from_slice(b"{\"schemas\":[");
    write_str(&mut buf, core)?;
    for (_, k, t) in entries {
        if has_urn_prefix(k) && t.is_object() {
            buf.push(b',');
            write_str(&mut buf, k)?;
        }
    }
    buf.push(b']');
    for (_, k, t) in entries {
        buf.push(b',');
        match t {
            Text::Value(v) => {
                write_str(&mut buf, k)?;
                buf.push(b':');
                write_value(&mut buf, v)?;
            }
            Text::Flat(f) => {
                write_str(&mut buf, k)?;
                buf.push(b':');
                write_flat(&mut buf, f)?;
            }
            Text::Raw(r) => {
                // An input name, read without escapes: written as it is.
                buf.push(b'"');
                buf.extend_from_slice(k.as_bytes());
                buf.extend_from_slice(b"\":");
                buf.extend_from_slice(r.as_bytes());
            }
        }
    }
    buf.push(b'}');
    Some(buf)
}

/// A value as `serde_json::to_writer` writes it (compact, members in
/// order), with strings that need no escapes copied as they are.
fn write_value(buf: &mut Vec<u8>, v: &Value) -> Option<()> {
    match v {
        Value::String(s) => write_str(buf, s)?,
        Value::Array(items) => {
            buf.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                write_value(buf, item)?;
            }
            buf.push(b']');
        }
        Value::Object(o) => {
            buf.push(b'{');
            for (i, (k, item)) in o.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                write_str(buf, k)?;
                buf.push(b':');
                write_value(buf, item)?;
            }
            buf.push(b'}');
        }
        scalar => serde_json::to_writer(buf, scalar).ok()?,
    }
    Some(())
}

/// A flat value: the input's text as it is, an object member by member.
fn write_flat(buf: &mut Vec<u8>, v: &Flat<'_>) -> Option<()> {
    match v {
        Flat::Raw(t) => buf.extend_from_slice(t.as_bytes()),
        Flat::Obj(members) => {
            buf.push(b'{');
            for (i, (k, item)) in members.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                write_str(buf, k)?;
                buf.push(b':');
                write_flat(buf, item)?;
            }
            buf.push(b'}');
        }
    }
    Some(())
}

/// A JSON string as serde_json writes it: most need no escapes, and are
/// copied as they are.
fn write_str(buf: &mut Vec<u8>, s: &str) -> Option<()> {
    if is_plain(s) {
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
        return Some(());
    }
    serde_json::to_writer(buf, s).ok()
}
