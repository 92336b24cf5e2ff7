#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::scim::schema::SchemaRegistry;
use proptest::prelude::*;

fn parse(raw: &str) -> Result<Route, ScimError> {
    Route::parse(raw, &SchemaRegistry::builtin())
}

fn ok(raw: &str) -> Route {
    parse(raw).unwrap_or_else(|e| panic!("{raw}: {}", e.detail()))
}

#[test]
fn endpoints_are_typed_in_their_canonical_spelling() {
    let cases: &[(&str, RouteKind, &str)] = &[
        ("", RouteKind::Base, ""),
        ("/", RouteKind::Base, ""),
        ("/.search", RouteKind::RootSearch, "/.search"),
        ("/.SEARCH", RouteKind::RootSearch, "/.search"),
        ("/bulk", RouteKind::Bulk, "/Bulk"),
        ("/me", RouteKind::Me, "/Me"),
        ("/users", RouteKind::Collection, "/Users"),
        ("/USERS/.Search", RouteKind::Search, "/Users/.search"),
        ("/groups/abc", RouteKind::Resource, "/Groups/abc"),
        ("/Users/a/b", RouteKind::SubPath, "/Users/a/b"),
        (
            "/serviceproviderconfig",
            RouteKind::Discovery(Discovery::ServiceProviderConfig),
            "/ServiceProviderConfig",
        ),
        (
            "/schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            RouteKind::Discovery(Discovery::Schemas),
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
        ),
        (
            "/resourcetypes/User",
            RouteKind::Discovery(Discovery::ResourceTypes),
            "/ResourceTypes/User",
        ),
        ("/Widgets/1", RouteKind::Resource, "/Widgets/1"),
    ];
    for (raw, kind, path) in cases {
        let r = ok(raw);
        assert_eq!(r.kind(), *kind, "{raw}");
        assert_eq!(r.path(), *path, "{raw}");
    }
    let r = ok("/users/AbC");
    assert_eq!(r.resource(), Some("Users"));
    assert_eq!(r.id(), Some("AbC"), "ids keep their case");
    assert!(r.is_known_type());
    assert!(!ok("/Widgets").is_known_type());
    assert_eq!(ok("/Widgets").resource(), Some("Widgets"));
    assert_eq!(ok("/resourcetypes/User").id(), Some("User"));
}

#[test]
fn dot_segments_are_refused_in_every_spelling() {
    for raw in [
        "/Users/..",
        "/Users/../Groups",
        "/Users/%2e%2e/Groups/g1",
        "/Users/%2E%2E",
        "/Users/.%2e",
        "/Users/x/..",
        "/./Users",
        "/Users/.",
        "/Users/%2e",
        "/Users/..;/Groups",
        "/Users/..%3bjsessionid=1/Groups",
        "/Users/../../../../t2/scim/v2/Users",
    ] {
        let e = parse(raw).unwrap_err();
        assert_eq!(e.status(), 400, "{raw}");
        assert_eq!(e.scim_type().map(|t| t.as_str()), Some("invalidPath"));
        assert!(e.detail().contains("\"..\""), "{raw}: {}", e.detail());
    }
    // Dots that are not a whole segment are plain characters.
    assert_eq!(ok("/Users/...").id(), Some("..."));
    assert_eq!(ok("/Users/a..b").id(), Some("a..b"));
    assert_eq!(ok("/Users/.hidden").id(), Some(".hidden"));
}

#[test]
fn slashes_backslashes_controls_and_bad_encodings_are_refused() {
    let cases = [
        ("/Users/a%2fb", PathProblem::EncodedSlash),
        ("/Users/a%2Fb", PathProblem::EncodedSlash),
        ("/Users/a\\b", PathProblem::Backslash),
        ("/Users/a%5cb", PathProblem::Backslash),
        ("/Users//a", PathProblem::EmptySegment),
        ("/Users/", PathProblem::EmptySegment),
        ("//Users", PathProblem::EmptySegment),
        ("/Users/a%00", PathProblem::Control),
        ("/Users/a%0d%0aX-Evil:1", PathProblem::Control),
        ("/Users/a%7f", PathProblem::Control),
        // C1 controls, raw and encoded (found by the route fuzz target).
        ("/Users/a\u{87}b", PathProblem::Control),
        ("/Users/a%c2%87b", PathProblem::Control),
        ("/Users/a%C2%9Fb", PathProblem::Control),
        ("/Users/a%", PathProblem::BadEncoding),
        ("/Users/a%zz", PathProblem::BadEncoding),
        ("/Users/a%2", PathProblem::BadEncoding),
        ("/Users/%ff%fe", PathProblem::NotUtf8),
    ];
    for (raw, problem) in cases {
        let e = parse(raw).unwrap_err();
        assert_eq!(e.status(), 400, "{raw}");
        assert_eq!(e.detail(), problem.detail(), "{raw}");
        assert_eq!(
            check_raw_path(&format!("/scim/v2{raw}")),
            Err(problem),
            "{raw}"
        );
    }
}

