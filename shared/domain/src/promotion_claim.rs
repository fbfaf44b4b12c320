//! Who may end a promotion that started: an abort, or its own run. Decided on the
//! promotion's claim, which holds one of `committed`, `parked` or `aborted`.
//!
//! A run claims `committed` right before its first push: from then on it finishes and
//! records its own outcome, and an abort is refused, so a run is never torn between a
//! push and the record of it. A run that stops at a waiting step (a pull request still
//! open) after its push turns `committed` into `parked` once its wait is recorded: no run
//! holds the promotion any more, and nothing it pushed is in doubt. An abort may then
//! take `parked` over (the promotion ends `Aborted`, what was pushed stays), and the run
//! that looks again must take `parked` back to `committed` before its first step.
//! Both replace `parked` on the condition that it is still there (one revision of the
//! claim), so exactly one of them wins.

/// What a promotion's claim holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// A run is past its point of no return and will record the outcome.
    Committed,
    /// Past its point of no return, waiting, and held by no run.
    Parked,
    /// Aborted: nothing more may change outside.
    Aborted,
}

/// What an abort does, given the claim it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortRuling {
    /// The claim is the abort's (it created it, or an abort was there before): record
    /// the promotion `Aborted`.
    Abort,
    /// Replace `parked` by `aborted`, on the condition that `parked` is still there;
    /// the abort holds only if that succeeds.
    TakeOverParked,
    /// A run is past its push: refuse, the promotion finishes as it finishes.
    Refuse,
}

/// The ruling for an abort that found `held` after trying to create its claim.
pub fn on_abort(held: Held) -> AbortRuling {
    match held {
        Held::Aborted => AbortRuling::Abort,
        Held::Parked => AbortRuling::TakeOverParked,
        Held::Committed => AbortRuling::Refuse,
    }
}

/// What a run that takes a promotion's turn does first, given its claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnRuling {
    /// Run: nothing claimed yet, or claimed `committed` by a run of this promotion that
    /// stopped (its lease lapsed) before it parked.
    Run,
    /// Take `parked` back to `committed` first, on the condition that it is still there,
    /// then run as a committed run; if the abort took it first, record the abort.
    Reclaim,
    /// Record the abort and run nothing.
    RecordAbort,
}

/// The ruling for a run that holds the stage's turn and found `held`.
pub fn on_turn(held: Option<Held>) -> TurnRuling {
    match held {
        None | Some(Held::Committed) => TurnRuling::Run,
        Some(Held::Parked) => TurnRuling::Reclaim,
        Some(Held::Aborted) => TurnRuling::RecordAbort,
    }
}

/// Whether a run that stopped at a waiting step, its wait recorded, hands its claim over:
/// `committed` becomes `parked`. A run that did not push yet holds no claim, and an abort
/// can already take it.
pub fn parks(held: Option<Held>) -> bool {
    held == Some(Held::Committed)
}

/// Whether a pending promotion may be superseded (aborted by a newer freight): only when
/// the abort's claim holds. A parked promotion is running, not pending.
pub fn superseded(held: Held) -> bool {
    held == Held::Aborted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_run_past_its_push_when_aborted_then_the_abort_is_refused() {
        assert_eq!(on_abort(Held::Committed), AbortRuling::Refuse);
    }

    #[test]
    fn given_a_promotion_parked_after_its_push_when_aborted_then_the_abort_takes_the_claim_over() {
        assert_eq!(on_abort(Held::Parked), AbortRuling::TakeOverParked);
    }

    #[test]
    fn given_nothing_claimed_or_an_earlier_abort_when_aborted_then_it_is_aborted() {
        assert_eq!(on_abort(Held::Aborted), AbortRuling::Abort);
    }

    #[test]
    fn given_a_parked_promotion_when_its_run_takes_the_turn_then_it_reclaims_before_any_step() {
        assert_eq!(on_turn(Some(Held::Parked)), TurnRuling::Reclaim);
    }

    #[test]
    fn given_an_aborted_claim_when_a_run_takes_the_turn_then_it_records_the_abort() {
        assert_eq!(on_turn(Some(Held::Aborted)), TurnRuling::RecordAbort);
    }

    #[test]
    fn given_no_claim_or_a_committed_one_when_a_run_takes_the_turn_then_it_runs() {
        assert_eq!(on_turn(None), TurnRuling::Run);
        assert_eq!(on_turn(Some(Held::Committed)), TurnRuling::Run);
    }

    #[test]
    fn given_a_run_that_waits_when_it_pushed_then_it_parks_its_claim_and_otherwise_claims_nothing() {
        assert!(parks(Some(Held::Committed)));
        assert!(!parks(None));
        assert!(!parks(Some(Held::Aborted)));
        assert!(!parks(Some(Held::Parked)));
    }

    #[test]
    fn given_a_newer_freight_when_the_older_promotion_pushed_or_parked_then_it_is_not_superseded() {
        assert!(superseded(Held::Aborted));
        assert!(!superseded(Held::Committed));
        assert!(!superseded(Held::Parked));
    }
}
