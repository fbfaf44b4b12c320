//! Lading deployed as production runs it, on loopback: a three-node NATS cluster, and
//! several replicas of each service, each its own process with its own directories,
//! talking to a GitOps repository served over smart HTTP behind a proxy that can stall.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lading_bus::nats_users::NatsUser;
use serde_json::Value;

use crate::git::Repo;
use crate::nats_cluster::TestNatsCluster;
use crate::sandbox::ADMIN_TOKEN;
use crate::stall_proxy::StallProxy;
use crate::wait;

/// The services a replica can run.
pub const SERVICES: [&str; 4] = ["warehouse", "promoter", "verifier", "api"];

/// The Git user the GitOps server admits.
const GIT_USER: &str = "lading-bot";
const GIT_PASSWORD: &str = "gitops-token-for-faults";

/// One replica of a service: a process killed with SIGKILL and started again with the
/// same name, directories and ports.
pub struct Replica {
    pub service: &'static str,
    pub name: String,
    binary: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    /// Where its `/readyz` answers.
    pub health_url: String,
    child: Option<Child>,
}

impl Replica {
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("a log file");
        let mut command = Command::new(&self.binary);
        command
            .arg(self.service)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("a log file"))
            .stderr(log);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: between fork and exec only async-signal-safe calls are made (prctl,
        // getppid); nothing is allocated.
        unsafe {
            use std::os::unix::process::CommandExt as _;
            command.pre_exec(move || {
                // The replica dies with the test, however the test ends.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    return Err(std::io::Error::other("the test exited before the replica started"));
                }
                Ok(())
            });
        }
        self.child = Some(command.spawn().unwrap_or_else(|e| panic!("{} starts: {e}", self.name)));
    }

    /// Kills the process with SIGKILL and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again (after [`Replica::kill`]).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Stops the process (SIGSTOP) where it is, as a long pause of the machine or the
    /// runtime; [`Replica::thaw`] lets it go on.
    pub fn freeze(&self) {
        self.signal(libc::SIGSTOP);
    }

    pub fn thaw(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: libc::c_int) {
        if let Some(child) = &self.child {
            // SAFETY: kill(2) on the pid of a child this replica has not yet waited for.
            unsafe {
                libc::kill(child.id() as libc::pid_t, signal);
            }
        }
    }

    /// Whether the process exited by itself (a crash the test did not cause).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the fault schedule acts on: the NATS servers, the service replicas and the Git
/// proxy.
pub struct Targets {
    pub cluster: TestNatsCluster,
    pub replicas: Vec<Replica>,
    pub git_proxy: StallProxy,
}

/// A running deployment.
pub struct Deployment {
    pub targets: Targets,
    pub app: Repo,
    pub gitops: Repo,
    pub api: ApiClient,
    pub logs: PathBuf,
    pub dir: tempfile::TempDir,
}

fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// The manifests: a warehouse on the application repository, and three stages
/// (`test` → `uat` → `prod`) auto-promoting by writing its commit into the GitOps
/// repository's `stage/<name>` branch.
pub fn manifests(app_repo: &str, gitops_repo: &str) -> String {
    let quickstart = crate::sandbox::quickstart(app_repo, gitops_repo, "30s");
    let uat = quickstart.split("\n---\n").find(|doc| doc.contains("kind: Stage") && doc.contains("name: uat"));
    let prod = uat
        .expect("the quickstart has a uat stage")
        .replace("name: uat", "name: prod")
        .replace("      stages:\n      - test", "      stages:\n      - uat");
    let quickstart = quickstart.replace(
        "  - stageSelector:\n      name: uat\n    autoPromotionEnabled: true\n",
        "  - stageSelector:\n      name: uat\n    autoPromotionEnabled: true\n  - stageSelector:\n      name: prod\n    autoPromotionEnabled: true\n",
    );
    format!("{quickstart}\n---\n{prod}")
}

