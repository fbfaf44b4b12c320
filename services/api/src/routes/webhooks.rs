//! `POST /webhooks/{provider}/{hash}`: a webhook receiver. The path finds the receiver
//! (compared in constant time: for Docker Hub, Quay and generic receivers it is the
//! secret); the provider's signature, or token, authenticates the request; the rules of
//! [`lading_domain::webhook`] say which warehouses it refreshes; each gets the same
//! `WarehouseRefreshRequested` as `POST …/warehouses/{w}/refresh`. A refused request
//! publishes nothing.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::HeaderMap;
use lading_domain::secrets::SecretData;
use lading_domain::spec::{Kind, Manifest, ReceiverKind, Spec, WebhookReceiverConfig};
use lading_domain::webhook::generic::run_actions;
use lading_domain::webhook::path::{is_path, listening};
use lading_domain::webhook::{Received, WarehouseRef, WebhookError, WebhookRequest, receive, warehouses_to_refresh};
use serde_json::{Value, json};

use super::warehouses::publish_refresh;
use super::{State, context};
use crate::SharedContext;
use crate::error::ApiError;

/// The largest webhook body read.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The receiver a path names.
struct Found {
    project: String,
    index: usize,
    receiver: WebhookReceiverConfig,
    secret: String,
}

pub async fn receive_webhook(
    AxumState(state): AxumState<State>,
    Path((provider, hash)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    let not_found = || ApiError::NotFound("no webhook receiver listens at this path".to_owned());
    let kind = ReceiverKind::from_token(&provider).ok_or_else(not_found)?;
    let found = find(&context, &format!("/webhooks/{provider}/{hash}")).filter(|f| f.receiver.kind() == Some(kind));
    let found = found.ok_or_else(not_found)?;
    let body = crate::body::read_limited(body, MAX_BODY_BYTES).await?;
    let request = WebhookRequest {
        headers: headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
            .collect(),
        query,
        body: &body,
    };
    let (project, receiver) = (found.project.as_str(), found.receiver.name.as_str());
    let refused = |error: WebhookError| {
        tracing::warn!(project, receiver, provider = kind.as_str(), status = error.status(), %error, "webhook refused");
        match error.status() {
            401 => ApiError::Unauthorized(error.to_string()),
            422 => ApiError::Unprocessable(error.to_string()),
            _ => ApiError::BadRequest(error.to_string()),
        }
    };
    let warehouses = context.specs.read(|s| s.in_project(project, Kind::Warehouse).cloned().collect::<Vec<_>>());
    let (selected, message) = match &found.receiver.generic {
        Some(generic) => {
            // Expressions run on threads of their own: off the async workers.
            let (generic, field) = (generic.clone(), format!("spec.webhookReceivers[{}].generic", found.index));
            let (headers, query, body) = (request.headers.clone(), request.query.clone(), body.clone());
            let limits = context.expression_limits;
            let outcomes = tokio::task::spawn_blocking(move || {
                let request = WebhookRequest { headers, query, body: &body };
                run_actions(&generic, &field, &request, &refs(&warehouses), &limits)
            })
            .await
            .map_err(|e| ApiError::Internal(format!("running the receiver's actions: {e}")))?
            .map_err(refused)?;
            let mut selected: Vec<String> = outcomes.iter().flat_map(|o| o.warehouses.iter().cloned()).collect();
            selected.sort();
            selected.dedup();
            let matched = outcomes.iter().filter(|o| o.matched_when_expression).count();
            (selected, format!("{matched} of {} action(s) matched", outcomes.len()))
        }
        None => match receive(&found.receiver, &request, &found.secret).map_err(refused)? {
            Received::Push(push) => (warehouses_to_refresh(&push, refs(&warehouses)), "push received".to_owned()),
            Received::Ping => (Vec::new(), "ping received: the receiver is configured correctly".to_owned()),
            Received::Ignored(reason) => (Vec::new(), reason),
        },
    };
    let trace = lading_bus::tracing_context::new_root();
    for warehouse in &selected {
        publish_refresh(&context, project, warehouse, &trace).await?;
    }
    tracing::info!(
        project,
        receiver,
        provider = kind.as_str(),
        refreshed = selected.len(),
        trace_id = trace.trace_id_hex(),
        "webhook received"
    );
    Ok(Json(json!({
        "receiver": receiver,
        "message": message,
        "refreshed": selected.len(),
        "warehouses": selected,
        "traceparent": trace.to_traceparent(),
    })))
}

fn refs(warehouses: &[Manifest]) -> Vec<WarehouseRef<'_>> {
    warehouses
        .iter()
        .filter_map(|m| match &m.spec {
            Spec::Warehouse(spec) => Some(WarehouseRef { name: m.name(), labels: &m.metadata.labels, spec }),
            _ => None,
        })
        .collect()
}

/// The receiver listening at `path`, if any. Every listening receiver's path is compared,
/// each in constant time.
fn find(context: &SharedContext, path: &str) -> Option<Found> {
    let configs: Vec<(String, Vec<WebhookReceiverConfig>)> = context.specs.read(|s| {
        s.all()
            .filter_map(|m| match &m.spec {
                Spec::ProjectConfig(config) if !config.webhook_receivers.is_empty() => {
                    Some((m.project().to_owned(), config.webhook_receivers.clone()))
                }
                _ => None,
            })
            .collect()
    });
    let mut found = None;
    for (project, receivers) in &configs {
        let secrets = project_secrets(context, project, receivers);
        let (listening, _) = listening(project, receivers, |name| secrets.get(name));
        for listener in listening {
            if is_path(&listener.path, path) && found.is_none() {
                let index = receivers.iter().position(|r| r.name == listener.receiver.name).unwrap_or_default();
                found = Some(Found {
                    project: project.clone(),
                    index,
                    receiver: listener.receiver.clone(),
                    secret: listener.secret,
                });
            }
        }
    }
    found
}

/// The secrets `receivers` name, as the project sees them now.
pub(crate) fn project_secrets(
    context: &SharedContext,
    project: &str,
    receivers: &[WebhookReceiverConfig],
) -> BTreeMap<String, SecretData> {
    receivers
        .iter()
        .filter_map(|r| {
            let name = r.secret_name();
            context.secrets.secret(project, name).map(|data| (name.to_owned(), data))
        })
        .collect()
}
