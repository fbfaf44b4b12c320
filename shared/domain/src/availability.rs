//! Which freight a stage may take, and whether the promoter should promote it on its own.
//!
//! Everything here is a pure function of specs and facts the event log established, so
//! the rules are tested without a broker.

use crate::freight::{FreightOrigin, FreightStatus};
use crate::freight_id::FreightId;
use crate::spec::{PromotionPolicy, RequestedFreight, StageSpec};

/// Freight is available to a stage when it is approved for it, when the stage takes it
/// straight from its origin, or when any upstream source stage verified it.
pub fn is_available(stage: &str, request: &RequestedFreight, status: &FreightStatus) -> bool {
    status.approved_for.contains_key(stage)
        || request.sources.direct
        || request
            .sources
            .stages
            .iter()
            .any(|upstream| status.verified_in.contains_key(upstream))
}

/// Whether the project's promotion policies enable auto-promotion for `stage`: the first
/// policy selecting the stage decides; no policy means no auto-promotion.
pub fn auto_promotion_enabled(policies: &[PromotionPolicy], stage: &str) -> bool {
    policies
        .iter()
        .find(|p| p.selects(stage))
        .is_some_and(|p| p.auto_promotion_enabled)
}

/// What the log says about one freight.
#[derive(Debug, Clone, Copy)]
pub struct FreightFacts<'a> {
    pub id: &'a FreightId,
    pub origin: &'a FreightOrigin,
    /// Discovery order: the log position of its `FreightCreated` event.
    pub discovered: u64,
    pub status: &'a FreightStatus,
}

/// A promotion a stage already has (queued, running or finished).
#[derive(Debug, Clone, Copy)]
pub struct ExistingPromotion<'a> {
    pub freight: &'a FreightId,
    /// Discovery order of that promotion's freight.
    pub freight_discovered: u64,
    /// Whether the promotion failed, errored or was aborted.
    pub unsuccessful: bool,
}

/// Why the promoter leaves a freight alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    NotRequested,
    AutoPromotionDisabled,
    NotAvailable,
    AlreadyPromoted,
    NewerFreightPromoted,
}

/// The auto-promotion decision for one freight and one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoPromotion {
    Promote,
    Skip(Skip),
}

