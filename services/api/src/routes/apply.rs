//! `POST /api/v1/apply`: a stream of YAML or JSON documents, validated all-or-nothing and
//! stored in the spec bucket.

use std::time::Duration;

use axum::Json;
use axum::extract::State as AxumState;
use lading_domain::spec::{Kind, ManifestError, parse_manifests};
use serde_json::{Value, json};

use super::{State, context};
use crate::error::ApiError;

pub async fn apply(AxumState(state): AxumState<State>, body: String) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    let documents: Vec<Value> = serde_saphyr::from_multiple(&body).map_err(|e| {
        ApiError::InvalidManifests(vec![ManifestError {
            document: 0,
            kind: String::new(),
            name: String::new(),
            field: "(yaml)".to_owned(),
            reason: e.to_string(),
        }])
    })?;
    if documents.is_empty() {
        return Err(ApiError::BadRequest("no documents to apply".to_owned()));
    }
    let manifests = parse_manifests(documents).map_err(ApiError::InvalidManifests)?;
    // Objects must belong to a project that exists or is applied in the same request.
    let mut missing = Vec::new();
    for (i, manifest) in manifests.iter().enumerate() {
        let project = manifest.project();
        if project.is_empty() {
            continue; // cluster-scoped
        }
        let in_request = manifests.iter().any(|m| m.kind() == Kind::Project && m.name() == project);
        if !in_request && !context.specs.read(|s| s.project_exists(project)) {
            missing.push(ManifestError {
                document: i + 1,
                kind: manifest.kind().to_string(),
                name: manifest.name().to_owned(),
                field: "metadata.namespace".to_owned(),
                reason: format!("project {project:?} does not exist; apply a Project named {project:?} first"),
            });
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::InvalidManifests(missing));
    }
    let (actions, revision) =
        context.bus.apply_manifests(&manifests).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    // Read-your-writes: later requests to this api see what was just applied.
    context.specs.wait_for_revision(revision, Duration::from_secs(5)).await;
    let results: Vec<Value> = manifests
        .iter()
        .zip(actions)
        .map(|(m, action)| json!({"kind": m.kind().as_str(), "name": m.name(), "project": m.project(), "action": action}))
        .collect();
    Ok(Json(json!({"results": results})))
}
