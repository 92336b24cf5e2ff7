//! The request target below a tenant's SCIM base, parsed once into a typed
//! route (RFC 7644 §3.2 endpoints) before any decision is made about it.
//!
//! Every later stage (grants, validation, the dialect, mapping, cache keys,
//! write ordering, audit, events, metric labels) and the upstream call read
//! this route, never the raw path: what the gateway checks is what it
//! forwards. The raw path is refused, not repaired, when it could mean two
//! things to two parsers (RFC 3986 §5.2.4 dot segments, encoded `/` or `\`,
//! empty segments, control bytes, bad percent-encoding): a proxy that
//! resolved `..` itself would still disagree with an upstream (or a proxy in
//! front of it) that reads `%2e%2e` or `..;` differently.
//!
//! One case rule: endpoint names (`Users`, `Bulk`, `Me`, `.search`,
//! discovery) are matched without regard to case and written in their
//! canonical spelling; ids keep their case (RFC 7643 §3.1: `id` is
//! `caseExact`). Each segment is percent-decoded once and written again in
//! one encoding, so two spellings of one resource are one route.
use super::error::ScimError;
use super::schema::SchemaRegistry;
use std::borrow::Cow;
use std::ops::Range;

/// The discovery endpoints (RFC 7644 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovery {
    ServiceProviderConfig,
    Schemas,
    ResourceTypes,
}

impl Discovery {
    /// The canonical endpoint name.
    pub fn name(self) -> &'static str {
        match self {
            Discovery::ServiceProviderConfig => "ServiceProviderConfig",
            Discovery::Schemas => "Schemas",
            Discovery::ResourceTypes => "ResourceTypes",
        }
    }
}

/// What a route addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// The base itself (`""` or `/`).
    Base,
    /// `/.search` at the root: every resource type (RFC 7644 §3.4.3).
    RootSearch,
    /// `/Bulk` (RFC 7644 §3.7).
    Bulk,
    /// `/Me` and anything below it (RFC 7644 §3.11).
    Me,
    /// `/ServiceProviderConfig`, `/Schemas[/{urn}]`, `/ResourceTypes[/{name}]`.
    Discovery(Discovery),
    /// `/{type}`: list or create.
    Collection,
    /// `/{type}/.search`.
    Search,
    /// `/{type}/{id}`.
    Resource,
    /// `/{type}/{id}/...`: no SCIM endpoint; only a pass-through tenant
    /// forwards it.
    SubPath,
}

/// A parsed request target, relative to a tenant's SCIM base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The canonical path (`/Users/2819c223`, or empty for the base): what
    /// every stage reads and what goes upstream.
    path: String,
    kind: RouteKind,
    /// The resource type's segment in `path` (collection, search,
    /// resource, sub-path).
    resource: Option<Range<usize>>,
    /// Whether the resource type is one of the tenant's.
    known: bool,
    /// The id's segment in `path` (resource, sub-path, a discovery item).
    id: Option<Range<usize>>,
}

/// Why a raw path was refused (each names the problem for the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathProblem {
    DotSegment,
    EncodedSlash,
    Backslash,
    EmptySegment,
    Control,
    BadEncoding,
    NotUtf8,
}

impl PathProblem {
    /// What is wrong, for the client.
    pub fn detail(self) -> &'static str {
        match self {
            PathProblem::DotSegment => "the request path has a \".\" or \"..\" segment (in any encoding); send the resolved path",
            PathProblem::EncodedSlash => "the request path has an encoded \"/\" (%2F) in a segment",
            PathProblem::Backslash => "the request path has a \"\\\" (raw or %5C)",
            PathProblem::EmptySegment => "the request path has an empty segment (\"//\" or a trailing \"/\")",
            PathProblem::Control => "the request path has a control character (raw or percent-encoded)",
            PathProblem::BadEncoding => "the request path has a \"%\" not followed by two hex digits",
            PathProblem::NotUtf8 => "the request path does not decode to UTF-8",
        }
    }

    /// 400 `invalidPath` naming the problem.
    pub fn into_error(self) -> ScimError {
        ScimError::invalid_path(self.detail())
    }
}

