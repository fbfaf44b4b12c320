//! `lading-api`: the api service as its own process.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // One TLS provider for every client (kube's included): ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    lading_runtime::service::main("lading-api", lading_api::Config::from_env, lading_api::run).await
}
