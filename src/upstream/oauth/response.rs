//! Token endpoint responses, RFC 6749 §5.1 (success) and §5.2 (error):
//! pure parsing over bytes, no I/O.
use serde_json::Value;
use std::time::Duration;

/// The lifetime assumed when a success response has no `expires_in`
/// (RFC 6749 §5.1 makes it RECOMMENDED only).
pub(crate) const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

/// A parsed §5.1 success response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Issued {
    pub access_token: String,
    pub lifetime: Duration,
    pub scope: Option<String>,
}

/// A parsed §5.2 error response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub code: String,
    pub description: Option<String>,
}

/// Parses a 200 response. The error names what is wrong, never a value.
pub(crate) fn parse_success(body: &[u8]) -> Result<Issued, &'static str> {
    let json: Value = serde_json::from_slice(body).map_err(|_| "body is not JSON")?;
    let object = json.as_object().ok_or("body is not a JSON object")?;
    let access_token = object
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or("no access_token")?;
    // Appendix A.12: access-token = 1*VSCHAR; it must also fit a header.
    if access_token.is_empty() || !access_token.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err("access_token is empty or not printable ASCII");
    }
    let token_type = object
        .get("token_type")
        .and_then(Value::as_str)
        .ok_or("no token_type")?;
    // §7.1: the client must understand the type; we only send Bearer
    // (RFC 6750), whose name is case-insensitive (§5.1).
    if !token_type.eq_ignore_ascii_case("Bearer") {
        return Err("token_type is not Bearer");
    }
    let lifetime = match object.get("expires_in") {
        None | Some(Value::Null) => DEFAULT_LIFETIME,
        Some(Value::Number(n)) => Duration::from_secs(
            n.as_u64()
                .ok_or("expires_in is not a non-negative integer")?,
        ),
        // Some servers send the number as a string.
        Some(Value::String(s)) => Duration::from_secs(
            s.trim()
                .parse::<u64>()
                .map_err(|_| "expires_in is not a non-negative integer")?,
        ),
        Some(_) => return Err("expires_in is not a non-negative integer"),
    };
    let scope = object
        .get("scope")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Issued {
        access_token: access_token.to_string(),
        lifetime,
        scope,
    })
}

/// Parses a §5.2 error body, or `None` if it is not one. An `error` code
/// outside the §5.2 character set, or absurdly long, is replaced so that a
/// hostile server cannot inject text into logs.
pub(crate) fn parse_refusal(body: &[u8]) -> Option<Refusal> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let code = json.get("error")?.as_str()?;
    let code = if is_error_code(code) {
        code.to_string()
    } else {
        "unrecognized_error".to_string()
    };
    let description = json
        .get("error_description")
        .and_then(Value::as_str)
        .filter(|d| d.len() <= 512 && is_error_text(d))
        .map(str::to_string);
    Some(Refusal { code, description })
}

/// `error = 1*( %x20-21 / %x23-5B / %x5D-7E )`, at most 64 characters.
fn is_error_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= 64 && is_error_text(code)
}

fn is_error_text(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn success_with_all_fields() {
        let issued = parse_success(
            br#"{"access_token":"abc.def","token_type":"bearer","expires_in":3600,"scope":"a b"}"#,
        )
        .unwrap();
        assert_eq!(issued.access_token, "abc.def");
        assert_eq!(issued.lifetime, Duration::from_secs(3600));
        assert_eq!(issued.scope.as_deref(), Some("a b"));
    }

    #[test]
    fn expires_in_is_optional_and_may_be_a_string() {
        let issued = parse_success(br#"{"access_token":"t","token_type":"Bearer"}"#).unwrap();
        assert_eq!(issued.lifetime, DEFAULT_LIFETIME);
        let issued =
            parse_success(br#"{"access_token":"t","token_type":"BEARER","expires_in":"60"}"#)
                .unwrap();
        assert_eq!(issued.lifetime, Duration::from_secs(60));
    }

    #[test]
    fn rejects_what_is_not_a_bearer_token() {
        for body in [
            &br#"not json"#[..],
            br#"[]"#,
            br#"{"token_type":"Bearer"}"#,
            br#"{"access_token":"","token_type":"Bearer"}"#,
            br#"{"access_token":"a\nb","token_type":"Bearer"}"#,
            br#"{"access_token":"t"}"#,
            br#"{"access_token":"t","token_type":"mac"}"#,
            br#"{"access_token":"t","token_type":"Bearer","expires_in":-5}"#,
            br#"{"access_token":"t","token_type":"Bearer","expires_in":1.5}"#,
            br#"{"access_token":"t","token_type":"Bearer","expires_in":true}"#,
        ] {
            assert!(
                parse_success(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn error_responses() {
        let refusal =
            parse_refusal(br#"{"error":"invalid_client","error_description":"bad client"}"#)
                .unwrap();
        assert_eq!(refusal.code, "invalid_client");
        assert_eq!(refusal.description.as_deref(), Some("bad client"));
        let refusal = parse_refusal(br#"{"error":"bad\"code\nx"}"#).unwrap();
        assert_eq!(refusal.code, "unrecognized_error");
        assert!(parse_refusal(b"<html>").is_none());
        assert!(parse_refusal(br#"{"message":"no"}"#).is_none());
    }
}
