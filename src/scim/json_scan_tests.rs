#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use proptest::prelude::*;
use serde_json::Value;

/// The scanner reads `text` as one JSON document.
fn scans(text: &str) -> bool {
    let mut s = Scanner::new(text);
    s.skip().is_some() && s.end().is_some()
}

#[test]
fn reads_json_and_refuses_what_is_not() {
    for ok in [
        r#"{}"#,
        r#" { "a" : [ 1 , -2.5 , 0 , true , false , null , "x\"\\\/\b\f\n\r\t" , { } , [ ] ] } "#,
        "[]",
        // An escaped backslash before a `u` is no \u escape.
        r#"{"id":"\\u"}"#,
        "\"é ü 中\"",
        "-0",
        "18446744073709551615",
    ] {
        assert!(scans(ok), "{ok}");
        assert!(serde_json::from_str::<Value>(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "{",
        "}",
        "{,}",
        r#"{"a":1,}"#,
        "[1,]",
        "[,1]",
        r#"{"a" 1}"#,
        r#"{a:1}"#,
        "01",
        "1.",
        ".5",
        "-",
        "+1",
        "tru",
        "nul",
        "\"a",
        "\"\u{1}\"",
        r#""\x""#,
        "{} {}",
        "[1 2]",
        r#"{"a":1 "b":2}"#,
    ] {
        assert!(!scans(bad), "{bad:?}");
    }
}

#[test]
fn declines_what_serde_json_should_judge() {
    // \u escapes (surrogates), exponents, long numbers, deep nesting.
    for declined in [
        r#""\u0041""#,
        "1e3",
        "123456789012345678901",
        &format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1)),
    ] {
        assert!(!scans(declined), "{declined}");
    }
    assert!(scans(&format!(
        "{}{}",
        "[".repeat(MAX_DEPTH),
        "]".repeat(MAX_DEPTH)
    )));
}

#[test]
fn integers_are_what_serde_json_calls_integers() {
    for text in [
        "0",
        "-0",
        "7",
        "-7",
        "9223372036854775807",
        "-9223372036854775808",
        "-9223372036854775809",
        "18446744073709551615",
        "18446744073709551616",
        "1.0",
        "-0.0",
    ] {
        let v: Value = serde_json::from_str(text).unwrap();
        let serde_integer = v.is_i64() || v.is_u64();
        let num = Scanner::new(text).number();
        assert_eq!(num == Some(Num::Integer), serde_integer, "{text}");
    }
}

