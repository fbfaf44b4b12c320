//! The invariants, checked at the end against what is stored, not against the api's
//! view: the event log read whole from NATS, the GitOps repository's branches, the
//! consumers' pending counts and the dead letters.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::StreamExt as _;
use lading_bus::names::{DEAD_LETTER_STREAM, EVENTS_STREAM};
use lading_events::Event;
use lading_events::headers::CE_TYPE;

use super::drive::{AbortOutcome, Driven, STAGES};
use crate::git::Repo;

/// How a promotion ended, as the log says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Succeeded { commit: String },
    Failed(String),
    Errored(String),
    Aborted { actor: String },
}

/// One promotion as the log tells it.
#[derive(Debug, Clone, Default)]
pub struct PromotionFacts {
    pub stage: String,
    pub freight: String,
    pub created_seq: u64,
    pub endings: Vec<Ending>,
}

/// What the log holds, by promotion and by (freight, stage) verified.
#[derive(Debug, Default)]
pub struct LogFacts {
    pub promotions: BTreeMap<String, PromotionFacts>,
    pub verified: BTreeMap<(String, String), usize>,
    pub events: u64,
}

impl LogFacts {
    fn apply(&mut self, seq: u64, event: Event) {
        self.events += 1;
        let mut end = |promotion: &str, ending: Ending| {
            self.promotions.entry(promotion.to_owned()).or_default().endings.push(ending);
        };
        match event {
            Event::PromotionCreatedV2(e) => {
                let facts = self.promotions.entry(e.promotion).or_default();
                facts.stage = e.stage;
                facts.freight = e.freight_id;
                facts.created_seq = seq;
            }
            Event::PromotionCreated(e) => {
                let facts = self.promotions.entry(e.promotion).or_default();
                facts.stage = e.stage;
                facts.freight = e.freight_id;
                facts.created_seq = seq;
            }
            Event::PromotionSucceeded(e) => end(&e.promotion, Ending::Succeeded { commit: e.commit }),
            Event::PromotionFailed(e) => end(&e.promotion, Ending::Failed(e.reason)),
            Event::PromotionErrored(e) => end(&e.promotion, Ending::Errored(e.reason)),
            Event::PromotionAborted(e) => end(&e.promotion, Ending::Aborted { actor: String::new() }),
            Event::PromotionAbortedV2(e) => end(&e.promotion, Ending::Aborted { actor: e.actor }),
            Event::FreightVerified(e) => *self.verified.entry((e.freight_id, e.stage)).or_default() += 1,
            _ => {}
        }
    }

    /// The Succeeded promotion of `freight` into `stage`, if any.
    fn succeeded(&self, freight: &str, stage: &str) -> Vec<(&String, &PromotionFacts)> {
        self.promotions
            .iter()
            .filter(|(_, p)| p.freight == freight && p.stage == stage)
            .filter(|(_, p)| p.endings.iter().any(|e| matches!(e, Ending::Succeeded { .. })))
            .collect()
    }
}

/// Reads the whole event stream as `admin`.
pub async fn read_log(client: &async_nats::Client) -> LogFacts {
    let js = async_nats::jetstream::new(client.clone());
    let stream = js.get_stream(EVENTS_STREAM).await.expect("the events stream");
    let consumer = stream
        .create_consumer(pull::OrderedConfig { deliver_policy: DeliverPolicy::All, ..Default::default() })
        .await
        .expect("an ordered consumer");
    let mut facts = LogFacts::default();
    let last = stream.get_info().await.expect("stream info").state.last_sequence;
    if last == 0 {
        return facts;
    }
    let mut messages = consumer.messages().await.expect("messages");
    while let Some(message) = tokio::time::timeout(Duration::from_secs(30), messages.next()).await.ok().flatten() {
        let message = message.expect("a message");
        let seq = message.info().expect("its info").stream_sequence;
        let ce_type = message.headers.as_ref().and_then(|h| h.get(CE_TYPE)).map(|v| v.as_str().to_owned());
        if let Ok(event) = lading_events::codec::decode(ce_type.as_deref(), &message.payload) {
            facts.apply(seq, event);
        }
        if seq >= last {
            break;
        }
    }
    facts
}

/// The commits of a stage branch, oldest first: (commit, the promotion its trailer names).
pub fn branch_commits(gitops: &Repo, stage: &str) -> Vec<(String, Option<String>)> {
    let mut log = gitops.log(&format!("stage/{stage}"));
    log.reverse();
    log.into_iter()
        .map(|c| {
            let promotion = c
                .message
                .lines()
                .find_map(|line| line.strip_prefix("Lading-Promotion: "))
                .map(|name| name.trim().to_owned());
            (c.id, promotion)
        })
        .collect()
}

