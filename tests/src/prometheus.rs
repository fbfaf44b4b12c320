//! A real Prometheus (Debian's `prometheus`) owned by one test, on a free loopback port
//! with its own config and storage, scraping an exporter whose one gauge the test sets,
//! or a running Lading's `/metrics`; and PromQL queries over its HTTP API.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::wait;

/// An HTTP endpoint serving `/metrics` with one gauge whose value the test controls.
pub struct Exporter {
    value: Arc<AtomicU64>,
    pub addr: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Exporter {
    /// Serves `<name> <value>` on a free loopback port.
    pub async fn start(name: &'static str, value: f64) -> Exporter {
        let shared = Arc::new(AtomicU64::new(value.to_bits()));
        let served = shared.clone();
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let value = f64::from_bits(served.load(Ordering::SeqCst));
                async move { format!("# TYPE {name} gauge\n{name} {value}\n") }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Exporter { value: shared, addr, task }
    }

    pub fn set(&self, value: f64) {
        self.value.store(value.to_bits(), Ordering::SeqCst);
    }
}

pub struct TestPrometheus {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Drop for TestPrometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestPrometheus {
    /// Starts `prometheus` scraping `target` (`host:port`) as job `job` every 250 ms;
    /// returns once it answers queries. Panics with how to install it when it is missing.
    pub async fn start(job: &str, target: &str) -> TestPrometheus {
        let config = format!(
            "global:\n  scrape_interval: 250ms\n  scrape_timeout: 200ms\nscrape_configs:\n- job_name: {job}\n  static_configs:\n  - targets: ['{target}']\n"
        );
        Self::start_with(&config, None).await
    }

    /// Starts `prometheus` scraping nothing, answering only requests with Basic auth as
    /// `user` and `password` (its `--web.config.file` keeps a bcrypt hash of the password,
    /// made with Python's `bcrypt`, which `scripts/test` installs into `.tools/venv`).
    pub async fn start_with_password(user: &str, password: &str) -> TestPrometheus {
        let python = crate::python::interpreter();
        let hashed = Command::new(&python)
            .args(["-c", "import bcrypt, sys; print(bcrypt.hashpw(sys.stdin.readline().strip().encode(), bcrypt.gensalt(4)).decode())"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().expect("stdin").write_all(format!("{password}\n").as_bytes())?;
                child.wait_with_output()
            })
            .unwrap_or_else(|e| panic!("{python}: {e} (scripts/test installs bcrypt into .tools/venv)"));
        assert!(hashed.status.success(), "{python} hashes with bcrypt (scripts/test installs it)");
        let hash = String::from_utf8(hashed.stdout).unwrap().trim().to_owned();
        let web = format!("basic_auth_users:\n  {user}: '{hash}'\n");
        Self::start_with("global:\n  scrape_interval: 1s\n", Some((&web, user, password))).await
    }

    async fn start_with(config: &str, auth: Option<(&str, &str, &str)>) -> TestPrometheus {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let mut command = Command::new("prometheus");
        command
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"));
        if let Some((web, _, _)) = auth {
            let web_path = dir.path().join("web.yml");
            std::fs::write(&web_path, web).unwrap();
            command.arg(format!("--web.config.file={}", web_path.display()));
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("prometheus: {e} (install it: apt-get install prometheus)"));
        let prometheus = TestPrometheus { child, url: format!("http://127.0.0.1:{port}"), _dir: dir };
        let ready = format!("{}/-/ready", prometheus.url);
        let credentials = auth.map(|(_, user, password)| (user.to_owned(), password.to_owned()));
        wait::until("prometheus to be ready", Duration::from_secs(30), || {
            let ready = ready.clone();
            let credentials = credentials.clone();
            async move {
                let mut request = crate::http_client::client().get(&ready);
                if let Some((user, password)) = credentials {
                    request = request.basic_auth(user, Some(password));
                }
                let status = request.send().await.map_err(|e| e.to_string())?.status();
                if status.is_success() { Ok(()) } else { Err(status.to_string()) }
            }
        })
        .await;
        if auth.is_some() {
            let refused = crate::http_client::get(&ready).await.expect("prometheus answers").status();
            assert_eq!(refused.as_u16(), 401, "prometheus asks for the password");
        }
        prometheus
    }

    /// The instant vector `promql` evaluates to now: each series' labels and value.
    pub async fn query(&self, promql: &str) -> Result<Vec<(serde_json::Map<String, serde_json::Value>, f64)>, String> {
        let url = format!("{}/api/v1/query?query={}", self.url, encode(promql));
        let body = get_json(&url).await?;
        if body["status"] != "success" {
            return Err(format!("{promql}: {body}"));
        }
        let series = body["data"]["result"].as_array().ok_or_else(|| format!("{promql}: {body}"))?;
        series
            .iter()
            .map(|s| {
                let labels = s["metric"].as_object().cloned().unwrap_or_default();
                let value = s["value"][1].as_str().and_then(|v| v.parse::<f64>().ok());
                value.map(|v| (labels, v)).ok_or_else(|| format!("{promql}: a sample without a value: {s}"))
            })
            .collect()
    }

    /// Waits until `promql` has exactly one series and `accept` takes its value; returns
    /// the value.
    pub async fn wait_for_one(&self, promql: &str, accept: impl Fn(f64) -> bool) -> f64 {
        wait::until(&format!("{promql} in prometheus"), Duration::from_secs(30), || async {
            match self.query(promql).await?.as_slice() {
                [(_, value)] if accept(*value) => Ok(*value),
                other => Err(format!("{other:?}")),
            }
        })
        .await
    }

    /// The type Prometheus recorded for `metric` from its scrapes (`counter`,
    /// `histogram`, ...).
    pub async fn metric_type(&self, metric: &str) -> Result<String, String> {
        let url = format!("{}/api/v1/metadata?metric={}", self.url, encode(metric));
        let body = get_json(&url).await?;
        body["data"][metric][0]["type"].as_str().map(str::to_owned).ok_or_else(|| format!("{metric}: {body}"))
    }

    /// Waits until `query`'s first sample is `value` (a scrape after the test set it).
    pub async fn wait_for_value(&self, query: &str, value: f64) {
        let url = format!("{}/api/v1/query?query={}", self.url, encode(query));
        wait::until(&format!("{query} to be {value} in prometheus"), Duration::from_secs(30), || {
            let url = url.clone();
            async move {
                let client = crate::http_client::client();
                let body: serde_json::Value = client
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                let sample = body["data"]["result"][0]["value"][1].as_str().unwrap_or_default().to_owned();
                if sample.parse::<f64>().ok() == Some(value) { Ok(()) } else { Err(body.to_string()) }
            }
        })
        .await;
    }
}

/// `text` percent-encoded for a query string.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

async fn get_json(url: &str) -> Result<serde_json::Value, String> {
    let client = crate::http_client::builder().timeout(Duration::from_secs(5)).build().map_err(|e| e.to_string())?;
    client.get(url).send().await.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())
}
