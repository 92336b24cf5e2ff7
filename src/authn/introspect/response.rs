//! Introspection responses, RFC 7662 §2.2: pure parsing over bytes.
use super::Introspection;
use serde_json::{Map, Value};

/// `Ok(None)` for `"active": false`, `Ok(Some(_))` for an active token.
/// The error names what is wrong, never a value.
pub(crate) fn parse(body: &[u8]) -> Result<Option<Introspection>, &'static str> {
    let json: Value = serde_json::from_slice(body).map_err(|_| "body is not JSON")?;
    let object = json.as_object().ok_or("body is not a JSON object")?;
    // §2.2: "active" is REQUIRED, a boolean.
    let active = object
        .get("active")
        .and_then(Value::as_bool)
        .ok_or("no boolean active member")?;
    if !active {
        // §2.2: nothing else of an inactive token is to be trusted.
        return Ok(None);
    }
    Ok(Some(Introspection {
        scope: string(object, "scope")?,
        client_id: string(object, "client_id")?,
        username: string(object, "username")?,
        token_type: string(object, "token_type")?,
        sub: string(object, "sub")?,
        iss: string(object, "iss")?,
        aud: audience(object)?,
        exp: numeric_date(object, "exp")?,
        iat: numeric_date(object, "iat")?,
        nbf: numeric_date(object, "nbf")?,
    }))
}

fn string(object: &Map<String, Value>, name: &'static str) -> Result<Option<String>, &'static str> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err("a string member has another type"),
    }
}

/// `aud`: a string or an array of strings (RFC 7519 §4.1.3).
fn audience(object: &Map<String, Value>) -> Result<Vec<String>, &'static str> {
    match object.get("aud") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or("aud holds a non-string")
            })
            .collect(),
        Some(_) => Err("aud is neither a string nor an array"),
    }
}

/// Seconds since the epoch (RFC 7519 §2 NumericDate: fractions allowed,
/// cut off here).
fn numeric_date(
    object: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<u64>, &'static str> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(secs), _) => Ok(Some(secs)),
            (None, Some(f)) if f >= 0.0 && f.is_finite() => Ok(Some(f as u64)),
            _ => Err("a date member is negative"),
        },
        Some(_) => Err("a date member is not a number"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn active_token_with_all_members() {
        let i = parse(
            br#"{"active":true,"scope":"scim.read scim.write","client_id":"app",
                "username":"jdoe","token_type":"Bearer","sub":"u-1","iss":"https://idp",
                "aud":["a","b"],"exp":2000000000,"iat":1999999000.5,"nbf":1999999000}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(i.sub(), Some("u-1"));
        assert_eq!(i.client_id(), Some("app"));
        assert_eq!(i.username(), Some("jdoe"));
        assert_eq!(i.scopes().collect::<Vec<_>>(), ["scim.read", "scim.write"]);
        assert_eq!(i.exp(), Some(2_000_000_000));
        assert_eq!(i.iat(), Some(1_999_999_000));
        assert_eq!(i.iss(), Some("https://idp"));
        assert_eq!(i.aud(), ["a", "b"]);
    }

    #[test]
    fn minimal_and_inactive() {
        let i = parse(br#"{"active":true,"aud":"only"}"#).unwrap().unwrap();
        assert_eq!(i.aud(), ["only"]);
        assert_eq!(i.scopes().count(), 0);
        assert!(parse(br#"{"active":false,"sub":"ignored"}"#)
            .unwrap()
            .is_none());
    }

    #[test]
    fn malformed() {
        for body in [
            &b"nope"[..],
            br#"[true]"#,
            br#"{}"#,
            br#"{"active":"true"}"#,
            br#"{"active":true,"sub":5}"#,
            br#"{"active":true,"aud":[1]}"#,
            br#"{"active":true,"exp":-1}"#,
            br#"{"active":true,"exp":"soon"}"#,
        ] {
            assert!(parse(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }
}
