//! What every Lading process shares: telemetry set-up, shutdown, readiness and metrics.
//!
//! # Layout
//!
//! - [`telemetry`]: structured logging (`RUST_LOG`, `LADING_LOG_FORMAT=json`).
//! - [`shutdown`]: SIGTERM / Ctrl-C as a cancellation token services take as a parameter.
//! - [`readiness`]: named readiness flags, all of which must be up for `/readyz`.
//! - [`metrics`]: the process's counters, gauges and histograms (`prometheus-client`),
//!   and the functions services record them with.
//! - [`service`]: the configuration every service shares, and its `main`.
//! - [`health`]: the `/healthz`, `/readyz` and `/metrics` routes, and a server for them.

pub mod health;
pub mod metrics;
pub mod readiness;
pub mod service;
pub mod shutdown;
pub mod telemetry;

pub use readiness::Readiness;
pub use shutdown::Shutdown;
