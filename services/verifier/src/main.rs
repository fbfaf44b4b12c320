//! `lading-verifier`: the verifier as its own process.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    lading_runtime::telemetry::init(
        std::env::var(lading_runtime::telemetry::LOG_FORMAT_ENV)
            .ok()
            .as_deref(),
    );
    let env = std::env::vars().collect();
    let config = match lading_verifier::Config::from_env(&env) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("lading-verifier: invalid configuration: {error}");
            return ExitCode::from(2);
        }
    };
    let shutdown = lading_runtime::shutdown::from_future(lading_runtime::shutdown::signal());
    let deadline = lading_runtime::shutdown::drain_deadline(
        shutdown.clone(),
        lading_runtime::shutdown::DRAIN_DEADLINE,
    );
    let result = tokio::select! {
        result = lading_verifier::run(config, lading_runtime::Readiness::new(), shutdown) => result,
        () = deadline => return ExitCode::FAILURE,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "verifier stopped");
            ExitCode::FAILURE
        }
    }
}
