//! The `job` provider outside Kubernetes: the first container's `command` and `args` run
//! as a local process (the image is not pulled), within `activeDeadlineSeconds`
//! (default 5 minutes). Exit code 0 is success; its output is the measurement's message.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use lading_domain::spec::analysis_template::JobMetric;
use lading_domain::verification::args::substitute;

use super::Measured;

pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);
/// How much of the output a measurement keeps.
const OUTPUT_CHARS: usize = 2000;

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
    let child = tokio::process::Command::new(&program)
        .args(&argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {program:?}: {e}"))?;
    let output = match tokio::time::timeout(deadline, child.wait_with_output()).await {
        Ok(output) => output.map_err(|e| format!("running {program:?}: {e}"))?,
        Err(_) => {
            return Err(format!("{program:?} ran longer than its deadline of {}s and was stopped", deadline.as_secs()));
        }
    };
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let text = lading_domain::excerpt::shortened(text.trim(), OUTPUT_CHARS);
    let status = output.status.code().map_or("a signal".to_owned(), |c| format!("code {c}"));
    Ok(Measured::Decided {
        succeeded: output.status.success(),
        output: if text.is_empty() { format!("exited with {status}") } else { format!("exited with {status}: {text}") },
    })
}