impl Route {
    /// Parses `raw`, the path below the tenant's base as the client sent it
    /// (percent-encoded; `""`, `/` or starting with `/`). `registry` names
    /// the tenant's resource types, for their canonical spelling.
    pub fn parse(raw: &str, registry: &SchemaRegistry) -> Result<Route, ScimError> {
        if raw.is_empty() || raw == "/" {
            return Ok(Route::base());
        }
        let Some(rest) = raw.strip_prefix('/') else {
            return Err(PathProblem::EmptySegment.into_error());
        };
        let mut path = String::with_capacity(raw.len());
        let mut ranges: [Range<usize>; 3] = [0..0, 0..0, 0..0];
        let mut count = 0usize;
        for segment in segments(rest) {
            path.push('/');
            let start = path.len();
            push_canonical(segment, &mut path).map_err(PathProblem::into_error)?;
            if count < 3 {
                ranges[count] = start..path.len();
            }
            count += 1;
        }
        let first = &path[ranges[0].clone()];
        let no_endpoint = || {
            ScimError::not_found(format!(
                "no SCIM endpoint at \"{}\"; see /ResourceTypes for this tenant's endpoints",
                printable(raw)
            ))
        };
        let keyword = |name: &str| first.eq_ignore_ascii_case(name);
        let mut route = Route {
            path: String::new(),
            kind: RouteKind::Base,
            resource: None,
            known: false,
            id: None,
        };
        // The root's own endpoints take no further segment.
        for (name, kind) in [
            (".search", RouteKind::RootSearch),
            ("Bulk", RouteKind::Bulk),
        ] {
            if keyword(name) {
                if count != 1 {
                    return Err(no_endpoint());
                }
                route.kind = kind;
                route.path = ["/", name].concat();
                return Ok(route);
            }
        }
        if keyword("Me") {
            route.kind = RouteKind::Me;
            path.replace_range(ranges[0].clone(), "Me");
            route.path = path;
            return Ok(route);
        }
        let discovery = [
            Discovery::ServiceProviderConfig,
            Discovery::Schemas,
            Discovery::ResourceTypes,
        ]
        .into_iter()
        .find(|d| keyword(d.name()));
        if let Some(d) = discovery {
            let items = d != Discovery::ServiceProviderConfig;
            if count > 2 || (count == 2 && !items) {
                return Err(no_endpoint());
            }
            route.kind = RouteKind::Discovery(d);
            respell(&mut path, &mut ranges, d.name());
            if count == 2 {
                route.id = Some(ranges[1].clone());
            }
            route.path = path;
            return Ok(route);
        }
        // A resource type: the tenant's spelling when it is one of its own.
        let rt = registry.resource_type_by_endpoint(first);
        route.known = rt.is_some();
        if let Some(rt) = rt {
            respell(&mut path, &mut ranges, rt.endpoint.trim_start_matches('/'));
        }
        route.resource = Some(ranges[0].clone());
        route.kind = match count {
            1 => RouteKind::Collection,
            2 if path[ranges[1].clone()].eq_ignore_ascii_case(".search") => {
                path.replace_range(ranges[1].clone(), ".search");
                RouteKind::Search
            }
            2 => {
                route.id = Some(ranges[1].clone());
                RouteKind::Resource
            }
            _ if path[ranges[1].clone()].eq_ignore_ascii_case(".search") => {
                return Err(no_endpoint());
            }
            _ => {
                route.id = Some(ranges[1].clone());
                RouteKind::SubPath
            }
        };
        route.path = path;
        Ok(route)
    }

    /// The base itself.
    pub fn base() -> Route {
        Route {
            path: String::new(),
            kind: RouteKind::Base,
            resource: None,
            known: false,
            id: None,
        }
    }

    /// The canonical path (empty for the base).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path, taken (for the upstream request).
    pub fn into_path(self) -> String {
        self.path
    }

    pub fn kind(&self) -> RouteKind {
        self.kind
    }

