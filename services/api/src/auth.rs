//! Every api request carries a bearer token; a route allows it when the token's role
//! grants what the route needs (see [`lading_domain::access`]). A missing or unknown
//! token is answered `401`, a token without the permission `403` naming what it holds and
//! what the route needs. Health, readiness and metrics need no token; webhook receivers
//! take none either: the provider's signature (or the receiver's secret path) is their
//! authentication. In Kubernetes mode a token Lading does not know may be a Kubernetes
//! one (a TokenReview says whose): such a caller has no Lading role, and may only approve
//! freight, when a SubjectAccessReview says Kubernetes RBAC lets them `promote` the stage.

use axum::extract::{RawPathParams, Request, State as AxumState};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use lading_domain::access::{Grant, Permission, Role, Scope, Target, refusal};

use crate::error::ApiError;
use crate::routes::{State, context};

/// Who made a request: their token's name and what it grants.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub grant: Grant,
    /// A Kubernetes identity (Kubernetes mode): `grant` then allows nothing, and
    /// Kubernetes RBAC decides what it may do.
    pub kubernetes: Option<crate::kubernetes::access::KubeUser>,
}

/// The routes a Kubernetes identity may call (the handler asks Kubernetes RBAC).
const KUBERNETES_ROUTES: [&str; 1] = ["/approve"];

impl Caller {
    /// Ok when the caller may do `permission` on `target`; a 403 naming what is missing
    /// otherwise.
    pub fn require(&self, permission: Permission, target: Target<'_>) -> Result<(), ApiError> {
        if self.grant.allows(permission, target) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(refusal(&self.name, &self.grant, permission, target)))
        }
    }

    /// Whether the caller may read `project`.
    pub fn can_read(&self, project: &str) -> bool {
        self.grant.allows(Permission::Read, Target::Project(project))
    }
}

/// What a route needs before its handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any valid token; the handler checks the rest (it depends on the request's body).
    Token,
    /// This permission in the project the path names (`{project}`), or else the query
    /// (`?project=`).
    InProject(Permission),
    /// This permission on the server.
    OnServer(Permission),
    /// No token: the request is authenticated as its provider signs it (a webhook).
    ProviderSignature,
}

/// Finds the caller from the `Authorization: Bearer` header.
pub async fn authenticate(
    AxumState(state): AxumState<State>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let context = context(&state)?;
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "a token is required: send `Authorization: Bearer <token>` (lading login SERVER --token TOKEN)".into(),
            )
        })?;
    let record = context.tokens.read(|tokens| tokens.find(token).cloned());
    let caller = match (record, &context.kube_client) {
        (Some(record), _) => Caller { name: record.name, grant: record.grant, kubernetes: None },
        (None, Some(client)) => {
            let user = crate::kubernetes::access::review_token(client, token)
                .await
                .map_err(ApiError::Unavailable)?
                .ok_or_else(|| {
                    ApiError::Unauthorized(
                        "the token is not valid (neither a Lading token nor one the Kubernetes apiserver knows)".into(),
                    )
                })?;
            Caller {
                name: format!("kubernetes:{}", user.username),
                // A scope no project has: no Lading permission at all.
                grant: Grant { role: Role::Viewer, scope: Scope::Project(String::new()) },
                kubernetes: Some(user),
            }
        }
        (None, None) => return Err(ApiError::Unauthorized("the token is not valid (unknown, or deleted)".into())),
    };
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

/// Checks what a route needs of the caller `authenticate` found.
pub async fn authorize(need: Need, params: RawPathParams, request: Request, next: Next) -> Result<Response, ApiError> {
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| ApiError::Unauthorized("a token is required".into()))?;
    if let Some(user) = &caller.kubernetes {
        let path = request.uri().path();
        if need == Need::InProject(Permission::Promote) && KUBERNETES_ROUTES.iter().any(|r| path.ends_with(r)) {
            return Ok(next.run(request).await);
        }
        return Err(ApiError::Forbidden(format!(
            "{:?} is a Kubernetes identity: in Kubernetes mode it may approve freight (if Kubernetes RBAC lets it \
             promote the stage); read and change Lading's resources with kubectl",
            user.username
        )));
    }
    match need {
        Need::Token | Need::ProviderSignature => {}
        Need::OnServer(permission) => caller.require(permission, Target::Server)?,
        Need::InProject(permission) => {
            let project = match params.iter().find(|(name, _)| *name == "project") {
                Some((_, value)) => value.to_owned(),
                None => query_project(&request)?,
            };
            caller.require(permission, Target::Project(&project))?;
        }
    }
    Ok(next.run(request).await)
}

/// The project a route without `{project}` in its path names in its query.
fn query_project(request: &Request) -> Result<String, ApiError> {
    #[derive(serde::Deserialize)]
    struct ProjectQuery {
        project: Option<String>,
    }
    let query = axum::extract::Query::<ProjectQuery>::try_from_uri(request.uri())
        .map_err(|e| ApiError::BadRequest(format!("the query: {e}")))?;
    query.0.project.filter(|p| !p.is_empty()).ok_or_else(|| {
        ApiError::BadRequest("the query parameter \"project\" is required (e.g. ?project=demo)".to_owned())
    })
}
