//! The strict JSON scanner against serde_json: whatever the scanner reads
//! as one document, serde_json reads too, with the same value (strings
//! decoded, integers where serde_json has integers, the last of duplicate
//! keys winning); `meta_version` finds the `meta.version` serde_json sees.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scim_gateway::scim::json_scan::{meta_version, Kind, Num, Scanner};
use serde_json::{Map, Value};

/// A scanned value: the structure serde_json builds, numbers only by kind.
#[derive(Debug)]
enum Scanned {
    Object(Vec<(String, Scanned)>),
    Array(Vec<Scanned>),
    String(String),
    Number(Num),
    Bool(bool),
    Null,
}

fn scan(s: &mut Scanner<'_>) -> Option<Scanned> {
    Some(match s.peek()? {
        Kind::Object => {
            s.begin_object()?;
            let mut members = Vec::new();
            let mut first = true;
            while let Some(key) = s.key(first)? {
                first = false;
                members.push((key.value().into_owned(), scan(s)?));
            }
            Scanned::Object(members)
        }
        Kind::Array => {
            s.begin_array()?;
            let mut items = Vec::new();
            let mut first = true;
            while s.element(first)? {
                first = false;
                items.push(scan(s)?);
            }
            Scanned::Array(items)
        }
        Kind::String => Scanned::String(s.string()?.value().into_owned()),
        Kind::Number => Scanned::Number(s.number()?),
        Kind::True => {
            s.literal("true")?;
            Scanned::Bool(true)
        }
        Kind::False => {
            s.literal("false")?;
            Scanned::Bool(false)
        }
        Kind::Null => {
            s.literal("null")?;
            Scanned::Null
        }
    })
}

fn same(scanned: &Scanned, value: &Value) -> bool {
    match (scanned, value) {
        (Scanned::Object(members), Value::Object(map)) => {
            // Duplicate keys: the last one counts, as in serde_json.
            let mut last: Map<String, Value> = Map::new();
            let mut by_key: Vec<(&str, &Scanned)> = Vec::new();
            for (k, v) in members {
                by_key.retain(|(seen, _)| *seen != k.as_str());
                by_key.push((k, v));
                last.insert(k.clone(), Value::Null);
            }
            last.len() == map.len()
                && by_key
                    .iter()
                    .all(|(k, v)| map.get(*k).is_some_and(|mv| same(v, mv)))
        }
        (Scanned::Array(items), Value::Array(values)) => {
            items.len() == values.len() && items.iter().zip(values).all(|(a, b)| same(a, b))
        }
        (Scanned::String(a), Value::String(b)) => a == b,
        (Scanned::Number(Num::Integer), Value::Number(n)) => n.is_i64() || n.is_u64(),
        (Scanned::Number(Num::Float), Value::Number(n)) => n.is_f64(),
        (Scanned::Bool(a), Value::Bool(b)) => a == b,
        (Scanned::Null, Value::Null) => true,
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut s = Scanner::new(text);
    let scanned = scan(&mut s).and_then(|v| s.end().map(|()| v));
    let parsed = serde_json::from_str::<Value>(text);
    if let Some(scanned) = &scanned {
        let value = parsed
            .as_ref()
            .unwrap_or_else(|e| panic!("the scanner reads {text:?}; serde_json refuses it: {e}"));
        assert!(
            same(scanned, value),
            "{text:?}: the scanner reads {scanned:?}, serde_json {value}"
        );
    }
    // skip() agrees with the full walk.
    let mut s = Scanner::new(text);
    let skipped = s.skip().and_then(|()| s.end()).is_some();
    assert_eq!(
        skipped,
        scanned.is_some(),
        "{text:?}: skip and scan disagree"
    );

    if let Some(version) = meta_version(text) {
        // The body may be broken before `meta` (the doc says so); when
        // serde_json reads it, the version must be the one it sees.
        if let Ok(value) = &parsed {
            let seen = value.get("meta").and_then(|m| m.get("version"));
            assert_eq!(
                seen.and_then(Value::as_str),
                Some(version.as_ref()),
                "{text:?}: meta_version disagrees with serde_json"
            );
        }
    }
});
