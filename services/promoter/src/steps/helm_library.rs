//! Helm's own Go library (Helm v4) as the PyPI package `helm-python-sdk` ships it
//! (`libhelm_c.so`), driven by `python3` from `PATH` with the short script below: the
//! `helm-update-chart` and `helm-template` steps resolve dependencies (`helm dependency
//! update` / `build`, Helm's `downloader.Manager`) and render through it; no `helm`
//! binary is needed.
//!
//! Helm never works in the workspace: the chart, and each `file://` dependency it names,
//! is mirrored into a scratch directory (each checked first: a symlink leading outside the
//! workspace, or a `file://` dependency outside it, refuses the step), Helm runs there,
//! and the step writes what it keeps through the workspace. Helm runs with an empty
//! environment, a scratch `HOME` and a time limit (`LADING_HELM_TIMEOUT`, killed when it
//! passes); every file it writes, downloaded chart archives included, is bounded by
//! `LADING_HELM_CHART_MAX_BYTES` (the process's file size limit). Chart archives are never
//! unpacked to disk: Helm reads them in memory, within its own limits on decompressed
//! sizes. Helm holds a whole download in memory before it writes it, so its memory is
//! bounded too: once Helm's Go runtime has started (and reserved the address space it
//! reserves on every start), the script lowers the process's address space limit
//! (`RLIMIT_AS`) to what it maps then plus `LADING_HELM_MEMORY_MAX_BYTES`; an allocation
//! beyond it stops Helm ("out of memory"), long before the time limit. Each thread Go
//! starts maps its stack within the same limit: a run that fetches many repositories at
//! once may stop because Go cannot start a thread, which the step reports as the memory
//! limit too.
//!
//! Credentials: the `helm` credential matching an `oci://` dependency goes into the
//! scratch `HOME`'s Helm registry configuration, which the library reads. The library's
//! dependency update takes no credentials for HTTP chart repositories (it registers each
//! repository of `Chart.yaml` in a private configuration of its own), so those with a
//! `helm` credential are handed to it as [`super::helm_repository_credentials`] tells.

use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lading_domain::credentials::CredentialType;
use lading_domain::limits::Limit;
use serde_json::{Value, json};

use super::StepContext;
use super::helm_lock_digest as lock_digest;
use super::helm_repository_credentials::{CredentialedRepository, FetchBudget, IndexServer};
use crate::config::{HELM_CHART_MAX_ENV, HELM_MEMORY_MAX_ENV, HELM_TIMEOUT_ENV};
use crate::engine::workspace::{EntryKind, Field};

/// What one run of Helm's library may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelmBudget {
    /// Largest file Helm writes: a downloaded chart archive, a repository index.
    pub max_file: Limit<u64>,
    /// Longest one run may take (downloads included).
    pub timeout: Limit<Duration>,
    /// Most memory (address space) a run maps beyond what Helm's runtime holds at start.
    pub max_memory: Limit<u64>,
}

impl Default for HelmBudget {
    fn default() -> Self {
        Self {
            max_file: Limit::new(100 << 20, HELM_CHART_MAX_ENV),
            timeout: Limit::new(Duration::from_secs(300), HELM_TIMEOUT_ENV),
            max_memory: Limit::new(1 << 30, HELM_MEMORY_MAX_ENV),
        }
    }
}

/// Most entries, and deepest nesting, of a mirrored chart.
const MAX_MIRROR_ENTRIES: usize = 20_000;
const MAX_MIRROR_DEPTH: usize = 64;

/// Reads the request (a JSON file named by the first argument), acts, prints JSON.
const SCRIPT: &str = r#"
import json, resource, sys
try:
    import helm_python
    from helm_python import _native
except ImportError as error:
    sys.stderr.write("helm-python-sdk is not installed for this python3 (pip install helm-python-sdk): %s\n" % error)
    sys.exit(3)
