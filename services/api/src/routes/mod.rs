//! HTTP routes under `/api/v1`, the webhook receivers under `/webhooks`, plus health.
//! One module per resource. Every route is a row of [`table`], with what it needs of the
//! caller: a route cannot exist without a rule. Webhook receivers take no token (their
//! provider's signature authenticates them); every other route does.

pub(crate) mod apply;
mod events;
mod freight;
mod freight_actions;
pub(crate) mod lookup;
pub(crate) mod projects;
pub(crate) mod promotions;
mod stages;
mod tokens;
mod verification;
mod version;
mod warehouses;
pub mod webhooks;

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{RawPathParams, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::routing::{MethodRouter, delete, get, patch, post};
use lading_domain::access::Permission::{Administer, Promote, Read};
use lading_runtime::Readiness;
use tokio::sync::watch;

use crate::SharedContext;
use crate::auth::{Need, authenticate, authorize};
use crate::error::ApiError;

/// The api's state: empty until it has connected and loaded specs and the log.
pub type State = watch::Receiver<Option<SharedContext>>;

pub(crate) fn context(state: &State) -> Result<SharedContext, ApiError> {
    state.borrow().clone().ok_or_else(|| ApiError::Unavailable("still connecting to NATS".to_owned()))
}

pub fn health_only(readiness: Readiness) -> Router {
    lading_runtime::health::routes(readiness)
}

/// One route: its method, its path, and what it needs of the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub method: Method,
    pub path: &'static str,
    pub need: Need,
}

const fn rule(method: Method, path: &'static str, need: Need) -> Rule {
    Rule { method, path, need }
}

/// Every route of the api with its rule.
fn table() -> Vec<(Rule, MethodRouter<State>)> {
    use Need::{InProject, OnServer, ProviderSignature, Token};
    vec![
        (rule(Method::GET, "/api/v1/version", Token), get(version::version)),
        (rule(Method::GET, "/api/v1/whoami", Token), get(tokens::whoami)),
        (rule(Method::GET, "/api/v1/tokens", Token), get(tokens::list)),
        (rule(Method::POST, "/api/v1/tokens", Token), post(tokens::create)),
        (rule(Method::DELETE, "/api/v1/tokens/{name}", Token), delete(tokens::delete)),
        // Apply checks each document's project (and the server for new projects).
        (rule(Method::POST, "/api/v1/apply", Token), post(apply::apply)),
        (rule(Method::GET, "/api/v1/projects", Token), get(projects::list)),
        // The project is in the query: `?project=`.
        (rule(Method::GET, "/api/v1/events", InProject(Read)), get(events::stream)),
        (rule(Method::DELETE, "/api/v1/projects/{project}", OnServer(Administer)), delete(projects::delete_project)),
        (rule(Method::GET, "/api/v1/projects/{project}/projectconfig", InProject(Read)), get(projects::project_config)),
        (rule(Method::GET, "/api/v1/projects/{project}/freight", InProject(Read)), get(freight::list)),
        (rule(Method::POST, "/api/v1/projects/{project}/freight", InProject(Promote)), post(freight::create)),
        (rule(Method::GET, "/api/v1/projects/{project}/freight/{freight}", InProject(Read)), get(freight_actions::get)),
        (
            rule(Method::PATCH, "/api/v1/projects/{project}/freight/{freight}", InProject(Promote)),
            patch(freight_actions::update),
        ),
        (
            rule(Method::DELETE, "/api/v1/projects/{project}/freight/{freight}", InProject(Administer)),
            delete(freight_actions::delete),
        ),
        (
            rule(Method::POST, "/api/v1/projects/{project}/freight/{freight}/approve", InProject(Promote)),
            post(freight_actions::approve),
        ),
        (rule(Method::GET, "/api/v1/projects/{project}/stages", InProject(Read)), get(stages::list)),
        (
            rule(Method::DELETE, "/api/v1/projects/{project}/stages/{stage}", InProject(Administer)),
            delete(projects::delete_stage),
        ),
        (
            rule(Method::POST, "/api/v1/projects/{project}/stages/{stage}/promotions", InProject(Promote)),
            post(promotions::create),
        ),
        (
            rule(Method::POST, "/api/v1/projects/{project}/stages/{stage}/abort", InProject(Promote)),
            post(promotions::abort),
        ),
        (
            rule(Method::POST, "/api/v1/projects/{project}/stages/{stage}/refresh", InProject(Promote)),
            post(stages::refresh),
        ),
        (
            rule(Method::POST, "/api/v1/projects/{project}/stages/{stage}/verify", InProject(Promote)),
            post(verification::verify),
        ),
        (rule(Method::GET, "/api/v1/projects/{project}/promotions", InProject(Read)), get(promotions::list)),
        (rule(Method::GET, "/api/v1/projects/{project}/warehouses", InProject(Read)), get(warehouses::list)),
        (
            rule(Method::DELETE, "/api/v1/projects/{project}/warehouses/{warehouse}", InProject(Administer)),
            delete(projects::delete_warehouse),
        ),
        (
            rule(Method::POST, "/api/v1/projects/{project}/warehouses/{warehouse}/refresh", InProject(Promote)),
            post(warehouses::refresh),
        ),
        (rule(Method::POST, "/webhooks/{provider}/{hash}", ProviderSignature), post(webhooks::receive_webhook)),
    ]
}

/// Every route's rule, for documentation and for the authorization table test.
pub fn rules() -> Vec<Rule> {
    table().into_iter().map(|(rule, _)| rule).collect()
}

pub fn api(state: State) -> Router {
    let mut by_path: BTreeMap<&'static str, MethodRouter<State>> = BTreeMap::new();
    let mut signed = Router::new();
    for (rule, handler) in table() {
        let need = rule.need;
        if need == Need::ProviderSignature {
            signed = signed.route(rule.path, handler);
            continue;
        }
        let guarded = handler.route_layer(axum::middleware::from_fn(
            move |params: RawPathParams, request: Request, next: Next| authorize(need, params, request, next),
        ));
        let merged = match by_path.remove(rule.path) {
            Some(existing) => existing.merge(guarded),
            None => guarded,
        };
        by_path.insert(rule.path, merged);
    }
    let mut routes = Router::new();
    for (path, handler) in by_path {
        routes = routes.route(path, handler);
    }
    let routes = routes
        // `apply` reads its body itself, with its own limit.
        .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024))
        .fallback(crate::middleware::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), authenticate))
        // Webhook receivers read their body themselves, with their own limit.
        .merge(signed)
        // The web UI's files hold no data: the page asks the API with the user's token.
        .merge(crate::ui::routes())
        .with_state(state);
    routes
        .layer(axum::middleware::map_response(crate::middleware::json_error_bodies))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(crate::middleware::panic_response))
}
