//! The web console at `/admin/`: three files embedded in the binary
//! (plain HTML, CSS and JavaScript; no build step, nothing fetched from
//! elsewhere). The page reads the admin API; these files hold no data, so
//! they are served without the admin token.
use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http::Response;
use http_body_util::Full;

/// One embedded file.
pub(super) struct Asset {
    body: &'static str,
    content_type: &'static str,
}

const INDEX: Asset = Asset {
    body: include_str!("console/index.html"),
    content_type: "text/html; charset=utf-8",
};
const SCRIPT: Asset = Asset {
    body: include_str!("console/console.js"),
    content_type: "text/javascript; charset=utf-8",
};
const STYLE: Asset = Asset {
    body: include_str!("console/console.css"),
    content_type: "text/css; charset=utf-8",
};

/// The file at `path`, if it is one of the console's.
pub(super) fn asset(path: &str) -> Option<&'static Asset> {
    match path {
        "/admin/" | "/admin/index.html" => Some(&INDEX),
        "/admin/console.js" => Some(&SCRIPT),
        "/admin/console.css" => Some(&STYLE),
        _ => None,
    }
}

/// Serves `asset` with a policy that lets the page load only its own
/// files and talk only to this listener.
pub(super) fn serve(asset: &Asset) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(asset.body.as_bytes())));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    r
}
