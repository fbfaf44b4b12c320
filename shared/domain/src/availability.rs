//! Which freight a stage may take, and which the promoter should promote on its own.
//!
//! Everything here is a pure function of specs, facts the event log established and the
//! current time, so the rules are tested without a broker.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::duration::parse_go_duration;
use crate::freight::{FreightOrigin, FreightStatus};
use crate::freight_id::FreightId;
use crate::spec::{AvailabilityStrategy, PromotionPolicy, RequestedFreight, SelectionPolicy, StageSpec};

/// How long freight has soaked in `stage`: the longest time it stayed there in one go,
/// counting its current stay up to `now`.
pub fn soak_time(status: &FreightStatus, stage: &str, now: DateTime<Utc>) -> Duration {
    let current =
        status.currently_in.get(stage).map(|c| (now - c.since).to_std().unwrap_or_default()).unwrap_or_default();
    let longest = status
        .verified_in
        .get(stage)
        .and_then(|v| v.longest_soak.as_deref())
        .and_then(|d| parse_go_duration(d).ok())
        .unwrap_or_default();
    current.max(longest)
}

/// Freight is available to a stage when it is approved for it, when the stage takes it
/// straight from its origin, or when it was verified in one (`OneOf`) or every (`All`)
/// upstream source stage, and soaked there for `requiredSoakTime`.
pub fn is_available(stage: &str, request: &RequestedFreight, status: &FreightStatus, now: DateTime<Utc>) -> bool {
    if status.approved_for.contains_key(stage) || request.sources.direct {
        return true;
    }
    let soak = request.sources.required_soak_time();
    let passed = |upstream: &String| {
        status.verified_in.contains_key(upstream)
            && soak.is_none_or(|required| soak_time(status, upstream, now) >= required)
    };
    match request.sources.availability_strategy() {
        AvailabilityStrategy::OneOf => request.sources.stages.iter().any(passed),
        AvailabilityStrategy::All => !request.sources.stages.is_empty() && request.sources.stages.iter().all(passed),
    }
}

/// When freight verified upstream but still soaking becomes available (so a scheduler
/// can look again then); `None` when nothing is waiting on soak time.
pub fn next_soak_deadline(
    request: &RequestedFreight,
    status: &FreightStatus,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let required = request.sources.required_soak_time()?;
    request
        .sources
        .stages
        .iter()
        .filter(|s| status.verified_in.contains_key(*s) && status.currently_in.contains_key(*s))
        .filter_map(|s| {
            let remaining = required.checked_sub(soak_time(status, s, now))?;
            (!remaining.is_zero()).then(|| now + chrono::Duration::from_std(remaining).unwrap_or_default())
        })
        .min()
}

/// A stage as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct StageFacts<'a> {
    pub name: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub spec: &'a StageSpec,
}

/// Whether the project's promotion policies enable auto-promotion for the stage: the
/// first policy selecting it decides; no policy means no auto-promotion.
pub fn auto_promotion_enabled(policies: &[PromotionPolicy], stage: &StageFacts<'_>) -> bool {
    policies.iter().find(|p| p.selects(stage.name, stage.labels)).is_some_and(|p| p.auto_promotion_enabled)
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

/// A promotion a stage already has (queued, running or finished), oldest first.
#[derive(Debug, Clone, Copy)]
pub struct ExistingPromotion<'a> {
    pub freight: &'a FreightId,
    pub origin: &'a FreightOrigin,
    /// Discovery order of that promotion's freight.
    pub freight_discovered: u64,
    /// Whether it failed, errored or was aborted.
    pub unsuccessful: bool,
    /// Whether a person asked for it.
    pub manual: bool,
    /// Log position of its creation, to judge what was available back then.
    pub created: u64,
}

/// The freight auto-promotion would take for one request: the newest available freight
/// (`NewestFreight`), or the available freight currently in the upstream stage
/// (`MatchUpstream`).
pub fn candidate<'a>(
    stage: &str,
    request: &RequestedFreight,
    freight: &[FreightFacts<'a>],
    now: DateTime<Utc>,
) -> Option<FreightFacts<'a>> {
    let mut available =
        freight.iter().filter(|f| request.origin.matches(f.origin) && is_available(stage, request, f.status, now));
    match request.sources.selection_policy() {
        SelectionPolicy::NewestFreight => available.max_by_key(|f| f.discovered).copied(),
        SelectionPolicy::MatchUpstream => {
            let upstream = request.sources.stages.first()?;
            available.find(|f| f.status.currently_in.contains_key(upstream)).copied()
        }
    }
}

/// Why the promoter leaves a request alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    AutoPromotionDisabled,
    NoCandidate,
    /// A person promoted freight that was not the candidate (a rollback, say):
    /// auto-promotion of the origin waits until a candidate is promoted again.
    HeldByManualPromotion,
    AlreadyPromoted,
    /// Newer freight from the origin is already promoted or queued: never move back.
    NewerFreightPromoted,
}

/// The auto-promotion decision for one request of a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoPromotion {
    Promote(FreightId),
    Skip(Skip),
}

/// Decides, for each freight origin the stage requests, whether to auto-promote.
pub fn decide_auto_promotions(
    stage: &StageFacts<'_>,
    policies: &[PromotionPolicy],
    freight: &[FreightFacts<'_>],
    existing: &[ExistingPromotion<'_>],
    now: DateTime<Utc>,
) -> Vec<AutoPromotion> {
    if !auto_promotion_enabled(policies, stage) {
        return vec![AutoPromotion::Skip(Skip::AutoPromotionDisabled)];
    }
    stage
        .spec
        .requested_freight
        .iter()
        .map(|request| {
            let Some(candidate) = candidate(stage.name, request, freight, now) else {
                return AutoPromotion::Skip(Skip::NoCandidate);
            };
            let of_origin: Vec<&ExistingPromotion<'_>> =
                existing.iter().filter(|p| request.origin.matches(p.origin)).collect();
            if let Some(last) = of_origin.last()
                && last.manual
                && last.freight != candidate.id
                && was_not_the_candidate(stage.name, request, last, freight, now)
            {
                return AutoPromotion::Skip(Skip::HeldByManualPromotion);
            }
            if of_origin.iter().any(|p| p.freight == candidate.id) {
                return AutoPromotion::Skip(Skip::AlreadyPromoted);
            }
            if of_origin.iter().any(|p| !p.unsuccessful && p.freight_discovered > candidate.discovered) {
                return AutoPromotion::Skip(Skip::NewerFreightPromoted);
            }
            AutoPromotion::Promote(candidate.id.clone())
        })
        .collect()
}

/// Whether a manual promotion took other freight than auto-promotion would have taken
/// when it was made: newer available freight from the origin already existed.
fn was_not_the_candidate(
    stage: &str,
    request: &RequestedFreight,
    promotion: &ExistingPromotion<'_>,
    freight: &[FreightFacts<'_>],
    now: DateTime<Utc>,
) -> bool {
    let existed_then: Vec<FreightFacts<'_>> =
        freight.iter().filter(|f| f.discovered < promotion.created).copied().collect();
    candidate(stage, request, &existed_then, now).is_some_and(|c| c.id != promotion.freight)
}

#[cfg(test)]
mod tests;