impl Deployment {
    /// Starts the cluster, the Git server and its proxy, `replicas` replicas of every
    /// service from `binary` (the `service-process` test binary), applies the manifests
    /// and waits until every replica is ready.
    pub async fn start(binary: &Path, replicas: usize) -> Deployment {
        let dir = tempfile::tempdir().expect("temp dir");
        let logs = match std::env::var_os("LADING_FAULTS_LOGS") {
            Some(path) => PathBuf::from(path),
            None => dir.path().join("logs"),
        };
        std::fs::create_dir_all(&logs).unwrap();
        let cluster = TestNatsCluster::start(3).await;

        let repos = dir.path().join("repos");
        std::fs::create_dir_all(&repos).unwrap();
        let app = Repo::create(&repos, "app");
        let gitops = Repo::create(&repos, "gitops");
        let git_base = crate::git_http::serve(&repos, GIT_USER, GIT_PASSWORD).await;
        let upstream: std::net::SocketAddr = git_base.trim_start_matches("http://").parse().unwrap();
        let git_proxy = StallProxy::start(upstream).await;
        let gitops_url = format!("http://{}/gitops.git", git_proxy.addr());
        let git_credentials = dir.path().join("git-credentials.yaml");
        std::fs::write(
            &git_credentials,
            format!("- repoURL: http://{}/\n  username: {GIT_USER}\n  password: {GIT_PASSWORD}\n", git_proxy.addr()),
        )
        .unwrap();

        let mut all = Vec::new();
        let mut api_urls = Vec::new();
        for service in SERVICES {
            let user = match service {
                "warehouse" => NatsUser::Warehouse,
                "promoter" => NatsUser::Promoter,
                "verifier" => NatsUser::Verifier,
                _ => NatsUser::Api,
            };
            for index in 0..replicas {
                let name = format!("{service}-{index}");
                let health = free_addr();
                let mut env = vec![
                    ("LADING_NATS_URL".to_owned(), cluster.url_for(user)),
                    ("LADING_REPLICA".to_owned(), name.clone()),
                ];
                match service {
                    "api" => {
                        env.push(("LADING_API_ADDR".to_owned(), health.to_string()));
                        env.push(("LADING_ADMIN_TOKEN".to_owned(), ADMIN_TOKEN.to_owned()));
                        api_urls.push(format!("http://{health}"));
                    }
                    _ => env.push(("LADING_HEALTH_ADDR".to_owned(), health.to_string())),
                }
                match service {
                    "warehouse" => {
                        env.push(("LADING_CACHE_DIR".to_owned(), dir.path().join(&name).display().to_string()));
                    }
                    "promoter" => {
                        env.push(("LADING_WORK_DIR".to_owned(), dir.path().join(&name).display().to_string()));
                        env.push(("LADING_GIT_CREDENTIALS_FILE".to_owned(), git_credentials.display().to_string()));
                    }
                    _ => {}
                }
                let mut replica = Replica {
                    service,
                    log: logs.join(format!("{name}.log")),
                    name,
                    binary: binary.to_path_buf(),
                    env,
                    health_url: format!("http://{health}/readyz"),
                    child: None,
                };
                replica.spawn();
                all.push(replica);
            }
        }
        let api = ApiClient::new(api_urls);
        let mut deployment =
            Deployment { targets: Targets { cluster, replicas: all, git_proxy }, app, gitops, api, logs, dir };
        deployment.wait_ready(Duration::from_secs(120)).await;
        deployment.api.apply(&manifests(&deployment.app.url(), &gitops_url)).await;
        deployment
    }

    /// Waits until every replica answers `/readyz` with success; a replica that exits
    /// meanwhile fails the start with the end of its log.
    pub async fn wait_ready(&mut self, timeout: Duration) {
        let http = crate::http_client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        let deadline = tokio::time::Instant::now() + timeout;
        for replica in &mut self.targets.replicas {
            loop {
                if let Some(status) = replica.exited() {
                    let log = std::fs::read_to_string(&replica.log).unwrap_or_default();
                    let tail: Vec<&str> = log.lines().rev().take(5).collect();
                    panic!("{} exited with {status} while starting: {tail:#?}", replica.name);
                }
                let answer = http.get(&replica.health_url).send().await;
                let last = match answer {
                    Ok(response) if response.status().is_success() => break,
                    Ok(response) => format!("{}: {}", response.status(), response.text().await.unwrap_or_default()),
                    Err(error) => error.to_string(),
                };
                if tokio::time::Instant::now() > deadline {
                    panic!("{} was not ready after {timeout:?}: {last}", replica.name);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// An HTTP client for the api replicas: each request goes to the replicas in turn until
/// one answers (a replica may be down).
#[derive(Clone)]
pub struct ApiClient {
    urls: Vec<String>,
    http: reqwest::Client,
}

impl ApiClient {
    fn new(urls: Vec<String>) -> ApiClient {
        let mut headers = reqwest::header::HeaderMap::new();
        let token = reqwest::header::HeaderValue::from_str(&format!("Bearer {ADMIN_TOKEN}")).unwrap();
        headers.insert(reqwest::header::AUTHORIZATION, token);
        let http = crate::http_client::builder()
            .default_headers(headers)
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        ApiClient { urls, http }
    }

    /// Sends the request `build` makes to each replica in turn, until one answers with a
    /// status that is not 5xx, or `timeout` passes: (status, JSON body).
    async fn send(
        &self,
        what: &str,
        timeout: Duration,
        build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> (u16, Value) {
        let mut turn = 0usize;
        wait::until(what, timeout, || {
            turn += 1;
            let url = self.urls[turn % self.urls.len()].clone();
            let request = build(&self.http, &url);
            async move {
                let response = request.send().await.map_err(|e| format!("{url}: {e}"))?;
                let status = response.status().as_u16();
                let body = response.json::<Value>().await.unwrap_or(Value::Null);
                if status >= 500 { Err(format!("{url}: {status} {body}")) } else { Ok((status, body)) }
            }
        })
        .await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(&format!("GET {path}"), Duration::from_secs(120), |http, url| http.get(format!("{url}{path}"))).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(&format!("POST {path}"), Duration::from_secs(120), |http, url| {
            http.post(format!("{url}{path}")).json(body)
        })
        .await
    }

    /// Applies manifests, asserting success.
    pub async fn apply(&self, yaml: &str) {
        let (status, body) = self
            .send("apply", Duration::from_secs(120), |http, url| {
                http.post(format!("{url}/api/v1/apply")).body(yaml.to_owned())
            })
            .await;
        assert_eq!(status, 200, "apply failed: {body}");
    }
}
