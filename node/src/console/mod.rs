//! The staff web console (工作台) at `/console`: a small single-page app served from the node's
//! own API listener, every byte embedded in the binary.
//!
//! Why this shape: the console is plain HTML, CSS and one JavaScript file that call the same
//! JSON API as the CLI (`/api/v1/...`, the operator's bearer token in `Authorization`). There
//! is no build step and no package manager between the committed sources and what a browser
//! gets, nothing is fetched from outside the node (no CDN, fonts or scripts — a center's
//! network is often cut off from the internet), and the server adds no second way to change a
//! case: every rule (roles, departments, masking, audit) is the API's, so the console can show
//! only what the API would let the operator do.
//!
//! The shell (these files) is not secret and is served without a token; the data behind it is
//! not. The token lives in the tab's `sessionStorage` (gone when the tab closes), and the page
//! forbids every script, style and connection that is not the node's own (CSP below), so that
//! an injected string cannot carry the token away. The app writes operator-supplied text with
//! `textContent`, never as HTML.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::api::AppState;

/// One embedded file: its path under `/console/` and its media type.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    body: &'static str,
}

const INDEX: Asset = Asset {
    name: "index.html",
    media_type: "text/html; charset=utf-8",
    body: include_str!("assets/index.html"),
};

/// An ES module of the app, embedded under its name.
macro_rules! module {
    ($name:literal) => {
        Asset {
            name: $name,
            media_type: "text/javascript; charset=utf-8",
            body: include_str!(concat!("assets/", $name)),
        }
    };
}

/// Everything under `/console/`, by name. The app's pages are views of one `index.html`
/// (selected by the URL's fragment), so a reload or a bookmark of any page works; its script
/// is a set of ES modules (`app.js` imports the others), one concern each.
const ASSETS: [Asset; 10] = [
    INDEX,
    Asset {
        name: "app.css",
        media_type: "text/css; charset=utf-8",
        body: include_str!("assets/app.css"),
    },
    module!("app.js"),
    module!("vocab.js"),
    module!("dom.js"),
    module!("window.js"),
    module!("case.js"),
    module!("lists.js"),
    module!("board.js"),
    module!("print.js"),
];

/// Only the node's own scripts, styles and API; no frames, no plugins, no inline script.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The console's routes, merged into the API's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { serve(&INDEX) }))
        .route("/console/", get(|| async { serve(&INDEX) }))
        // The hall's screen: the same page, which shows the public board for this path.
        .route("/console/hall", get(|| async { serve(&INDEX) }))
        .route("/console/{file}", get(file))
}

async fn file(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => serve(asset),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("no such console file: {name}\n"),
        )
            .into_response(),
    }
}

fn serve(asset: &Asset) -> Response {
    let mut response = ([(header::CONTENT_TYPE, asset.media_type)], asset.body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The files change with the binary: a browser asks again rather than keep an old app
    // against a new API.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scripts() -> impl Iterator<Item = &'static Asset> {
        ASSETS.iter().filter(|a| a.name.ends_with(".js"))
    }

    #[test]
    fn every_file_the_page_loads_is_embedded() {
        for needle in ["/console/app.js", "/console/app.css"] {
            assert!(INDEX.body.contains(needle), "index.html loads {needle}");
        }
        // Every module a script imports is served.
        for script in scripts() {
            for line in script.body.lines().filter(|l| l.starts_with("import ")) {
                let module = line
                    .rsplit("from './")
                    .next()
                    .and_then(|rest| rest.strip_suffix("';"))
                    .unwrap_or_else(|| panic!("{}: unusual import {line:?}", script.name));
                assert!(
                    ASSETS.iter().any(|a| a.name == module),
                    "{} imports {module}, which is not embedded",
                    script.name
                );
            }
        }
    }

    #[test]
    fn the_page_loads_nothing_from_outside_the_node() {
        // Whatever would make the browser load something: an element's source or link, a
        // stylesheet's url() or @import, a fetch. (The SVG namespace, a name, is not one.)
        for asset in &ASSETS {
            let text = asset.body.replace(' ', "");
            for load in [
                "src=\"http",
                "src='http",
                "href=\"http",
                "href='http",
                "src=\"//",
                "href=\"//",
                "url(http",
                "url(//",
                "url(\"http",
                "url('http",
                "@import",
                "fetch('http",
                "fetch(\"http",
            ] {
                assert!(
                    !text.contains(load),
                    "{} loads something from outside the node: {load}",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn the_app_never_writes_html_from_data() {
        // Operator- and applicant-supplied text reaches the page only as text.
        for script in scripts() {
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
            ] {
                assert!(!script.body.contains(sink), "{} uses {sink}", script.name);
            }
        }
    }

    #[test]
    fn no_script_is_a_production_file_of_more_than_400_lines() {
        for script in scripts() {
            let lines = script.body.lines().count();
            assert!(
                lines <= 400,
                "{} has {lines} lines: split it by concept",
                script.name
            );
        }
    }
}
