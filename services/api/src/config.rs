//! Api configuration, from an injected map of environment variables.

use std::collections::HashMap;
use std::net::SocketAddr;

pub const NATS_URL_ENV: &str = "LADING_NATS_URL";
pub const LISTEN_ADDR_ENV: &str = "LADING_API_ADDR";

/// The api's default address.
pub const DEFAULT_LISTEN_ADDR: &str = "127.0.0.1:8080";

/// How the api runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub nats_url: String,
    pub listen_addr: SocketAddr,
}

impl Config {
    pub fn new(nats_url: impl Into<String>, listen_addr: SocketAddr) -> Self {
        Self { nats_url: nats_url.into(), listen_addr }
    }

    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, String> {
        let addr = env.get(LISTEN_ADDR_ENV).map(String::as_str).unwrap_or(DEFAULT_LISTEN_ADDR);
        let listen_addr = addr.parse().map_err(|e| format!("{LISTEN_ADDR_ENV}={addr:?}: {e}"))?;
        Ok(Config::new(env.get(NATS_URL_ENV).cloned().unwrap_or_else(|| "nats://127.0.0.1:4222".into()), listen_addr))
    }
}
