//! API errors: a status code and a JSON body `{"error": …, "details": […]}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lading_domain::spec::ManifestError;
use serde_json::json;

/// What went wrong with a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{} invalid manifest(s); nothing was applied", .0.len())]
    InvalidManifests(Vec<ManifestError>),
    /// The request, or a document in it, is larger than what can be stored.
    #[error("{message}")]
    TooLarge { message: String, details: Vec<ManifestError> },
    /// No token, or one Lading does not know.
    #[error("{0}")]
    Unauthorized(String),
    /// The token does not grant what the request needs.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request is well-formed but the state does not allow it.
    #[error("{0}")]
    Conflict(String),
    /// The request was understood but cannot be acted on as it is.
    #[error("{0}")]
    Unprocessable(String),
    #[error("not ready: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidManifests(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let details = match &self {
            ApiError::InvalidManifests(errors) | ApiError::TooLarge { details: errors, .. } => json!(errors),
            _ => json!([]),
        };
        error_response(status, &self.to_string(), details)
    }
}

/// The JSON error shape every error answer of the api uses.
pub fn error_response(status: StatusCode, message: &str, details: serde_json::Value) -> Response {
    (status, Json(json!({"error": message, "details": details}))).into_response()
}
