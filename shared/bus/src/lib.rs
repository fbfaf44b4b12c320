//! Lading on NATS JetStream: the event stream, the KV buckets, and the loops that
//! publish and consume with the delivery guarantees the services rely on.
//!
//! # Layout
//!
//! - [`names`]: stream, bucket and consumer names.
//! - [`provision`]: idempotent creation of the stream, the dead-letter stream and buckets.
//! - [`publish`]: publishing events with CloudEvents headers and deduplication.
//! - [`public`]: the public stream of JSON CloudEvents, for tools that are not Lading.
//! - [`aliases`]: atomic, per-project freight alias claims, and announcing freight once.
//! - [`consume`]: durable pull consumers: explicit ack, nak with delay, dead letters.
//! - [`mirror`]: a KV bucket kept in memory by a watch.
//! - [`specs`]: the spec bucket: applying manifests and watching them.
//! - [`tokens`]: api tokens, stored by hash, with their roles.
//! - [`local_server`]: a `nats-server` child process (for `lading up` and tests).
//! - [`nats_users`]: the NATS users, what each may publish and subscribe to, and their
//!   passwords.
//! - [`lease`]: per-key leases (create-if-absent with a TTL, renewed by revision), and
//!   the fence work under a lease checks before each effect.
//! - [`claims`]: per-promotion claims deciding once between aborted and committed.
//! - [`start`]: what every service does first: readiness, health, connect, provision.
//! - [`tracing_context`]: new trace and span IDs for the W3C trace context.

pub mod aliases;
pub mod claims;
pub mod consume;
pub mod lease;
pub mod local_server;
pub mod mirror;
pub mod names;
pub mod nats_users;
pub mod provision;
pub mod public;
pub mod publish;
pub mod specs;
pub mod start;
pub mod tokens;
pub mod tracing_context;

use async_nats::jetstream;

pub use consume::{ConsumerSpec, Delivery, HandlerError, Outcome};
pub use publish::{Pipeline, PublishTiming, Published};
pub use specs::SpecStore;

/// Errors talking to NATS.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to NATS at {url}: {source}")]
    Connect { url: String, source: async_nats::ConnectError },
    #[error("{context}: {message}")]
    Nats { context: &'static str, message: String },
}

impl BusError {
    pub fn nats(context: &'static str, error: impl std::fmt::Display) -> Self {
        BusError::Nats { context, message: error.to_string() }
    }
}

pub type Result<T, E = BusError> = std::result::Result<T, E>;

/// A connection to NATS with JetStream, and the name of the service using it (the
/// CloudEvents `source` of what it publishes).
#[derive(Clone)]
pub struct Bus {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    source: String,
    /// Replicas of each stream and bucket this connection provisions; `None` follows
    /// the cluster's size.
    stream_replicas: Option<usize>,
    publish_timing: PublishTiming,
    /// The KV buckets opened so far: opening one asks the server for its stream's info,
    /// a round trip that every lease, claim and marker would otherwise pay again.
    buckets: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<&'static str, jetstream::kv::Store>>>,
    /// The leases this connection gave up, and the revision each release left.
    given_up_leases: lease::GivenUp,
}

impl Bus {
    /// Connects to `url` as `service` (e.g. `warehouse`), retrying the initial connection
    /// until `connect_timeout` passes. A user and password in `url`
    /// (`nats://user:password@host:port`) are sent as the connection's credentials.
    /// Several servers of a cluster are given comma-separated
    /// (`nats://user:password@a:4222,nats://b:4222`): the connection starts with any of
    /// them that answers and moves to another when its server goes away; the first user
    /// and password given is used for all.
    pub async fn connect(url: &str, service: &str) -> Result<Bus> {
        let (urls, credentials) = nats_users::split_server_list(url);
        let url = urls.join(",");
        let mut options = async_nats::ConnectOptions::new();
        if let Some((user, password)) = credentials {
            options = options.user_and_password(user, password);
        }
        let client = options
            .name(format!("lading-{service}"))
            // Replies and deliveries arrive where only this service may listen.
            .custom_inbox_prefix(nats_users::inbox_prefix(service))
            .retry_on_initial_connect()
            .connection_timeout(std::time::Duration::from_secs(5))
            .connect(urls)
            .await
            .map_err(|source| BusError::Connect { url: url.clone(), source })?;
        Ok(Self::from_client(client, service))
    }

    pub fn from_client(client: async_nats::Client, service: &str) -> Bus {
        let jetstream = jetstream::new(client.clone());
        Bus {
            client,
            jetstream,
            source: format!("/lading/{service}"),
            stream_replicas: None,
            publish_timing: PublishTiming::default(),
            buckets: Default::default(),
            given_up_leases: Default::default(),
        }
    }

    /// Publishes with `timing`: how long an attempt waits for its acknowledgement (also
    /// the bound of this connection's JetStream requests) and how retries are paced.
    pub fn with_publish_timing(mut self, timing: PublishTiming) -> Bus {
        self.jetstream.set_timeout(timing.ack_timeout);
        self.publish_timing = timing;
        // Buckets opened before carry the old context's timeout.
        self.buckets = Default::default();
        self
    }

    /// How this connection's publishes wait and retry.
    pub fn publish_timing(&self) -> PublishTiming {
        self.publish_timing
    }

    /// Provisions streams and buckets with `replicas` copies (`None`: as many as the
    /// cluster has servers, at most three).
    pub fn with_stream_replicas(mut self, replicas: Option<usize>) -> Bus {
        self.stream_replicas = replicas;
        self
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    /// The CloudEvents source of this service's events.
    pub fn source(&self) -> &str {
        &self.source
    }
}
