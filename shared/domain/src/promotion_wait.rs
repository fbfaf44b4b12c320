//! A promotion that waits (a step waiting on a pull request): where it resumes and
//! when its wait is over, as Kargo's `currentStep` and `state` decide.
//!
//! A waiting step ends its run without failing; the promoter records the step's index,
//! the state so far and when the wait began, and looks again later. The run that looks
//! again resumes at that step with that state, unless resuming could not be correct:
//! the stage's steps changed under it, or a step still to run reads a workspace that
//! this replica no longer holds (then, as Kargo does with a fresh work directory, it
//! starts over from the first step; the steps that have effects recognise their own
//! earlier work).

use std::time::Duration;

/// Steps that neither read nor write a promotion's workspace: a promotion whose
/// remaining steps are all among these resumes on any replica.
pub const WORKSPACE_FREE_STEPS: &[&str] = &[
    "git-open-pr",
    "git-wait-for-pr",
    "git-merge-pr",
    "http",
    "argocd-update",
    "argocd-wait",
    "set-freight-alias",
    "set-metadata",
    "compose-output",
    "fail",
];

/// Whether the step `uses` may run without the workspace earlier steps built.
pub fn reads_workspace(uses: &str) -> bool {
    !WORKSPACE_FREE_STEPS.contains(&uses)
}

/// Where a promotion's run begins, and in which workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// From the first step in a fresh workspace, with nothing carried over.
    FromStart,
    /// At this step with the recorded state, in the workspace this replica kept.
    InKeptWorkspace(usize),
    /// At this step with the recorded state, in an empty workspace: no step still to
    /// run reads one.
    InEmptyWorkspace(usize),
}

impl Resume {
    /// The step the run begins at.
    pub fn index(self) -> usize {
        match self {
            Resume::FromStart => 0,
            Resume::InKeptWorkspace(index) | Resume::InEmptyWorkspace(index) => index,
        }
    }
}

/// Where to begin, given the recorded wait (its step's index and `uses`), the stage's
/// steps (their `uses`) now, and whether this replica still holds the workspace the
/// run that waited left.
pub fn resume_at(recorded: Option<(usize, &str)>, steps: &[&str], workspace_kept: bool) -> Resume {
    let Some((index, uses)) = recorded else {
        return Resume::FromStart;
    };
    if steps.get(index) != Some(&uses) {
        return Resume::FromStart;
    }
    if workspace_kept {
        Resume::InKeptWorkspace(index)
    } else if steps[index..].iter().any(|uses| reads_workspace(uses)) {
        Resume::FromStart
    } else {
        Resume::InEmptyWorkspace(index)
    }
}

/// Whether a wait that began at `since_ms` may not look again `interval` from `now_ms`
/// within `limit`: the step then fails as having waited too long.
pub fn wait_over(since_ms: i64, now_ms: i64, interval: Duration, limit: Duration) -> bool {
    let waited = Duration::from_millis(u64::try_from(now_ms.saturating_sub(since_ms)).unwrap_or(0));
    waited.saturating_add(interval) > limit
}

/// A workspace a replica kept for a waiting promotion, as a sweep of its work directory
/// finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeptWorkspace {
    /// When the wait it was kept for began (its marker); `None` when no wait marks it (a
    /// run is using it).
    pub waiting_since_ms: Option<i64>,
    /// Whether the read model holds the promotion as ended.
    pub promotion_ended: bool,
}

