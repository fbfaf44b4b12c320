//! HTTP routes under `/api/v1`, plus health. One module per resource.

mod apply;
mod freight;
mod promotions;
mod stages;
mod warehouses;

use axum::Router;
use axum::routing::{get, post};
use lading_runtime::Readiness;
use tokio::sync::watch;

use crate::SharedContext;
use crate::error::ApiError;

/// The api's state: empty until it has connected and loaded specs and the log.
pub type State = watch::Receiver<Option<SharedContext>>;

pub(crate) fn context(state: &State) -> Result<SharedContext, ApiError> {
    state.borrow().clone().ok_or_else(|| ApiError::Unavailable("still connecting to NATS".to_owned()))
}

pub(crate) fn require_project(context: &SharedContext, project: &str) -> Result<(), ApiError> {
    if context.specs.read(|s| s.project_exists(project)) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("project {project:?} not found")))
    }
}

pub fn health_only(readiness: Readiness) -> Router {
    lading_runtime::health::routes(readiness)
}

pub fn api(state: State) -> Router {
    let routes = Router::new()
        .route("/api/v1/apply", post(apply::apply))
        .route("/api/v1/projects/{project}/freight", get(freight::list).post(freight::create))
        .route("/api/v1/projects/{project}/stages", get(stages::list))
        .route("/api/v1/projects/{project}/stages/{stage}/promotions", post(promotions::create))
        .route("/api/v1/projects/{project}/stages/{stage}/abort", post(promotions::abort))
        .route("/api/v1/projects/{project}/warehouses", get(warehouses::list))
        .route("/api/v1/projects/{project}/warehouses/{warehouse}/refresh", post(warehouses::refresh))
        // `apply` reads its body itself, with its own limit.
        .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024))
        .fallback(crate::middleware::not_found)
        .with_state(state);
    routes
        .layer(axum::middleware::map_response(crate::middleware::json_error_bodies))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(crate::middleware::panic_response))
}
