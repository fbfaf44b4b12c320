use lading_domain::promotion_queue::Turn;
use lading_domain::verification::Phase;
use lading_events::catalog::*;

use super::*;

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn created(id: &str, alias: &str) -> Event {
    created_from(id, alias, "app")
}

fn created_from(id: &str, alias: &str, warehouse: &str) -> Event {
    Event::FreightCreated(FreightCreatedV1 {
        project: "p".into(),
        freight_id: id.into(),
        alias: alias.into(),
        origin_kind: "Warehouse".into(),
        origin_name: warehouse.into(),
        commits: vec![],
        images: vec![],
        charts: vec![],
        created_at_ms: 1,
    })
}

fn queued(stage: &str, name: &str, freight: &str) -> Event {
    Event::PromotionCreated(PromotionCreatedV1 {
        project: "p".into(),
        stage: stage.into(),
        promotion: name.into(),
        freight_id: freight.into(),
        trigger: PromotionTrigger::Auto,
        created_at_ms: 2,
    })
}

fn succeeded(stage: &str, name: &str, freight: &str) -> Event {
    Event::PromotionSucceeded(PromotionSucceededV1 {
        project: "p".into(),
        stage: stage.into(),
        promotion: name.into(),
        freight_id: freight.into(),
        commit: "c".into(),
        finished_at_ms: 3,
    })
}

fn replay(events: &[Event]) -> ReadModel {
    let mut model = ReadModel::default();
    for (i, e) in events.iter().enumerate() {
        model.apply(i as u64 + 1, e);
    }
    model
}

fn id(s: &str) -> FreightId {
    FreightId::parse(s).unwrap()
}

#[test]
fn currently_in_follows_the_latest_successful_promotion() {
    let model = replay(&[
        created(A, "a-a"),
        created(B, "b-b"),
        queued("test", "p1", A),
        succeeded("test", "p1", A),
        queued("test", "p2", B),
        succeeded("test", "p2", B),
    ]);
    let p = model.project("p").unwrap();
    assert!(p.freight[&id(A)].freight.status.currently_in.is_empty());
    assert!(p.freight[&id(B)].freight.status.currently_in.contains_key("test"));
    assert_eq!(model.last_seq, 6);
}

#[test]
fn the_queue_head_is_the_oldest_unfinished_promotion() {
    let model = replay(&[created(A, "a-a"), created(B, "b-b"), queued("test", "p1", A), queued("test", "p2", B)]);
    let stage = &model.project("p").unwrap().stages["test"];
    assert_eq!(stage.head_of_queue().unwrap().name, "p1");
    let model =
        replay(&[created(A, "a-a"), queued("test", "p1", A), queued("test", "p2", B), succeeded("test", "p1", A)]);
    assert_eq!(model.project("p").unwrap().stages["test"].head_of_queue().unwrap().name, "p2");
}

#[test]
fn replaying_twice_changes_nothing() {
    let events = [created(A, "a-a"), queued("test", "p1", A), succeeded("test", "p1", A)];
    let mut model = replay(&events);
    let once = model.clone();
    for (i, e) in events.iter().enumerate() {
        model.apply(i as u64 + 1, e);
    }
    assert_eq!(model, once);
}

#[test]
fn freight_is_found_by_id_or_alias() {
    let model = replay(&[created(A, "brave-otter")]);
    let p = model.project("p").unwrap();
    assert_eq!(p.find_freight("brave-otter").unwrap().id, id(A));
    assert_eq!(p.find_freight(A).unwrap().freight.alias, "brave-otter");
    assert!(p.find_freight("calm-yak").is_none());
}

#[test]
fn verification_is_recorded_per_stage() {
    let model = replay(&[
        created(A, "a-a"),
        Event::FreightVerified(FreightVerifiedV1 {
            project: "p".into(),
            stage: "test".into(),
            freight_id: A.into(),
            promotion: "p1".into(),
            verified_at_ms: 5,
        }),
    ]);
    assert!(model.project("p").unwrap().freight[&id(A)].freight.status.verified_in.contains_key("test"));
}

