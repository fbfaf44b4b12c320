//! `GET /api/v1/projects/{project}/warehouses` and
//! `POST …/warehouses/{warehouse}/refresh` (discover now).

use axum::Json;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use lading_domain::spec::Kind;
use lading_events::TraceContext;
use lading_events::catalog::WarehouseRefreshRequestedV2;
use lading_events::{Event, now_ms};
use serde_json::{Value, json};

use super::{State, context, lookup};
use crate::SharedContext;
use crate::error::ApiError;
use crate::objects::{list as list_of, warehouse_object};

pub async fn list(AxumState(state): AxumState<State>, Path(project): Path<String>) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    lookup::project(&context, &project)?;
    let manifests: Vec<_> = context.specs.read(|s| s.in_project(&project, Kind::Warehouse).cloned().collect());
    let items = context.projection.read(|model| {
        let project_model = model.project(&project);
        manifests.iter().map(|m| warehouse_object(m, project_model)).collect::<Vec<_>>()
    });
    Ok(Json(list_of(items)))
}

pub async fn refresh(
    AxumState(state): AxumState<State>,
    Path((project, warehouse)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let context = context(&state)?;
    lookup::project(&context, &project)?;
    if context.specs.read(|s| s.warehouse(&project, &warehouse).is_none()) {
        return Err(ApiError::NotFound(format!("warehouse {warehouse:?} not found in project {project:?}")));
    }
    let trace = lading_bus::tracing_context::new_root();
    let request_id = publish_refresh(&context, &project, &warehouse, &trace).await?;
    tracing::info!(project, warehouse, trace_id = trace.trace_id_hex(), "refresh requested");
    Ok((StatusCode::ACCEPTED, Json(json!({"requestId": request_id, "traceparent": trace.to_traceparent()}))))
}

/// Asks the warehouse to discover now (`WarehouseRefreshRequested`); its request ID.
pub(crate) async fn publish_refresh(
    context: &SharedContext,
    project: &str,
    warehouse: &str,
    trace: &TraceContext,
) -> Result<String, ApiError> {
    let request_id = ulid::Ulid::new().to_string().to_lowercase();
    let after_seq = context.projection.read(|model| {
        model.project(project).and_then(|p| p.warehouses.get(warehouse)).map_or(0, |w| w.last_handled_refresh_seq)
    });
    let event = Event::WarehouseRefreshRequestedV2(WarehouseRefreshRequestedV2 {
        project: project.to_owned(),
        warehouse: warehouse.to_owned(),
        request_id: request_id.clone(),
        after_seq,
        requested_at_ms: now_ms(),
    });
    context.bus.publish(&event, trace).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(request_id)
}
