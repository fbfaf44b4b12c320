//! What a run reports of each step as it ends: how it ended, and what a push pushed.

use serde_json::{Map, Value};

/// How a step ended, as reported to a [`StepObserver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReport {
    pub index: usize,
    /// The step's `as`, or `step-<index>`.
    pub alias: String,
    pub uses: String,
    pub outcome: StepOutcome,
    /// Why it failed, errored or was skipped; when it succeeded, the pull request it
    /// opened or watched (`pull request <url>`), else empty.
    pub message: String,
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
    /// What a succeeded `git-push` step pushed (from its outputs).
    pub pushed: Option<Pushed>,
}

/// What a `git-push` step pushed: the remote (without user info), the branch, the commit
/// and the files it changed against its first parent (at most 50; `changed_files` counts all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub repo_url: String,
    pub branch: String,
    pub commit: String,
    pub changed_files: u32,
    pub changes: Vec<lading_events::catalog::FileChangeV1>,
}

impl Pushed {
    /// Reads a `git-push` (or `github-push`) step's outputs (`repoURL`, `branch`, `commit`, `changedFiles`,
    /// `changes`); `None` for a tag push or another step.
    pub(super) fn from_outputs(uses: &str, outputs: &Map<String, Value>) -> Option<Pushed> {
        if uses != "git-push" && uses != "github-push" {
            return None;
        }
        let text = |key: &str| outputs.get(key).and_then(Value::as_str).map(str::to_owned);
        let count = |v: Option<&Value>| v.and_then(Value::as_u64).map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
        let changes = outputs
            .get("changes")
            .and_then(Value::as_array)
            .map(|all| {
                all.iter()
                    .filter_map(|c| {
                        Some(lading_events::catalog::FileChangeV1 {
                            path: c.get("path")?.as_str()?.to_owned(),
                            added: count(c.get("added")),
                            removed: count(c.get("removed")),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Pushed {
            repo_url: text("repoURL")?,
            branch: text("branch")?,
            commit: text("commit")?,
            changed_files: count(outputs.get("changedFiles")),
            changes,
        })
    }
}

/// How a step ended (Kargo's step statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    Succeeded,
    /// It failed and the promotion fails.
    Failed,
    /// It failed under `continueOnError`: the promotion goes on.
    Errored,
    /// Its `if` was false: it did not run.
    Skipped,
}

impl StepOutcome {
    /// The name expressions see through `status(alias)`.
    pub fn as_str(self) -> &'static str {
        match self {
            StepOutcome::Succeeded => "Succeeded",
            StepOutcome::Failed => "Failed",
            StepOutcome::Errored => "Errored",
            StepOutcome::Skipped => "Skipped",
        }
    }
}
