//! One of Lading's services as its own process, as its binary runs it (`service-process
//! warehouse|promoter|verifier|api`), for tests that need separate processes.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    use lading_runtime::service::main as service;
    match std::env::args().nth(1).as_deref() {
        Some("warehouse") => {
            service("lading-warehouse", lading_warehouse::Config::from_env, lading_warehouse::run).await
        }
        Some("promoter") => service("lading-promoter", lading_promoter::Config::from_env, lading_promoter::run).await,
        Some("verifier") => service("lading-verifier", lading_verifier::Config::from_env, lading_verifier::run).await,
        Some("api") => service("lading-api", lading_api::Config::from_env, lading_api::run).await,
        _ => {
            eprintln!("usage: service-process warehouse|promoter|verifier|api");
            std::process::ExitCode::from(2)
        }
    }
}