fn succeeded_at(stage: &str, name: &str, freight: &str, at_ms: i64) -> Event {
    let Event::PromotionSucceeded(mut e) = succeeded(stage, name, freight) else { unreachable!() };
    e.finished_at_ms = at_ms;
    Event::PromotionSucceeded(e)
}

fn verified(stage: &str, freight: &str) -> Event {
    Event::FreightVerified(FreightVerifiedV1 {
        project: "p".into(),
        stage: stage.into(),
        freight_id: freight.into(),
        promotion: "x".into(),
        verified_at_ms: 5,
    })
}

#[test]
fn leaving_a_stage_records_the_longest_soak() {
    let hour = 3_600_000;
    let model = replay(&[
        created(A, "a-a"),
        created(B, "b-b"),
        queued("test", "p1", A),
        succeeded_at("test", "p1", A, hour),
        verified("test", A),
        queued("test", "p2", B),
        succeeded_at("test", "p2", B, 3 * hour),
    ]);
    let a = &model.project("p").unwrap().freight[&id(A)].freight.status;
    assert_eq!(a.verified_in["test"].longest_soak.as_deref(), Some("2h0m0s"));
    assert!(!a.currently_in.contains_key("test"));
}

#[test]
fn a_stage_holds_one_freight_per_origin() {
    const C: &str = "cccccccccccccccccccccccccccccccccccccccc";
    let model = replay(&[
        created(A, "a-a"),
        created_from(C, "c-c", "config"),
        created(B, "b-b"),
        queued("test", "p1", A),
        succeeded("test", "p1", A),
        queued("test", "p2", C),
        succeeded("test", "p2", C),
        queued("test", "p3", B),
        succeeded("test", "p3", B),
    ]);
    let p = model.project("p").unwrap();
    let current: Vec<_> = p.stages["test"].current.values().map(|(id, _)| id.as_str().to_owned()).collect();
    assert_eq!(current, vec![B.to_owned(), C.to_owned()], "keyed by Warehouse/app and Warehouse/config");
    assert!(p.freight[&id(C)].freight.status.currently_in.contains_key("test"), "config freight stays");
    assert!(!p.freight[&id(A)].freight.status.currently_in.contains_key("test"), "app freight was replaced");
}

fn verification_started(id: &str, freight: &str) -> Event {
    Event::VerificationStarted(VerificationStartedV1 {
        project: "p".into(),
        stage: "test".into(),
        freight_id: freight.into(),
        promotion: "test.1".into(),
        verification_id: id.into(),
        actor: "lading/verifier".into(),
        templates: vec!["AnalysisTemplate/health".into()],
        started_at_ms: 10,
    })
}

fn measured(id: &str, index: u32, phase: VerificationPhaseV1, value: &str) -> Event {
    Event::VerificationMeasured(VerificationMeasuredV1 {
        project: "p".into(),
        stage: "test".into(),
        verification_id: id.into(),
        metric: "health".into(),
        index,
        phase,
        value: value.into(),
        message: format!("value {value}"),
        started_at_ms: 11,
        finished_at_ms: 12,
    })
}

fn verification_finished(id: &str, phase: VerificationPhaseV1, message: &str) -> Event {
    Event::VerificationFinished(VerificationFinishedV1 {
        project: "p".into(),
        stage: "test".into(),
        freight_id: A.into(),
        promotion: "test.1".into(),
        verification_id: id.into(),
        phase,
        message: message.into(),
        finished_at_ms: 20,
    })
}

#[test]
fn a_verification_keeps_each_measurement_once_and_its_first_verdict() {
    use VerificationPhaseV1::{Aborted, Failed, Successful};
    let model = replay(&[
        created(A, "a-a"),
        verification_started("v1", A),
        measured("v1", 0, Successful, "ok"),
        // A replica that took over measured index 0 again: the later record replaces it.
        measured("v1", 0, Successful, "still ok"),
        measured("v1", 1, Failed, "down"),
        verification_finished("v1", Aborted, "aborted by alice"),
        // A second verdict for the same verification changes nothing.
        verification_finished("v1", Successful, "every metric assessed Successful (health)"),
    ]);
    let stage = &model.project("p").unwrap().stages["test"];
    let record = stage.last_verification_of(&id(A)).unwrap();
    assert_eq!((record.phase, record.message.as_str()), (Phase::Aborted, "aborted by alice"));
    let taken: Vec<(u32, &str)> = record.measurements.iter().map(|m| (m.index, m.value.as_str())).collect();
    assert_eq!(taken, [(0, "still ok"), (1, "down")]);
}