request = json.load(open(sys.argv[1]))
def address_space():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise OSError("/proc/self/status has no VmSize")
# Helm's Go runtime reserves a large address space when it starts; what it maps
# afterwards (downloads held in memory) is bounded.
_native.helm_sdk_version()
limit = address_space() + request["memoryMaxBytes"]
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    if request.get("dependencies") == "update":
        helm_python.dependency_update(request["chart"], plain_http=request["plainHttp"])
    elif request.get("dependencies") == "build":
        helm_python.dependency_build(request["chart"], plain_http=request["plainHttp"])
    answer = {}
    if "render" in request:
        render = request["render"]
        with helm_python.Chart.load(request["chart"]) as chart:
            opts = {"name": render["name"], "namespace": render["namespace"], "is_install": True}
            if render.get("kubeVersion"):
                opts["kube_version"] = render["kubeVersion"]
            if render.get("apiVersions"):
                opts["api_versions"] = render["apiVersions"]
            rendered = _native.call_string("helm_render", chart._raw(), json.dumps(render["values"]), json.dumps(opts))
            crds = {}
            if render["includeCRDs"]:
                crds = {c["filename"]: c["data"] for c in chart.crds}
            answer = {"chart": chart.name, "manifests": json.loads(rendered), "crds": crds}
    json.dump(answer, sys.stdout)
except MemoryError:
    sys.stderr.write("MemoryError\n")
    sys.exit(2)
except Exception as error:
    sys.stderr.write("%s\n" % error)
    sys.exit(2)
"#;

/// A chart mirrored into a scratch directory, where Helm works on it.
pub struct Mirror {
    scratch: tempfile::TempDir,
    /// The chart's workspace path (resolved).
    pub chart: PathBuf,
    /// The mirrored chart's directory on the host.
    pub host_chart: PathBuf,
    /// Whether `oci://` dependencies are all on loopback (plain HTTP, Docker's convention).
    plain_http: bool,
    /// The chart's `Chart.yaml` as the workspace holds it.
    chart_yaml: String,
    /// HTTP chart repositories of dependencies that have a `helm` credential.
    credentialed: Vec<CredentialedRepository>,
}

/// A dependency as `Chart.yaml` lists it.
#[derive(Debug)]
struct Dependency {
    name: String,
    repository: String,
}

fn dependencies(text: &str, file: &str) -> Result<Vec<Dependency>, String> {
    let document: Value = serde_saphyr::from_str(text).map_err(|e| super::parse_errors::yaml(file, &e))?;
    let Some(list) = document.get("dependencies") else { return Ok(Vec::new()) };
    let list = list.as_array().ok_or_else(|| format!("{file}: dependencies is not a list"))?;
    list.iter()
        .enumerate()
        .map(|(i, d)| {
            let text = |key: &str| d.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
            let name = text("name");
            if name.is_empty() {
                return Err(format!("{file}: dependencies[{i}] has no name"));
            }
            Ok(Dependency { name, repository: text("repository") })
        })
        .collect()
}

/// `path` with `.` and `..` folded, or `None` when it climbs above its start.
fn fold(path: &Path) -> Option<PathBuf> {
    let mut folded = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => folded.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if !folded.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(folded)
}

/// Copies the host tree `from` (already checked: its symlinks lead inside the workspace)
/// to `to`, following symlinks, within [`MAX_MIRROR_ENTRIES`] and [`MAX_MIRROR_DEPTH`].
fn copy_tree(from: &Path, to: &Path, depth: usize, entries: &mut usize) -> Result<(), String> {
    if depth > MAX_MIRROR_DEPTH {
        return Err(format!("nests deeper than {MAX_MIRROR_DEPTH} directories"));
    }
    std::fs::create_dir_all(to).map_err(|e| format!("mirroring: {e}"))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("listing: {e}"))? {
        let entry = entry.map_err(|e| format!("listing: {e}"))?;
        *entries += 1;
        if *entries > MAX_MIRROR_ENTRIES {
            return Err(format!("holds more than {MAX_MIRROR_ENTRIES} entries"));
        }
        let source = entry.path();
        let target = to.join(entry.file_name());
        let meta = std::fs::metadata(&source).map_err(|e| format!("reading {}: {e}", entry.file_name().display()))?;
        if meta.is_dir() {
            copy_tree(&source, &target, depth + 1, entries)?;
        } else if meta.is_file() {
            std::fs::copy(&source, &target).map_err(|e| format!("mirroring {}: {e}", entry.file_name().display()))?;
        }
    }
    Ok(())
}

