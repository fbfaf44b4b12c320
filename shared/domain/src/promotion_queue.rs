//! A stage's promotions form a queue: they run one at a time, in the order they were
//! created. Which promotion may run, and which pending automatic promotions newer
//! freight makes pointless, are decided here.

use serde::{Deserialize, Serialize};

use crate::freight::FreightOrigin;
use crate::freight_id::FreightId;

/// Where a promotion is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PromotionPhase {
    Pending,
    Running,
    Succeeded,
    /// A step failed.
    Failed,
    /// It could not run (its stage, freight or task is gone).
    Errored,
    Aborted,
}

impl PromotionPhase {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            PromotionPhase::Succeeded | PromotionPhase::Failed | PromotionPhase::Errored | PromotionPhase::Aborted
        )
    }

    /// Ended without succeeding.
    pub fn is_unsuccessful(self) -> bool {
        matches!(self, PromotionPhase::Failed | PromotionPhase::Errored | PromotionPhase::Aborted)
    }
}

/// A promotion in its stage's queue, as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Queued<'a> {
    pub name: &'a str,
    pub phase: PromotionPhase,
}

/// The oldest unfinished promotion of a queue (given oldest first): the one allowed to run.
pub fn head_of_queue<T>(queue: &[T], view: impl Fn(&T) -> Queued<'_>) -> Option<&T> {
    queue.iter().find(|p| !view(p).phase.is_terminal())
}

/// Whose turn it is, for one promotion of a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// It ended; nothing is left to do.
    Finished,
    /// An older promotion of the stage has not ended yet.
    Waiting,
    /// It is the oldest unfinished promotion: it may run.
    Mine,
    /// The stage's queue does not hold it (not applied yet, or never valid).
    Unknown,
}

/// The turn of promotion `name` in a queue given oldest first.
pub fn turn_of(queue: &[Queued<'_>], name: &str) -> Turn {
    match queue.iter().find(|p| p.name == name) {
        None => Turn::Unknown,
        Some(p) if p.phase.is_terminal() => Turn::Finished,
        Some(_) => match head_of_queue(queue, |q| *q) {
            Some(head) if head.name == name => Turn::Mine,
            _ => Turn::Waiting,
        },
    }
}

/// A pending automatic promotion, as the supersede rule sees it.
#[derive(Debug, Clone, Copy)]
pub struct PendingAuto<'a> {
    pub name: &'a str,
    pub freight: &'a FreightId,
    pub origin: &'a FreightOrigin,
    /// Discovery order of its freight.
    pub freight_discovered: u64,
}

/// The pending automatic promotions that promoting newer freight (from `origin`,
/// discovered at `discovered`) makes pointless: older freight of the same origin that
/// has not started running.
pub fn superseded<'a>(pending: &[PendingAuto<'a>], origin: &FreightOrigin, discovered: u64) -> Vec<PendingAuto<'a>> {
    pending.iter().filter(|p| p.origin == origin && p.freight_discovered < discovered).copied().collect()
}

/// How many unfinished promotions are ahead of promotion `name` in a queue given oldest
/// first: 1 for the next to run once the running one ends. `None` when the queue does
/// not hold it.
pub fn unfinished_ahead_of(queue: &[Queued<'_>], name: &str) -> Option<usize> {
    let at = queue.iter().position(|p| p.name == name)?;
    Some(queue[..at].iter().filter(|p| !p.phase.is_terminal()).count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use PromotionPhase::*;

    fn q(name: &'static str, phase: PromotionPhase) -> Queued<'static> {
        Queued { name, phase }
    }

    #[test]
    fn the_oldest_unfinished_promotion_runs_and_the_others_wait() {
        // Given p1 succeeded, p2 pending and p3 pending,
        let queue = [q("p1", Succeeded), q("p2", Pending), q("p3", Pending)];
        // then p2 is next, p3 waits for it, and p1 is done.
        assert_eq!(turn_of(&queue, "p2"), Turn::Mine);
        assert_eq!(turn_of(&queue, "p3"), Turn::Waiting);
        assert_eq!(turn_of(&queue, "p1"), Turn::Finished);
        assert_eq!(turn_of(&queue, "p9"), Turn::Unknown);
    }

    #[test]
    fn a_running_promotion_keeps_the_turn_until_it_ends() {
        let queue = [q("p1", Running), q("p2", Pending)];
        assert_eq!(turn_of(&queue, "p1"), Turn::Mine);
        assert_eq!(turn_of(&queue, "p2"), Turn::Waiting);
        let queue = [q("p1", Aborted), q("p2", Pending)];
        assert_eq!(turn_of(&queue, "p2"), Turn::Mine);
    }

    #[test]
    fn a_waiting_promotion_knows_how_many_unfinished_promotions_are_ahead_of_it() {
        // Given p1 succeeded, p2 running, p3 and p4 pending,
        let queue = [q("p1", Succeeded), q("p2", Running), q("p3", Pending), q("p4", Pending)];
        // then p3 runs next (one ahead of it), p4 after it, p2 has none ahead;
        assert_eq!(unfinished_ahead_of(&queue, "p3"), Some(1));
        assert_eq!(unfinished_ahead_of(&queue, "p4"), Some(2));
        assert_eq!(unfinished_ahead_of(&queue, "p2"), Some(0));
        // and a promotion the queue does not hold is not placed.
        assert_eq!(unfinished_ahead_of(&queue, "p9"), None);
    }

    #[test]
    fn newer_freight_supersedes_older_pending_freight_of_its_origin_only() {
        let (a, b) = (FreightId::parse(&"a".repeat(40)).unwrap(), FreightId::parse(&"b".repeat(40)).unwrap());
        let (app, config) = (FreightOrigin::warehouse("app"), FreightOrigin::warehouse("config"));
        let pending = [
            PendingAuto { name: "old-app", freight: &a, origin: &app, freight_discovered: 1 },
            PendingAuto { name: "config", freight: &b, origin: &config, freight_discovered: 2 },
        ];
        // When app freight discovered at 3 is promoted, then only old-app is superseded.
        let names: Vec<&str> = superseded(&pending, &app, 3).iter().map(|p| p.name).collect();
        assert_eq!(names, ["old-app"]);
        assert!(superseded(&pending, &app, 1).is_empty(), "not by older or the same freight");
    }
}
