//! Given/when/then tests of a stage's health.

use serde_json::{Value, json};

use super::*;

const REPO: &str = "https://git.example.com/gitops.git";

/// An Application Argo CD synced to `revision` and reassessed since, with health `health`.
fn synced(name: &str, revision: &str, health: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {"source": {"repoURL": REPO, "targetRevision": "stage/test"}},
        "status": {
            "operationState": {"phase": "Succeeded", "finishedAt": "2026-01-01T00:00:00Z"},
            "reconciledAt": "2026-01-01T00:00:05Z",
            "sync": {"status": "Synced", "revision": revision},
            "health": {"status": health, "message": "ok"},
        },
    })
}

fn check(apps: &[(&str, &str)]) -> HealthCheck {
    let apps: Vec<Value> = apps
        .iter()
        .map(|(name, revision)| json!({"name": name, "namespace": "argocd", "desiredRevisions": [revision]}))
        .collect();
    let outputs = json!({"apps": apps});
    check_left_by("argocd-update", outputs.as_object().unwrap()).unwrap()
}

fn one_app(app: Value) -> StageHealth {
    assess(&[check(&[("guestbook", "abc")])], &[vec![AppRead::Found(app)]])
}

#[test]
fn given_an_argocd_update_step_when_it_finished_then_it_leaves_a_check_of_its_apps_and_others_leave_none() {
    let check = check(&[("guestbook", "abc")]);
    assert_eq!(check.uses, "argocd-update");
    let apps = apps_of(&check).unwrap();
    assert_eq!(
        apps,
        vec![AppCheck { name: "guestbook".into(), namespace: "argocd".into(), desired_revisions: vec!["abc".into()] }]
    );
    assert_eq!(check_left_by("git-push", json!({"commit": "abc"}).as_object().unwrap()), None);
}

#[test]
fn given_an_app_at_the_desired_revision_when_argo_says_healthy_then_the_stage_is_healthy_with_no_issues() {
    let health = one_app(synced("guestbook", "abc", "Healthy"));
    assert_eq!(health.status, Health::Healthy);
    assert!(health.issues.is_empty(), "{:?}", health.issues);
    let statuses = &health.output[0]["applicationStatuses"];
    assert_eq!(statuses[0]["name"], "guestbook");
    assert_eq!(statuses[0]["health"]["status"], "Healthy");
    assert_eq!(statuses[0]["sync"]["revision"], "abc");
}

#[test]
fn given_argo_health_states_when_assessed_then_they_map_as_kargo_maps_them() {
    for (argo, stage) in [
        ("Progressing", Health::Progressing),
        ("", Health::Progressing),
        ("Suspended", Health::Progressing),
        ("Degraded", Health::Degraded),
        ("Missing", Health::Degraded),
        ("Unknown", Health::Degraded),
    ] {
        let health = one_app(synced("guestbook", "abc", argo));
        assert_eq!(health.status, stage, "Argo CD {argo:?}");
        assert_eq!(health.issues.len(), 1, "{:?}", health.issues);
    }
    let degraded = one_app(synced("guestbook", "abc", "Degraded"));
    assert!(
        degraded.issues[0].contains("\"guestbook\"") && degraded.issues[0].contains("\"Degraded\""),
        "{:?}",
        degraded.issues
    );
}

#[test]
fn given_an_app_synced_to_another_revision_when_assessed_then_the_stage_is_degraded_naming_the_source() {
    let health = one_app(synced("guestbook", "old", "Healthy"));
    assert_eq!(health.status, Health::Degraded);
    assert!(health.issues[0].contains("not synced to the desired revision \"abc\""), "{:?}", health.issues);
    assert!(health.issues[0].contains(REPO), "{:?}", health.issues);
}

#[test]
fn given_a_sync_under_way_or_health_older_than_the_sync_when_assessed_then_the_stage_is_unknown() {
    let mut syncing = synced("guestbook", "abc", "Healthy");
    syncing["operation"] = json!({"sync": {"revisions": []}});
    let health = one_app(syncing);
    assert_eq!(health.status, Health::Unknown);
    assert!(health.issues[0].contains("is being synced"), "{:?}", health.issues);

    // Argo CD has not reassessed health since the sync finished: not trusted.
    let mut stale = synced("guestbook", "abc", "Healthy");
    stale["status"]["reconciledAt"] = json!("2025-12-31T23:59:59Z");
    let health = one_app(stale.clone());
    assert_eq!(health.status, Health::Unknown);
    assert!(health.issues[0].contains("not trusted"), "{:?}", health.issues);
    stale["status"].as_object_mut().unwrap().remove("reconciledAt");
    assert_eq!(one_app(stale).status, Health::Unknown);
    // Reassessed in the same second the sync finished: trusted.
    let mut same = synced("guestbook", "abc", "Healthy");
    same["status"]["reconciledAt"] = json!("2026-01-01T00:00:00Z");
    assert_eq!(one_app(same).status, Health::Healthy);
}

#[test]
fn given_an_error_condition_when_assessed_then_the_stage_is_degraded_whatever_argo_health_says() {
    let mut app = synced("guestbook", "abc", "Healthy");
    app["status"]["conditions"] = json!([{"type": "ComparisonError", "message": "repo unreachable", "lastTransitionTime": "2026-01-01T00:00:00Z"}]);
    let health = one_app(app);
    assert_eq!(health.status, Health::Degraded);
    assert!(health.issues[0].contains("\"ComparisonError\" condition: repo unreachable"), "{:?}", health.issues);
    // The condition shows in the output without the time Argo CD rewrites.
    let condition = &health.output[0]["applicationStatuses"][0]["conditions"][0];
    assert_eq!(condition, &json!({"type": "ComparisonError", "message": "repo unreachable"}));
    // A warning condition is not an error.
    let mut warned = synced("guestbook", "abc", "Healthy");
    warned["status"]["conditions"] = json!([{"type": "SharedResourceWarning", "message": "shared"}]);
    assert_eq!(one_app(warned).status, Health::Healthy);
}