impl Mirror {
    /// Mirrors the chart at `path` (workspace-relative; `at` names the step's field) and,
    /// when Helm is to `resolve` its dependencies, its `file://` dependencies. Refuses a
    /// symlink leading outside; when resolving, also a `file://` dependency outside the
    /// workspace, a repository named by its alias (`@name`), and an HTTP repository with
    /// a credential.
    pub fn new(ctx: &StepContext<'_>, at: Field<'_>, path: &Path, resolve: bool) -> Result<Mirror, String> {
        let chart = ctx.workspace.canonical(at, path)?;
        if ctx.workspace.kind(at, &chart.join("Chart.yaml"))? != Some(EntryKind::File) {
            return Err(format!("{}: {:?} holds no Chart.yaml", at.field, at.path));
        }
        // Refuses a chart holding a symlink that leads outside (Helm follows symlinks).
        ctx.workspace.check_tree(at, &chart)?;
        let file = format!("{}/Chart.yaml", at.path.trim_end_matches('/'));
        let text = ctx.workspace.read(at, &chart.join("Chart.yaml"))?;
        let scratch = tempfile::tempdir().map_err(|e| format!("creating a scratch directory: {e}"))?;
        let tree = scratch.path().join("tree");
        let mut entries = 0;
        let mut copy = |workspace_path: &Path, field: &str| -> Result<(), String> {
            let host = ctx.workspace.host_path(Field::new(field, at.path), workspace_path)?;
            copy_tree(&host, &tree.join(workspace_path), 0, &mut entries)
                .map_err(|e| format!("{field}: {:?} {e}", workspace_path.display().to_string()))
        };
        copy(&chart, at.field)?;
        let mut oci_hosts = Vec::new();
        let mut auths = serde_json::Map::new();
        let mut credentialed = Vec::new();
        let listed = if resolve { dependencies(&text, &file)? } else { Vec::new() };
        for (i, dependency) in listed.iter().enumerate() {
            let field = format!("{file}: dependencies[{i}] ({})", dependency.name);
            let repository = dependency.repository.as_str();
            if let Some(local) = repository.strip_prefix("file://") {
                // Helm packs this directory: it must lie inside the workspace.
                let joined = fold(&chart.join(local))
                    .ok_or_else(|| format!("{field}: its file:// path leads outside the workspace"))?;
                let dependency_at = Field::new(&field, repository);
                let resolved = ctx.workspace.canonical(dependency_at, &joined)?;
                ctx.workspace.check_tree(dependency_at, &resolved)?;
                if !tree.join(&joined).exists() {
                    copy(&joined, &field)?;
                }
            } else if let Some(reference) = repository.strip_prefix("oci://") {
                let host = reference.split('/').next().unwrap_or_default().to_owned();
                // Looked up as Kargo does, for the chart's repository (`<repository>/<name>`),
                // so a credential for the registry's path or for the chart itself matches.
                let chart_reference = format!("{}/{}", reference.trim_end_matches('/'), dependency.name);
                if let Some(credential) = ctx.remotes.credentials.registry(CredentialType::Helm, &chart_reference) {
                    use base64::Engine as _;
                    let pair = format!("{}:{}", credential.username, credential.password);
                    let auth = base64::engine::general_purpose::STANDARD.encode(pair);
                    auths.insert(host.clone(), json!({ "auth": auth }));
                }
                oci_hosts.push(host);
            } else if repository.starts_with("http://") || repository.starts_with("https://") {
                if let Some(credential) = ctx.remotes.credentials.registry(CredentialType::Helm, repository) {
                    if !repository.chars().all(|c| c.is_ascii_graphic()) {
                        return Err(format!(
                            "{field}: the repository URL holds spaces or characters outside ASCII; write them percent-encoded"
                        ));
                    }
                    if !credentialed.iter().any(|r: &CredentialedRepository| r.url == repository) {
                        credentialed.push(CredentialedRepository {
                            url: repository.to_owned(),
                            field: field.clone(),
                            credential: credential.clone(),
                        });
                    }
                }
            } else if repository.starts_with('@') || repository.starts_with("alias:") {
                return Err(format!(
                    "{field}: {repository:?} names a repository by its Helm alias; give its URL instead"
                ));
            }
        }
        if !auths.is_empty() {
            let dir = scratch.path().join("home/.config/helm/registry");
            std::fs::create_dir_all(&dir).map_err(|e| format!("writing Helm's registry configuration: {e}"))?;
            let config = json!({ "auths": auths }).to_string();
            std::fs::write(dir.join("config.json"), config)
                .map_err(|e| format!("writing Helm's registry configuration: {e}"))?;
        }
        let plain_http = !oci_hosts.is_empty() && oci_hosts.iter().all(|h| super::oci::is_loopback(h));
        let host_chart = tree.join(&chart);
        Ok(Mirror { scratch, chart, host_chart, plain_http, chart_yaml: text, credentialed })
    }

