//! What wraps every api route: error answers in the api's JSON shape (also the ones
//! axum writes itself: 404, 405, 413, 415, …), and a panicking handler turned into a
//! 500 answer instead of a dropped connection.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::json;

use crate::error::error_response;

/// How much of a non-JSON error body is kept as the error message.
const MESSAGE_BYTES: usize = 4096;

/// Rewrites an error answer that is not JSON (plain text or empty, as axum's own
/// rejections are) into `{"error": …, "details": []}`, keeping its status.
pub async fn json_error_bodies(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.to_str().is_ok_and(|t| t.starts_with("application/json")));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MESSAGE_BYTES).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("error").to_lowercase(),
        text => lading_domain::excerpt::shortened(text, 512),
    };
    let mut rewritten = error_response(status, &message, json!([]));
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewritten
}

/// The answer to a request whose handler panicked: logged with what it was, and a 500.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic");
    tracing::error!(panic = what, "a request handler panicked");
    error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error: the request could not be handled", json!([]))
}

/// The answer to a path no route serves.
pub async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "no such api path", json!([]))
}
