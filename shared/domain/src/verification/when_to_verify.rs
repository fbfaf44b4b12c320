//! When a verification may start, and whether its verdict still counts (Kargo's rules):
//! only the stage's current freight is verified, never while a promotion of the stage
//! runs, only once a stage that has health (its last promotion updated Argo CD
//! Applications) is `Healthy`, and a verification whose freight a later promotion
//! replaced ends `Aborted`, so it cannot mark freight verified in a stage that no longer
//! holds it.

use super::{Phase, RunVerdict};
use crate::stage_health::Health;

/// What the log says of a stage at the moment of deciding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageNow {
    pub stage: String,
    /// The freight the stage holds: one per origin it requests.
    pub current: Vec<String>,
    /// The promotion of the stage that is running, if one is.
    pub running_promotion: Option<String>,
    /// The stage's health since its last promotion: `None` when that promotion left no
    /// health check (it updated no Argo CD Application), `Some(None)` when it did and no
    /// health was assessed yet.
    pub health: Option<Option<Health>>,
}

impl StageNow {
    fn holds(&self, freight: &str) -> bool {
        self.current.iter().any(|f| f == freight)
    }
}

/// Whether a verification of a freight may start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    Now,
    /// The named promotion of the stage runs: decide again once it has ended.
    AfterPromotion(String),
    /// The stage is not healthy yet (the reason says how it is): decide again later.
    WhenHealthy(String),
    /// The freight is no longer in the stage (the reason says so): nothing to verify.
    Never(String),
}

fn no_longer_current(stage: &StageNow, freight: &str) -> String {
    let short = freight.get(..7).unwrap_or(freight);
    format!("freight {short} is no longer current in stage {:?}: a later promotion replaced it", stage.stage)
}

/// Whether verifying `freight` in `stage` may start now.
pub fn start(stage: &StageNow, freight: &str) -> Start {
    if !stage.holds(freight) {
        return Start::Never(no_longer_current(stage, freight));
    }
    if let Some(promotion) = &stage.running_promotion {
        return Start::AfterPromotion(promotion.clone());
    }
    match not_healthy(stage) {
        Some(reason) => Start::WhenHealthy(reason),
        None => Start::Now,
    }
}

/// Why the stage is not healthy enough to verify its freight, if it is not (Kargo:
/// freight is verified, with or without analyses, only in a `Healthy` stage). A stage
/// without health verifies as ever.
pub fn not_healthy(stage: &StageNow) -> Option<String> {
    match stage.health? {
        Some(Health::Healthy) => None,
        Some(health) => {
            Some(format!("stage {:?} is {}: verification starts once it is Healthy", stage.stage, health.as_str()))
        }
        None => {
            Some(format!("stage {:?} waits for its health check: verification starts once it is Healthy", stage.stage))
        }
    }
}

/// Whether a promotion that succeeded verifies its freight in its stage as its success
/// is recorded: when the stage has no analysis template and the promotion left no health
/// check, nothing remains to wait for (Kargo marks such freight verified in the reconcile
/// that sees the promotion succeed). Otherwise the verifier decides, once the stage is
/// healthy and its analyses passed.
pub fn verified_on_success(has_analyses: bool, left_health_checks: bool) -> bool {
    !has_analyses && !left_health_checks
}

/// What the verifier does with a success in a stage the promoter verifies itself
/// ([`verified_on_success`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backstop {
    /// Look again a while later: the promoter records it with the success.
    Later,
    /// The freight is recorded verified in the stage: nothing to do.
    Nothing,
    /// Still not recorded when looked at again: record it.
    Record,
}

/// The verifier's part for such a success: wait at the first look, then record the
/// freight verified only if the log still lacks it.
pub fn backstop(first_look: bool, already_verified: bool) -> Backstop {
    match (first_look, already_verified) {
        (true, _) => Backstop::Later,
        (false, true) => Backstop::Nothing,
        (false, false) => Backstop::Record,
    }
}

/// Why a running verification of `freight` must stop now, if it must: the freight left
/// the stage.
pub fn stale(stage: &StageNow, freight: &str) -> Option<String> {
    (!stage.holds(freight)).then(|| no_longer_current(stage, freight))
}