#[test]
fn given_several_apps_when_assessed_then_the_worst_wins_and_every_issue_is_kept() {
    let checks = [check(&[("a", "abc"), ("b", "abc")]), check(&[("c", "abc")])];
    let reads = [
        vec![AppRead::Found(synced("a", "abc", "Healthy")), AppRead::Found(synced("b", "abc", "Progressing"))],
        vec![AppRead::Found(synced("c", "abc", "Healthy"))],
    ];
    let health = assess(&checks, &reads);
    assert_eq!(health.status, Health::Progressing);
    assert_eq!(health.issues.len(), 1);
    assert_eq!(health.output.as_array().unwrap().len(), 2, "one output per check");

    let reads = [
        vec![AppRead::NotFound, AppRead::Found(synced("b", "abc", "Degraded"))],
        vec![AppRead::Failed("connection refused".into())],
    ];
    let health = assess(&checks, &reads);
    assert_eq!(health.status, Health::Degraded, "Degraded is worse than Unknown");
    assert_eq!(health.issues.len(), 3, "{:?}", health.issues);
    assert!(health.issues[0].contains("unable to find Argo CD Application \"a\""), "{:?}", health.issues);
    assert!(health.issues[2].contains("connection refused"), "{:?}", health.issues);
    assert_eq!(health.output[0]["applicationStatuses"][0]["health"]["status"], "Unknown");
}

#[test]
fn given_no_check_or_an_unknown_kind_when_assessed_then_healthy_or_unknown() {
    assert_eq!(assess(&[], &[]).status, Health::Healthy);
    let unknown = HealthCheck { uses: "helm-wait".into(), config: json!({}) };
    let health = assess(&[unknown], &[]);
    assert_eq!(health.status, Health::Unknown);
    assert!(health.issues[0].contains("no health checker registered for health check kind \"helm-wait\""));
}

#[test]
fn given_a_health_when_shown_then_the_healthy_condition_follows_kargo() {
    assert_eq!(healthy_condition(None, 1).reason, "WaitingForHealthCheck");
    let healthy = one_app(synced("guestbook", "abc", "Healthy"));
    let condition = healthy_condition(Some(&healthy), 1);
    assert_eq!((condition.status, condition.reason.as_str()), ("True", "Healthy"));
    assert_eq!(condition.message, "stage is healthy (performed 1 health checks)");
    let degraded = one_app(synced("guestbook", "abc", "Degraded"));
    let condition = healthy_condition(Some(&degraded), 1);
    assert_eq!((condition.status, condition.reason.as_str()), ("False", "Degraded"));
    assert_eq!(condition.message, "stage is unhealthy (1 issues in 1 health checks)");
    let progressing = one_app(synced("guestbook", "abc", "Progressing"));
    let condition = healthy_condition(Some(&progressing), 1);
    assert_eq!((condition.status, condition.reason.as_str()), ("Unknown", "Progressing"));
    assert!(condition.message.contains("is progressing"));
}

#[test]
fn given_a_recorded_health_when_assessed_again_then_only_a_difference_is_a_change() {
    let healthy = one_app(synced("guestbook", "abc", "Healthy"));
    assert!(changed(None, &healthy));
    assert!(!changed(Some(&healthy), &healthy.clone()));
    assert!(changed(Some(&healthy), &one_app(synced("guestbook", "abc", "Degraded"))));
    // A time Argo CD rewrites on every refresh is no change.
    let mut refreshed = synced("guestbook", "abc", "Healthy");
    refreshed["status"]["reconciledAt"] = json!("2026-01-01T01:00:00Z");
    assert!(!changed(Some(&healthy), &one_app(refreshed)));
    assert_eq!(Health::parse("Degraded"), Some(Health::Degraded));
    assert_eq!(Health::parse("Unhealthy"), None);
}

#[test]
fn given_a_running_promotion_when_health_is_shown_then_it_is_unknown_because_of_the_promotion() {
    use crate::promotion_queue::PromotionPhase::*;
    let promotions = [(Succeeded, true), (Running, true), (Pending, false)];
    let why = not_assessed(promotions.into_iter()).unwrap();
    assert_eq!(why, NotAssessed::PromotionRunning);
    let (health, condition) = not_assessed_health(why);
    assert_eq!(health.status, Health::Unknown);
    assert_eq!(health.issues, ["Cannot assess health because a Promotion is currently in progress"]);
    assert_eq!((condition.status, condition.reason.as_str()), ("Unknown", "ActivePromotion"));
}

#[test]
fn given_the_last_promotion_that_ran_failed_when_health_is_shown_then_it_is_unknown_naming_the_phase() {
    use crate::promotion_queue::PromotionPhase::*;
    let why = not_assessed([(Succeeded, true), (Failed, true)].into_iter()).unwrap();
    assert_eq!(why, NotAssessed::LastPromotion(Failed));
    let (health, condition) = not_assessed_health(why);
    assert_eq!(health.issues, ["Cannot assess health because last Promotion did not succeed"]);
    assert_eq!(condition.reason, "LastPromotionFailed");
}

#[test]
fn given_succeeded_last_or_an_abort_before_running_when_health_is_shown_then_it_is_assessed() {
    use crate::promotion_queue::PromotionPhase::*;
    assert_eq!(not_assessed([(Failed, true), (Succeeded, true)].into_iter()), None);
    assert_eq!(not_assessed([(Succeeded, true), (Aborted, false), (Pending, false)].into_iter()), None);
    assert_eq!(not_assessed(std::iter::empty()), None);
}
