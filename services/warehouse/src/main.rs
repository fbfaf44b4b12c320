//! `lading-warehouse`: the warehouse as its own process.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    lading_runtime::service::main("lading-warehouse", lading_warehouse::Config::from_env, lading_warehouse::run).await
}
