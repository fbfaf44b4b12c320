//! Structured logging: `RUST_LOG` filters (default `info`), `LADING_LOG_FORMAT=json`
//! switches to one JSON object per line.

use tracing_subscriber::EnvFilter;

/// Environment variable choosing the log format (`text` or `json`).
pub const LOG_FORMAT_ENV: &str = "LADING_LOG_FORMAT";

/// Installs the global subscriber. Calling it twice is harmless.
pub fn init(format: Option<&str>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if format == Some("json") { builder.json().try_init() } else { builder.try_init() };
}
