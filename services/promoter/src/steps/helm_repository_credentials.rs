//! HTTP chart repositories with a `helm` credential, handed to Helm's library (which
//! takes no credentials for them) without the credential reaching the workspace.
//!
//! The promoter fetches each such repository's `index.yaml` itself, with the credential
//! (basic auth, never sent on a redirect), all of them within Helm's time and file size
//! limits. In the index,
//! every chart URL on the repository's own origin (relative, or absolute with the same
//! scheme, host and port) is made absolute and carries the credential as URL userinfo,
//! from which Go's HTTP client sends basic auth; a chart URL on another origin is left
//! as it is and gets no credential, as Helm does. The rewritten index is served on a
//! loopback port under a random path, and the mirror's `Chart.yaml` (and `Chart.lock`)
//! names that address instead of the repository. After Helm, `Chart.lock` names the
//! repository again and its `digest` is computed anew as Helm computes it (see
//! [`super::helm_lock_digest`]), after checking that the same computation reproduces
//! the digest Helm wrote. Helm's messages are scrubbed of the credential and the
//! loopback address. The loopback server answers one connection at a time, each within
//! [`CONNECTION_TIME`] (reading the request and writing the answer), so a client that
//! stops reading holds it no longer; a failing `accept` is retried after a growing pause.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lading_domain::credentials::Credential;
use lading_domain::limits::Limit;
use lading_domain::redact::redact_url;
use lading_remote::http::{agent_config, explain};
use serde_json::Value;
use url::Url;

/// One HTTP chart repository with a credential, as `Chart.yaml` names it.
#[derive(Debug, Clone)]
pub struct CredentialedRepository {
    /// The repository URL exactly as `Chart.yaml` gives it.
    pub url: String,
    /// What names it in errors: `Chart.yaml: dependencies[0] (name)`.
    pub field: String,
    pub credential: Credential,
}

/// The rewritten indexes, served on loopback while Helm runs.
pub struct IndexServer {
    /// `(repository URL, loopback URL standing for it)`.
    pub addresses: Vec<(String, String)>,
    /// Userinfo forms (`user:password@`) and secrets to scrub from Helm's messages.
    secrets: Vec<String>,
    stop: Arc<AtomicBool>,
    port: u16,
    serving: Option<JoinHandle<()>>,
}

/// How long one connection to the index server may last, request and answer.
const CONNECTION_TIME: Duration = Duration::from_secs(10);

/// The name of the index server's thread.
const SERVING_THREAD: &str = "chart-indexes";

impl Drop for IndexServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees `stop`; it ends within a
        // connection's time.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(serving) = self.serving.take() {
            let _ = serving.join();
        }
    }
}

/// `url` carrying `credential` as its userinfo, percent-encoded by the URL's rules.
fn with_credential(mut url: Url, credential: &Credential) -> Result<Url, String> {
    url.set_username(&credential.username)
        .and_then(|()| url.set_password(Some(&credential.password)))
        .map_err(|()| format!("{} cannot carry a credential", redact_url(url.as_str())))?;
    Ok(url)
}

/// `user:password@` as a URL carries `credential`.
fn userinfo(credential: &Credential) -> String {
    let url = Url::parse("http://host/").expect("a URL");
    match with_credential(url, credential) {
        Ok(url) => format!("{}:{}@", url.username(), url.password().unwrap_or_default()),
        Err(_) => String::new(),
    }
}

/// Whether `url` is on the origin of `home`: the same scheme, host and port (a default
/// port written or not, the host in any case), as parsed URLs.
fn same_origin(url: &Url, home: &Url) -> bool {
    url.scheme() == home.scheme()
        && url.host() == home.host()
        && url.port_or_known_default() == home.port_or_known_default()
}