#[test]
fn a_stage_keeps_its_latest_verifications_and_a_rerun_is_the_newest() {
    let mut events = vec![created(A, "a-a")];
    events.extend((0..VERIFICATIONS_KEPT + 2).map(|i| verification_started(&format!("v{i}"), A)));
    let model = replay(&events);
    let stage = &model.project("p").unwrap().stages["test"];
    assert_eq!(stage.verifications.len(), VERIFICATIONS_KEPT);
    assert_eq!(stage.verifications[0].id, "v2", "the oldest two were dropped");
    assert_eq!(stage.last_verification_of(&id(A)).unwrap().id, format!("v{}", VERIFICATIONS_KEPT + 1));
}

fn health(promotion: &str, change: u32, status: HealthStatusV1) -> Event {
    Event::StageHealthChanged(StageHealthChangedV1 {
        project: "p".into(),
        stage: "test".into(),
        promotion: promotion.into(),
        change,
        status,
        issues: if status == HealthStatusV1::Healthy { vec![] } else { vec!["app is progressing".into()] },
        config: r#"[{"uses":"argocd-update","config":{"apps":[{"name":"app","namespace":"argocd"}]}}]"#.into(),
        output: r#"[{"applicationStatuses":[]}]"#.into(),
        checked_at_ms: 4,
    })
}

#[test]
fn given_health_published_before_a_promotion_succeeds_when_replayed_then_the_stage_has_it_and_follows_changes() {
    let model = replay(&[
        created(A, "a-a"),
        queued("test", "p1", A),
        health("p1", 0, HealthStatusV1::Progressing),
        succeeded("test", "p1", A),
        health("p1", 1, HealthStatusV1::Healthy),
    ]);
    let stage = &model.project("p").unwrap().stages["test"];
    let record = stage.current_health().expect("the stage has health");
    assert_eq!(record.health.status, lading_domain::stage_health::Health::Healthy);
    assert_eq!(record.changes, 2);
    assert_eq!(record.checks[0].uses, "argocd-update");
    assert!(record.health.issues.is_empty());
}

#[test]
fn given_a_later_promotion_without_health_checks_when_it_succeeds_then_the_stage_has_no_health() {
    let model = replay(&[
        created(A, "a-a"),
        created(B, "b-b"),
        queued("test", "p1", A),
        health("p1", 0, HealthStatusV1::Degraded),
        succeeded("test", "p1", A),
        queued("test", "p2", B),
        succeeded("test", "p2", B),
        // A late change about the replaced promotion changes nothing.
        health("p1", 1, HealthStatusV1::Healthy),
    ]);
    let stage = &model.project("p").unwrap().stages["test"];
    assert!(stage.health.is_none());
    assert!(stage.current_health().is_none());
}

#[test]
fn given_health_of_a_promotion_not_yet_succeeded_when_read_then_it_is_not_the_stage_health_yet() {
    let model = replay(&[created(A, "a-a"), queued("test", "p1", A), health("p1", 0, HealthStatusV1::Healthy)]);
    let stage = &model.project("p").unwrap().stages["test"];
    assert!(stage.health.is_some(), "kept for when it succeeds");
    assert!(stage.current_health().is_none());
}

fn waiting(stage: &str, name: &str, freight: &str, index: u32) -> Event {
    Event::PromotionWaiting(PromotionWaitingV1 {
        project: "p".into(),
        stage: stage.into(),
        promotion: name.into(),
        freight_id: freight.into(),
        index,
        alias: "wait".into(),
        uses: "git-wait-for-pr".into(),
        state: "{}".into(),
        message: "pull request https://example.com/pull/1".into(),
        waiting_since_ms: 5,
        poll_interval_ms: 1000,
    })
}