    /// Runs Helm's library: `dependencies` (`update` or `build`) first when set, then the
    /// `render` request when given; returns the script's answer.
    pub fn run(
        &self,
        ctx: &StepContext<'_>,
        field: &str,
        dependencies: Option<&str>,
        render: Option<Value>,
    ) -> Result<Value, String> {
        let budget = ctx.remotes.budgets.helm;
        // The time limit covers fetching credentialed repositories' indexes too.
        let deadline = Instant::now() + budget.timeout.value;
        let mut request = json!({
            "chart": self.host_chart,
            "plainHttp": self.plain_http,
            "memoryMaxBytes": budget.max_memory.value,
        });
        if let Some(mode) = dependencies {
            request["dependencies"] = json!(mode);
        }
        if let Some(render) = render {
            request["render"] = render;
        }
        // Repositories with a credential are served to Helm from loopback while it runs.
        let server = match dependencies {
            Some(_) if !self.credentialed.is_empty() => Some(self.serve_credentialed(ctx, field, deadline)?),
            _ => None,
        };
        let scrub = |text: &str| server.as_ref().map_or_else(|| text.to_owned(), |s| s.scrub(text));
        let request_file = self.scratch.path().join("request.json");
        std::fs::write(&request_file, request.to_string()).map_err(|e| format!("writing Helm's request: {e}"))?;
        let home = self.scratch.path().join("home");
        std::fs::create_dir_all(&home).map_err(|e| format!("creating Helm's home: {e}"))?;
        let mut command = Command::new("python3");
        command
            .arg("-c")
            .arg(SCRIPT)
            .arg(&request_file)
            .current_dir(self.scratch.path())
            .env_clear()
            .env("HOME", &home)
            .env("TMPDIR", self.scratch.path())
            .stdin(Stdio::null());
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        limit_file_size(&mut command, budget.max_file.value);
        let output = super::child_process::output_until(&mut command, &ctx.remotes.cancel, Some(deadline)).map_err(
            |e| match e.kind() {
                std::io::ErrorKind::TimedOut => {
                    format!("{field}: Helm took longer than {}; it was stopped", budget.timeout)
                }
                _ => format!("{field}: running python3 for Helm: {e}"),
            },
        )?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if out_of_memory(&stderr) {
            return Err(format!(
                "{field}: Helm needed more memory than {} (a chart archive is held in memory while it downloads); it was stopped",
                budget.max_memory
            ));
        }
        if too_large(&output.status, &stderr) {
            return Err(format!(
                "{field}: Helm wrote a file (a chart archive or an index) larger than {}",
                budget.max_file
            ));
        }
        if !output.status.success() {
            let message = lading_domain::excerpt::shortened(scrub(stderr.trim()).as_str(), 2000);
            let message = message.replace(&self.scratch.path().join("tree").display().to_string(), ".");
            return Err(format!("{field}: Helm failed: {}", ctx.workspace.relativize(&message)));
        }
        if let (Some(server), Some("update")) = (&server, dependencies) {
            self.restore_lock(server, field)?;
        }
        serde_json::from_slice(&output.stdout).map_err(|e| format!("{field}: reading Helm's answer: {e}"))
    }