#[test]
fn meta_version_reads_the_top_level_member_only() {
    let cases = [
        (
            r#"{"id":"1","meta":{"version":"W/\"3\""}}"#,
            Some("W/\"3\""),
        ),
        (
            r#"{"meta":{"location":"x","version":"v1"},"id":"1"}"#,
            Some("v1"),
        ),
        (r#"{"meta":{"version":"v1"}}"#, Some("v1")),
        (
            r#"{"id":"1","meta":{"version":"v1"},"x":{"meta":{"version":"v2"}}}"#,
            Some("v1"),
        ),
        (
            r#"{"x":[{"meta":{"version":"v2"}}],"meta":{"version":"v1"}}"#,
            Some("v1"),
        ),
        (r#"{"x":"\"meta\":{\"version\":\"v2\"}"}"#, None),
        (
            r#"{"meta":{"version":"v1"},"meta":{"version":"v2"}}"#,
            Some("v2"),
        ),
        (r#"{"id":"1","x":{"meta":{"version":"v1"}}}"#, None),
        (r#"{"id":"1","meta":{"x":{"version":"v1"}}}"#, None),
        (r#"{"id":"1","meta":{"version":7}}"#, None),
        (r#"{"id":"1","meta":null}"#, None),
        (r#"{"id":"1","meta":{"version":"a"},"meta":{}}"#, None),
        (r#"{"id":"1","meta":{"version":"a","version":"b"}}"#, None),
        (r#"{"id":"1","Meta":{"version":"v1"}}"#, None),
        (r#"{"id":"1","meta":{"version":"v1"}"#, None),
        (r#"[{"id":"1","meta":{"version":"v1"}}]"#, None),
    ];
    for (text, expected) in cases {
        assert_eq!(meta_version(text).as_deref(), expected, "{text}");
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-8000i32..8000).prop_map(|i| Value::from(f64::from(i) / 8.0)),
        "[a-z\"\\\\/\\n\\té中 ]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("(id|meta|version|[a-z]{1,3})", inner), 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Byte edits of a text, each at a position, one of insert (0), remove
/// (1) or replace (2) the character there by a piece. (Shared with the
/// validator's tests.)
pub(crate) fn apply_edits(text: &mut String, edits: Vec<(prop::sample::Index, u8, &str)>) {
    for (at, op, piece) in edits {
        let mut i = at.index(text.len() + 1);
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        let next = text[i..].chars().next().map_or(0, char::len_utf8);
        match op {
            0 => text.insert_str(i, piece),
            1 => text.replace_range(i..i + next, ""),
            _ => text.replace_range(i..i + next, piece),
        }
    }
}

/// One edit of a document: a byte from JSON's alphabet inserted, removed
/// or replaced somewhere.
fn mutated() -> impl Strategy<Value = String> {
    let alphabet = prop::sample::select(vec![
        "{", "}", "[", "]", "\"", ",", ":", "\\", " ", "0", "1", "-", ".", "e", "t", "n", "u", "é",
        "\u{1}", "\\u0041", "\\\"", "tru", "null", "-0", "01",
    ]);
    (
        json_value(),
        any::<bool>(),
        prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, alphabet), 1..4),
    )
        .prop_map(|(v, pretty, edits)| {
            let mut text = if pretty {
                serde_json::to_string_pretty(&v).unwrap()
            } else {
                serde_json::to_string(&v).unwrap()
            };
            apply_edits(&mut text, edits);
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn what_the_scanner_reads_serde_json_reads(text in mutated()) {
        if scans(&text) {
            prop_assert!(serde_json::from_str::<Value>(&text).is_ok(), "{:?}", text);
        }
        // Where the document is JSON, the version found is serde_json's
        // (a broken prefix may still yield one: it only names the body).
        if let (Some(version), Ok(v)) = (meta_version(&text), serde_json::from_str::<Value>(&text)) {
            prop_assert_eq!(v["meta"]["version"].as_str(), Some(version.as_ref()), "{:?}", text);
        }
    }

    #[test]
    fn serialized_documents_are_read(v in json_value()) {
        for text in [serde_json::to_string(&v).unwrap(), serde_json::to_string_pretty(&v).unwrap()] {
            // (The generated strings hold no control character that
            // serde_json would write as a \u escape.)
            prop_assert!(scans(&text), "{}", text);
        }
    }
}

#[test]
fn the_eight_byte_test_finds_exactly_the_first_special_byte() {
    let special = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
    for b in 0..=255u8 {
        for at in 0..8 {
            let mut word = [b'a'; 8];
            word[at] = b;
            let want = special(b).then_some(at);
            assert_eq!(
                first_special(u64::from_le_bytes(word)),
                want,
                "{b:#x} at {at}"
            );
            // A second special byte above the first never moves it, and
            // any byte above a special one is ignored.
            for above in at + 1..8 {
                for c in [b'"', b'\\', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff] {
                    let mut two = word;
                    two[above] = c;
                    let want = if special(b) {
                        Some(at)
                    } else {
                        special(c).then_some(above)
                    };
                    assert_eq!(
                        first_special(u64::from_le_bytes(two)),
                        want,
                        "{b:#x} at {at}, {c:#x} at {above}"
                    );
                }
            }
        }
    }
    assert_eq!(
        first_special(u64::from_le_bytes(*b"\xe4\xb8\xad\xc3\xa9 ok")),
        None
    );
}

#[test]
fn the_next_special_byte_is_found_across_words_and_in_the_tail() {
    let text = b"abcdefghijklmnopqrstuvwxyz\"0123";
    for from in 0..text.len() {
        let want = text[from..]
            .iter()
            .position(|b| *b == b'"')
            .map(|p| from + p);
        assert_eq!(next_special(text, from), want, "from {from}");
    }
    assert_eq!(next_special(b"no special bytes here at all", 0), None);
    assert_eq!(next_special(b"ab", 5), None);
}

#[test]
fn operations_len_counts_the_top_level_array() {
    use super::operations_len;
    let body = r#"{"schemas":["x"],"operations":[{"op":"add","value":{"a":[1,2]}},{"op":"remove","path":"b"}]}"#;
    assert_eq!(operations_len(body), Some(2));
    assert_eq!(operations_len(r#"{"Operations":[]}"#), Some(0));
    assert_eq!(operations_len(r#"{"schemas":[]}"#), Some(0));
    // Nested `Operations` (a Bulk request's data) are not this request's.
    assert_eq!(
        operations_len(r#"{"x":{"Operations":[1,2,3]},"Operations":[1]}"#),
        Some(1)
    );
    // A repeated key: the longest counts.
    assert_eq!(
        operations_len(r#"{"Operations":[1],"OPERATIONS":[1,2]}"#),
        Some(2)
    );
    // Declined: `\u` escapes, not an object, not JSON.
    assert_eq!(operations_len(r#"{"Operations":["\u0041"]}"#), None);
    assert_eq!(operations_len("[1]"), None);
    assert_eq!(operations_len(r#"{"Operations":[1,]}"#), None);
}

#[test]
fn strings_are_written_as_serde_json_writes_them() {
    let mut every = String::new();
    for c in (0u32..0x300).chain([0x2028, 0x2029, 0xfeff, 0x1f600]) {
        every.extend(char::from_u32(c));
    }
    for s in [
        "",
        "plain",
        "a\"b",
        "back\\slash",
        "tab\there",
        "\u{7f}",
        "é",
        &every,
    ] {
        let mut out = b"x".to_vec();
        write_str(&mut out, s);
        assert_eq!(out[1..], serde_json::to_vec(s).unwrap()[..], "{s:?}");
    }
}

proptest! {
    #[test]
    fn any_string_is_written_as_serde_json_writes_it(s in any::<String>()) {
        let mut out = Vec::new();
        write_str(&mut out, &s);
        prop_assert_eq!(out, serde_json::to_vec(&s).unwrap());
    }
}

#[test]
fn a_special_byte_is_found_at_any_place_of_any_length() {
    for len in 0..40 {
        let plain = "é".repeat(len / 2) + &"x".repeat(len % 2);
        assert!(is_plain(&plain), "{plain:?}");
        for at in 0..plain.len() {
            if !plain.is_char_boundary(at) {
                continue;
            }
            for special in ['"', '\\', '\n', '\u{0}', '\u{1f}'] {
                let mut s = plain.clone();
                s.insert(at, special);
                assert!(!is_plain(&s), "{s:?}");
            }
        }
    }
    assert!(is_plain("\u{7f}ÿ~ "));
}
