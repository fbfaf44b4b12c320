//! The web UI: a page and a few dependency-free ES modules, embedded in the binary and
//! served at `/` and `/ui/…` without a token (they hold no data: the page asks the
//! REST API and the event stream for everything, with the token the user logs in with).

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One embedded file: its name under `/ui/`, its content type and its bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: &[Asset] = &[
    Asset { name: "style.css", content_type: "text/css; charset=utf-8", body: include_str!("../ui/style.css") },
    Asset { name: "app.js", content_type: JS, body: include_str!("../ui/app.js") },
    Asset { name: "api.js", content_type: JS, body: include_str!("../ui/api.js") },
    Asset { name: "live.js", content_type: JS, body: include_str!("../ui/live.js") },
    Asset { name: "graph.js", content_type: JS, body: include_str!("../ui/graph.js") },
    Asset { name: "pipeline.js", content_type: JS, body: include_str!("../ui/pipeline.js") },
    Asset { name: "timeline.js", content_type: JS, body: include_str!("../ui/timeline.js") },
    Asset { name: "details.js", content_type: JS, body: include_str!("../ui/details.js") },
    Asset { name: "actions.js", content_type: JS, body: include_str!("../ui/actions.js") },
    Asset { name: "html.js", content_type: JS, body: include_str!("../ui/html.js") },
];

const INDEX: &str = include_str!("../ui/index.html");

/// The page may load only its own scripts and styles and talk only to its own origin;
/// `style` attributes place the graph's cards.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     style-src-attr 'unsafe-inline'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn respond(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The files change with the binary: a browser revalidates rather than keeps a stale copy.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

async fn index() -> Response {
    respond("text/html; charset=utf-8", INDEX)
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => respond(asset.content_type, asset.body),
        None => (StatusCode::NOT_FOUND, format!("no UI file {name:?}")).into_response(),
    }
}

/// `GET /` (the page) and `GET /ui/{file}` (its modules and style).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/", get(index)).route("/ui/{file}", get(asset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_served() {
        let mut sources: Vec<&str> = ASSETS.iter().map(|a| a.body).collect();
        sources.push(INDEX);
        for source in sources {
            for (start, _) in source.match_indices("/ui/") {
                let rest = &source[start + 4..];
                let end =
                    rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-')).unwrap_or(rest.len());
                let name = &rest[..end];
                if name.is_empty() {
                    continue;
                }
                assert!(ASSETS.iter().any(|a| a.name == name), "{name} is imported but not embedded");
            }
        }
    }
}
