//! The phases of a verification (Kargo's `verificationHistory[].phase`), of a metric and
//! of one measurement (Argo's `AnalysisPhase`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    Pending,
    Running,
    Successful,
    Failed,
    Error,
    Inconclusive,
    Aborted,
}

impl Phase {
    pub const ALL: [Phase; 7] = [
        Phase::Pending,
        Phase::Running,
        Phase::Successful,
        Phase::Failed,
        Phase::Error,
        Phase::Inconclusive,
        Phase::Aborted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Successful => "Successful",
            Phase::Failed => "Failed",
            Phase::Error => "Error",
            Phase::Inconclusive => "Inconclusive",
            Phase::Aborted => "Aborted",
        }
    }

    pub fn parse(text: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// Whether nothing changes any more.
    pub fn is_completed(self) -> bool {
        !matches!(self, Phase::Pending | Phase::Running)
    }

    /// How bad a completed phase is, for the worst-of rule (Argo's order: Error and
    /// Failed outrank Inconclusive, which outranks Successful).
    pub fn severity(self) -> u8 {
        match self {
            Phase::Pending | Phase::Running | Phase::Successful => 0,
            Phase::Inconclusive => 1,
            Phase::Error => 2,
            Phase::Failed => 3,
            Phase::Aborted => 4,
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