/// Decides whether `freight` should be auto-promoted into `stage`.
///
/// A stage moves forward only: freight is promoted when no promotion of it exists yet and
/// no newer freight from the same origin was already promoted or queued there, so two
/// freight discovered in a row are promoted in discovery order, each once.
pub fn decide_auto_promotion(
    stage: &str,
    spec: &StageSpec,
    policies: &[PromotionPolicy],
    freight: FreightFacts<'_>,
    existing: &[ExistingPromotion<'_>],
) -> AutoPromotion {
    let Some(request) = spec.request_for(freight.origin) else {
        return AutoPromotion::Skip(Skip::NotRequested);
    };
    if !auto_promotion_enabled(policies, stage) {
        return AutoPromotion::Skip(Skip::AutoPromotionDisabled);
    }
    if !is_available(stage, request, freight.status) {
        return AutoPromotion::Skip(Skip::NotAvailable);
    }
    if existing.iter().any(|p| p.freight == freight.id) {
        return AutoPromotion::Skip(Skip::AlreadyPromoted);
    }
    if existing
        .iter()
        .any(|p| !p.unsuccessful && p.freight_discovered > freight.discovered)
    {
        return AutoPromotion::Skip(Skip::NewerFreightPromoted);
    }
    AutoPromotion::Promote
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::freight::VerifiedStage;
    use crate::spec::{FreightOriginRef, FreightSources, StageSelector};

    fn id(c: char) -> FreightId {
        FreightId::parse(&c.to_string().repeat(40)).unwrap()
    }

    fn stage(direct: bool, upstream: &[&str]) -> StageSpec {
        StageSpec {
            requested_freight: vec![RequestedFreight {
                origin: FreightOriginRef {
                    kind: "Warehouse".into(),
                    name: "app".into(),
                },
                sources: FreightSources {
                    direct,
                    stages: upstream.iter().map(|s| s.to_string()).collect(),
                },
            }],
            promotion_template: None,
        }
    }

    fn auto(stage: &str) -> Vec<PromotionPolicy> {
        vec![PromotionPolicy {
            stage: None,
            stage_selector: Some(StageSelector { name: stage.into() }),
            auto_promotion_enabled: true,
        }]
    }

    fn verified_in(stages: &[&str]) -> FreightStatus {
        let mut status = FreightStatus::default();
        for s in stages {
            status.verified_in.insert(
                s.to_string(),
                VerifiedStage {
                    verified_at: Utc::now(),
                },
            );
        }
        status
    }

    struct Given {
        origin: FreightOrigin,
        status: FreightStatus,
        id: FreightId,
    }

    impl Given {
        fn freight(status: FreightStatus) -> Self {
            Self {
                origin: FreightOrigin::warehouse("app"),
                status,
                id: id('a'),
            }
        }

        fn facts(&self, discovered: u64) -> FreightFacts<'_> {
            FreightFacts {
                id: &self.id,
                origin: &self.origin,
                discovered,
                status: &self.status,
            }
        }
    }

    #[test]
    fn direct_freight_is_promoted_into_an_auto_stage() {
        let given = Given::freight(FreightStatus::default());
        let decision = decide_auto_promotion(
            "test",
            &stage(true, &[]),
            &auto("test"),
            given.facts(1),
            &[],
        );
        assert_eq!(decision, AutoPromotion::Promote);
    }

    #[test]
    fn without_a_policy_nothing_is_auto_promoted() {
        let given = Given::freight(FreightStatus::default());
        let decision = decide_auto_promotion(
            "test",
            &stage(true, &[]),
            &auto("other"),
            given.facts(1),
            &[],
        );
        assert_eq!(decision, AutoPromotion::Skip(Skip::AutoPromotionDisabled));
        let mut disabled = auto("test");
        disabled[0].auto_promotion_enabled = false;
        disabled.extend(auto("test"));
        let decision =
            decide_auto_promotion("test", &stage(true, &[]), &disabled, given.facts(1), &[]);
        assert_eq!(
            decision,
            AutoPromotion::Skip(Skip::AutoPromotionDisabled),
            "first matching policy wins"
        );
    }

    #[test]
    fn downstream_stages_wait_for_upstream_verification() {
        let unverified = Given::freight(FreightStatus::default());
        let decision = decide_auto_promotion(
            "uat",
            &stage(false, &["test"]),
            &auto("uat"),
            unverified.facts(1),
            &[],
        );
        assert_eq!(decision, AutoPromotion::Skip(Skip::NotAvailable));
        let verified = Given::freight(verified_in(&["test"]));
        let decision = decide_auto_promotion(
            "uat",
            &stage(false, &["test"]),
            &auto("uat"),
            verified.facts(1),
            &[],
        );
        assert_eq!(decision, AutoPromotion::Promote);
    }

    #[test]
    fn approval_makes_freight_available() {
        let mut status = FreightStatus::default();
        status.approved_for.insert(
            "uat".into(),
            crate::freight::ApprovedStage {
                approved_at: Utc::now(),
            },
        );
        assert!(is_available(
            "uat",
            &stage(false, &["test"]).requested_freight[0],
            &status
        ));
    }

    #[test]
    fn other_origins_are_not_requested() {
        let mut given = Given::freight(FreightStatus::default());
        given.origin = FreightOrigin::warehouse("other");
        let decision = decide_auto_promotion(
            "test",
            &stage(true, &[]),
            &auto("test"),
            given.facts(1),
            &[],
        );
        assert_eq!(decision, AutoPromotion::Skip(Skip::NotRequested));
    }

    #[test]
    fn freight_is_promoted_into_a_stage_once() {
        let given = Given::freight(FreightStatus::default());
        let existing = [ExistingPromotion {
            freight: &given.id,
            freight_discovered: 1,
            unsuccessful: false,
        }];
        let decision = decide_auto_promotion(
            "test",
            &stage(true, &[]),
            &auto("test"),
            given.facts(1),
            &existing,
        );
        assert_eq!(decision, AutoPromotion::Skip(Skip::AlreadyPromoted));
    }

    #[test]
    fn a_stage_never_moves_back_to_older_freight() {
        let given = Given::freight(FreightStatus::default());
        let newer = id('b');
        let existing = [ExistingPromotion {
            freight: &newer,
            freight_discovered: 9,
            unsuccessful: false,
        }];
        let decision = decide_auto_promotion(
            "test",
            &stage(true, &[]),
            &auto("test"),
            given.facts(3),
            &existing,
        );
        assert_eq!(decision, AutoPromotion::Skip(Skip::NewerFreightPromoted));
        let failed = [ExistingPromotion {
            freight: &newer,
            freight_discovered: 9,
            unsuccessful: true,
        }];
        let decision = decide_auto_promotion(
            "test",
            &stage(true, &[]),
            &auto("test"),
            given.facts(3),
            &failed,
        );
        assert_eq!(
            decision,
            AutoPromotion::Promote,
            "a failed newer promotion does not block"
        );
    }

    #[test]
    fn older_promotions_do_not_block_newer_freight() {
        let given = Given::freight(FreightStatus::default());
        let older = id('c');
        let existing = [ExistingPromotion {
            freight: &older,
            freight_discovered: 1,
            unsuccessful: false,
        }];
        let decision = decide_auto_promotion(
            "test",
            &stage(true, &[]),
            &auto("test"),
            given.facts(2),
            &existing,
        );
        assert_eq!(decision, AutoPromotion::Promote);
    }
}
