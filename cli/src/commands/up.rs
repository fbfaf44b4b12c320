//! `lading up`: every service in this process, sharing one readiness and one shutdown,
//! with a local `nats-server` child unless `--nats-url` names a server. The services
//! read the same environment as their separate binaries; flags win over it.

mod supervise;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use lading_bus::local_server::LocalNatsServer;
use lading_bus::nats_users::{NatsPasswords, NatsUser};
use lading_runtime::service::{NATS_URL_ENV, REPLICA_ENV};
use lading_runtime::{Readiness, shutdown};

/// Run all of Lading in this process: api, warehouse, promoter and verifier.
///
/// Without --nats-url, starts `nats-server` (≥ 2.10, from PATH) as a child process that
/// keeps its data under --data-dir and dies with this process. One `lading up` at a time
/// uses a data dir. Ready when `GET /readyz` answers 200. Stop with Ctrl-C.
///
/// On a data dir's first start (unless LADING_ADMIN_TOKEN gives one) it makes a server
/// admin token, prints it once and saves it with the server in the CLI's config file, so
/// `lading` commands on this machine work at once.
///
/// Reads the same environment as the separate service binaries (for example
/// LADING_CREDENTIALS_FILE, LADING_GIT_CREDENTIALS_FILE, LADING_REGISTRY_RATE_LIMIT,
/// LADING_GIT_AUTHOR_NAME, LADING_API_TLS_CERT_FILE); the flags below win over it.
///
///   lading up
///   lading up --data-dir /var/lib/lading --api-addr 0.0.0.0:8443 \
///       --tls-cert-file tls.crt --tls-key-file tls.key
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct UpArgs {
    /// Where Lading keeps its data (NATS storage, Git mirrors, promotion workspaces).
    #[arg(long, env = "LADING_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address the api listens on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub api_addr: std::net::SocketAddr,
    /// Use this NATS server (JetStream enabled, ≥ 2.10) instead of starting one.
    #[arg(long, env = "LADING_NATS_URL")]
    pub nats_url: Option<String>,
    /// Credentials for warehouses: a YAML list like Kargo's credential Secrets
    /// (`type: git|image|helm`, `repoURL`, `username`, `password`).
    #[arg(long, env = "LADING_CREDENTIALS_FILE", value_name = "FILE")]
    pub credentials_file: Option<PathBuf>,
    /// Credentials for the Git repositories promotions clone and push: a YAML list of
    /// `{repoURL, repoURLIsRegex, username, password}`.
    #[arg(long, env = "LADING_GIT_CREDENTIALS_FILE", value_name = "FILE")]
    pub git_credentials_file: Option<PathBuf>,
    /// Secrets steps read with `${{ secret('name').key }}` and webhook receivers
    /// authenticate with: Kubernetes Secret manifests (`metadata.namespace` is the
    /// project; none for every project), or a map of secret name → key → value.
    #[arg(long, env = "LADING_SECRETS_FILE", value_name = "FILE")]
    pub secrets_file: Option<PathBuf>,
    /// Serve the api over HTTPS with this PEM certificate chain (with --tls-key-file).
    #[arg(long, env = "LADING_API_TLS_CERT_FILE", value_name = "FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// The PEM private key of --tls-cert-file.
    #[arg(long, env = "LADING_API_TLS_KEY_FILE", value_name = "FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir).join(".lading")
}

/// Holds the data dir for this process: a second `lading up` on it is refused.
fn lock_data_dir(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = data_dir.join("lading-up.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another `lading up` is using the data dir {}; stop it first, or pass a different --data-dir",
            data_dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}

/// The environment the services are configured from: the process's, with the flags and
/// the data dir's layout on top.
fn service_env(args: &UpArgs, data_dir: &Path, nats_url: &str) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = std::env::vars().collect();
    env.insert(NATS_URL_ENV.to_owned(), nats_url.to_owned());
    // One replica of each service: stable names keep mirrors and workspaces in one place.
    env.entry(REPLICA_ENV.to_owned()).or_insert_with(|| "up".to_owned());
    env.entry(lading_warehouse::config::CACHE_DIR_ENV.to_owned())
        .or_insert_with(|| data_dir.join("cache").display().to_string());
    env.entry(lading_promoter::config::WORK_DIR_ENV.to_owned())
        .or_insert_with(|| data_dir.join("work").display().to_string());
    if let Some(file) = &args.credentials_file {
        env.insert(lading_warehouse::config::CREDENTIALS_FILE_ENV.to_owned(), file.display().to_string());
    }
    if let Some(file) = &args.secrets_file {
        // Promotion steps (`secret()`) and webhook receivers read this one variable.
        env.insert(lading_api::config::SECRETS_FILE_ENV.to_owned(), file.display().to_string());
    }
    if let Some(file) = &args.git_credentials_file {
        env.insert(lading_promoter::config::GIT_CREDENTIALS_FILE_ENV.to_owned(), file.display().to_string());
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert_file, &args.tls_key_file) {
        env.insert(lading_api::config::TLS_CERT_FILE_ENV.to_owned(), cert.display().to_string());
        env.insert(lading_api::config::TLS_KEY_FILE_ENV.to_owned(), key.display().to_string());
    }
    // Health is served by the api itself; the services do not open their own port.
    env.remove(lading_runtime::service::HEALTH_ADDR_ENV);
    env
}

/// The file in the NATS store holding the NATS users' passwords (owner-readable only).
pub const NATS_USERS_FILE: &str = "users.json";

/// Marks a data dir whose admin token was made and shown (its hash is in NATS).
const ADMIN_TOKEN_ISSUED: &str = "admin-token-issued";

