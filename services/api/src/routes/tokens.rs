//! `GET /api/v1/whoami`, and tokens: `GET|POST /api/v1/tokens`,
//! `DELETE /api/v1/tokens/{name}`. A project's admin manages that project's tokens; the
//! server's admin manages every token. A token is shown once, when it is made.

use axum::Json;
use axum::extract::{Extension, Path, State as AxumState};
use axum::http::StatusCode;
use lading_bus::tokens::{TokenError, TokenRecord};
use lading_domain::access::{Grant, Permission, Role, Scope, Target};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{State, context};
use crate::auth::Caller;
use crate::error::ApiError;

fn target(scope: &Scope) -> Target<'_> {
    match scope {
        Scope::Server => Target::Server,
        Scope::Project(project) => Target::Project(project),
    }
}

fn token_object(record: &TokenRecord) -> Value {
    let (role, project) = match &record.grant.scope {
        Scope::Server => (record.grant.role.as_str(), Value::Null),
        Scope::Project(project) => (record.grant.role.as_str(), json!(project)),
    };
    json!({
        "name": record.name,
        "role": role,
        "project": project,
        "createdAt": lading_events::time_from_ms(record.created_at_ms),
        "createdBy": record.created_by,
    })
}

fn token_error(error: TokenError) -> ApiError {
    match error {
        TokenError::NameTaken(_) => ApiError::Conflict(error.to_string()),
        TokenError::NotFound(_) => ApiError::NotFound(error.to_string()),
        TokenError::Random(_) | TokenError::Bus(_) => ApiError::Unavailable(error.to_string()),
    }
}

/// `GET /api/v1/whoami`: the caller's token name and role.
pub async fn whoami(Extension(caller): Extension<Caller>) -> Json<Value> {
    let project = match &caller.grant.scope {
        Scope::Server => Value::Null,
        Scope::Project(project) => json!(project),
    };
    Json(
        json!({"name": caller.name, "role": caller.grant.role.as_str(), "project": project, "grant": caller.grant.describe()}),
    )
}

/// `GET /api/v1/tokens`: the tokens the caller may manage.
pub async fn list(
    AxumState(state): AxumState<State>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    let items: Vec<Value> = context.tokens.read(|tokens| {
        tokens
            .list()
            .into_iter()
            .filter(|r| caller.grant.allows(Permission::Administer, target(&r.grant.scope)))
            .map(token_object)
            .collect()
    });
    Ok(Json(json!({"items": items})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
    role: String,
    /// The project the role holds in; none for the whole server.
    #[serde(default)]
    project: Option<String>,
}

/// `POST /api/v1/tokens` `{name, role, project}`: the new token, shown this once.
pub async fn create(
    AxumState(state): AxumState<State>,
    Extension(caller): Extension<Caller>,
    Json(request): Json<CreateToken>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let context = context(&state)?;
    lading_domain::names::validate_dns_label(&request.name).map_err(|e| ApiError::BadRequest(format!("name: {e}")))?;
    let role = Role::parse(&request.role).map_err(|e| ApiError::BadRequest(format!("role: {e}")))?;
    let scope = match request.project {
        Some(project) => {
            super::lookup::project(&context, &project)?;
            Scope::Project(project)
        }
        None => Scope::Server,
    };
    caller.require(Permission::Administer, target(&scope))?;
    let grant = Grant { role, scope };
    let token =
        context.tokens.create(&context.bus, &request.name, grant.clone(), &caller.name).await.map_err(token_error)?;
    tracing::info!(name = request.name, grant = grant.describe(), by = caller.name, "token created");
    Ok((StatusCode::CREATED, Json(json!({"name": request.name, "token": token, "grant": grant.describe()}))))
}

/// `DELETE /api/v1/tokens/{name}`.
pub async fn delete(
    AxumState(state): AxumState<State>,
    Path(name): Path<String>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    let record = context
        .tokens
        .read(|tokens| tokens.list().into_iter().find(|r| r.name == name).cloned())
        .ok_or_else(|| ApiError::NotFound(format!("no token is named {name:?}")))?;
    caller.require(Permission::Administer, target(&record.grant.scope))?;
    context.tokens.delete(&context.bus, &name).await.map_err(token_error)?;
    tracing::info!(name, by = caller.name, "token deleted");
    Ok(Json(json!({"deleted": token_object(&record)})))
}
