//! Given/when/then tests of the stage rules.

use std::collections::BTreeMap;

use chrono::{Duration as Span, Utc};

use super::*;
use crate::freight::{ApprovedStage, CurrentStage, VerifiedStage};
use crate::spec::{AutoPromotionOptions, FreightOriginRef, FreightSources, StageSelector};

fn id(c: char) -> FreightId {
    FreightId::parse(&c.to_string().repeat(40)).unwrap()
}

fn request(origin: &str, sources: FreightSources) -> RequestedFreight {
    RequestedFreight { origin: FreightOriginRef { kind: "Warehouse".into(), name: origin.into() }, sources }
}

fn direct() -> FreightSources {
    FreightSources { direct: true, ..Default::default() }
}

fn from(stages: &[&str]) -> FreightSources {
    FreightSources { stages: stages.iter().map(|s| s.to_string()).collect(), ..Default::default() }
}

fn stage_spec(requests: Vec<RequestedFreight>) -> StageSpec {
    StageSpec { requested_freight: requests, ..StageSpec::default() }
}

fn auto(selector: &str) -> Vec<PromotionPolicy> {
    vec![PromotionPolicy {
        stage: None,
        stage_selector: Some(StageSelector { name: selector.into(), ..Default::default() }),
        auto_promotion_enabled: true,
    }]
}

/// A freight in the making: origin, discovery order and status.
struct Given {
    id: FreightId,
    origin: FreightOrigin,
    discovered: u64,
    status: FreightStatus,
}

impl Given {
    fn freight(c: char, discovered: u64) -> Self {
        Self { id: id(c), origin: FreightOrigin::warehouse("app"), discovered, status: FreightStatus::default() }
    }

    fn with_origin(mut self, origin: &str) -> Self {
        self.origin = FreightOrigin::warehouse(origin);
        self
    }

    fn verified_in(mut self, stage: &str) -> Self {
        self.status.verified_in.insert(stage.into(), VerifiedStage { verified_at: Utc::now(), longest_soak: None });
        self
    }

    fn current_in_for(mut self, stage: &str, minutes: i64) -> Self {
        self.status.currently_in.insert(stage.into(), CurrentStage { since: Utc::now() - Span::minutes(minutes) });
        self
    }

    fn soaked_before(mut self, stage: &str, soak: &str) -> Self {
        self.status.verified_in.get_mut(stage).unwrap().longest_soak = Some(soak.into());
        self
    }

    fn approved_for(mut self, stage: &str) -> Self {
        self.status.approved_for.insert(stage.into(), ApprovedStage { approved_at: Utc::now() });
        self
    }

    fn facts(&self) -> FreightFacts<'_> {
        FreightFacts { id: &self.id, origin: &self.origin, discovered: self.discovered, status: &self.status }
    }
}

fn decide(
    name: &str,
    spec: &StageSpec,
    policies: &[PromotionPolicy],
    freight: &[&Given],
    existing: &[ExistingPromotion<'_>],
) -> Vec<AutoPromotion> {
    let labels = BTreeMap::new();
    let facts: Vec<_> = freight.iter().map(|g| g.facts()).collect();
    decide_auto_promotions(&StageFacts { name, labels: &labels, spec }, policies, &facts, existing, Utc::now())
}

/// A promotion of `given`, made at log position `created`.
fn promoted_at<'a>(given: &'a Given, manual: bool, created: u64) -> ExistingPromotion<'a> {
    ExistingPromotion {
        freight: &given.id,
        origin: &given.origin,
        freight_discovered: given.discovered,
        unsuccessful: false,
        manual,
        created,
    }
}

/// A promotion of `given`, made right after it was discovered.
fn promoted<'a>(given: &'a Given, manual: bool) -> ExistingPromotion<'a> {
    promoted_at(given, manual, given.discovered + 1)
}

#[test]
fn direct_freight_is_promoted_into_an_auto_stage() {
    let a = Given::freight('a', 1);
    let spec = stage_spec(vec![request("app", direct())]);
    assert_eq!(decide("test", &spec, &auto("test"), &[&a], &[]), vec![AutoPromotion::Promote(id('a'))]);
}

#[test]
fn the_newest_available_freight_is_the_candidate() {
    let (a, b) = (Given::freight('a', 1), Given::freight('b', 2));
    let spec = stage_spec(vec![request("app", direct())]);
    assert_eq!(decide("test", &spec, &auto("test"), &[&a, &b], &[]), vec![AutoPromotion::Promote(id('b'))]);
}

