//! `lading-verifier`: the verifier as its own process.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    lading_runtime::service::main("lading-verifier", lading_verifier::Config::from_env, lading_verifier::run).await
}