/// A chart URL of the index resolved against the repository URL as Helm does
/// (`repo.ResolveReferenceURL`): an absolute URL stays; a relative one resolves against
/// the repository URL with a trailing slash, keeping the repository URL's query.
fn resolve(repository: &Url, reference: &str) -> Result<Url, String> {
    match Url::parse(reference) {
        Ok(absolute) => return Ok(absolute),
        Err(url::ParseError::RelativeUrlWithoutBase) => {}
        Err(e) => return Err(format!("chart URL {:?}: {e}", redact_url(reference))),
    }
    let mut base = repository.clone();
    let query = base.query().map(str::to_owned);
    base.set_query(None);
    let path = format!("{}/", base.path().trim_end_matches('/'));
    base.set_path(&path);
    let mut resolved = base.join(reference).map_err(|e| format!("chart URL {reference:?}: {e}"))?;
    resolved.set_query(query.as_deref());
    Ok(resolved)
}

/// The index `body` of `repository` with each chart URL on the repository's origin
/// made absolute and carrying `credential`; other URLs unchanged. Returned as JSON
/// (which Helm reads as YAML).
pub fn rewrite_index(
    body: &str,
    repository: &str,
    credential: &Credential,
    limit: Limit<u64>,
) -> Result<String, String> {
    let mut index = parse_index(body, limit)?;
    let home = Url::parse(repository).map_err(|e| format!("{}: {e}", redact_url(repository)))?;
    let entries = index.get_mut("entries").and_then(Value::as_object_mut);
    for versions in entries.into_iter().flat_map(|e| e.values_mut()) {
        let Some(versions) = versions.as_array_mut() else { continue };
        for version in versions {
            let Some(urls) = version.get_mut("urls").and_then(Value::as_array_mut) else { continue };
            for url in urls {
                let Some(text) = url.as_str() else { continue };
                match resolve(&home, text) {
                    Ok(resolved) if same_origin(&resolved, &home) => {
                        *url = Value::String(with_credential(resolved, credential)?.as_str().to_owned());
                    }
                    _ => {}
                }
            }
        }
    }
    serde_json::to_string(&index).map_err(|e| format!("writing the index: {e}"))
}

/// Reads an index within budgets that follow its size limit (as discovery does).
fn parse_index(body: &str, limit: Limit<u64>) -> Result<Value, String> {
    let index: Value = lading_domain::chart_index::parse(body, limit)?;
    if !index.is_object() {
        return Err("not a chart repository index".to_owned());
    }
    Ok(index)
}

/// What the index fetches of one step may cost: each call's timeouts, the step's
/// deadline, and the bytes all indexes together may hold.
#[derive(Debug, Clone, Copy)]
pub struct FetchBudget {
    pub timeouts: lading_domain::limits::Timeouts,
    pub max_index: Limit<u64>,
    pub deadline: Instant,
}

impl FetchBudget {
    /// The budget of the next fetch once `used` bytes of indexes were read: the time
    /// left before the deadline and the bytes left; `None` when either is spent.
    fn next(&self, used: u64) -> Option<FetchBudget> {
        let time = left(self.deadline)?;
        let bytes = self.max_index.value.checked_sub(used).filter(|b| *b > 0)?;
        let mut next = *self;
        next.timeouts.total.value = next.timeouts.total.value.min(time);
        next.max_index.value = bytes;
        Some(next)
    }
}

