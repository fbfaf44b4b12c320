//! The promoter as its own process, for tests that kill it (`lading-promoter`'s main).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    lading_runtime::service::main("lading-promoter", lading_promoter::Config::from_env, lading_promoter::run).await
}
