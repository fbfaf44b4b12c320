//! Logs and traces. `RUST_LOG` filters (default `info`); `LADING_LOG_FORMAT=json` writes
//! one JSON object per line, with the fields of the spans it is in (a handled event's
//! `trace_id` and `span_id` among them), so logs and traces join. With
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, spans are
//! also exported over OTLP/HTTP (protobuf), from a resource named by `OTEL_SERVICE_NAME`
//! (default: the process's name) with `OTEL_RESOURCE_ATTRIBUTES`.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Environment variable choosing the log format (`text` or `json`).
pub const LOG_FORMAT_ENV: &str = "LADING_LOG_FORMAT";
/// The OTLP endpoint of every signal (`http://collector:4318`); traces go to `/v1/traces`.
pub const OTLP_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The OTLP endpoint of traces alone (the full URL).
pub const OTLP_TRACES_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// The service name traces are exported under.
pub const SERVICE_NAME_ENV: &str = "OTEL_SERVICE_NAME";

/// Keeps the trace exporter of [`init_service`]; dropping it sends the spans still
/// buffered.
#[must_use = "dropping the guard stops exporting traces"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Sends the spans still buffered and stops exporting.
    pub fn shutdown(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("exporting the last traces failed: {error}");
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Installs the global subscriber for logs only. Calling it twice is harmless.
pub fn init(format: Option<&str>) {
    let _ = install(format, None);
}

fn non_empty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Whether the environment asks for traces to be exported.
pub fn otlp_configured() -> bool {
    non_empty(OTLP_ENDPOINT_ENV).is_some() || non_empty(OTLP_TRACES_ENDPOINT_ENV).is_some()
}

/// Installs the global subscriber for logs and, when the OTLP endpoint variables are
/// set, traces exported as `service` (unless `OTEL_SERVICE_NAME` names another). An
/// exporter that cannot be built is reported on stderr and the process runs without it.
pub fn init_service(service: &str, format: Option<&str>) -> Telemetry {
    let provider = if otlp_configured() {
        match tracer_provider(service) {
            Ok(provider) => Some(provider),
            Err(error) => {
                eprintln!("{service}: traces are not exported: {error}");
                None
            }
        }
    } else {
        None
    };
    if install(format, provider.clone()).is_err() {
        // Another subscriber was installed first (a test harness): it keeps its own.
        return Telemetry { provider: None };
    }
    Telemetry { provider }
}

fn tracer_provider(service: &str) -> Result<SdkTracerProvider, String> {
    // The exporter's HTTP client takes the process's TLS provider (the workspace's one
    // provider is ring); it must be installed before the client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| format!("the OTLP exporter: {e}"))?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if non_empty(SERVICE_NAME_ENV).is_none() {
        resource = resource.with_service_name(service.to_owned());
    }
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build())
}

fn install(format: Option<&str>, provider: Option<SdkTracerProvider>) -> Result<(), String> {
    // `RUST_LOG` chooses the log lines; spans are exported from `info` up, whatever the
    // logs show.
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let traces =
        provider.map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("lading")).with_filter(LevelFilter::INFO));
    let registry = tracing_subscriber::registry().with(traces);
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let result = if format == Some("json") {
        registry.with(logs.json().with_current_span(true).with_span_list(false).with_filter(filter())).try_init()
    } else {
        registry.with(logs.with_filter(filter())).try_init()
    };
    result.map_err(|e| e.to_string())
}
