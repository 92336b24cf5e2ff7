//! The compile step lists every problem of a table at once, each with its
//! location.
use super::*;

const BROKEN: &str = r#"
unmapped = "drop"

[resources.Widget]

[resources.User.upstream.attributes]
first = "string"
mail = "string"
flag = "string"
dept = "string"
mobile = "integer"
bad = "text"
addr = { type = "complex" }

[[resources.User.rules]]          # 0: unknown tenant attribute
from = "name.givenNmae"
to = "first"

[[resources.User.rules]]          # 1: undeclared upstream attribute
from = "name.familyName"
to = "last"

[[resources.User.rules]]          # 2: type mismatch
from = "active"
to = "flag"

[[resources.User.rules]]          # 3 and 4: two rules write "mail"
from = 'emails[type eq "work"].value'
to = "mail"

[[resources.User.rules]]
from = "userName"
to = "mail"

[[resources.User.rules]]          # 5: a value map that is not reversible
from = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
to = "dept"
transform = [{ map = { Sales = "S", Support = "S" } }]

[[resources.User.rules]]          # 6: a filter on a single-valued attribute
from = 'name[type eq "x"].middleName'
to = "first"

[[resources.User.rules]]          # 7: a filter that cannot select one element
from = 'phoneNumbers[value co "+1"].value'
to = "mobile"

[[resources.User.rules]]          # 8: not a rule kind
from = "title"
value = "x"

[[resources.User.rules]]          # 9: id always passes through
from = "id"
to = "first"

[[resources.User.rules]]          # 10: join needs a list; bool spelled alike
from = "nickName"
to = "flag"
transform = [{ join = "," }]

[[resources.User.rules]]          # 11
from = "active"
to = "dept"
transform = [{ bool = ["Y", "Y"] }]
"#;

#[test]
fn reports_every_problem_with_its_location() {
    let errors = try_inline(BROKEN).unwrap_err();
    let expect = [
        "resources.Widget: no resource type \"Widget\"",
        "upstream.attributes.\"bad\": unknown type \"text\"",
        "upstream.attributes.\"addr\": sub_attributes go with type \"complex\"",
        "rules[0] (from 'name.givenNmae', to 'first'): from: \"givenNmae\" is not a sub-attribute of \"name\"",
        "rules[1] (from 'name.familyName', to 'last'): to: upstream attribute \"last\" is not declared",
        "rules[2] (from 'active', to 'flag'): type mismatch: the tenant value is a boolean, upstream \"flag\" is a string",
        "rules[4] (from 'userName', to 'mail'): \"mail\" is also written upstream by test: resources.User.rules[3]",
        "rules[5] (from 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department', to 'dept'): the value map is not reversible",
        "rules[6] (from 'name[type eq \"x\"].middleName', to 'first'): from: a value filter on \"name\", which is not a multi-valued complex attribute",
        "rules[7] (from 'phoneNumbers[value co \"+1\"].value', to 'mobile'): from: the value filter must be \"sub eq value\" conditions",
        "rules[8] (from 'title'): a rule is from + to (a move), to + value (a constant)",
        "rules[9] (from 'id', to 'first'): from: \"id\" always passes through",
        "rules[10] (from 'nickName', to 'flag'): transform join does not apply to a string",
        "rules[11] (from 'active', to 'dept'): bool spells true and false alike",
    ];
    for e in expect {
        assert!(
            errors.iter().any(|x| x.contains(e)),
            "missing {e:?} in {errors:#?}"
        );
    }
    assert!(
        errors.iter().all(|e| e.starts_with("test: resources.")),
        "{errors:#?}"
    );
}

#[test]
fn rejects_unknown_keys_naming_them() {
    let e =
        try_inline("[resources.User]\nrules = [{ from = \"title\", too = \"x\" }]").unwrap_err();
    assert!(e[0].contains("unknown field `too`"), "{e:?}");
    let e = try_inline("unmaped = \"drop\"").unwrap_err();
    assert!(e[0].contains("unknown field `unmaped`"), "{e:?}");
}

#[test]
fn pass_through_clashes_are_reported_both_ways() {
    let errors = try_inline(
        r#"
[resources.User.upstream.attributes]
title = "string"
legacyCode = "string"
nickName = "string"
[[resources.User.rules]]
from = "displayName"
to = "title"
[[resources.User.rules]]
from = "userType"
to = "nickName"
"#,
    )
    .unwrap_err();
    for e in [
        "the unmapped tenant attribute \"title\" would pass through onto upstream \"title\"",
        "\"legacyCode\" is neither mapped nor hidden",
    ] {
        assert!(
            errors.iter().any(|x| x.contains(e)),
            "missing {e:?} in {errors:#?}"
        );
    }
}

#[test]
fn tenant_source_read_twice_is_reported() {
    let errors = try_inline(
        r#"
unmapped = "drop"
[resources.User.upstream.attributes]
uid = "string"
mail = "string"
[[resources.User.rules]]
from = "userName"
to = "uid"
[[resources.User.rules]]
from = "userName"
to = "mail"
"#,
    )
    .unwrap_err();
    assert!(
        errors[0].contains("\"userName\" is also read from the tenant"),
        "{errors:#?}"
    );
}