fn step_finished(stage: &str, name: &str, index: u32) -> Event {
    Event::PromotionStepFinishedV2(PromotionStepFinishedV2 {
        project: "p".into(),
        stage: stage.into(),
        promotion: name.into(),
        index,
        alias: "wait".into(),
        uses: "git-wait-for-pr".into(),
        status: StepStatusV2::Succeeded,
        message: String::new(),
        started_at_ms: 5,
        finished_at_ms: 6,
    })
}

#[test]
fn a_waiting_promotion_runs_keeps_its_stages_turn_and_stops_waiting_when_its_step_reports() {
    // Given p1 waiting at step 3 and p2 queued behind it,
    let events = [created(A, "a-a"), created(B, "b-b"), queued("test", "p1", A), queued("test", "p2", B)];
    let mut all = events.to_vec();
    all.push(waiting("test", "p1", A, 3));
    let model = replay(&all);
    let stage = &model.project("p").unwrap().stages["test"];
    // then p1 is Running with its wait, and the stage's turn stays with it;
    let p1 = stage.promotion("p1").unwrap();
    assert_eq!((p1.phase, p1.waiting.as_ref().map(|w| w.index)), (PromotionPhase::Running, Some(3)));
    assert_eq!(stage.head_of_queue().unwrap().name, "p1");
    assert_eq!(stage.turn_of("p2"), Turn::Waiting);
    // when the waiting step reports, the wait is over.
    all.push(step_finished("test", "p1", 3));
    let model = replay(&all);
    assert!(model.project("p").unwrap().stages["test"].promotion("p1").unwrap().waiting.is_none());
}

#[test]
fn a_wait_recorded_after_the_promotion_ended_changes_nothing() {
    // Given p1 succeeded, when a late wait of it is applied, then it stays Succeeded.
    let model =
        replay(&[created(A, "a-a"), queued("test", "p1", A), succeeded("test", "p1", A), waiting("test", "p1", A, 3)]);
    let p1 = model.project("p").unwrap().stages["test"].promotion("p1").unwrap().clone();
    assert_eq!((p1.phase, p1.waiting), (PromotionPhase::Succeeded, None));
}

#[test]
fn a_handled_refresh_is_remembered_with_its_position_and_earlier_versions_apply_alike() {
    // Given a stage refresh handled before requests named positions (v1), then one handled at 9 (v2),
    let mut model = ReadModel::default();
    model.apply(
        4,
        &Event::StageRefreshHandled(StageRefreshHandledV1 {
            project: "demo".into(),
            stage: "test".into(),
            request_id: "one".into(),
            handled_at_ms: 1,
        }),
    );
    let stage = |model: &ReadModel| model.project("demo").unwrap().stages["test"].clone();
    assert_eq!(
        (stage(&model).last_handled_refresh.as_deref(), stage(&model).last_handled_refresh_seq),
        (Some("one"), 4)
    );
    model.apply(
        9,
        &Event::StageRefreshHandledV2(StageRefreshHandledV2 {
            project: "demo".into(),
            stage: "test".into(),
            request_id: "one".into(),
            after_seq: 4,
            handled_at_ms: 2,
        }),
    );
    // then the stage names the same token, handled later.
    assert_eq!(
        (stage(&model).last_handled_refresh.as_deref(), stage(&model).last_handled_refresh_seq),
        (Some("one"), 9)
    );
    // Given a warehouse refresh from the discovery stream, then its position there is kept.
    model.apply_discovery(
        3,
        &Event::WarehouseRefreshHandledV2(WarehouseRefreshHandledV2 {
            project: "demo".into(),
            warehouse: "app".into(),
            request_id: "w".into(),
            after_seq: 0,
            handled_at_ms: 3,
        }),
    );
    let warehouse = &model.project("demo").unwrap().warehouses["app"];
    assert_eq!((warehouse.last_handled_refresh.as_deref(), warehouse.last_handled_refresh_seq), (Some("w"), 3));
}