/// The verdict to publish for a verification of `freight` that reached `verdict`: the
/// same while the stage holds the freight, `Aborted` once it does not.
pub fn verdict(stage: &StageNow, freight: &str, verdict: RunVerdict) -> RunVerdict {
    match stale(stage, freight) {
        Some(reason) if verdict.phase != Phase::Aborted => RunVerdict { phase: Phase::Aborted, message: reason },
        _ => verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "1111111111111111111111111111111111111111";
    const NEW: &str = "2222222222222222222222222222222222222222";

    fn holding(freight: &[&str], running: Option<&str>) -> StageNow {
        StageNow {
            stage: "test".into(),
            current: freight.iter().map(|f| f.to_string()).collect(),
            running_promotion: running.map(str::to_owned),
            health: None,
        }
    }

    fn with_health(mut stage: StageNow, health: Option<Health>) -> StageNow {
        stage.health = Some(health);
        stage
    }

    fn successful() -> RunVerdict {
        RunVerdict { phase: Phase::Successful, message: "metric \"ok\" assessed Successful".into() }
    }

    #[test]
    fn given_the_current_freight_and_no_promotion_running_when_asked_then_it_starts_now() {
        assert_eq!(start(&holding(&[OLD], None), OLD), Start::Now);
        // A stage holding freight from two origins verifies either.
        assert_eq!(start(&holding(&[NEW, OLD], None), OLD), Start::Now);
    }

    #[test]
    fn given_a_stage_with_health_when_not_healthy_then_verification_waits_and_starts_once_healthy() {
        for health in [None, Some(Health::Progressing), Some(Health::Unknown), Some(Health::Degraded)] {
            let stage = with_health(holding(&[OLD], None), health);
            let Start::WhenHealthy(reason) = start(&stage, OLD) else { panic!("{health:?} starts") };
            assert!(reason.contains("\"test\"") && reason.contains("once it is Healthy"), "{reason}");
            assert_eq!(not_healthy(&stage), Some(reason));
        }
        let healthy = with_health(holding(&[OLD], None), Some(Health::Healthy));
        assert_eq!(start(&healthy, OLD), Start::Now);
        assert_eq!(not_healthy(&healthy), None);
        let progressing = with_health(holding(&[OLD], None), Some(Health::Progressing));
        assert!(not_healthy(&progressing).unwrap().contains("is Progressing"));
    }

    #[test]
    fn given_a_stage_without_health_when_asked_then_it_verifies_as_ever() {
        assert_eq!(not_healthy(&holding(&[OLD], None)), None);
        assert_eq!(start(&holding(&[OLD], None), OLD), Start::Now);
    }

    #[test]
    fn given_a_stage_without_analyses_when_its_promotion_left_no_health_check_then_success_verifies() {
        assert!(verified_on_success(false, false));
    }

    #[test]
    fn given_analyses_or_health_checks_when_a_promotion_succeeds_then_the_verifier_decides() {
        assert!(!verified_on_success(true, false));
        assert!(!verified_on_success(false, true));
        assert!(!verified_on_success(true, true));
    }

    #[test]
    fn given_a_first_look_when_the_promoter_verifies_then_the_verifier_waits() {
        assert_eq!(backstop(true, false), Backstop::Later);
        assert_eq!(backstop(true, true), Backstop::Later);
    }

    #[test]
    fn given_a_later_look_when_the_log_holds_it_verified_then_nothing_else_when_not_it_records_it() {
        assert_eq!(backstop(false, true), Backstop::Nothing);
        assert_eq!(backstop(false, false), Backstop::Record);
    }

    #[test]
    fn given_a_replaced_freight_or_a_running_promotion_when_unhealthy_then_those_decide_first() {
        let replaced = with_health(holding(&[NEW], None), Some(Health::Degraded));
        assert!(matches!(start(&replaced, OLD), Start::Never(_)));
        let running = with_health(holding(&[OLD], Some("test.next")), Some(Health::Degraded));
        assert_eq!(start(&running, OLD), Start::AfterPromotion("test.next".into()));
    }

    #[test]
    fn given_a_running_promotion_when_asked_then_it_waits_for_it() {
        assert_eq!(start(&holding(&[OLD], Some("test.next")), OLD), Start::AfterPromotion("test.next".into()));
    }

    #[test]
    fn given_freight_a_later_promotion_replaced_when_asked_then_it_never_starts() {
        let Start::Never(reason) = start(&holding(&[NEW], None), OLD) else { panic!("it starts") };
        assert!(reason.contains("1111111") && reason.contains("\"test\""), "{reason}");
        // Even while yet another promotion runs.
        assert!(matches!(start(&holding(&[NEW], Some("test.third")), OLD), Start::Never(_)));
        // A stage that holds nothing yet has nothing to verify.
        assert!(matches!(start(&holding(&[], None), OLD), Start::Never(_)));
    }

    #[test]
    fn given_a_successful_verdict_when_the_freight_was_replaced_then_it_is_aborted() {
        let ended = verdict(&holding(&[NEW], None), OLD, successful());
        assert_eq!(ended.phase, Phase::Aborted);
        assert!(ended.message.contains("no longer current"), "{}", ended.message);
        assert_eq!(stale(&holding(&[NEW], None), OLD), Some(ended.message));
    }

    #[test]
    fn given_a_verdict_when_the_freight_is_still_current_then_it_stands() {
        // A promotion running (not yet succeeded) does not replace the freight.
        assert_eq!(verdict(&holding(&[OLD], Some("test.next")), OLD, successful()), successful());
        let failed = RunVerdict { phase: Phase::Failed, message: "metric \"ok\" assessed Failed".into() };
        assert_eq!(verdict(&holding(&[OLD], None), OLD, failed.clone()), failed);
        assert_eq!(stale(&holding(&[OLD], None), OLD), None);
    }

    #[test]
    fn given_an_abort_by_a_person_when_the_freight_was_replaced_then_the_abort_keeps_its_message() {
        let aborted = RunVerdict { phase: Phase::Aborted, message: "aborted by alice".into() };
        assert_eq!(verdict(&holding(&[NEW], None), OLD, aborted.clone()), aborted);
    }
}