    /// The resource type's endpoint name (`Users`), for collection, search,
    /// resource and sub-path routes.
    pub fn resource(&self) -> Option<&str> {
        self.resource.clone().map(|r| &self.path[r])
    }

    /// Whether [`Route::resource`] is one of the tenant's resource types.
    pub fn is_known_type(&self) -> bool {
        self.known
    }

    /// The id as it goes upstream (canonically percent-encoded).
    pub fn id(&self) -> Option<&str> {
        self.id.clone().map(|r| &self.path[r])
    }

    /// The id decoded (for audit records and events).
    pub fn id_decoded(&self) -> Option<Cow<'_, str>> {
        let id = self.id()?;
        Some(match decode_segment(id) {
            Ok(d) => d,
            Err(_) => Cow::Borrowed(id),
        })
    }

    /// This resource route with another id (`decoded`, encoded here):
    /// the same resource as another upstream names it. `None` for another
    /// kind of route, or an id that is no path segment (empty, `.`, `..`,
    /// one with a character the path check refuses).
    pub fn with_id(&self, decoded: &str) -> Option<Route> {
        if self.kind != RouteKind::Resource
            || decoded.is_empty()
            || decoded == "."
            || decoded == ".."
        {
            return None;
        }
        let id = self.id.clone()?;
        let mut segment = String::with_capacity(decoded.len());
        encode_segment(decoded, &mut segment);
        // Only an id a client could have sent: one the path check takes
        // back as it is (no control characters, nothing it refuses).
        if decode_segment(&segment).ok().as_deref() != Some(decoded) {
            return None;
        }
        let mut path = self.path[..id.start].to_string();
        path.push_str(&segment);
        let end = path.len();
        Some(Route {
            path,
            kind: self.kind,
            resource: self.resource.clone(),
            known: self.known,
            id: Some(id.start..end),
        })
    }

    /// The first segment of the canonical path (`Users`, `Bulk`, `.search`).
    pub fn first_segment(&self) -> Option<&str> {
        let rest = self.path.strip_prefix('/')?;
        let end = rest.bytes().position(|b| b == b'/').unwrap_or(rest.len());
        Some(&rest[..end]).filter(|s| !s.is_empty())
    }

    /// Whether `method` here changes (or tries to change) identity data:
    /// POST, PUT, PATCH, DELETE, except a search.
    pub fn is_write(&self, method: &http::Method) -> bool {
        matches!(
            *method,
            http::Method::POST | http::Method::PUT | http::Method::PATCH | http::Method::DELETE
        ) && !(matches!(self.kind, RouteKind::Search | RouteKind::RootSearch)
            && *method == http::Method::POST)
    }

    /// Whether this is a search (`POST .../.search`).
    pub fn is_search(&self, method: &http::Method) -> bool {
        *method == http::Method::POST
            && matches!(self.kind, RouteKind::Search | RouteKind::RootSearch)
    }
}

/// Writes `name` over the first segment and shifts the later ranges.
fn respell(path: &mut String, ranges: &mut [Range<usize>; 3], name: &str) {
    let first = ranges[0].clone();
    if &path[first.clone()] == name {
        return;
    }
    path.replace_range(first.clone(), name);
    let shift = name.len() as isize - first.len() as isize;
    ranges[0] = first.start..first.start + name.len();
    for r in ranges.iter_mut().skip(1) {
        if r.end > 0 {
            *r = (r.start as isize + shift) as usize..(r.end as isize + shift) as usize;
        }
    }
}

/// Checks a whole raw request path (before the tenant is known): the same
/// rules as [`Route::parse`], so that no prefix of it (`/tenants/{id}`, the
/// base path) can be reached by a path that means something else.
pub fn check_raw_path(path: &str) -> Result<(), PathProblem> {
    let Some(rest) = path.strip_prefix('/') else {
        return if path.is_empty() || path == "*" {
            Ok(())
        } else {
            Err(PathProblem::EmptySegment)
        };
    };
    if rest.is_empty() {
        return Ok(());
    }
    for segment in segments(rest) {
        if !is_canonical(segment) {
            decode_segment(segment)?;
        }
    }
    Ok(())
}

