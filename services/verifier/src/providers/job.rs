//! The `job` provider outside Kubernetes: the first container's `command` and `args` run
//! as a local process (the image is not pulled), within `activeDeadlineSeconds`
//! (default 5 minutes). Exit code 0 is success; its output is the measurement's message.
//! At most [`MAX_OUTPUT_BYTES`] of output (stdout and stderr together) is read: a job
//! that prints more is stopped, and its measurement is an error naming the limit.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use lading_domain::spec::analysis_template::JobMetric;
use lading_domain::verification::args::substitute;

use super::Measured;

pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);
/// How much of the output a measurement keeps.
const OUTPUT_CHARS: usize = 2000;
/// The most output (stdout and stderr together) read from a job.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// Reads `pipe` until it closes or the bytes read by every reader sharing `total`
/// exceed [`MAX_OUTPUT_BYTES`] (then `Err`).
async fn read_bounded(mut pipe: impl AsyncRead + Unpin, total: Arc<AtomicUsize>) -> Result<Vec<u8>, String> {
    let mut kept = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let n = pipe.read(&mut buffer).await.map_err(|e| format!("reading the job's output: {e}"))?;
        if n == 0 {
            return Ok(kept);
        }
        if total.fetch_add(n, Ordering::SeqCst) + n > MAX_OUTPUT_BYTES {
            return Err(format!("the job printed more than {} MiB and was stopped", MAX_OUTPUT_BYTES / (1024 * 1024)));
        }
        kept.extend_from_slice(&buffer[..n]);
    }
}

pub async fn run(job: &JobMetric, args: &BTreeMap<String, String>) -> Result<Measured, String> {
    let Some(container) = job.spec.template.spec.containers.first() else {
        return Err("the job has no container".to_owned());
    };
    let mut argv: Vec<String> =
        container.command.iter().chain(container.args.iter()).map(|a| substitute(a, args)).collect();
    if argv.is_empty() {
        return Err("the job's first container has no command".to_owned());
    }
    let program = argv.remove(0);
    let deadline = job.spec.active_deadline_seconds.map_or(DEFAULT_DEADLINE, Duration::from_secs);
    let mut child = tokio::process::Command::new(&program)
        .args(&argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {program:?}: {e}"))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(format!("running {program:?}: its output is not readable"));
    };
    let total = Arc::new(AtomicUsize::new(0));
    let finished = async {
        // Either pipe going over the limit ends the wait at once (the child is then
        // killed when dropped).
        let (stdout, stderr) =
            tokio::try_join!(read_bounded(stdout, total.clone()), read_bounded(stderr, total.clone()))?;
        let status = child.wait().await.map_err(|e| format!("running {program:?}: {e}"))?;
        Ok::<_, String>((status, stdout, stderr))
    };
    let (status, stdout, stderr) = match tokio::time::timeout(deadline, finished).await {
        Ok(finished) => finished?,
        Err(_) => {
            return Err(format!("{program:?} ran longer than its deadline of {}s and was stopped", deadline.as_secs()));
        }
    };
    let mut text = String::from_utf8_lossy(&stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&stderr));
    let text = lading_domain::excerpt::shortened(text.trim(), OUTPUT_CHARS);
    let exit = status.code().map_or("a signal".to_owned(), |c| format!("code {c}"));
    Ok(Measured::Decided {
        succeeded: status.success(),
        output: if text.is_empty() { format!("exited with {exit}") } else { format!("exited with {exit}: {text}") },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(script: &str, deadline_seconds: Option<u64>) -> JobMetric {
        let deadline = deadline_seconds.map_or(serde_json::Value::Null, serde_json::Value::from);
        serde_json::from_value(serde_json::json!({
            "spec": {
                "activeDeadlineSeconds": deadline,
                "template": {"spec": {"containers": [{"name": "check", "image": "busybox", "command": ["sh", "-c", script]}]}}
            }
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn the_exit_code_decides_and_the_output_is_the_message() {
        let failed = run(&job("echo checking; exit 1", None), &BTreeMap::new()).await.unwrap();
        assert_eq!(failed, Measured::Decided { succeeded: false, output: "exited with code 1: checking".into() });
        let passed = run(&job("echo fine >&2", None), &BTreeMap::new()).await.unwrap();
        assert_eq!(passed, Measured::Decided { succeeded: true, output: "exited with code 0: fine".into() });
    }

    #[tokio::test]
    async fn a_job_printing_without_end_is_stopped_at_the_output_limit_not_its_deadline() {
        // `yes` never ends: only the output limit stops it before the 5-minute deadline.
        let outcome = tokio::time::timeout(Duration::from_secs(60), run(&job("yes", Some(300)), &BTreeMap::new()))
            .await
            .expect("stopped at the output limit");
        assert_eq!(outcome, Err("the job printed more than 1 MiB and was stopped".to_owned()));
    }

    #[tokio::test]
    async fn a_job_past_its_deadline_is_stopped() {
        let outcome = run(&job("exec sleep 30", Some(1)), &BTreeMap::new()).await;
        assert!(outcome.unwrap_err().contains("deadline of 1s"));
    }
}