#[test]
fn without_a_selecting_policy_nothing_is_auto_promoted() {
    let a = Given::freight('a', 1);
    let spec = stage_spec(vec![request("app", direct())]);
    let disabled = AutoPromotion::Skip(Skip::AutoPromotionDisabled);
    assert_eq!(decide("test", &spec, &auto("other"), &[&a], &[]), vec![disabled.clone()]);
    let mut first_wins = auto("test");
    first_wins[0].auto_promotion_enabled = false;
    first_wins.extend(auto("test"));
    assert_eq!(decide("test", &spec, &first_wins, &[&a], &[]), vec![disabled], "the first matching policy decides");
}

#[test]
fn policies_select_stages_by_glob_regex_and_labels() {
    let a = Given::freight('a', 1);
    let spec = stage_spec(vec![request("app", direct())]);
    assert_eq!(decide("uat-eu", &spec, &auto("glob:uat-*"), &[&a], &[]), vec![AutoPromotion::Promote(id('a'))]);
    assert_eq!(decide("uat-eu", &spec, &auto("regex:uat-(eu|us)"), &[&a], &[]), vec![AutoPromotion::Promote(id('a'))]);
    let by_label = vec![PromotionPolicy {
        stage: None,
        stage_selector: Some(StageSelector {
            match_labels: [("auto".to_owned(), "yes".to_owned())].into(),
            ..Default::default()
        }),
        auto_promotion_enabled: true,
    }];
    let labels: BTreeMap<String, String> = [("auto".to_owned(), "yes".to_owned())].into();
    let facts = [a.facts()];
    let stage = StageFacts { name: "anything", labels: &labels, spec: &spec };
    assert_eq!(
        decide_auto_promotions(&stage, &by_label, &facts, &[], Utc::now()),
        vec![AutoPromotion::Promote(id('a'))]
    );
}

#[test]
fn downstream_stages_wait_for_upstream_verification() {
    let spec = stage_spec(vec![request("app", from(&["test"]))]);
    let unverified = Given::freight('a', 1);
    assert_eq!(decide("uat", &spec, &auto("uat"), &[&unverified], &[]), vec![AutoPromotion::Skip(Skip::NoCandidate)]);
    let verified = Given::freight('a', 1).verified_in("test");
    assert_eq!(decide("uat", &spec, &auto("uat"), &[&verified], &[]), vec![AutoPromotion::Promote(id('a'))]);
}

#[test]
fn one_of_takes_any_upstream_and_all_needs_every_upstream() {
    let in_one = Given::freight('a', 1).verified_in("qa-1");
    let one_of = request("app", from(&["qa-1", "qa-2"]));
    assert!(is_available("uat", &one_of, &in_one.status, Utc::now()));
    let mut all = one_of.clone();
    all.sources.availability_strategy = Some(AvailabilityStrategy::All);
    assert!(!is_available("uat", &all, &in_one.status, Utc::now()));
    let in_both = Given::freight('a', 1).verified_in("qa-1").verified_in("qa-2");
    assert!(is_available("uat", &all, &in_both.status, Utc::now()));
}

#[test]
fn freight_must_soak_upstream_for_the_required_time() {
    let mut soaking = request("app", from(&["test"]));
    soaking.sources.required_soak_time = Some("1h".into());
    let fresh = Given::freight('a', 1).verified_in("test").current_in_for("test", 10);
    assert!(!is_available("uat", &soaking, &fresh.status, Utc::now()));
    let deadline = next_soak_deadline(&soaking, &fresh.status, Utc::now()).expect("a soak deadline");
    let expected = Utc::now() + Span::minutes(50);
    assert!((deadline - expected).num_seconds().abs() <= 2, "{deadline} vs {expected}");
    let soaked = Given::freight('a', 1).verified_in("test").current_in_for("test", 61);
    assert!(is_available("uat", &soaking, &soaked.status, Utc::now()));
    // It left the stage after soaking long enough earlier: still available.
    let left = Given::freight('a', 1).verified_in("test").soaked_before("test", "2h0m0s");
    assert!(is_available("uat", &soaking, &left.status, Utc::now()));
    assert_eq!(next_soak_deadline(&soaking, &left.status, Utc::now()), None);
}

