//! Api configuration, from an injected map of environment variables.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lading_domain::expression::ExpressionLimits;
use lading_domain::limits::{parse_count, parse_timeout};

use crate::secrets::{self, SecretSource};
pub use crate::server::tls::TlsIdentity;

pub const NATS_URL_ENV: &str = "LADING_NATS_URL";
pub const LISTEN_ADDR_ENV: &str = "LADING_API_ADDR";
/// A token to be the server's admin token (for a deployment, from a Secret).
pub const ADMIN_TOKEN_ENV: &str = "LADING_ADMIN_TOKEN";

/// The URL people and providers reach the api at (behind a proxy or load balancer):
/// the base of the webhook receivers' URLs. Default: `http://` and the listen address.
pub const EXTERNAL_URL_ENV: &str = "LADING_API_EXTERNAL_URL";
/// Secrets webhook receivers authenticate with (the promoter's `secret()` file).
pub const SECRETS_FILE_ENV: &str = "LADING_SECRETS_FILE";
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

/// How long the public stream keeps events (a duration like `168h`).
pub const PUBLIC_EVENTS_MAX_AGE_ENV: &str = "LADING_PUBLIC_EVENTS_MAX_AGE";
/// How often an idle Server-Sent Events stream gets a heartbeat comment; under the idle
/// timeouts of the api and of the proxies in front of it.
pub const EVENTS_HEARTBEAT_ENV: &str = "LADING_API_EVENTS_HEARTBEAT";
pub const DEFAULT_EVENTS_HEARTBEAT: Duration = Duration::from_secs(15);
/// How many Server-Sent Events streams the api serves at once; one more is answered `503`.
pub const MAX_EVENT_STREAMS_ENV: &str = "LADING_API_MAX_EVENT_STREAMS";
pub const DEFAULT_MAX_EVENT_STREAMS: usize = 256;

/// The public events: how long they are kept and how they are streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Events {
    pub max_age: Duration,
    pub heartbeat: Duration,
    pub max_streams: usize,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            max_age: lading_bus::public::DEFAULT_MAX_AGE,
            heartbeat: DEFAULT_EVENTS_HEARTBEAT,
            max_streams: DEFAULT_MAX_EVENT_STREAMS,
        }
    }
}

