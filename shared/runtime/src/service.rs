//! What every service process shares: its common configuration and its `main`.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;

use crate::{Readiness, Shutdown, shutdown, telemetry};

/// The NATS server to use.
pub const NATS_URL_ENV: &str = "LADING_NATS_URL";
/// Where to serve `/healthz`, `/readyz` and `/metrics` (not served when unset).
pub const HEALTH_ADDR_ENV: &str = "LADING_HEALTH_ADDR";
/// This replica's name, for leases and logs (random when unset).
pub const REPLICA_ENV: &str = "LADING_REPLICA";

/// How many servers keep a copy of each stream and bucket (1 to 5; derived from the
/// NATS cluster's size when unset).
pub const STREAM_REPLICAS_ENV: &str = "LADING_STREAM_REPLICAS";
/// The most replicas JetStream allows for a stream.
pub const MAX_STREAM_REPLICAS: usize = 5;

/// The NATS URL used when none is configured.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// Configuration every service has.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub nats_url: String,
    pub health_addr: Option<SocketAddr>,
    pub replica: String,
    /// Replicas of each stream and bucket; `None` follows the cluster's size.
    pub stream_replicas: Option<usize>,
}

impl ServiceConfig {
    pub fn new(nats_url: impl Into<String>) -> Self {
        Self {
            nats_url: nats_url.into(),
            health_addr: None,
            replica: ulid::Ulid::new().to_string().to_lowercase(),
            stream_replicas: None,
        }
    }

    /// Reads the common variables from `env`.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, String> {
        let mut config = ServiceConfig::new(env.get(NATS_URL_ENV).map_or(DEFAULT_NATS_URL, String::as_str));
        if let Some(addr) = env.get(HEALTH_ADDR_ENV) {
            config.health_addr = Some(addr.parse().map_err(|e| format!("{HEALTH_ADDR_ENV}={addr:?}: {e}"))?);
        }
        if let Some(replica) = env.get(REPLICA_ENV) {
            config.replica = replica.clone();
        }
        config.stream_replicas = stream_replicas_from_env(env)?;
        Ok(config)
    }
}

/// Reads [`STREAM_REPLICAS_ENV`]: a number from 1 to [`MAX_STREAM_REPLICAS`], or unset.
pub fn stream_replicas_from_env(env: &HashMap<String, String>) -> Result<Option<usize>, String> {
    let Some(value) = env.get(STREAM_REPLICAS_ENV).filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    match value.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_STREAM_REPLICAS).contains(&n) => Ok(Some(n)),
        _ => Err(format!(
            "{STREAM_REPLICAS_ENV}={value:?}: expected a number of replicas from 1 to {MAX_STREAM_REPLICAS}"
        )),
    }
}

/// A service's `main`, in a fixed order: telemetry, configuration (exit code 2 with a
/// clear message when invalid), run until SIGTERM or Ctrl-C, then drain with a deadline.
pub async fn main<C, E, Fut>(
    name: &str,
    from_env: impl FnOnce(&HashMap<String, String>) -> Result<C, String>,
    run: impl FnOnce(C, Readiness, Shutdown) -> Fut,
) -> ExitCode
where
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    let mut telemetry = telemetry::init_service(name, std::env::var(telemetry::LOG_FORMAT_ENV).ok().as_deref());
    let env: HashMap<String, String> = std::env::vars().collect();
    let config = match from_env(&env) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{name}: invalid configuration: {error}");
            return ExitCode::from(2);
        }
    };
    let shutdown = shutdown::from_future(shutdown::signal());
    let deadline = shutdown::drain_deadline(shutdown.clone(), shutdown::DRAIN_DEADLINE);
    let result = tokio::select! {
        result = run(config, Readiness::new(), shutdown) => result,
        () = deadline => return ExitCode::FAILURE,
    };
    // The spans still buffered go out before the process ends.
    tokio::task::block_in_place(|| telemetry.shutdown());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "{name} stopped");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_common_variables() {
        let env = HashMap::from([
            (NATS_URL_ENV.to_owned(), "nats://n:4222".to_owned()),
            (HEALTH_ADDR_ENV.to_owned(), "0.0.0.0:8081".to_owned()),
            (REPLICA_ENV.to_owned(), "r1".to_owned()),
        ]);
        let config = ServiceConfig::from_env(&env).unwrap();
        assert_eq!(config.nats_url, "nats://n:4222");
        assert_eq!(config.health_addr, Some("0.0.0.0:8081".parse().unwrap()));
        assert_eq!(config.replica, "r1");
        assert_eq!(config.stream_replicas, None);
        assert_eq!(ServiceConfig::from_env(&HashMap::new()).unwrap().nats_url, DEFAULT_NATS_URL);
    }

    #[test]
    fn stream_replicas_are_a_number_from_one_to_five() {
        let with = |value: &str| {
            ServiceConfig::from_env(&HashMap::from([(STREAM_REPLICAS_ENV.to_owned(), value.to_owned())]))
                .map(|c| c.stream_replicas)
        };
        assert_eq!(with("3"), Ok(Some(3)));
        assert_eq!(with(" 1 "), Ok(Some(1)));
        assert_eq!(with(""), Ok(None));
        for bad in ["0", "6", "three", "-1"] {
            let error = with(bad).unwrap_err();
            assert!(error.starts_with("LADING_STREAM_REPLICAS="), "{error}");
            assert!(error.contains("from 1 to 5"), "{error}");
        }
    }

    #[test]
    fn a_bad_address_names_the_variable() {
        let env = HashMap::from([(HEALTH_ADDR_ENV.to_owned(), "nowhere".to_owned())]);
        assert!(ServiceConfig::from_env(&env).unwrap_err().starts_with("LADING_HEALTH_ADDR=\"nowhere\""));
    }
}
