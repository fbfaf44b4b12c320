//! What people do to one freight: read it, approve it for a stage, give it another
//! alias, delete it. Every freight is named by its name (ID) or its alias.

use axum::Json;
use axum::extract::{Extension, Path, Query, State as AxumState};
use lading_bus::aliases::AliasChange;
use lading_events::catalog::{FreightAliasChangedV2, FreightApprovedV1, FreightDeletedV1};
use lading_events::{Event, now_ms};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{State, context, lookup};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::objects::freight_object;

fn publish_error(error: lading_bus::BusError) -> ApiError {
    ApiError::Unavailable(error.to_string())
}

/// `GET …/freight/{freight}`.
pub async fn get(
    AxumState(state): AxumState<State>,
    Path((project, freight)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    lookup::project(&context, &project)?;
    let record = lookup::freight(&context, &project, &freight)?;
    Ok(Json(freight_object(&project, &record)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveQuery {
    stage: String,
}

/// `POST …/freight/{freight}/approve?stage=S`: the freight becomes available to `S`
/// whatever its upstream stages say; no promotion is made.
pub async fn approve(
    AxumState(state): AxumState<State>,
    Path((project, freight)): Path<(String, String)>,
    Query(query): Query<ApproveQuery>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    lookup::project(&context, &project)?;
    if let (Some(user), Some(client)) = (&caller.kubernetes, &context.kube_client) {
        crate::kubernetes::access::may_promote(client, user, &project, &query.stage)
            .await
            .map_err(ApiError::Forbidden)?;
    }
    let stage = lookup::stage(&context, &project, &query.stage)?;
    let record = lookup::freight(&context, &project, &freight)?;
    let origin = &record.freight.origin;
    if stage.request_for(origin).is_none() {
        return Err(ApiError::Conflict(format!(
            "stage {:?} does not request freight from {}/{}, so it cannot be approved for it",
            query.stage, origin.kind, origin.name
        )));
    }
    if let Some(approved) = record.freight.status.approved_for.get(&query.stage) {
        return Ok(Json(
            json!({"freight": record.id.as_str(), "stage": query.stage, "approvedAt": approved.approved_at, "changed": false}),
        ));
    }
    let event = Event::FreightApproved(FreightApprovedV1 {
        project: project.clone(),
        freight_id: record.id.to_string(),
        stage: query.stage.clone(),
        actor: caller.name.clone(),
        approved_at_ms: now_ms(),
    });
    let trace = lading_bus::tracing_context::new_root();
    let published = context.bus.publish(&event, &trace).await.map_err(publish_error)?;
    lookup::applied(&context, published).await;
    tracing::info!(project, stage = query.stage, freight = %record.id, actor = caller.name, "freight approved");
    Ok(Json(json!({"freight": record.id.as_str(), "stage": query.stage, "changed": true})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateFreight {
    alias: String,
}

/// `PATCH …/freight/{freight}` `{"alias": NEW}`: a DNS label, unique in the project; the
/// old alias is free again.
pub async fn update(
    AxumState(state): AxumState<State>,
    Path((project, freight)): Path<(String, String)>,
    Extension(caller): Extension<Caller>,
    Json(request): Json<UpdateFreight>,
) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    lookup::project(&context, &project)?;
    lading_domain::names::validate_dns_label(&request.alias)
        .map_err(|e| ApiError::BadRequest(format!("alias: {e}")))?;
    let record = lookup::freight(&context, &project, &freight)?;
    let previous = record.freight.alias.clone();
    if previous != request.alias {
        match context.bus.change_alias(&project, &record.id, &request.alias, &previous).await.map_err(publish_error)? {
            AliasChange::TakenBy(other) => {
                return Err(ApiError::Conflict(format!(
                    "alias {:?} belongs to freight {} in project {project:?}",
                    request.alias,
                    other.get(..7).unwrap_or(&other)
                )));
            }
            AliasChange::Claimed => {}
        }
        let event = Event::FreightAliasChangedV2(FreightAliasChangedV2 {
            project: project.clone(),
            freight_id: record.id.to_string(),
            alias: request.alias.clone(),
            previous_alias: previous,
            actor: caller.name.clone(),
            changed_at_ms: now_ms(),
        });
        let published =
            context.bus.publish(&event, &lading_bus::tracing_context::new_root()).await.map_err(publish_error)?;
        lookup::applied(&context, published).await;
    }
    let record = lookup::freight(&context, &project, record.id.as_str())?;
    Ok(Json(freight_object(&project, &record)))
}

/// `DELETE …/freight/{freight}`: refused while a stage holds it.
pub async fn delete(
    AxumState(state): AxumState<State>,
    Path((project, freight)): Path<(String, String)>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    lookup::project(&context, &project)?;
    let record = lookup::freight(&context, &project, &freight)?;
    let stages: Vec<&String> = record.freight.status.currently_in.keys().collect();
    if !stages.is_empty() {
        let names: Vec<&str> = stages.iter().map(|s| s.as_str()).collect();
        return Err(ApiError::Conflict(format!(
            "freight {} is in use by stage(s) {}; promote other freight there first",
            record.freight.alias,
            names.join(", ")
        )));
    }
    let event = Event::FreightDeleted(FreightDeletedV1 {
        project: project.clone(),
        freight_id: record.id.to_string(),
        actor: caller.name.clone(),
        deleted_at_ms: now_ms(),
    });
    let published =
        context.bus.publish(&event, &lading_bus::tracing_context::new_root()).await.map_err(publish_error)?;
    context.bus.release_alias(&project, &record.id, &record.freight.alias).await.map_err(publish_error)?;
    lookup::applied(&context, published).await;
    Ok(Json(json!({"deleted": {"kind": "Freight", "name": record.id.as_str(), "alias": record.freight.alias}})))
}