/// Fetches the index of `repository` with its credential, within `budget`: what is left
/// of `shared`, the bytes all indexes of the step may hold.
fn fetch_index(repository: &CredentialedRepository, budget: FetchBudget, shared: Limit<u64>) -> Result<String, String> {
    let base = url::Url::parse(&repository.url)
        .map_err(|e| format!("{}: {:?} is not a URL: {e}", repository.field, redact_url(&repository.url)))?;
    let index_url = resolve(&base, "index.yaml")?.to_string();
    let action = format!("GET {}", redact_url(&index_url));
    let agent: ureq::Agent =
        agent_config(&budget.timeouts).redirect_auth_headers(ureq::config::RedirectAuthHeaders::Never).build().into();
    use base64::Engine as _;
    let pair = format!("{}:{}", repository.credential.username, repository.credential.password);
    let authorization = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair));
    let mut response = agent
        .get(&index_url)
        .header("Authorization", &authorization)
        .call()
        .map_err(|e| format!("{}: {}", repository.field, explain(&action, e, &budget.timeouts)))?;
    let status = response.status().as_u16();
    if status == 401 || status == 403 {
        return Err(format!(
            "{}: the chart repository {} refused the helm credential configured for it ({action}: status {status})",
            repository.field,
            redact_url(&repository.url)
        ));
    }
    if !(200..300).contains(&status) {
        return Err(format!("{}: {action}: status {status}", repository.field));
    }
    let bytes = lading_remote::http::read_body(&mut response, budget.max_index, &action, &budget.timeouts).map_err(
        |e| match e {
            lading_remote::RemoteError::TooLarge { .. } if budget.max_index.value < shared.value => format!(
                "{}: {action}: the index is larger than the {} left of the {shared} the indexes of a step share",
                repository.field,
                lading_domain::limits::display_size(budget.max_index.value)
            ),
            e => format!("{}: {e}", repository.field),
        },
    )?;
    String::from_utf8(bytes).map_err(|_| format!("{}: {action}: the index is not UTF-8 text", repository.field))
}

impl IndexServer {
    /// Fetches and rewrites each repository's index and serves them on loopback.
    pub fn start(repositories: &[CredentialedRepository], budget: FetchBudget) -> Result<IndexServer, String> {
        let token = ulid::Ulid::new().to_string().to_lowercase();
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("serving chart indexes: {e}"))?;
        let port = listener.local_addr().map_err(|e| format!("serving chart indexes: {e}"))?.port();
        let mut documents = Vec::new();
        let mut addresses = Vec::new();
        let mut secrets = Vec::new();
        let mut used = 0u64;
        for (i, repository) in repositories.iter().enumerate() {
            let Some(fetch) = budget.next(used) else {
                return Err(format!(
                    "{}: {}: no time or bytes left to fetch the index (the indexes of a step share {} and {})",
                    repository.field,
                    redact_url(&repository.url),
                    budget.timeouts.total,
                    budget.max_index
                ));
            };
            let body = fetch_index(repository, fetch, budget.max_index)?;
            used = used.saturating_add(body.len() as u64);
            let info = userinfo(&repository.credential);
            let index =
                rewrite_index(&body, &repository.url, &repository.credential, budget.max_index).map_err(|e| {
                    format!("{}: {}: not a chart repository index: {e}", repository.field, redact_url(&repository.url))
                })?;
            documents.push((format!("/{token}/r{i}/index.yaml"), index));
            addresses.push((repository.url.clone(), format!("http://127.0.0.1:{port}/{token}/r{i}")));
            secrets.push(format!("{}:***@", info.split(':').next().unwrap_or_default()));
            secrets.push(info);
            secrets.push(repository.credential.password.clone());
        }
        secrets.retain(|s| !s.is_empty());
        Self::serving(listener, documents, addresses, secrets, CONNECTION_TIME)
    }

    /// Serves `documents` on `listener`, one connection at a time, each for at most
    /// `connection_time`, from a thread named [`SERVING_THREAD`]. A failing `accept`
    /// (out of file descriptors) is retried after a pause that doubles up to a second,
    /// so it does not spin.
    fn serving(
        listener: TcpListener,
        documents: Vec<(String, String)>,
        addresses: Vec<(String, String)>,
        secrets: Vec<String>,
        connection_time: Duration,
    ) -> Result<IndexServer, String> {
        let port = listener.local_addr().map_or(0, |a| a.port());
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let serving = std::thread::Builder::new().name(SERVING_THREAD.to_owned()).spawn(move || {
            let mut pause = Duration::from_millis(10);
            while !stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) if !stopped.load(Ordering::SeqCst) => {
                        pause = Duration::from_millis(10);
                        serve(stream, &documents, Instant::now() + connection_time);
                    }
                    Ok(_) => break,
                    Err(_) => {
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(Duration::from_secs(1));
                    }
                }
            }
        });
        let serving = serving.map_err(|e| format!("serving chart indexes: {e}"))?;
        Ok(IndexServer { addresses, secrets, stop, port, serving: Some(serving) })
    }

    /// `text` (Helm's messages) without credentials, naming repositories by their URL:
    /// the userinfo of every URL goes, whatever its escaping (Go's differs from the
    /// promoter's, and Go prints `user:***@` too), then each secret as the promoter wrote it.
    pub fn scrub(&self, text: &str) -> String {
        static USERINFO: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            regex::Regex::new(r#"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s"'<>]*@"#).expect("a regex")
        });
        let mut text = USERINFO.replace_all(text, "$1").into_owned();
        for secret in &self.secrets {
            text = text.replace(secret.as_str(), if secret.ends_with('@') { "" } else { "***" });
        }
        for (repository, loopback) in &self.addresses {
            text = text.replace(loopback.as_str(), repository);
        }
        text
    }

    /// Whether `text` holds a credential as URL userinfo or a loopback address (a bare
    /// password is not looked for: a short one would be found in any text).
    pub fn leaks(&self, text: &str) -> bool {
        self.secrets.iter().filter(|s| s.ends_with('@')).any(|s| text.contains(s.as_str()))
            || self.addresses.iter().any(|(_, l)| text.contains(l))
    }
}