#[test]
fn approval_makes_freight_available_anywhere() {
    let approved = Given::freight('a', 1).approved_for("prod");
    let spec = stage_spec(vec![request("app", from(&["uat"]))]);
    assert_eq!(decide("prod", &spec, &auto("prod"), &[&approved], &[]), vec![AutoPromotion::Promote(id('a'))]);
}

#[test]
fn match_upstream_takes_what_the_upstream_stage_runs() {
    let mut sources = from(&["test"]);
    sources.auto_promotion_options = Some(AutoPromotionOptions { selection_policy: SelectionPolicy::MatchUpstream });
    let spec = stage_spec(vec![request("app", sources)]);
    // b is newer and verified, but test runs a (after a rollback, say).
    let a = Given::freight('a', 1).verified_in("test").current_in_for("test", 5);
    let b = Given::freight('b', 2).verified_in("test");
    assert_eq!(decide("uat", &spec, &auto("uat"), &[&a, &b], &[]), vec![AutoPromotion::Promote(id('a'))]);
}

#[test]
fn freight_is_promoted_into_a_stage_once() {
    let a = Given::freight('a', 1);
    let spec = stage_spec(vec![request("app", direct())]);
    assert_eq!(
        decide("test", &spec, &auto("test"), &[&a], &[promoted(&a, false)]),
        vec![AutoPromotion::Skip(Skip::AlreadyPromoted)]
    );
}

#[test]
fn a_stage_never_moves_back_to_older_freight() {
    let (a, b) = (Given::freight('a', 1), Given::freight('b', 2));
    let spec = stage_spec(vec![request("app", direct())]);
    // Only a is visible (deciding as of its discovery), but b was already queued.
    let skip = decide("test", &spec, &auto("test"), &[&a], &[promoted(&b, false)]);
    assert_eq!(skip, vec![AutoPromotion::Skip(Skip::NewerFreightPromoted)]);
    let mut failed = promoted(&b, false);
    failed.unsuccessful = true;
    let retry = decide("test", &spec, &auto("test"), &[&a], &[failed]);
    assert_eq!(retry, vec![AutoPromotion::Promote(id('a'))], "a failed newer promotion does not block");
}

#[test]
fn a_manual_promotion_of_a_non_candidate_holds_auto_promotion() {
    let (a, b, c) = (Given::freight('a', 1), Given::freight('b', 2), Given::freight('c', 10));
    let spec = stage_spec(vec![request("app", direct())]);
    // b was auto-promoted; at log position 5 someone rolled back to a by hand; c appears.
    let history = [promoted(&b, false), promoted_at(&a, true, 5)];
    let held = decide("test", &spec, &auto("test"), &[&a, &b, &c], &history);
    assert_eq!(held, vec![AutoPromotion::Skip(Skip::HeldByManualPromotion)]);
}

#[test]
fn promoting_the_candidate_by_hand_lifts_the_hold() {
    let (a, b, c, d) =
        (Given::freight('a', 1), Given::freight('b', 2), Given::freight('c', 10), Given::freight('d', 20));
    let spec = stage_spec(vec![request("app", direct())]);
    // After the rollback to a, c (then the newest) was promoted by hand at 12; d appears.
    let history = [promoted(&b, false), promoted_at(&a, true, 5), promoted_at(&c, true, 12)];
    let decided = decide("test", &spec, &auto("test"), &[&a, &b, &c, &d], &history);
    assert_eq!(decided, vec![AutoPromotion::Promote(id('d'))]);
}

#[test]
fn a_manual_promotion_of_the_candidate_is_no_hold() {
    let (a, b) = (Given::freight('a', 1), Given::freight('b', 5));
    let spec = stage_spec(vec![request("app", direct())]);
    // a was the newest when someone promoted it by hand at 2; b came later.
    let decided = decide("test", &spec, &auto("test"), &[&a, &b], &[promoted_at(&a, true, 2)]);
    assert_eq!(decided, vec![AutoPromotion::Promote(id('b'))]);
}

#[test]
fn each_origin_is_decided_on_its_own() {
    let app = Given::freight('a', 1);
    let config = Given::freight('c', 2).with_origin("config");
    let spec = stage_spec(vec![request("app", direct()), request("config", direct())]);
    let decisions = decide("test", &spec, &auto("test"), &[&app, &config], &[promoted(&app, false)]);
    assert_eq!(decisions, vec![AutoPromotion::Skip(Skip::AlreadyPromoted), AutoPromotion::Promote(id('c'))]);
}
