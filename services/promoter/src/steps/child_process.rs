//! Programs a step runs (kustomize, Helm's library through `python3`, `git` for blobless
//! clones), waited for in a way that stops them: when the promotion is aborted or its turn
//! lost, a deadline passes or a watch finds a budget spent, the child is killed at once.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use lading_remote::Cancellation;

/// Runs `command` to its end like [`Command::output`], killing it when `cancel` is set
/// (then the error says so).
pub fn output(command: &mut Command, cancel: &Cancellation) -> std::io::Result<Output> {
    output_until(command, cancel, None)
}

/// [`output`], also killing the child when `deadline` passes (then the error's kind is
/// [`std::io::ErrorKind::TimedOut`]).
pub fn output_until(
    command: &mut Command,
    cancel: &Cancellation,
    deadline: Option<Instant>,
) -> std::io::Result<Output> {
    output_watched(command, cancel, deadline, &mut || None)
}

/// [`output_until`], also killing the child as soon as `watch` (asked at every poll)
/// gives a reason to stop it, which is then the error.
pub fn output_watched(
    command: &mut Command,
    cancel: &Cancellation,
    deadline: Option<Instant>,
    watch: &mut dyn FnMut() -> Option<std::io::Error>,
) -> std::io::Result<Output> {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    // Both pipes are drained while the child runs, so a chatty child never blocks.
    let out = std::thread::spawn(move || read_all(stdout.as_mut()));
    let err = std::thread::spawn(move || read_all(stderr.as_mut()));
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if cancel.is_cancelled() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(std::io::ErrorKind::Interrupted, "stopped: the promotion was stopped"));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "stopped: it ran past its time limit"));
        }
        if let Some(reason) = watch() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(reason);
        }
        std::thread::sleep(lading_remote::cancel::POLL);
    };
    Ok(Output { status, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default() })
}

fn read_all(pipe: Option<&mut impl Read>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(pipe) = pipe {
        let _ = pipe.read_to_end(&mut bytes);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_runs_to_its_end_or_is_killed_when_cancelled() {
        let done = output(Command::new("sh").args(["-c", "echo out; echo err >&2"]), &Cancellation::new()).unwrap();
        assert!(done.status.success());
        assert_eq!(String::from_utf8_lossy(&done.stdout), "out\n");
        assert_eq!(String::from_utf8_lossy(&done.stderr), "err\n");
        let cancel = Cancellation::new();
        cancel.cancel();
        let started = std::time::Instant::now();
        let stopped = output(Command::new("sleep").arg("600"), &cancel).unwrap_err();
        assert_eq!(stopped.kind(), std::io::ErrorKind::Interrupted);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let started = std::time::Instant::now();
        let deadline = Instant::now() + std::time::Duration::from_millis(200);
        let late = output_until(Command::new("sleep").arg("600"), &Cancellation::new(), Some(deadline)).unwrap_err();
        assert_eq!(late.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let started = std::time::Instant::now();
        let mut asked = 0;
        let mut watch = || {
            asked += 1;
            (asked > 2).then(|| std::io::Error::other("too large"))
        };
        let stopped = output_watched(Command::new("sleep").arg("600"), &Cancellation::new(), None, &mut watch);
        assert_eq!(stopped.unwrap_err().to_string(), "too large");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