/// The time left before `deadline`, if any.
fn left(deadline: Instant) -> Option<Duration> {
    deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())
}

/// Answers one request by `deadline`: a served index, or 404.
fn serve(mut stream: TcpStream, documents: &[(String, String)], deadline: Instant) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 << 10 {
        let Some(left) = left(deadline) else { return };
        if stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or_default();
    let answer = match documents.iter().find(|(p, _)| p == path) {
        Some((_, body)) => format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
        None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
    };
    for chunk in answer.as_bytes().chunks(64 << 10) {
        let Some(left) = left(deadline) else { return };
        if stream.set_write_timeout(Some(left)).is_err() || stream.write_all(chunk).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn credential(username: &str, password: &str) -> Credential {
        Credential {
            kind: lading_domain::credentials::CredentialType::Helm,
            repo_url: "http://r".into(),
            repo_url_is_regex: false,
            username: username.into(),
            password: password.into(),
        }
    }

    /// The chart URLs of `urls` after the index of `repository` listing them is rewritten.
    fn rewritten(repository: &str, urls: &[&str]) -> Value {
        let list: String = urls.iter().map(|u| format!("    - {}\n", serde_json::to_string(u).unwrap())).collect();
        let index = format!("apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    urls:\n{list}");
        let limit = Limit::new(1 << 20, "LIMIT");
        let rewritten = rewrite_index(&index, repository, &credential("u", "p@ss"), limit).unwrap();
        serde_json::from_str::<Value>(&rewritten).unwrap()["entries"]["a"][0]["urls"].clone()
    }

    #[test]
    fn given_chart_urls_whose_userinfo_hides_another_host_when_rewritten_then_that_host_gets_no_credential() {
        let urls = [
            "http://repo.example:8080?@evil.example/a.tgz",
            "http://repo.example:8080#@evil.example/a.tgz",
            "http://a@b@repo.example:8080/a.tgz",
            "http://repo.example:8080@b@evil.example/a.tgz",
            "//evil.example/a.tgz",
        ];
        assert_eq!(
            rewritten("http://repo.example:8080/charts", &urls),
            json!([
                "http://u:p%40ss@repo.example:8080/?@evil.example/a.tgz",
                "http://u:p%40ss@repo.example:8080/#@evil.example/a.tgz",
                "http://u:p%40ss@repo.example:8080/a.tgz",
                "http://repo.example:8080@b@evil.example/a.tgz",
                "//evil.example/a.tgz",
            ])
        );
    }

    #[test]
    fn given_a_repository_url_not_in_normal_form_when_rewritten_then_relative_chart_urls_carry_the_credential() {
        for repository in ["https://Charts.example/x", "https://charts.example:443/x", "HTTPS://charts.EXAMPLE:443/x/"]
        {
            assert_eq!(
                rewritten(repository, &["a.tgz", "https://charts.example/y/b.tgz"]),
                json!(["https://u:p%40ss@charts.example/x/a.tgz", "https://u:p%40ss@charts.example/y/b.tgz"]),
                "{repository}"
            );
        }
    }

    #[test]
    fn given_an_index_when_rewritten_then_only_urls_on_the_repositorys_origin_carry_the_credential() {
        let index = "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    urls:\n    - a-1.0.0.tgz\n    - http://repo.example:8080/other/a-1.0.0.tgz\n    - http://cdn.example/a-1.0.0.tgz\n    - https://repo.example:8080/a.tgz\n";
        let limit = Limit::new(1 << 20, "LIMIT");
        let rewritten =
            rewrite_index(index, "http://repo.example:8080/charts", &credential("u", "p@ss"), limit).unwrap();
        let value: Value = serde_json::from_str(&rewritten).unwrap();
        assert_eq!(
            value["entries"]["a"][0]["urls"],
            json!([
                "http://u:p%40ss@repo.example:8080/charts/a-1.0.0.tgz",
                "http://u:p%40ss@repo.example:8080/other/a-1.0.0.tgz",
                "http://cdn.example/a-1.0.0.tgz",
                "https://repo.example:8080/a.tgz",
            ])
        );
        assert!(rewrite_index("- not\n- an index\n", "http://r/c", &credential("u", "p"), limit).is_err());
    }

    #[test]
    fn given_credentials_when_put_in_userinfo_then_they_are_percent_encoded() {
        assert_eq!(userinfo(&credential("me@corp", "p:a/s s")), "me%40corp:p%3Aa%2Fs%20s@");
        let url = Url::parse("http://h:1/c/x.tgz?q=1").unwrap();
        assert_eq!(with_credential(url, &credential("u", "p")).unwrap().as_str(), "http://u:p@h:1/c/x.tgz?q=1");
    }

    #[test]
    fn given_helms_messages_when_scrubbed_then_credentials_and_loopback_addresses_are_gone() {
        let server = IndexServer {
            addresses: vec![("https://charts.example/x".into(), "http://127.0.0.1:9/t/r0".into())],
            secrets: vec!["robot:p%40ss@".into(), "robot:***@".into(), "p@ss".into()],
            stop: Arc::default(),
            port: 0,
            serving: None,
        };
        let message = "failed to fetch https://robot:p%40ss@charts.example/x/a.tgz : 401; Get \"https://robot:***@charts.example/x/b.tgz\"; no index at http://127.0.0.1:9/t/r0; p@ss";
        assert_eq!(
            server.scrub(message),
            "failed to fetch https://charts.example/x/a.tgz : 401; Get \"https://charts.example/x/b.tgz\"; no index at https://charts.example/x; ***"
        );
        assert_eq!(
            server.scrub(
                "Get \"http://robot:pa$$w%21rd%20s3cret@127.0.0.1:9/a.tgz\"; oci://u:***@host/x; see https://h/p@q"
            ),
            "Get \"http://127.0.0.1:9/a.tgz\"; oci://host/x; see https://h/p@q"
        );
        assert!(server.leaks("repository: https://robot:p%40ss@charts.example/x\n"));
        assert!(server.leaks("repository: http://127.0.0.1:9/t/r0\n"));
        assert!(!server.leaks("repository: https://charts.example/x\n"));
    }

    #[test]
    fn given_a_silent_connection_when_its_time_runs_out_then_it_is_closed_and_the_next_request_is_answered() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let documents = vec![("/t/index.yaml".to_owned(), "{}".to_owned())];
        let server =
            IndexServer::serving(listener, documents, Vec::new(), Vec::new(), Duration::from_millis(300)).unwrap();
        let mut silent = TcpStream::connect(address).unwrap();
        silent.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut asking = TcpStream::connect(address).unwrap();
        asking.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        asking.write_all(b"GET /t/index.yaml HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut answer = String::new();
        asking.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("{}"), "{answer}");
        assert_eq!(silent.read(&mut [0u8; 16]).unwrap(), 0, "the silent connection is closed");
        drop(server);
        assert!(TcpStream::connect(address).is_err(), "nothing listens once the server is dropped");
    }

    #[test]
    fn given_a_client_that_never_reads_its_answer_when_its_time_runs_out_then_the_next_request_is_answered() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        // Far more than loopback's socket buffers hold: writing the answer blocks.
        let documents = vec![
            ("/t/large/index.yaml".to_owned(), "x".repeat(32 << 20)),
            ("/t/index.yaml".to_owned(), "{}".to_owned()),
        ];
        let server =
            IndexServer::serving(listener, documents, Vec::new(), Vec::new(), Duration::from_millis(300)).unwrap();
        let mut stalled = TcpStream::connect(address).unwrap();
        stalled.write_all(b"GET /t/large/index.yaml HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut asking = TcpStream::connect(address).unwrap();
        asking.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        asking.write_all(b"GET /t/index.yaml HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut answer = String::new();
        asking.read_to_string(&mut answer).expect("answered once the stalled connection's time ran out");
        assert!(answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("{}"), "{answer}");
        drop(stalled);
        drop(server);
    }

    /// Processor time (in clock ticks) the threads named [`SERVING_THREAD`] have used.
    fn serving_threads_cpu_ticks() -> u64 {
        let mut ticks = 0;
        for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
            let Some((head, rest)) = stat.rsplit_once(") ") else { continue };
            if !head.ends_with(&format!("({SERVING_THREAD}")) {
                continue;
            }
            // After the name: state (field 3) ... utime (14), stime (15).
            let fields: Vec<&str> = rest.split_whitespace().collect();
            ticks += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        }
        ticks
    }

    #[test]
    fn given_accept_failing_when_serving_then_the_server_pauses_between_attempts_instead_of_spinning() {
        // A non-blocking listener with no connection waiting fails every accept, as
        // accept fails while the process is out of file descriptors.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let server =
            IndexServer::serving(listener, Vec::new(), Vec::new(), Vec::new(), Duration::from_millis(300)).unwrap();
        let before = serving_threads_cpu_ticks();
        let window = Instant::now() + Duration::from_secs(1);
        while Instant::now() < window {
            std::thread::sleep(Duration::from_millis(50));
        }
        let used = serving_threads_cpu_ticks() - before;
        // SAFETY: sysconf only reads a constant of the system.
        let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap();
        assert!(used < per_second / 4, "the server used {used} ticks of {per_second} in a second retrying accept");
        drop(server);
    }

    #[test]
    fn given_indexes_fetched_when_the_next_one_is_budgeted_then_it_gets_only_the_time_and_bytes_left() {
        let timeouts = |total| lading_domain::limits::Timeouts {
            connect: Limit::new(Duration::from_secs(5), "C"),
            idle: Limit::new(Duration::from_secs(5), "I"),
            total: Limit::new(total, "T"),
        };
        let budget = FetchBudget {
            timeouts: timeouts(Duration::from_secs(600)),
            max_index: Limit::new(1000, "B"),
            deadline: Instant::now() + Duration::from_secs(60),
        };
        let next = budget.next(400).unwrap();
        assert_eq!(next.max_index.value, 600);
        assert!(next.timeouts.total.value <= Duration::from_secs(60), "{:?}", next.timeouts.total);
        assert!(budget.next(1000).is_none() && budget.next(1200).is_none(), "the bytes are spent");
        let late = FetchBudget { deadline: Instant::now(), ..budget };
        assert!(late.next(0).is_none(), "the time is spent");
    }
}
