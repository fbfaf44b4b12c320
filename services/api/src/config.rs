//! Api configuration, from an injected map of environment variables.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use lading_domain::limits::{parse_count, parse_timeout};

pub use crate::server::tls::TlsIdentity;

pub const NATS_URL_ENV: &str = "LADING_NATS_URL";
pub const LISTEN_ADDR_ENV: &str = "LADING_API_ADDR";
/// A token to be the server's admin token (for a deployment, from a Secret).
pub const ADMIN_TOKEN_ENV: &str = "LADING_ADMIN_TOKEN";

/// A PEM certificate chain (the api's certificate first): with the key, the api serves
/// HTTPS instead of HTTP.
pub const TLS_CERT_FILE_ENV: &str = "LADING_API_TLS_CERT_FILE";
/// The PEM private key of that certificate.
pub const TLS_KEY_FILE_ENV: &str = "LADING_API_TLS_KEY_FILE";

/// The api's default address.
pub const DEFAULT_LISTEN_ADDR: &str = "127.0.0.1:8080";

/// The largest request body accepted, in bytes.
pub const MAX_BODY_ENV: &str = "LADING_API_MAX_BODY_BYTES";
/// 16 MiB: many manifests at once, each at most a NATS message.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How long a client has to send a request's headers, counted from when the api is
/// ready to read them: after accepting the connection, or after answering the previous
/// request on it (so a kept-alive connection left idle is closed then too).
pub const HEADER_TIMEOUT_ENV: &str = "LADING_API_HEADER_TIMEOUT";
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client has to send a request's whole body, counted from the request's
/// start; answered `408` and the connection closed when it does not arrive in time.
pub const BODY_TIMEOUT_ENV: &str = "LADING_API_BODY_TIMEOUT";
/// 60s: 16 MiB at 2 Mbit/s.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a connection may go with a read or a write waiting and no byte moving
/// (a client that stops reading its answer, or stops sending); then it is closed.
pub const IDLE_TIMEOUT_ENV: &str = "LADING_API_IDLE_TIMEOUT";
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How many connections the api holds open at once; one more is answered `503` and
/// closed.
pub const MAX_CONNECTIONS_ENV: &str = "LADING_API_MAX_CONNECTIONS";
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// What the api accepts from its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl Limits {
    /// The defaults, with what `env` sets instead.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, String> {
        let mut limits = Limits::default();
        for (setting, count) in
            [(MAX_BODY_ENV, &mut limits.max_body_bytes), (MAX_CONNECTIONS_ENV, &mut limits.max_connections)]
        {
            if let Some(text) = env.get(setting) {
                *count = parse_count(setting, text).map_err(|e| e.to_string())?.value;
            }
        }
        for (setting, timeout) in [
            (HEADER_TIMEOUT_ENV, &mut limits.header_timeout),
            (BODY_TIMEOUT_ENV, &mut limits.body_timeout),
            (IDLE_TIMEOUT_ENV, &mut limits.idle_timeout),
        ] {
            if let Some(text) = env.get(setting) {
                *timeout = parse_timeout(setting, text).map_err(|e| e.to_string())?.value;
            }
        }
        Ok(limits)
    }
}

/// How the api runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub nats_url: String,
    pub listen_addr: SocketAddr,
    pub limits: Limits,
    /// A token that is the server's admin (stored by its hash only).
    pub admin_token: Option<AdminToken>,
    /// The certificate and key to serve HTTPS with; plain HTTP without.
    pub tls: Option<TlsIdentity>,
}

/// A token given in the configuration; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(pub String);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(***)")
    }
}

impl Config {
    pub fn new(nats_url: impl Into<String>, listen_addr: SocketAddr) -> Self {
        Self { nats_url: nats_url.into(), listen_addr, limits: Limits::default(), admin_token: None, tls: None }
    }

    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, String> {
        let addr = env.get(LISTEN_ADDR_ENV).map(String::as_str).unwrap_or(DEFAULT_LISTEN_ADDR);
        let listen_addr = addr.parse().map_err(|e| format!("{LISTEN_ADDR_ENV}={addr:?}: {e}"))?;
        let mut config =
            Config::new(env.get(NATS_URL_ENV).cloned().unwrap_or_else(|| "nats://127.0.0.1:4222".into()), listen_addr);
        config.limits = Limits::from_env(env)?;
        if let Some(token) = env.get(ADMIN_TOKEN_ENV).filter(|t| !t.trim().is_empty()) {
            if token.trim().len() < 16 {
                return Err(format!("{ADMIN_TOKEN_ENV}: must be at least 16 characters long"));
            }
            config.admin_token = Some(AdminToken(token.trim().to_owned()));
        }
        let file = |name: &str| env.get(name).filter(|v| !v.trim().is_empty()).map(PathBuf::from);
        config.tls = match (file(TLS_CERT_FILE_ENV), file(TLS_KEY_FILE_ENV)) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(TlsIdentity::load(&cert, &key).map_err(|e| e.to_string())?),
            (Some(_), None) => return Err(format!("{TLS_CERT_FILE_ENV} is set: set {TLS_KEY_FILE_ENV} too")),
            (None, Some(_)) => return Err(format!("{TLS_KEY_FILE_ENV} is set: set {TLS_CERT_FILE_ENV} too")),
        };
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn client_limits_default_generously_and_each_setting_overrides_its_own() {
        assert_eq!(Limits::from_env(&env(&[])).unwrap(), Limits::default());
        let limits = Limits::from_env(&env(&[
            (HEADER_TIMEOUT_ENV, "2s"),
            (BODY_TIMEOUT_ENV, "1m"),
            (IDLE_TIMEOUT_ENV, "500ms"),
            (MAX_CONNECTIONS_ENV, "64"),
            (MAX_BODY_ENV, "1024"),
        ]))
        .unwrap();
        assert_eq!(
            limits,
            Limits {
                max_body_bytes: 1024,
                header_timeout: Duration::from_secs(2),
                body_timeout: Duration::from_secs(60),
                idle_timeout: Duration::from_millis(500),
                max_connections: 64,
            }
        );
    }

    #[test]
    fn tls_needs_both_files() {
        let only_cert = Config::from_env(&env(&[(TLS_CERT_FILE_ENV, "/tls.crt")])).unwrap_err();
        assert_eq!(only_cert, "LADING_API_TLS_CERT_FILE is set: set LADING_API_TLS_KEY_FILE too");
        let only_key = Config::from_env(&env(&[(TLS_KEY_FILE_ENV, "/tls.key")])).unwrap_err();
        assert_eq!(only_key, "LADING_API_TLS_KEY_FILE is set: set LADING_API_TLS_CERT_FILE too");
        assert!(Config::from_env(&env(&[])).unwrap().tls.is_none());
    }

    #[test]
    fn a_bad_client_limit_is_named() {
        assert!(
            Limits::from_env(&env(&[(HEADER_TIMEOUT_ENV, "0s")])).unwrap_err().contains("LADING_API_HEADER_TIMEOUT")
        );
        assert!(Limits::from_env(&env(&[(IDLE_TIMEOUT_ENV, "soon")])).unwrap_err().contains("LADING_API_IDLE_TIMEOUT"));
        assert!(
            Limits::from_env(&env(&[(MAX_CONNECTIONS_ENV, "0")])).unwrap_err().contains("LADING_API_MAX_CONNECTIONS")
        );
    }
}
