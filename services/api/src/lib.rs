//! The api service: the only door for people and tools. It stores specs, turns requests
//! into events, and serves the read model the log projects into.
//!
//! # Layout
//!
//! - [`config`]: configuration and its environment variables.
//! - [`routes`]: one module per resource: manifests (`apply`), freight, stages and
//!   warehouses (and their refresh), the public event stream (`events`), and the webhook
//!   receivers (`/webhooks/…`).
//! - [`secrets`]: where webhook receivers' secrets come from.
//! - [`objects`]: read-model records rendered as Kubernetes-style objects.
//! - [`error`]: API errors and their HTTP status codes.
//! - [`auth`]: bearer tokens, and what each route needs of them.
//! - [`body`]: reading request bodies with a limit.
//! - [`middleware`]: JSON error answers everywhere, panics turned into 500s.
//! - [`log_check`]: every fact read once; one that does not decode is dead-lettered.
//! - [`republish`]: every fact again, in log order, as a public JSON CloudEvent.
//! - [`server`]: the HTTP server and the bounds it puts on every client.
//! - [`ui`]: the web UI's page and modules, embedded, at `/` and `/ui/…`.
//! - [`kubernetes`]: Kubernetes mode: CRDs, specs from the cluster, status from the log.

pub mod auth;
pub mod body;
pub mod config;
pub mod error;
pub mod kubernetes;
pub mod log_check;
pub mod middleware;
pub mod objects;
pub mod republish;
pub mod routes;
pub mod secrets;
pub mod server;
pub mod ui;

use std::sync::Arc;

use lading_bus::tokens::TokenStore;
use lading_bus::{Bus, BusError, SpecStore};
use lading_projection::{FollowOptions, Projection};
use lading_runtime::{Readiness, Shutdown};
use tokio::net::TcpListener;

pub use config::Config;

/// Errors that stop the api service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
    #[error("server: {0}")]
    Serve(std::io::Error),
    #[error("the server admin token: {0}")]
    Tokens(lading_bus::tokens::TokenError),
    #[error("Kubernetes mode: {0}")]
    Kube(#[from] kubernetes::KubeError),
}

/// The name of the server admin token the configuration gives (`LADING_ADMIN_TOKEN`).
pub const ADMIN_TOKEN_NAME: &str = "admin";

/// How many events the api applies between two snapshots of its read model (which
/// every service starting later reads instead of the whole log).
pub const SNAPSHOT_EVERY: u64 = 1000;

/// Handles shared by the request handlers.
pub struct Context {
    pub bus: Bus,
    pub specs: SpecStore,
    pub tokens: TokenStore,
    pub projection: Projection,
    pub limits: config::Limits,
    /// What webhook receivers authenticate with.
    pub secrets: Arc<dyn secrets::SecretSource>,
    /// The api's URL as seen from outside (no trailing `/`).
    pub external_url: String,
    pub expression_limits: lading_domain::expression::ExpressionLimits,
    pub events: config::Events,
    /// One permit per open Server-Sent Events stream.
    pub event_streams: Arc<tokio::sync::Semaphore>,
    /// Ends long-lived answers (event streams) when the api stops.
    pub shutdown: Shutdown,
    /// Specs come from Kubernetes objects (and `lading apply` is refused).
    pub kube_mode: bool,
    /// The cluster's client in Kubernetes mode (identities and approvals are checked there).
    pub kube_client: Option<kube::Client>,
}

pub type SharedContext = Arc<Context>;

/// Runs the api service on `config.listen_addr` until `shutdown`.
pub async fn run(config: Config, readiness: Readiness, shutdown: Shutdown) -> Result<(), Error> {
    let listener = TcpListener::bind(config.listen_addr)
        .await
        .map_err(|source| Error::Listen { addr: config.listen_addr.to_string(), source })?;
    serve(listener, config, readiness, shutdown).await
}

/// Serves on an already bound listener (tests bind port 0 and read the address).
pub async fn serve(
    listener: TcpListener,
    config: Config,
    readiness: Readiness,
    shutdown: Shutdown,
) -> Result<(), Error> {
    let ready = readiness.register("api");
    let addr = listener.local_addr().map_err(Error::Serve)?;
    let health_and_api = routes::health_only(readiness.clone());
    // Health answers while the api connects, so `/readyz` can say what it waits for.
    let (state_tx, state_rx) = tokio::sync::watch::channel::<Option<SharedContext>>(None);
    let app = health_and_api.merge(routes::api(state_rx));
    let server_shutdown = shutdown.clone();
    let limits = config.limits;
    let tls = config.tls.clone();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let server = tokio::spawn(async move {
        server::serve(listener, app, limits, tls, async move { server_shutdown.cancelled().await }).await
    });
    tracing::info!(%addr, scheme, "api listening");
    let bus = Bus::connect(&config.nats_url, "api").await?.with_stream_replicas(config.stream_replicas);
    bus.provision().await?;
    bus.provision_public(config.events.max_age).await?;
    let specs = SpecStore::watch(&bus, shutdown.clone()).await?;
    let tokens = TokenStore::watch(&bus, shutdown.clone()).await?;
    if let Some(token) = &config.admin_token {
        tokens.ensure_server_admin(&bus, ADMIN_TOKEN_NAME, &token.0).await.map_err(Error::Tokens)?;
    }
    let options = FollowOptions {
        ready: Some(readiness.register("api/read-model")),
        snapshot_every: Some(SNAPSHOT_EVERY),
        ..FollowOptions::default()
    };
    let projection = Projection::follow_with(&bus, shutdown.clone(), options).await?;
    let checker = tokio::spawn(log_check::run(bus.clone(), shutdown.clone()));
    let republisher = tokio::spawn(republish::run(bus.clone(), shutdown.clone()));
    let external_url = config.external_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let kube_client = match &config.kube {
        Some(settings) => Some(kubernetes::client(settings).await?),
        None => None,
    };
    // In Kubernetes mode webhook receivers' secrets are the project namespaces' Secrets.
    let cluster_secrets = kube_client.as_ref().map(|_| Arc::new(kubernetes::secrets::ClusterSecrets::default()));
    let secrets: Arc<dyn secrets::SecretSource> = match &cluster_secrets {
        Some(cluster) => cluster.clone(),
        None => config.secrets.clone(),
    };
    let context = Arc::new(Context {
        bus,
        specs,
        tokens,
        projection,
        limits: config.limits,
        secrets,
        external_url,
        expression_limits: config.expression_limits,
        events: config.events,
        event_streams: Arc::new(tokio::sync::Semaphore::new(config.events.max_streams)),
        shutdown: shutdown.clone(),
        kube_mode: kube_client.is_some(),
        kube_client: kube_client.clone(),
    });
    let kube_mode = match (kube_client, &config.kube, cluster_secrets) {
        (Some(client), Some(settings), Some(cluster_secrets)) => {
            Some(tokio::spawn(kubernetes::run(context.clone(), client, settings.clone(), cluster_secrets)))
        }
        _ => None,
    };
    state_tx.send_replace(Some(context));
    ready.set(true);
    let served = server.await.map_err(|e| Error::Serve(std::io::Error::other(e)))?;
    ready.set(false);
    let _ = checker.await;
    let _ = republisher.await;
    if let Some(kube_mode) = kube_mode {
        let _ = kube_mode.await;
    }
    served.map_err(Error::Serve)
}
