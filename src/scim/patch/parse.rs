//! Parsing of PatchOp requests and PATCH paths.
use super::{PatchOpKind, PatchOperation, PatchPath, PatchRequest, PATCH_OP_SCHEMA};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::Filter;
use crate::scim::json::get_ci;
use crate::scim::path::{is_attr_name, AttrPath};
use serde_json::Value;

impl PatchPath {
    /// Parses a path; errors are 400 `invalidPath`.
    pub fn parse(s: &str) -> ScimResult<PatchPath> {
        let bad =
            |why: String| ScimError::invalid_path(format!("invalid PATCH path \"{s}\": {why}"));
        let Some(open) = s.find('[') else {
            let attr = AttrPath::parse(s.trim()).map_err(|e| bad(e.detail().to_string()))?;
            return Ok(PatchPath {
                attr,
                filter: None,
                sub_attr: None,
            });
        };
        let attr = AttrPath::parse(&s[..open]).map_err(|e| bad(e.detail().to_string()))?;
        if attr.sub_attr.is_some() {
            return Err(bad(
                "a value filter must follow a multi-valued attribute, not a sub-attribute".into(),
            ));
        }
        let close = matching_bracket(s, open).ok_or_else(|| bad("\"[\" is never closed".into()))?;
        let filter = Filter::parse(&s[open + 1..close])
            .map_err(|e| bad(format!("bad value filter: {}", e.detail())))?;
        let rest = &s[close + 1..];
        let sub_attr = match rest {
            "" => None,
            _ => {
                let sub = rest
                    .strip_prefix('.')
                    .filter(|sub| is_attr_name(sub))
                    .ok_or_else(|| bad(format!("unexpected \"{rest}\" after the value filter")))?;
                Some(sub.to_string())
            }
        };
        Ok(PatchPath {
            attr,
            filter: Some(filter),
            sub_attr,
        })
    }
}

/// The index of the `]` closing the `[` at `open`, skipping quoted strings.
fn matching_bracket(s: &str, open: usize) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in s.char_indices().skip_while(|(i, _)| *i <= open) {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ']' {
            return Some(i);
        }
    }
    None
}

impl PatchRequest {
    /// Parses a PatchOp body; errors are 400 `invalidSyntax` /
    /// `invalidPath` / `invalidValue` / `noTarget`.
    pub fn parse(body: &Value) -> ScimResult<PatchRequest> {
        let Value::Object(obj) = body else {
            return Err(ScimError::invalid_syntax(
                "a PatchOp request must be a JSON object",
            ));
        };
        crate::scim::json::require_message_schema(obj, PATCH_OP_SCHEMA, "PatchOp request")?;
        let ops = match get_ci(obj, "Operations") {
            Some(Value::Array(ops)) if !ops.is_empty() => ops,
            _ => {
                return Err(ScimError::invalid_syntax(
                    "a PatchOp request needs a non-empty \"Operations\" array",
                ))
            }
        };
        let operations = ops
            .iter()
            .enumerate()
            .map(|(i, op)| {
                parse_operation(op).map_err(|e| e.with_context(&format!("Operations[{i}]")))
            })
            .collect::<ScimResult<Vec<_>>>()?;
        Ok(PatchRequest { operations })
    }
}

fn parse_operation(v: &Value) -> ScimResult<PatchOperation> {
    let Value::Object(o) = v else {
        return Err(ScimError::invalid_syntax(
            "an operation must be a JSON object",
        ));
    };
    let op_text = get_ci(o, "op")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax("\"op\" is required (add, replace or remove)"))?;
    // Operation names are case-insensitive (Entra sends "Replace").
    let op = [PatchOpKind::Add, PatchOpKind::Replace, PatchOpKind::Remove]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(op_text))
        .ok_or_else(|| {
            ScimError::invalid_syntax(format!("op \"{op_text}\" is not add, replace or remove"))
        })?;
    let path = match get_ci(o, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(PatchPath::parse(p)?),
        Some(_) => return Err(ScimError::invalid_path("\"path\" must be a string")),
    };
    let value = get_ci(o, "value").cloned();
    match op {
        // RFC 7644 §3.5.2.2: remove without a path is noTarget.
        PatchOpKind::Remove if path.is_none() => {
            return Err(ScimError::no_target("remove needs a \"path\""));
        }
        PatchOpKind::Add | PatchOpKind::Replace if value.is_none() => {
            return Err(ScimError::invalid_value(format!(
                "{} needs a \"value\"",
                op.as_str()
            )));
        }
        PatchOpKind::Add | PatchOpKind::Replace
            if path.is_none() && !value.as_ref().is_some_and(Value::is_object) =>
        {
            return Err(ScimError::invalid_value(format!(
                "{} without a path needs an object of attributes as its value",
                op.as_str()
            )));
        }
        _ => {}
    }
    Ok(PatchOperation { op, path, value })
}
