//! Projects and the specs in them: `GET /api/v1/projects` (those the caller may read),
//! `GET …/projectconfig` (with its webhook receivers' paths and URLs), and deleting a
//! project, a stage or a warehouse.

use axum::Json;
use axum::extract::{Extension, Path, State as AxumState};
use lading_domain::spec::{Kind, Spec};
use lading_domain::webhook::ReceiverProblem;
use lading_domain::webhook::path::{details, listening};
use serde_json::{Value, json};

use super::{State, context, lookup};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::objects::list as list_of;

/// `GET /api/v1/projects`.
pub async fn list(
    AxumState(state): AxumState<State>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    let items: Vec<Value> = context.specs.read(|s| {
        s.all()
            .filter(|m| m.kind() == Kind::Project && caller.can_read(m.name()))
            .map(|m| {
                let stages = s.in_project(m.name(), Kind::Stage).count();
                let warehouses = s.in_project(m.name(), Kind::Warehouse).count();
                let mut object = m.to_json();
                object["status"] = json!({"stages": stages, "warehouses": warehouses});
                object
            })
            .collect()
    });
    Ok(Json(list_of(items)))
}

/// `GET …/projectconfig`: the project's ProjectConfig (or, without one, its policies as
/// the Project states them), with `status.webhookReceivers` (where each receiver whose
/// secret exists listens) and a `Ready` condition that is false, naming each, while a
/// receiver's secret is missing.
pub async fn project_config(
    AxumState(state): AxumState<State>,
    Path(project): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    lookup::project(&context, &project)?;
    let config = context.specs.read(|s| s.get(&project, Kind::ProjectConfig, &project).cloned());
    let mut object = match &config {
        Some(manifest) => manifest.to_json(),
        None => {
            let policies = context.specs.read(|s| s.promotion_policies(&project));
            json!({"apiVersion": lading_domain::spec::API_VERSION, "kind": "ProjectConfig",
                "metadata": {"name": project, "namespace": project}, "spec": {"promotionPolicies": policies}})
        }
    };
    let receivers = match config.map(|m| m.spec) {
        Some(Spec::ProjectConfig(spec)) => spec.webhook_receivers,
        _ => Vec::new(),
    };
    object["status"] = project_config_status(&context, &project, &receivers);
    Ok(Json(object))
}

/// A ProjectConfig's status: where each receiver whose secret exists listens, and a
/// `Ready` condition that is false, naming each, while a receiver's secret is missing.
pub(crate) fn project_config_status(
    context: &crate::SharedContext,
    project: &str,
    receivers: &[lading_domain::spec::WebhookReceiverConfig],
) -> Value {
    let secrets = super::webhooks::project_secrets(context, project, receivers);
    let (listening, problems) = listening(project, receivers, |name| secrets.get(name));
    let ready = match problems.first() {
        None => json!({"type": "Ready", "status": "True", "reason": "SecretsResolved",
            "message": "every webhook receiver's secret exists"}),
        Some(first) => {
            let messages: Vec<String> = problems.iter().map(ReceiverProblem::message).collect();
            json!({"type": "Ready", "status": "False", "reason": first.reason(), "message": messages.join("; ")})
        }
    };
    json!({
        "conditions": [ready],
        "webhookReceivers": details(&listening, &context.external_url),
    })
}

/// In Kubernetes mode specs are deleted by deleting their objects (or they would come
/// back from the cluster).
fn refuse_in_kubernetes_mode(context: &crate::SharedContext) -> Result<(), ApiError> {
    if context.kube_client.is_some() {
        return Err(ApiError::Conflict(
            "specs come from the Kubernetes cluster (Kubernetes mode): delete the object with `kubectl delete`"
                .to_owned(),
        ));
    }
    Ok(())
}

async fn delete_specs(context: &crate::SharedContext, keys: Vec<(String, Kind, String)>) -> Result<(), ApiError> {
    for (project, kind, name) in keys {
        context.bus.delete_manifest(&project, kind, &name).await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
    }
    Ok(())
}

fn deleted(kind: Kind, name: &str, by: &Caller) -> Json<Value> {
    tracing::info!(kind = kind.as_str(), name, by = by.name, "deleted");
    Json(json!({"deleted": {"kind": kind.as_str(), "name": name}}))
}

/// `DELETE /api/v1/projects/{project}`: the project and every spec in it.
pub async fn delete_project(
    AxumState(state): AxumState<State>,
    Path(project): Path<String>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    refuse_in_kubernetes_mode(&context)?;
    lookup::project(&context, &project)?;
    let mut keys: Vec<(String, Kind, String)> = context.specs.read(|s| {
        s.all()
            .filter(|m| m.project() == project && m.kind() != Kind::Project)
            .map(|m| (project.clone(), m.kind(), m.name().to_owned()))
            .collect()
    });
    keys.push((project.clone(), Kind::Project, project.clone()));
    delete_specs(&context, keys).await?;
    Ok(deleted(Kind::Project, &project, &caller))
}

/// `DELETE …/stages/{stage}`: refused while another stage takes freight from it.
pub async fn delete_stage(
    AxumState(state): AxumState<State>,
    Path((project, stage)): Path<(String, String)>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    refuse_in_kubernetes_mode(&context)?;
    lookup::project(&context, &project)?;
    lookup::stage(&context, &project, &stage)?;
    let downstream: Vec<String> = context.specs.read(|s| {
        s.stages(&project)
            .into_iter()
            .filter(|(_, _, spec)| spec.requested_freight.iter().any(|r| r.sources.stages.contains(&stage)))
            .map(|(name, _, _)| name)
            .collect()
    });
    if !downstream.is_empty() {
        return Err(ApiError::Conflict(format!(
            "stage {stage:?} is upstream of {}; change or delete those first",
            downstream.join(", ")
        )));
    }
    delete_specs(&context, vec![(project.clone(), Kind::Stage, stage.clone())]).await?;
    Ok(deleted(Kind::Stage, &stage, &caller))
}

/// `DELETE …/warehouses/{warehouse}`: refused while a stage requests its freight.
pub async fn delete_warehouse(
    AxumState(state): AxumState<State>,
    Path((project, warehouse)): Path<(String, String)>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    refuse_in_kubernetes_mode(&context)?;
    lookup::project(&context, &project)?;
    if context.specs.read(|s| s.warehouse(&project, &warehouse).is_none()) {
        return Err(ApiError::NotFound(format!("warehouse {warehouse:?} not found in project {project:?}")));
    }
    let users: Vec<String> = context.specs.read(|s| {
        s.in_project(&project, Kind::Stage)
            .filter(|m| match &m.spec {
                Spec::Stage(spec) => spec.requested_freight.iter().any(|r| r.origin.name == warehouse),
                _ => false,
            })
            .map(|m| m.name().to_owned())
            .collect()
    });
    if !users.is_empty() {
        return Err(ApiError::Conflict(format!(
            "warehouse {warehouse:?} supplies stage(s) {}; change or delete those first",
            users.join(", ")
        )));
    }
    delete_specs(&context, vec![(project.clone(), Kind::Warehouse, warehouse.clone())]).await?;
    Ok(deleted(Kind::Warehouse, &warehouse, &caller))
}
