//! A running Lading: NATS, `replicas` copies of warehouse, promoter and verifier, one api
//! on a free port, each replica with its own cache and work directories, as separate
//! deployments would have. Dropping the sandbox shuts everything down.

use std::time::Duration;

use lading_runtime::{Readiness, Shutdown};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::nats::TestNats;
use crate::wait;

/// What a sandbox runs, and with which budgets.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub replicas: usize,
    pub with_promoter: bool,
    /// Whether the sandbox runs verifiers (a test may run its own, as processes).
    pub with_verifier: bool,
    pub warehouse_budgets: lading_warehouse::config::Budgets,
    pub promoter_budgets: lading_promoter::steps::RemoteBudgets,
    /// What the warehouse answers registries' and Git servers' challenges with.
    pub warehouse_credentials: lading_domain::credentials::Credentials,
    /// What the promoter answers Git servers' challenges with.
    pub promoter_credentials: lading_promoter::steps::GitCredentials,
    /// The promoter's `LADING_GIT_PROVIDERS`.
    pub promoter_git_providers: std::collections::BTreeMap<String, String>,
    /// Where the promoter's Argo CD steps find Argo CD.
    pub promoter_argocd: lading_promoter::steps::argocd::ArgoCdAccess,
    /// How often the promoter assesses stage health again (`LADING_HEALTH_INTERVAL`).
    pub promoter_health_interval: std::time::Duration,
    /// What steps read with `secret(name)`, and webhook receivers authenticate with.
    pub secrets: lading_domain::secrets::Secrets,
    /// What the api accepts from its clients.
    pub api_limits: lading_api::config::Limits,
    /// How the api keeps and streams public events.
    pub api_events: lading_api::config::Events,
    /// Kubernetes mode of the api (specs from the cluster, status into it).
    pub kube: Option<lading_api::kubernetes::Settings>,
    /// Where the promoter's and verifier's `secret()` read instead of `secrets` (the
    /// project namespaces' Secrets, in Kubernetes mode).
    pub service_secrets: Option<lading_secret_source::SecretSource>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            replicas: 1,
            with_promoter: true,
            with_verifier: true,
            warehouse_budgets: Default::default(),
            promoter_budgets: Default::default(),
            warehouse_credentials: Default::default(),
            promoter_credentials: Default::default(),
            promoter_git_providers: Default::default(),
            promoter_argocd: Default::default(),
            promoter_health_interval: std::time::Duration::from_millis(250),
            secrets: Default::default(),
            api_limits: Default::default(),
            api_events: Default::default(),
            kube: None,
            service_secrets: None,
        }
    }
}

/// The server admin token every sandbox's api is configured with.
pub const ADMIN_TOKEN: &str = "lading_sandbox-admin-token-for-tests";

/// An HTTP client that sends `token` with every request.
pub fn client_with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).expect("a token fits a header");
    headers.insert(reqwest::header::AUTHORIZATION, value);
    crate::http_client::builder().default_headers(headers).build().expect("an HTTP client")
}

/// An HTTP client that sends the sandbox's admin token with every request.
pub fn authorized_client() -> reqwest::Client {
    client_with_token(ADMIN_TOKEN)
}

pub struct Sandbox {
    pub nats: TestNats,
    pub api_url: String,
    pub dir: tempfile::TempDir,
    shutdown: Shutdown,
    tasks: Vec<JoinHandle<()>>,
    http: reqwest::Client,
}

fn spawn<E: std::fmt::Display>(
    name: String,
    service: impl std::future::Future<Output = Result<(), E>> + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(error) = service.await {
            panic!("{name} stopped: {error}");
        }
    })
}

impl Sandbox {
    /// Starts everything and waits until every service is ready.
    pub async fn start(replicas: usize) -> Sandbox {
        Self::start_with(replicas, true).await
    }

    /// Starts everything but the promoter (a test runs its own, as a process).
    pub async fn start_without_promoter() -> Sandbox {
        Self::start_with(1, false).await
    }

    async fn start_with(replicas: usize, with_promoter: bool) -> Sandbox {
        Self::start_with_options(SandboxOptions { replicas, with_promoter, ..SandboxOptions::default() }).await
    }