/// The figures and the violations found.
#[derive(Debug, Default)]
pub struct Verdict {
    pub violations: Vec<String>,
    pub promotions_succeeded: usize,
    pub promotions_aborted: usize,
    pub freight_stages_expected: usize,
    pub freight_stages_reached: usize,
    /// Expected (freight, stage) pairs not reached, and commits or outcomes missing.
    pub lost: usize,
    /// Facts or effects stored twice: endings, commits.
    pub duplicated: usize,
    pub dead_letters: u64,
    pub events: u64,
}

/// Each stage's commits, oldest first: (commit, the promotion its trailer names).
pub type Branches<'a> = BTreeMap<&'a str, Vec<(String, Option<String>)>>;

/// Checks every invariant; `branches` gives each stage's commits oldest first.
pub fn check(driven: &[Driven], log: &LogFacts, branches: &Branches<'_>) -> Verdict {
    let mut verdict = Verdict { events: log.events, ..Verdict::default() };
    let violate = |verdict: &mut Verdict, text: String| verdict.violations.push(text);

    // Each promotion ends exactly once.
    for (name, p) in &log.promotions {
        match p.endings.len() {
            0 => violate(&mut verdict, format!("promotion {name} ({} of {}) never ended", p.stage, p.freight)),
            1 => {}
            n => {
                verdict.duplicated += n - 1;
                violate(&mut verdict, format!("promotion {name} ended {n} times: {:?}", p.endings));
            }
        }
        match p.endings.first() {
            Some(Ending::Succeeded { .. }) => verdict.promotions_succeeded += 1,
            Some(Ending::Aborted { .. }) => verdict.promotions_aborted += 1,
            Some(other) => violate(&mut verdict, format!("promotion {name} into {} ended {other:?}", p.stage)),
            None => {}
        }
    }

    // Every freight reached what it should, and nothing more; aborts held as answered.
    for freight in driven {
        for (position, stage) in STAGES.iter().enumerate() {
            let succeeded = log.succeeded(&freight.freight, stage);
            let verified = log.verified.get(&(freight.freight.clone(), stage.to_string())).copied().unwrap_or(0);
            if position < freight.expected_stages.len() {
                verdict.freight_stages_expected += 1;
                if !succeeded.is_empty() && verified >= 1 {
                    verdict.freight_stages_reached += 1;
                } else {
                    verdict.lost += 1;
                    violate(
                        &mut verdict,
                        format!(
                            "freight #{} ({}) should be in {stage}: {} succeeded promotions, verified {verified} times",
                            freight.index,
                            freight.freight,
                            succeeded.len()
                        ),
                    );
                }
                if succeeded.len() > 1 || verified > 1 {
                    verdict.duplicated += succeeded.len().saturating_sub(1) + verified.saturating_sub(1);
                    violate(
                        &mut verdict,
                        format!(
                            "freight #{} into {stage}: {} succeeded promotions, verified {verified} times",
                            freight.index,
                            succeeded.len()
                        ),
                    );
                }
            } else if !succeeded.is_empty() {
                violate(
                    &mut verdict,
                    format!(
                        "freight #{} ({}) reached {stage} after its abort was accepted",
                        freight.index, freight.freight
                    ),
                );
            }
        }
        if let Some((stage, promotion, outcome)) = &freight.abort {
            let ending = log.promotions.get(promotion).and_then(|p| p.endings.first());
            let held = match outcome {
                AbortOutcome::Aborted => matches!(ending, Some(Ending::Aborted { .. })),
                AbortOutcome::Refused(_) => matches!(ending, Some(Ending::Succeeded { .. })),
            };
            if !held {
                violate(
                    &mut verdict,
                    format!("abort of {promotion} into {stage} answered {outcome:?}, ended {ending:?}"),
                );
            }
        }
    }

    // Git and the log agree: one commit per succeeded promotion, on its stage's branch,
    // in the order the promotions were queued; no commit for anything else.
    for stage in STAGES {
        let commits = branches.get(stage).cloned().unwrap_or_default();
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (commit, promotion) in &commits {
            let Some(promotion) = promotion else {
                violate(&mut verdict, format!("{stage}: commit {commit} names no promotion"));
                continue;
            };
            *seen.entry(promotion.as_str()).or_default() += 1;
            match log.promotions.get(promotion).and_then(|p| p.endings.first()) {
                Some(Ending::Succeeded { commit: recorded }) if recorded == commit => {}
                other => violate(
                    &mut verdict,
                    format!("{stage}: commit {commit} of {promotion}, which the log ends as {other:?}"),
                ),
            }
        }
        for (promotion, count) in &seen {
            if *count > 1 {
                verdict.duplicated += count - 1;
                violate(&mut verdict, format!("{stage}: {count} commits for {promotion}"));
            }
        }
        let mut succeeded: Vec<(&String, &PromotionFacts)> = log
            .promotions
            .iter()
            .filter(|(_, p)| p.stage == stage && matches!(p.endings.first(), Some(Ending::Succeeded { .. })))
            .collect();
        succeeded.sort_by_key(|(_, p)| p.created_seq);
        let on_branch: BTreeSet<&str> = seen.keys().copied().collect();
        for (name, _) in &succeeded {
            if !on_branch.contains(name.as_str()) {
                verdict.lost += 1;
                violate(&mut verdict, format!("{stage}: succeeded promotion {name} has no commit in Git"));
            }
        }
        // Order among the succeeded promotions' commits (any other commit is named above).
        let queued_order: Vec<&str> = succeeded.iter().map(|(name, _)| name.as_str()).collect();
        let mut branch_order: Vec<&str> = Vec::new();
        for (_, promotion) in &commits {
            if let Some(promotion) = promotion.as_deref()
                && queued_order.contains(&promotion)
                && !branch_order.contains(&promotion)
            {
                branch_order.push(promotion);
            }
        }
        let queued_on_branch: Vec<&str> = queued_order.iter().copied().filter(|p| branch_order.contains(p)).collect();
        if let Some(at) = branch_order.iter().zip(&queued_on_branch).position(|(a, b)| a != b) {
            let window = |order: &[&str]| order[at.saturating_sub(1)..(at + 2).min(order.len())].join(", ");
            violate(
                &mut verdict,
                format!(
                    "{stage}: commit #{} is of {}, the promotion queued then is {} (branch: … {} …; queued: … {} …)",
                    at + 1,
                    branch_order[at],
                    queued_on_branch[at],
                    window(&branch_order),
                    window(&queued_on_branch)
                ),
            );
        }
    }
    verdict
}