/// Whether a kept workspace can go: its promotion ended (on whichever replica), or its
/// wait began more than `bound` before `now_ms` (no look resumes in it any more). One a
/// run is using is left to that run.
pub fn kept_workspace_stale(kept: KeptWorkspace, now_ms: i64, bound: Duration) -> bool {
    let Some(since) = kept.waiting_since_ms else {
        return false;
    };
    let age = Duration::from_millis(u64::try_from(now_ms.saturating_sub(since)).unwrap_or(0));
    kept.promotion_ended || age > bound
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: [&str; 6] = ["git-clone", "yaml-update", "git-commit", "git-push", "git-open-pr", "git-wait-for-pr"];

    #[test]
    fn given_no_recorded_wait_when_a_run_begins_then_it_starts_from_the_first_step() {
        assert_eq!(resume_at(None, &STEPS, true), Resume::FromStart);
    }

    #[test]
    fn given_a_wait_whose_remaining_steps_need_no_workspace_when_resumed_elsewhere_then_it_resumes_there() {
        assert_eq!(resume_at(Some((5, "git-wait-for-pr")), &STEPS, false), Resume::InEmptyWorkspace(5));
        let with_argo = [&STEPS[..], &["argocd-update"]].concat();
        assert_eq!(resume_at(Some((5, "git-wait-for-pr")), &with_argo, false), Resume::InEmptyWorkspace(5));
    }

    #[test]
    fn given_a_later_step_reading_the_workspace_when_the_workspace_is_gone_then_it_starts_over() {
        let steps = [&STEPS[..], &["git-tag"]].concat();
        assert_eq!(resume_at(Some((5, "git-wait-for-pr")), &steps, false), Resume::FromStart);
    }

    #[test]
    fn given_a_later_step_reading_the_workspace_when_this_replica_kept_it_then_it_resumes() {
        let steps = [&STEPS[..], &["git-tag"]].concat();
        assert_eq!(resume_at(Some((5, "git-wait-for-pr")), &steps, true), Resume::InKeptWorkspace(5));
    }

    #[test]
    fn given_a_kept_workspace_when_no_later_step_reads_it_then_the_run_still_resumes_in_it() {
        assert_eq!(resume_at(Some((5, "git-wait-for-pr")), &STEPS, true), Resume::InKeptWorkspace(5));
    }

    #[test]
    fn given_each_kind_of_start_when_asked_its_step_then_it_names_where_the_run_begins() {
        assert_eq!(Resume::FromStart.index(), 0);
        assert_eq!(Resume::InKeptWorkspace(4).index(), 4);
        assert_eq!(Resume::InEmptyWorkspace(5).index(), 5);
    }

    #[test]
    fn given_every_step_that_needs_no_workspace_when_asked_then_it_reads_none_and_others_do() {
        for uses in WORKSPACE_FREE_STEPS {
            assert!(!reads_workspace(uses), "{uses}");
        }
        for uses in
            ["git-clone", "git-commit", "git-push", "git-tag", "yaml-update", "kustomize-build", "helm-template"]
        {
            assert!(reads_workspace(uses), "{uses}");
        }
    }

    #[test]
    fn given_steps_changed_while_waiting_when_resumed_then_it_starts_over() {
        assert_eq!(resume_at(Some((4, "git-wait-for-pr")), &STEPS, true), Resume::FromStart);
        assert_eq!(resume_at(Some((9, "git-wait-for-pr")), &STEPS, true), Resume::FromStart);
    }

    #[test]
    fn given_a_wait_when_the_next_look_falls_past_the_limit_then_it_is_over() {
        let hour = Duration::from_secs(3600);
        let second = Duration::from_secs(1);
        assert!(!wait_over(0, 0, second, hour));
        assert!(!wait_over(0, 3_599_000, second, hour));
        assert!(wait_over(0, 3_599_001, second, hour));
        assert!(wait_over(0, 7_200_000, second, hour));
    }

    #[test]
    fn given_a_clock_behind_the_recorded_start_when_checked_then_the_wait_is_not_over() {
        assert!(!wait_over(10_000, 0, Duration::from_secs(1), Duration::from_secs(60)));
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn given_a_kept_workspace_when_its_promotion_ended_elsewhere_then_it_is_stale() {
        let kept = KeptWorkspace { waiting_since_ms: Some(1_000), promotion_ended: true };
        assert!(kept_workspace_stale(kept, 2_000, HOUR));
    }

    #[test]
    fn given_a_kept_workspace_when_its_wait_began_longer_ago_than_the_bound_then_it_is_stale() {
        let kept = KeptWorkspace { waiting_since_ms: Some(0), promotion_ended: false };
        assert!(!kept_workspace_stale(kept, 3_600_000, HOUR));
        assert!(kept_workspace_stale(kept, 3_600_001, HOUR));
    }

    #[test]
    fn given_a_waiting_promotion_within_the_bound_when_swept_then_its_workspace_stays() {
        let kept = KeptWorkspace { waiting_since_ms: Some(10_000), promotion_ended: false };
        assert!(!kept_workspace_stale(kept, 20_000, HOUR));
        assert!(!kept_workspace_stale(kept, 0, HOUR), "a clock behind the marker keeps it");
    }

    #[test]
    fn given_a_workspace_a_run_is_using_when_swept_then_it_stays_even_if_the_promotion_ended() {
        let kept = KeptWorkspace { waiting_since_ms: None, promotion_ended: true };
        assert!(!kept_workspace_stale(kept, i64::MAX, HOUR));
    }
}