    /// Fetches the credentialed repositories' indexes and serves them on loopback; the
    /// mirror's `Chart.yaml` and `Chart.lock` name the loopback addresses instead.
    fn serve_credentialed(&self, ctx: &StepContext<'_>, field: &str, deadline: Instant) -> Result<IndexServer, String> {
        let budget = ctx.remotes.budgets.helm;
        let fetch = FetchBudget {
            timeouts: ctx.remotes.budgets.http.timeouts(budget.timeout),
            max_index: budget.max_file,
            deadline,
        };
        let server = IndexServer::start(&self.credentialed, fetch)?;
        let writing = |e: std::io::Error| format!("{field}: writing the mirrored chart: {e}");
        let requested =
            lock_digest::dependencies_of(&self.chart_yaml).map_err(|e| format!("{field}: Chart.yaml: {e}"))?;
        let updates: Vec<(String, Value)> = requested
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let repository = d.get("repository").and_then(Value::as_str)?;
                let (_, loopback) = server.addresses.iter().find(|(url, _)| url == repository)?;
                Some((format!("dependencies.{i}.repository"), json!(loopback)))
            })
            .collect();
        let mirrored = super::yaml_edit::set_values(&self.chart_yaml, &updates)?;
        std::fs::write(self.host_chart.join("Chart.yaml"), &mirrored).map_err(writing)?;
        let lock_file = self.host_chart.join("Chart.lock");
        if let Ok(lock) = std::fs::read_to_string(&lock_file) {
            let locked = lock_digest::dependencies_of(&lock).map_err(|e| format!("{field}: Chart.lock: {e}"))?;
            let mut renamed = lock_digest::rename_repositories(&lock, &server.addresses);
            // A lock in step with Chart.yaml stays in step with the mirrored one; another
            // keeps its digest, and Helm says it is out of date.
            if lock_digest::digest_of(&lock) == Some(lock_digest::hash_req(&requested, &locked)) {
                let mirrored_requested =
                    lock_digest::dependencies_of(&mirrored).map_err(|e| format!("{field}: {e}"))?;
                let mirrored_locked = lock_digest::dependencies_of(&renamed).map_err(|e| format!("{field}: {e}"))?;
                renamed =
                    lock_digest::set_digest(&renamed, &lock_digest::hash_req(&mirrored_requested, &mirrored_locked));
            }
            std::fs::write(&lock_file, renamed).map_err(writing)?;
        }
        Ok(server)
    }

    /// The `Chart.lock` Helm wrote, naming the repositories by their own URLs, with the
    /// digest Helm computes for them; refused when Helm's own digest is not reproduced.
    fn restore_lock(&self, server: &IndexServer, field: &str) -> Result<(), String> {
        let lock_file = self.host_chart.join("Chart.lock");
        let Ok(lock) = std::fs::read_to_string(&lock_file) else { return Ok(()) };
        let mirrored = std::fs::read_to_string(self.host_chart.join("Chart.yaml"))
            .map_err(|e| format!("{field}: reading the mirrored Chart.yaml: {e}"))?;
        let parse = |text: &str| lock_digest::dependencies_of(text).map_err(|e| format!("{field}: {e}"));
        if lock_digest::digest_of(&lock) != Some(lock_digest::hash_req(&parse(&mirrored)?, &parse(&lock)?)) {
            return Err(format!(
                "{field}: the digest of the Chart.lock Helm wrote could not be reproduced, so it cannot be written for the credentialed repositories' own URLs"
            ));
        }
        let back: Vec<(String, String)> =
            server.addresses.iter().map(|(url, loopback)| (loopback.clone(), url.clone())).collect();
        let restored = lock_digest::rename_repositories(&lock, &back);
        let digest = lock_digest::hash_req(&parse(&self.chart_yaml)?, &parse(&restored)?);
        let restored = lock_digest::set_digest(&restored, &digest);
        if server.leaks(&restored) {
            return Err(format!("{field}: the Chart.lock Helm wrote still names a credential or a loopback address"));
        }
        std::fs::write(&lock_file, restored).map_err(|e| format!("{field}: writing Chart.lock: {e}"))
    }
}