#[test]
fn each_segment_has_one_encoding() {
    assert_eq!(ok("/Users/%41b%63").path(), "/Users/Abc");
    assert_eq!(ok("/Users/a%20b").path(), "/Users/a%20b");
    assert_eq!(ok("/Users/a b").path(), "/Users/a%20b");
    assert_eq!(ok("/Users/a;b=c").path(), "/Users/a%3Bb%3Dc");
    assert_eq!(ok("/Users/a+b").path(), "/Users/a%2Bb");
    assert_eq!(ok("/Users/%c3%a9").path(), "/Users/%C3%A9");
    assert_eq!(ok("/Users/%c3%a9").id_decoded().as_deref(), Some("é"));
    assert_eq!(ok("/Users/a%20b").id_decoded().as_deref(), Some("a b"));
    assert_eq!(ok("/%55sers/1").path(), "/Users/1");
}

#[test]
fn keywords_take_no_extra_segments() {
    for raw in [
        "/.search/x",
        "/Bulk/x",
        "/ServiceProviderConfig/x",
        "/Schemas/a/b",
        "/Users/.search/x",
    ] {
        assert_eq!(parse(raw).unwrap_err().status(), 404, "{raw}");
    }
}

#[test]
fn searches_are_reads_and_everything_else_posted_is_a_write() {
    use http::Method;
    assert!(!ok("/Users/.SEARCH").is_write(&Method::POST));
    assert!(ok("/Users/.SEARCH").is_search(&Method::POST));
    assert!(!ok("/.Search").is_write(&Method::POST));
    assert!(ok("/Users").is_write(&Method::POST));
    assert!(ok("/Users/1").is_write(&Method::DELETE));
    assert!(!ok("/Users/1").is_write(&Method::GET));
    assert!(ok("/Bulk").is_write(&Method::POST));
}

#[test]
fn raw_paths_are_checked_whole() {
    assert!(check_raw_path("/tenants/t1/scim/v2/Users").is_ok());
    assert!(check_raw_path("/").is_ok());
    assert!(check_raw_path("*").is_ok());
    assert_eq!(
        check_raw_path("/tenants/t1/scim/v2/Users/../../../../t2/scim/v2/Users"),
        Err(PathProblem::DotSegment)
    );
    assert_eq!(
        check_raw_path("/tenants/%2e%2e/scim/v2"),
        Err(PathProblem::DotSegment)
    );
}

proptest! {
    /// The canonical path parses to itself: one request, one meaning.
    #[test]
    fn canonical_paths_are_fixed_points(raw in "(/[a-zA-Z0-9.%;:@ _~+-]{1,8}){1,4}") {
        if let Ok(route) = parse(&raw) {
            let again = ok(route.path());
            prop_assert_eq!(&again, &route);
            // Nothing a route forwards has a dot segment, an empty
            // segment or an encoded slash.
            prop_assert!(check_raw_path(route.path()).is_ok());
            prop_assert!(!route.path().contains("//"));
        }
    }
}

#[test]
fn the_canonical_shortcut_agrees_with_decoding_and_encoding() {
    // Every segment of one or two printable ASCII characters, and a few
    // longer ones: the one-pass shortcut takes exactly the segments that
    // decode and encode to themselves, and refuses nothing the long way
    // accepts.
    let ascii: Vec<char> = (0x20u8..0x7f).map(char::from).collect();
    let mut samples: Vec<String> = vec![
        String::new(),
        "Users".into(),
        "2819c223-7f76-453a-919d-413861904646".into(),
        "..;x".into(),
        "a%2Fb".into(),
        "%41".into(),
    ];
    for a in &ascii {
        samples.push(a.to_string());
        for b in &ascii {
            samples.push([*a, *b].iter().collect());
        }
    }
    for segment in &samples {
        let long = decode_segment(segment).map(|d| {
            let mut out = String::new();
            encode_segment(&d, &mut out);
            out
        });
        let mut short = String::new();
        let got = push_canonical(segment, &mut short).map(|()| short);
        assert_eq!(got, long, "{segment:?}");
        if is_canonical(segment) {
            assert_eq!(long.as_deref(), Ok(segment.as_str()), "{segment:?}");
        }
    }
}

#[test]
fn segments_split_like_split() {
    for rest in ["", "a", "a/b", "a//b", "/", "Users/x/", "é/ü"] {
        let ours: Vec<&str> = segments(rest).collect();
        let std: Vec<&str> = rest.split('/').collect();
        assert_eq!(ours, std, "{rest:?}");
    }
}

#[test]
fn another_upstreams_id_is_a_canonical_segment_of_the_same_route() {
    let r = ok("/users/abc");
    let other = r.with_id("x y;..é").unwrap();
    assert_eq!(other.path(), "/Users/x%20y%3B..%C3%A9");
    assert_eq!(other.id_decoded().as_deref(), Some("x y;..é"));
    assert_eq!(other.resource(), Some("Users"));
    assert_eq!(other, ok(other.path()), "as parsing its path would give");
    // What the path check refuses from a client (an encoded slash, a
    // control character), no other upstream's id makes either.
    for bad in ["", ".", "..", "a/b", "a\\b", "a\u{4}b", "nul\0"] {
        assert!(r.with_id(bad).is_none(), "{bad:?}");
    }
    assert!(ok("/Users").with_id("a").is_none());
}