/// Shows the admin token made on a data dir's first start, once, and saves it with the
/// server in the CLI's config file so `lading` commands on this machine work at once.
fn announce_admin_token(server: &str, token: &str, issued: &Path) {
    let mut config = crate::config::CliConfig::load().unwrap_or_default();
    config.server = Some(server.to_owned());
    config.token = Some(token.to_owned());
    let saved = match config.save() {
        Ok(path) => format!("saved for the CLI in {}", path.display()),
        Err(error) => format!("not saved for the CLI: {error:#}; use `lading login {server} --token …`"),
    };
    if let Err(error) = std::fs::write(issued, "the server admin token was made and shown\n") {
        tracing::warn!(%error, "cannot mark the admin token as issued");
    }
    eprintln!("Lading's server admin token (shown only now; {saved}):\n\n    {token}\n");
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let _telemetry = lading_runtime::telemetry::init_service(
        "lading",
        std::env::var(lading_runtime::telemetry::LOG_FORMAT_ENV).ok().as_deref(),
    );
    let data_dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let _lock = lock_data_dir(&data_dir)?;
    // Configuration first, so a bad credentials file fails before anything starts.
    let configs = |nats_url: &str| -> anyhow::Result<_> {
        let env = service_env(&args, &data_dir, nats_url);
        let invalid = |service: &str| format!("invalid {service} configuration");
        let warehouse = lading_warehouse::Config::from_env(&env)
            .map_err(anyhow::Error::msg)
            .with_context(|| invalid("warehouse"))?;
        let promoter =
            lading_promoter::Config::from_env(&env).map_err(anyhow::Error::msg).with_context(|| invalid("promoter"))?;
        let verifier =
            lading_verifier::Config::from_env(&env).map_err(anyhow::Error::msg).with_context(|| invalid("verifier"))?;
        let mut api = lading_api::Config::from_env(&env).map_err(anyhow::Error::msg).with_context(|| invalid("api"))?;
        api.listen_addr = args.api_addr;
        Ok((api, warehouse, promoter, verifier))
    };
    configs(args.nats_url.as_deref().unwrap_or("nats://127.0.0.1:4222"))?;
    let (nats, nats_url, passwords) = match &args.nats_url {
        Some(url) => (None, url.clone(), None),
        None => {
            // The local server admits only Lading's users, each with its permissions;
            // their passwords are made on the first start and kept in the data dir.
            let store = data_dir.join("nats");
            std::fs::create_dir_all(&store).with_context(|| format!("creating {}", store.display()))?;
            let passwords_file = store.join(NATS_USERS_FILE);
            let passwords = NatsPasswords::load_or_create(&passwords_file)?;
            let server = LocalNatsServer::start_with_users(&store, &passwords).await?;
            let url = server.url().to_owned();
            tracing::info!(url, log = %server.log_path().display(), "started nats-server");
            (Some(server), url, Some((passwords, passwords_file)))
        }
    };
    let (mut api_config, mut warehouse_config, mut promoter_config, mut verifier_config) = configs(&nats_url)?;
    if let Some((passwords, _)) = &passwords {
        api_config.nats_url = passwords.url_for(&nats_url, NatsUser::Api);
        warehouse_config.service.nats_url = passwords.url_for(&nats_url, NatsUser::Warehouse);
        promoter_config.service.nats_url = passwords.url_for(&nats_url, NatsUser::Promoter);
        verifier_config.service.nats_url = passwords.url_for(&nats_url, NatsUser::Verifier);
    }
    let nats_users = passwords.map(|(_, file)| format!(" (users and passwords in {})", file.display()));
    // On the first start of a data dir, a server admin token is made for its owner.
    let issued = data_dir.join(ADMIN_TOKEN_ISSUED);
    let first_token = if api_config.admin_token.is_none() && !issued.exists() {
        let token = lading_bus::tokens::new_token().context("making the admin token")?;
        api_config.admin_token = Some(lading_api::config::AdminToken(token.clone()));
        Some(token)
    } else {
        None
    };
    let scheme = if api_config.tls.is_some() { "https" } else { "http" };
    let readiness = Readiness::new();
    let shutdown = shutdown::from_future(shutdown::signal());

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
            if let Some(token) = first_token {
                announce_admin_token(&format!("{scheme}://{api_addr}"), &token, &issued);
            }
            let users = nats_users.unwrap_or_default();
            eprintln!("Lading is ready: api {scheme}://{api_addr}, NATS {nats_url}{users}. Press Ctrl-C to stop.");
            eprintln!("{}", super::steps::announcement());
        }
    };
    tokio::spawn(announce);

    // Each service is its own task, started again when it fails or panics; the others go
    // on meanwhile. Only shutdown stops them.
    let (r, s) = (readiness, shutdown.clone());
    let services = async {
        tokio::join!(
            supervise::supervise("api", s.clone(), || lading_api::run(api_config.clone(), r.clone(), s.clone())),
            supervise::supervise("warehouse", s.clone(), || {
                lading_warehouse::run(warehouse_config.clone(), r.clone(), s.clone())
            }),
            supervise::supervise("promoter", s.clone(), || {
                lading_promoter::run(promoter_config.clone(), r.clone(), s.clone())
            }),
            supervise::supervise("verifier", s.clone(), || {
                lading_verifier::run(verifier_config.clone(), r.clone(), s.clone())
            }),
        );
    };
    let result = tokio::select! {
        () = services => Ok(()),
        () = shutdown::drain_deadline(shutdown.clone(), shutdown::DRAIN_DEADLINE) => {
            Err(anyhow::anyhow!("services did not stop within {:?}", shutdown::DRAIN_DEADLINE))
        }
    };
    shutdown.cancel();
    if let Some(server) = nats {
        server.stop().await;
    }
    result
}