/// Whether Helm stopped on the file size limit: killed by `SIGXFSZ`, or told `EFBIG`.
fn too_large(status: &std::process::ExitStatus, stderr: &str) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(libc::SIGXFSZ) || stderr.contains("file too large")
}

/// Whether Helm stopped at its memory limit: Go's runtime or Python found no more memory,
/// or Go could not start a thread (each thread's stack is mapped within the same limit,
/// so a run with many repositories to fetch at once runs out of threads first).
fn out_of_memory(stderr: &str) -> bool {
    stderr.lines().any(|line| {
        line.starts_with("fatal error: out of memory")
            || line.starts_with("fatal error: runtime: out of memory")
            || line.starts_with("runtime: out of memory")
            || line.starts_with("fatal error: runtime: cannot allocate memory")
            || line.starts_with("runtime/cgo: pthread_create failed")
            || line.starts_with("runtime: failed to create new OS thread")
            || line.starts_with("MemoryError")
    })
}

/// Bounds every file the child writes to `bytes` (`RLIMIT_FSIZE`).
fn limit_file_size(command: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    let limit = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
    // SAFETY: setrlimit is async-signal-safe and touches only the child's own limits.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_helms_stderr_when_read_then_running_out_of_memory_is_recognised() {
        assert!(out_of_memory("fatal error: out of memory\n\ngoroutine 1 [running]:\n"));
        assert!(out_of_memory(
            "runtime: out of memory: cannot allocate 4194304-byte block\nfatal error: out of memory\n"
        ));
        assert!(out_of_memory("MemoryError\n"));
        // Go's runtime failing to map its own structures, or a thread's stack.
        assert!(out_of_memory("fatal error: runtime: cannot allocate memory\n\nruntime stack:\n"));
        assert!(out_of_memory("runtime/cgo: pthread_create failed: Resource temporarily unavailable\n"));
        assert!(out_of_memory("runtime/cgo: pthread_create failed: Cannot allocate memory\n"));
        assert!(out_of_memory(
            "runtime: failed to create new OS thread (have 7 already; errno=12)\nfatal error: newosproc\n"
        ));
        assert!(!out_of_memory("Error: cannot allocate memory for the chart's values\n"));
        assert!(!out_of_memory("failed to fetch http://h/x.tgz : 404 Not Found\n"));
    }

    #[test]
    fn given_relative_paths_when_folded_then_climbing_above_the_start_is_refused() {
        assert_eq!(fold(Path::new("charts/app/../common")), Some(PathBuf::from("charts/common")));
        assert_eq!(fold(Path::new("./a/./b")), Some(PathBuf::from("a/b")));
        assert_eq!(fold(Path::new("app/../../etc")), None);
        assert_eq!(fold(Path::new("/etc")), None);
    }

    #[test]
    fn given_a_chart_yaml_when_read_then_dependencies_name_their_repositories() {
        let text = "name: a\ndependencies:\n- name: x\n  repository: oci://r/c\n- name: second\n";
        let list = dependencies(text, "Chart.yaml").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!((list[0].name.as_str(), list[0].repository.as_str()), ("x", "oci://r/c"));
        assert_eq!(list[1].repository, "");
        assert!(dependencies("dependencies: 3\n", "Chart.yaml").unwrap_err().contains("not a list"));
        assert!(dependencies("dependencies:\n- version: 1\n", "Chart.yaml").unwrap_err().contains("no name"));
    }
}
