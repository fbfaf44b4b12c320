//! `lading up`: every service in this process, sharing one readiness and one shutdown,
//! with a local `nats-server` child unless `--nats-url` names a server.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use lading_bus::local_server::LocalNatsServer;
use lading_runtime::{Readiness, shutdown};

use crate::cli::UpArgs;

fn default_data_dir() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir).join(".lading")
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    lading_runtime::telemetry::init(std::env::var(lading_runtime::telemetry::LOG_FORMAT_ENV).ok().as_deref());
    let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let (nats, nats_url) = match args.nats_url {
        Some(url) => (None, url),
        None => {
            let server = LocalNatsServer::start(&data_dir.join("nats")).await?;
            let url = server.url().to_owned();
            tracing::info!(url, log = %server.log_path().display(), "started nats-server");
            (Some(server), url)
        }
    };
    // The budgets of calls to remote servers come from the same variables as in the
    // services' own processes.
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let mut warehouse_config = lading_warehouse::Config::new(&nats_url, data_dir.join("cache"));
    warehouse_config.budgets = lading_warehouse::config::Budgets::from_env(&env)?;
    let mut promoter_config = lading_promoter::Config::new(&nats_url);
    promoter_config.work_dir = Some(data_dir.join("work"));
    promoter_config.git_credentials.budgets = lading_promoter::config::budgets_from_env(&env)?;
    let readiness = Readiness::new();
    let shutdown = shutdown::from_future(shutdown::signal());

    let api = lading_api::run(lading_api::Config::new(&nats_url, args.api_addr), readiness.clone(), shutdown.clone());
    let warehouse = lading_warehouse::run(warehouse_config, readiness.clone(), shutdown.clone());
    let promoter = lading_promoter::run(promoter_config, readiness.clone(), shutdown.clone());
    let verifier = lading_verifier::run(lading_verifier::Config::new(&nats_url), readiness.clone(), shutdown.clone());

    let announce = {
        let readiness = readiness.clone();
        let shutdown = shutdown.clone();
        let api_addr = args.api_addr;
        async move {
            while !readiness.is_ready() {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
            eprintln!("Lading is ready: api http://{api_addr}, NATS {nats_url}. Press Ctrl-C to stop.");
        }
    };
    tokio::spawn(announce);

    let services = async {
        tokio::try_join!(
            async { api.await.context("api") },
            async { warehouse.await.context("warehouse") },
            async { promoter.await.context("promoter") },
            async { verifier.await.context("verifier") },
        )
    };
    let result = tokio::select! {
        result = services => result,
        () = shutdown::drain_deadline(shutdown.clone(), shutdown::DRAIN_DEADLINE) => {
            Err(anyhow::anyhow!("services did not stop within {:?}", shutdown::DRAIN_DEADLINE))
        }
    };
    // If one service failed, stop the others before exiting.
    shutdown.cancel();
    if let Some(server) = nats {
        server.stop().await;
    }
    result.map(|_| ())
}
