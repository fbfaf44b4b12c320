//! Api configuration, from an injected map of environment variables.

use std::collections::HashMap;
use std::net::SocketAddr;

pub const NATS_URL_ENV: &str = "LADING_NATS_URL";
pub const LISTEN_ADDR_ENV: &str = "LADING_API_ADDR";

/// The api's default address.
pub const DEFAULT_LISTEN_ADDR: &str = "127.0.0.1:8080";

/// The largest request body accepted, in bytes.
pub const MAX_BODY_ENV: &str = "LADING_API_MAX_BODY_BYTES";
/// 16 MiB: many manifests at once, each at most a NATS message.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// What the api accepts from one client.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_body_bytes: DEFAULT_MAX_BODY_BYTES }
    }
}

/// How the api runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub nats_url: String,
    pub listen_addr: SocketAddr,
    pub limits: Limits,
}

impl Config {
    pub fn new(nats_url: impl Into<String>, listen_addr: SocketAddr) -> Self {
        Self { nats_url: nats_url.into(), listen_addr, limits: Limits::default() }
    }

    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, String> {
        let addr = env.get(LISTEN_ADDR_ENV).map(String::as_str).unwrap_or(DEFAULT_LISTEN_ADDR);
        let listen_addr = addr.parse().map_err(|e| format!("{LISTEN_ADDR_ENV}={addr:?}: {e}"))?;
        let mut config =
            Config::new(env.get(NATS_URL_ENV).cloned().unwrap_or_else(|| "nats://127.0.0.1:4222".into()), listen_addr);
        if let Some(bytes) = env.get(MAX_BODY_ENV) {
            config.limits.max_body_bytes = match bytes.parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => return Err(format!("{MAX_BODY_ENV}={bytes:?}: must be a positive number of bytes")),
            };
        }
        Ok(config)
    }
}
