//! What the `lading` binary's tests share: running it, waiting with a deadline, Git.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const LADING: &str = env!("CARGO_BIN_EXE_lading");

/// The server admin token the tests' `lading up` runs with, and their CLI calls send.
pub const TOKEN: &str = "lading_cli-tests-admin-token";

/// A config directory no test writes: the CLI reads no user's config.
pub const NO_CONFIG: &str = "/nonexistent/lading-tests-config";

/// A `lading up` command with the tests' admin token and no user config.
pub fn up_command() -> Command {
    let mut command = Command::new(LADING);
    command.arg("up").env("LADING_ADMIN_TOKEN", TOKEN).env("XDG_CONFIG_HOME", NO_CONFIG).env_remove("LADING_TOKEN");
    command
}

pub fn lading(args: &[&str], server: Option<&str>, stdin: Option<&str>) -> Output {
    let mut command = Command::new(LADING);
    command.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    command.env_remove("LADING_SERVER").env_remove("LADING_PROJECT");
    command.env("LADING_TOKEN", TOKEN).env("XDG_CONFIG_HOME", NO_CONFIG);
    if let Some(server) = server {
        command.env("LADING_SERVER", server);
    }
    let mut child = command.spawn().expect("lading runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A running `lading up`, killed on drop.
pub struct Up(pub Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

pub fn poll<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `lading` as a person does: with the config file under `config_home`, no token,
/// server or project from the tests' environment, and `env` on top.
pub fn lading_as(args: &[&str], config_home: &Path, env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut command = Command::new(LADING);
    command.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    command.env_remove("LADING_SERVER").env_remove("LADING_PROJECT").env_remove("LADING_TOKEN");
    command.env("XDG_CONFIG_HOME", config_home);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("lading runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

/// Asserts a command succeeded, showing its stderr when not; its stdout.
pub fn ok(output: &Output) -> String {
    assert!(output.status.success(), "failed: {}{}", stderr(output), stdout(output));
    stdout(output)
}

/// Asserts a command failed; its stderr.
pub fn refused(output: &Output) -> String {
    assert!(!output.status.success(), "succeeded: {}", stdout(output));
    stderr(output)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