/// `path` (absolute, no query) with each segment checked as
/// [`check_raw_path`] does and written in the canonical encoding: for
/// paths that arrive inside a body (Bulk operations) and go upstream.
pub fn canonical_path(path: &str) -> Result<String, PathProblem> {
    let rest = path.strip_prefix('/').ok_or(PathProblem::EmptySegment)?;
    let mut out = String::with_capacity(path.len());
    for segment in segments(rest) {
        out.push('/');
        push_canonical(segment, &mut out)?;
    }
    Ok(out)
}

/// The segments of a path after its leading `/` (a byte scan: `/` is
/// ASCII, so every cut is a character boundary).
fn segments(rest: &str) -> impl Iterator<Item = &str> {
    let mut from = Some(0);
    std::iter::from_fn(move || {
        let start = from?;
        match rest.as_bytes()[start..].iter().position(|&b| b == b'/') {
            Some(len) => {
                from = Some(start + len + 1);
                Some(&rest[start..start + len])
            }
            None => {
                from = None;
                Some(&rest[start..])
            }
        }
    })
}

/// Appends `segment` checked and in the canonical encoding. Most segments
/// (`Users`, an id) are canonical already: one pass over their bytes.
fn push_canonical(segment: &str, out: &mut String) -> Result<(), PathProblem> {
    if is_canonical(segment) {
        out.push_str(segment);
        return Ok(());
    }
    let decoded = decode_segment(segment)?;
    encode_segment(&decoded, out);
    Ok(())
}

/// Whether `segment` passes [`decode_segment`] and is written back as it
/// is: not empty, not `.` or `..`, every byte one [`encode_segment`] keeps.
/// Such a segment has no `%`, control, backslash or `;`.
fn is_canonical(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && segment.bytes().all(|b| PLAIN[usize::from(b)])
}

/// The bytes a canonical segment holds as they are: unreserved characters
/// (RFC 3986 §2.3) and `!'()*,:@`.
const PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.' | b'_' | b'~' | b'!' | b'\'' | b'(' | b')' | b'*' | b',' | b':' | b'@'
            );
        b += 1;
    }
    t
};

/// A segment percent-decoded and checked.
pub(crate) fn decode_segment(segment: &str) -> Result<Cow<'_, str>, PathProblem> {
    if segment.is_empty() {
        return Err(PathProblem::EmptySegment);
    }
    let bytes = segment.as_bytes();
    let decoded: Cow<'_, str> = if !bytes.contains(&b'%') {
        Cow::Borrowed(segment)
    } else {
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hi = bytes.get(i + 1).and_then(|b| hex(*b));
                let lo = bytes.get(i + 2).and_then(|b| hex(*b));
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(PathProblem::BadEncoding);
                };
                let b = hi << 4 | lo;
                if b == b'/' {
                    return Err(PathProblem::EncodedSlash);
                }
                out.push(b);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        Cow::Owned(String::from_utf8(out).map_err(|_| PathProblem::NotUtf8)?)
    };
    // C0, DEL and the C1 controls (U+0080 to U+009F): some logs,
    // terminals and parsers act on them.
    for c in decoded.chars() {
        if c.is_control() {
            return Err(PathProblem::Control);
        }
        if c == '\\' {
            return Err(PathProblem::Backslash);
        }
    }
    // `..;x` is `..` to servlet containers (path parameters), `.` and `..`
    // to everyone.
    let bare = decoded.split(';').next().unwrap_or("");
    if bare == "." || bare == ".." {
        return Err(PathProblem::DotSegment);
    }
    Ok(decoded)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The canonical encoding of a decoded segment: unreserved characters
/// (RFC 3986 §2.3) and `!'()*,:@` as they are, every other byte as `%XX`
/// (upper case). `;`, `=`, `&`, `+` and `$` are always encoded, so no
/// upstream can read path parameters or a space into them.
fn encode_segment(decoded: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in decoded.as_bytes() {
        if PLAIN[usize::from(b)] {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        }
    }
}

/// Client input echoed only when short and plain.
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
