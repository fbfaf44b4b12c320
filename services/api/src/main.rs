//! `lading-api`: the api service as its own process.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    lading_runtime::service::main("lading-api", lading_api::Config::from_env, lading_api::run).await
}