    /// Starts what `options` say.
    pub async fn start_with_options(options: SandboxOptions) -> Sandbox {
        let SandboxOptions {
            replicas,
            with_promoter,
            with_verifier,
            warehouse_budgets,
            promoter_budgets,
            warehouse_credentials,
            promoter_credentials,
            promoter_git_providers,
            promoter_argocd,
            promoter_health_interval,
            secrets,
            api_limits,
            api_events,
            kube,
            service_secrets,
        } = options;
        let secrets = std::sync::Arc::new(secrets);
        let service_secrets = service_secrets.unwrap_or_else(|| secrets.clone().into());
        // Logs go to the test's output, shown when it fails (`RUST_LOG` filters).
        lading_runtime::telemetry::init(None);
        let nats = TestNats::start().await;
        let dir = tempfile::tempdir().unwrap();
        let shutdown = Shutdown::new();
        let readiness = Readiness::new();
        let mut tasks = Vec::new();
        // Each service connects as its own NATS user, with only its permissions.
        let url = |user| nats.url_for(user);
        use lading_bus::nats_users::NatsUser;
        for replica in 0..replicas {
            let mut warehouse =
                lading_warehouse::Config::new(url(NatsUser::Warehouse), dir.path().join(format!("cache-{replica}")));
            warehouse.service.replica = format!("w{replica}");
            warehouse.budgets = warehouse_budgets;
            warehouse.credentials = warehouse_credentials.clone();
            tasks.push(spawn(
                format!("warehouse {replica}"),
                lading_warehouse::run(warehouse, readiness.clone(), shutdown.clone()),
            ));
            if with_promoter {
                let mut promoter = lading_promoter::Config::new(url(NatsUser::Promoter));
                promoter.service.replica = format!("p{replica}");
                promoter.work_dir = Some(dir.path().join(format!("work-{replica}")));
                promoter.remotes.budgets = promoter_budgets;
                promoter.remotes.credentials = promoter_credentials.clone();
                promoter.remotes.git_providers = promoter_git_providers.clone();
                promoter.remotes.argocd = promoter_argocd.clone();
                promoter.health_interval = promoter_health_interval;
                promoter.secrets = service_secrets.clone();
                tasks.push(spawn(
                    format!("promoter {replica}"),
                    lading_promoter::run(promoter, readiness.clone(), shutdown.clone()),
                ));
            }
            if with_verifier {
                let mut verifier = lading_verifier::Config::new(url(NatsUser::Verifier));
                verifier.service.replica = format!("v{replica}");
                verifier.secrets = service_secrets.clone();
                tasks.push(spawn(
                    format!("verifier {replica}"),
                    lading_verifier::run(verifier, readiness.clone(), shutdown.clone()),
                ));
            }
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_url = format!("http://{}", listener.local_addr().unwrap());
        let mut api = lading_api::Config::new(url(NatsUser::Api), listener.local_addr().unwrap());
        api.admin_token = Some(lading_api::config::AdminToken(ADMIN_TOKEN.to_owned()));
        api.secrets = secrets.clone();
        api.limits = api_limits;
        api.events = api_events;
        api.kube = kube;
        tasks.push(spawn("api".into(), lading_api::serve(listener, api, readiness.clone(), shutdown.clone())));
        let sandbox = Sandbox { nats, api_url, dir, shutdown, tasks, http: authorized_client() };
        let http = sandbox.http.clone();
        let readyz = format!("{}/readyz", sandbox.api_url);
        wait::until("every service to be ready", Duration::from_secs(30), || {
            let http = http.clone();
            let readyz = readyz.clone();
            async move {
                let response = http.get(&readyz).send().await.map_err(|e| e.to_string())?;
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                if status.is_success() { Ok(()) } else { Err(format!("{status}: {body}")) }
            }
        })
        .await;
        sandbox
    }

    /// `GET` a path of the api: (status, JSON body).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(format!("{}{path}", self.api_url)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST` a body to a path of the api: (status, JSON body).
    pub async fn post(&self, path: &str, body: &str) -> (u16, Value) {
        let response = self.http.post(format!("{}{path}", self.api_url)).body(body.to_owned()).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST` JSON to a path of the api: (status, JSON body).
    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self.http.post(format!("{}{path}", self.api_url)).json(body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Applies manifests, asserting success.
    pub async fn apply(&self, yaml: &str) -> Value {
        let (status, body) = self.post("/api/v1/apply", yaml).await;
        assert_eq!(status, 200, "apply failed: {body}");
        body
    }

    /// The project's freight list items.
    pub async fn freight(&self, project: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!("/api/v1/projects/{project}/freight")).await;
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until the project has freight; returns the first of its list.
    pub async fn wait_for_freight(&self, project: &str, what: &str, timeout: Duration) -> Value {
        wait::until(what, timeout, || async {
            self.freight(project).await.first().cloned().ok_or_else(|| "none yet".to_owned())
        })
        .await
    }

    pub async fn refresh(&self, project: &str, warehouse: &str) {
        let (status, body) = self.post(&format!("/api/v1/projects/{project}/warehouses/{warehouse}/refresh"), "").await;
        assert_eq!(status, 202, "refresh failed: {body}");
    }

    /// Waits until the freight whose commit is `commit` is current in `stage`.
    pub async fn wait_current_in(&self, project: &str, commit: &str, stage: &str, timeout: Duration) -> Value {
        self.wait_status(project, commit, "currentlyIn", stage, timeout).await
    }

    /// Waits until the freight whose commit is `commit` is verified in `stage`.
    pub async fn wait_verified_in(&self, project: &str, commit: &str, stage: &str, timeout: Duration) -> Value {
        self.wait_status(project, commit, "verifiedIn", stage, timeout).await
    }

    async fn wait_status(&self, project: &str, commit: &str, field: &str, stage: &str, timeout: Duration) -> Value {
        wait::until(&format!("freight of {commit} to be {field} {stage}"), timeout, || async {
            let items = self.freight(project).await;
            let freight = items.iter().find(|f| f["commits"][0]["id"] == commit);
            match freight {
                Some(f) if f["status"][field].get(stage).is_some() => Ok(f.clone()),
                Some(f) => Err(f["status"].to_string()),
                None => Err(format!("{} freight, none of {commit}", items.len())),
            }
        })
        .await
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shutdown.cancel();
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The quickstart manifests with the given repositories and warehouse interval.
pub fn quickstart(app_repo: &str, gitops_repo: &str, interval: &str) -> String {
    include_str!("../../examples/quickstart/lading.yaml")
        .replace("__APP_REPO__", app_repo)
        .replace("__GITOPS_REPO__", gitops_repo)
        .replace("interval: 1m", &format!("interval: {interval}"))
}

/// `manifests` with `verification` (the lines under `spec.verification:`, indented four
/// spaces) given to the first stage that has a `promotionTemplate`.
pub fn with_verification(manifests: &str, verification: &str) -> String {
    assert!(manifests.contains("  promotionTemplate:\n"), "no stage with a promotionTemplate");
    manifests.replacen("  promotionTemplate:\n", &format!("  verification:\n{verification}  promotionTemplate:\n"), 1)
}