/// Waits until no durable consumer of the event stream has a message pending or
/// unacknowledged; the names and counts of those that still do after `timeout`.
pub async fn stuck_consumers(client: &async_nats::Client, timeout: Duration) -> Vec<String> {
    let js = async_nats::jetstream::new(client.clone());
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut stuck = Vec::new();
        let mut stream = js.get_stream(EVENTS_STREAM).await.expect("the events stream");
        let mut consumers = stream.consumers();
        while let Some(info) = consumers.next().await {
            let Ok(info) = info else { continue };
            if info.config.durable_name.is_none() {
                continue;
            }
            if info.num_pending > 0 || info.num_ack_pending > 0 {
                stuck.push(format!(
                    "{}: {} pending, {} unacknowledged, {} redelivered",
                    info.name, info.num_pending, info.num_ack_pending, info.num_redelivered
                ));
            }
        }
        let _ = &mut stream;
        if stuck.is_empty() || tokio::time::Instant::now() > deadline {
            return stuck;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The dead letters: how many, and the first reasons.
pub async fn dead_letters(client: &async_nats::Client) -> (u64, Vec<String>) {
    let js = async_nats::jetstream::new(client.clone());
    let Ok(mut stream) = js.get_stream(DEAD_LETTER_STREAM).await else { return (0, Vec::new()) };
    let count = stream.info().await.map(|i| i.state.messages).unwrap_or(0);
    let mut reasons = Vec::new();
    let first = stream.info().await.map(|i| i.state.first_sequence).unwrap_or(0);
    for seq in first..first + count.min(5) {
        if let Ok(message) = stream.get_raw_message(seq).await {
            let reason =
                message.headers.get("Lading-Dead-Letter-Reason").map(|v| v.as_str().to_owned()).unwrap_or_default();
            reasons.push(format!("{}: {reason}", message.subject));
        }
    }
    (count, reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two freight through every stage, each promotion succeeded with one commit.
    fn clean() -> (Vec<Driven>, LogFacts, Branches<'static>) {
        let mut log = LogFacts::default();
        let mut branches = Branches::new();
        let mut driven = Vec::new();
        let mut seq = 0;
        for index in 1..=2 {
            let freight = format!("freight-{index}");
            for stage in STAGES {
                seq += 1;
                let name = format!("{stage}.{index}");
                let commit = format!("commit-{stage}-{index}");
                log.promotions.insert(
                    name.clone(),
                    PromotionFacts {
                        stage: stage.to_owned(),
                        freight: freight.clone(),
                        created_seq: seq,
                        endings: vec![Ending::Succeeded { commit: commit.clone() }],
                    },
                );
                log.verified.insert((freight.clone(), stage.to_owned()), 1);
                branches.entry(stage).or_default().push((commit, Some(name)));
            }
            driven.push(Driven {
                index,
                commit: format!("app-{index}"),
                freight,
                expected_stages: STAGES.to_vec(),
                abort: None,
                took: Duration::ZERO,
            });
        }
        (driven, log, branches)
    }

    #[test]
    fn a_clean_run_holds_every_invariant() {
        let (driven, log, branches) = clean();
        let verdict = check(&driven, &log, &branches);
        assert!(verdict.violations.is_empty(), "{:?}", verdict.violations);
        assert_eq!((verdict.freight_stages_reached, verdict.freight_stages_expected), (6, 6));
        assert_eq!((verdict.lost, verdict.duplicated, verdict.promotions_succeeded), (0, 0, 6));
    }

    #[test]
    fn a_second_commit_for_one_promotion_is_a_duplicate() {
        let (driven, log, mut branches) = clean();
        let again = branches["uat"][0].clone();
        branches.get_mut("uat").unwrap().push(("another".to_owned(), again.1));
        let verdict = check(&driven, &log, &branches);
        assert_eq!(verdict.duplicated, 1, "{:?}", verdict.violations);
        assert!(verdict.violations.iter().any(|v| v.contains("2 commits for uat.1")), "{:?}", verdict.violations);
    }

    #[test]
    fn commits_out_of_promotion_order_are_a_violation() {
        let (driven, log, mut branches) = clean();
        branches.get_mut("prod").unwrap().reverse();
        let verdict = check(&driven, &log, &branches);
        let violations = verdict.violations.join("\n");
        assert!(
            violations.contains("prod: commit #1 is of prod.2, the promotion queued then is prod.1"),
            "{violations}"
        );
    }

    #[test]
    fn a_succeeded_promotion_without_its_commit_is_lost() {
        let (driven, log, mut branches) = clean();
        branches.get_mut("test").unwrap().pop();
        let verdict = check(&driven, &log, &branches);
        assert_eq!(verdict.lost, 1, "{:?}", verdict.violations);
        assert!(
            verdict.violations.iter().any(|v| v.contains("test.2 has no commit in Git")),
            "{:?}",
            verdict.violations
        );
    }

    #[test]
    fn a_commit_of_an_aborted_promotion_and_a_second_ending_are_violations() {
        let (mut driven, mut log, branches) = clean();
        // The abort of freight 2 into prod was accepted, yet its commit is in Git.
        log.promotions.get_mut("prod.2").unwrap().endings = vec![Ending::Aborted { actor: "admin".to_owned() }];
        driven[1].expected_stages.truncate(2);
        driven[1].abort = Some(("prod", "prod.2".to_owned(), AbortOutcome::Aborted));
        // And freight 1's test promotion ended twice.
        log.promotions.get_mut("test.1").unwrap().endings.push(Ending::Failed("late".to_owned()));
        let verdict = check(&driven, &log, &branches);
        let violations = verdict.violations.join("\n");
        assert!(
            violations.contains("prod: commit commit-prod-2 of prod.2, which the log ends as Some(Aborted"),
            "{violations}"
        );
        assert!(violations.contains("promotion test.1 ended 2 times"), "{violations}");
        assert_eq!(verdict.duplicated, 1, "{violations}");
    }

    #[test]
    fn a_freight_that_missed_a_stage_is_lost() {
        let (driven, mut log, mut branches) = clean();
        log.promotions.remove("uat.2");
        log.verified.remove(&("freight-2".to_owned(), "uat".to_owned()));
        branches.get_mut("uat").unwrap().pop();
        let verdict = check(&driven, &log, &branches);
        assert_eq!(verdict.lost, 1, "{:?}", verdict.violations);
        assert!(verdict.violations.iter().any(|v| v.contains("freight #2 (freight-2) should be in uat")));
    }
}