impl Events {
    /// The defaults, with what `env` sets instead.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, String> {
        let mut events = Events::default();
        for (setting, duration) in
            [(PUBLIC_EVENTS_MAX_AGE_ENV, &mut events.max_age), (EVENTS_HEARTBEAT_ENV, &mut events.heartbeat)]
        {
            if let Some(text) = env.get(setting) {
                *duration = parse_timeout(setting, text).map_err(|e| e.to_string())?.value;
            }
        }
        if let Some(text) = env.get(MAX_EVENT_STREAMS_ENV) {
            events.max_streams = parse_count(MAX_EVENT_STREAMS_ENV, text).map_err(|e| e.to_string())?.value;
        }
        Ok(events)
    }
}

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
    /// Replicas of each stream and bucket; `None` follows the NATS cluster's size.
    pub stream_replicas: Option<usize>,
    pub listen_addr: SocketAddr,
    pub limits: Limits,
    pub events: Events,
    /// A token that is the server's admin (stored by its hash only).
    pub admin_token: Option<AdminToken>,
    /// The api's URL as seen from outside; `None`: `http://` and the bound address.
    pub external_url: Option<String>,
    /// What webhook receivers authenticate with.
    pub secrets: Arc<dyn SecretSource>,
    /// Budgets of the generic webhook receivers' expressions.
    pub expression_limits: ExpressionLimits,
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
        Self {
            nats_url: nats_url.into(),
            stream_replicas: None,
            listen_addr,
            limits: Limits::default(),
            events: Events::default(),
            admin_token: None,
            external_url: None,
            secrets: secrets::none(),
            expression_limits: ExpressionLimits::default(),
            tls: None,
        }
    }

    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, String> {
        let addr = env.get(LISTEN_ADDR_ENV).map(String::as_str).unwrap_or(DEFAULT_LISTEN_ADDR);
        let listen_addr = addr.parse().map_err(|e| format!("{LISTEN_ADDR_ENV}={addr:?}: {e}"))?;
        let mut config =
            Config::new(env.get(NATS_URL_ENV).cloned().unwrap_or_else(|| "nats://127.0.0.1:4222".into()), listen_addr);
        config.stream_replicas = lading_runtime::service::stream_replicas_from_env(env)?;
        config.limits = Limits::from_env(env)?;
        config.events = Events::from_env(env)?;
        if let Some(token) = env.get(ADMIN_TOKEN_ENV).filter(|t| !t.trim().is_empty()) {
            if token.trim().len() < 16 {
                return Err(format!("{ADMIN_TOKEN_ENV}: must be at least 16 characters long"));
            }
            config.admin_token = Some(AdminToken(token.trim().to_owned()));
        }
        if let Some(url) = env.get(EXTERNAL_URL_ENV).filter(|u| !u.trim().is_empty()) {
            config.external_url = Some(external_url(url)?);
        }
        if let Some(path) = env.get(SECRETS_FILE_ENV) {
            config.secrets = secrets::from_file(path).map_err(|e| format!("{SECRETS_FILE_ENV}={e}"))?;
        }
        config.expression_limits = ExpressionLimits::from_env(env).map_err(|e| e.to_string())?;
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

/// `url` when it is an absolute `http(s)://` URL without query or fragment, without its
/// trailing `/`.
fn external_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !rest.contains(['?', '#', ' ']) => {
            Ok(url.trim_end_matches('/').to_owned())
        }
        _ => Err(format!(
            "{EXTERNAL_URL_ENV}={url:?}: must be an http:// or https:// URL without query or fragment, e.g. https://lading.example.com"
        )),
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
    fn the_external_url_is_an_http_url_without_its_trailing_slash() {
        let config = Config::from_env(&env(&[(EXTERNAL_URL_ENV, "https://lading.example.com/base/")])).unwrap();
        assert_eq!(config.external_url.as_deref(), Some("https://lading.example.com/base"));
        assert!(Config::from_env(&env(&[])).unwrap().external_url.is_none());
        for bad in ["lading.example.com", "ftp://x", "https://", "https://x/?a=b"] {
            let error = Config::from_env(&env(&[(EXTERNAL_URL_ENV, bad)])).unwrap_err();
            assert!(error.contains(EXTERNAL_URL_ENV), "{bad}: {error}");
        }
    }

    #[test]
    fn a_secrets_file_that_cannot_be_read_stops_the_api_naming_it() {
        let error = Config::from_env(&env(&[(SECRETS_FILE_ENV, "/nonexistent/secrets.yaml")])).unwrap_err();
        assert!(error.starts_with("LADING_SECRETS_FILE=\"/nonexistent/secrets.yaml\""), "{error}");
    }

    #[test]
    fn public_events_default_to_a_week_and_each_setting_overrides_its_own() {
        assert_eq!(Events::from_env(&env(&[])).unwrap().max_age, Duration::from_secs(7 * 24 * 3600));
        let events = Events::from_env(&env(&[
            (PUBLIC_EVENTS_MAX_AGE_ENV, "720h"),
            (EVENTS_HEARTBEAT_ENV, "5s"),
            (MAX_EVENT_STREAMS_ENV, "8"),
        ]))
        .unwrap();
        assert_eq!(
            events,
            Events { max_age: Duration::from_secs(720 * 3600), heartbeat: Duration::from_secs(5), max_streams: 8 }
        );
        let error = Events::from_env(&env(&[(PUBLIC_EVENTS_MAX_AGE_ENV, "7d")])).unwrap_err();
        assert!(error.contains("LADING_PUBLIC_EVENTS_MAX_AGE"), "{error}");
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
