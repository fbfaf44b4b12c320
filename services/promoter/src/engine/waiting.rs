//! The state a promotion resumed at its waiting step runs with: where it resumes, the
//! slot a waiting step parks the run in, and what the run carries over the wait
//! (Kargo's `state`), recorded as JSON and read back.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::StepFailure;

/// A promotion resumed at the step it waited at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeFrom {
    /// The step that waited.
    pub index: usize,
    /// [`Waiting::state`] as recorded.
    pub state: String,
    /// When that step began waiting.
    pub since_ms: i64,
}

/// Where a step that waits parks the run; see [`StepContext::wait`].
#[derive(Debug, Default)]
pub struct WaitSlot {
    /// When the step began waiting, for a run resumed at it.
    pub since_ms: Option<i64>,
    parked: std::sync::Mutex<Option<Parked>>,
}

/// What a parked step waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parked {
    /// `pull request <url>`.
    pub message: String,
    pub since_ms: i64,
    pub interval: Duration,
}

impl WaitSlot {
    /// Parks the run: the step then returns an error, which the run does not take as a
    /// failure.
    pub fn park(&self, parked: Parked) {
        *self.parked.lock().unwrap_or_else(|p| p.into_inner()) = Some(parked);
    }

    pub(super) fn take(&self) -> Option<Parked> {
        self.parked.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    pub(super) fn is_parked(&self) -> bool {
        self.parked.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }
}

/// A run that stopped at a waiting step: everything to resume it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub index: usize,
    pub alias: String,
    pub uses: String,
    pub parked: Parked,
    /// The run's state so far ([`CarriedState`] as JSON).
    pub state: String,
}

/// What a run carries to the steps after a wait (Kargo's `state`).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct CarriedState {
    pub outputs: Map<String, Value>,
    pub statuses: BTreeMap<String, String>,
    pub failure: Option<StepFailure>,
    pub commit: String,
    pub health_checks: Vec<lading_domain::stage_health::HealthCheck>,
}

impl CarriedState {
    /// The state recorded when the promotion waited, read back.
    pub fn restore(resume: &ResumeFrom) -> Result<Self, StepFailure> {
        serde_json::from_str(&resume.state).map_err(|e| StepFailure {
            index: resume.index,
            uses: "resume".to_owned(),
            message: format!("the state recorded when the promotion waited cannot be read: {e}"),
        })
    }

    /// The wait to record for the step `index` that parked, or `None` when the state
    /// holds a secret an expression revealed (`scrub` cuts those out): such a state is
    /// not recorded, and the step waits in its run instead.
    pub fn record(
        &self,
        index: usize,
        alias: String,
        uses: &str,
        parked: Parked,
        scrub: impl Fn(&str) -> String,
    ) -> Option<Waiting> {
        let state = serde_json::to_string(self).unwrap_or_default();
        (scrub(&state) == state).then(|| Waiting {
            index,
            alias,
            uses: uses.to_owned(),
            parked: Parked { message: scrub(&parked.message), ..parked },
            state,
        })
    }
}

impl WaitSlot {
    /// The slot of step `index`, knowing when it began waiting if the run resumes at it.
    pub fn for_step(resume: Option<&ResumeFrom>, index: usize) -> Self {
        Self { since_ms: resume.filter(|r| r.index == index).map(|r| r.since_ms), ..Self::default() }
    }
}
