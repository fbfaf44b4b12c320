//! Given/when/then tests of the Argo CD rules.

use serde_json::{Value, json};

use super::*;

fn app(annotations: Value) -> Value {
    json!({
        "metadata": {"name": "guestbook", "namespace": "argocd", "annotations": annotations},
        "spec": {"source": {"repoURL": "https://github.com/example/gitops.git", "targetRevision": "stage/test", "path": "."}},
    })
}

fn update(sources: Vec<SourceUpdate>) -> AppUpdate {
    AppUpdate { name: "guestbook".into(), selector: None, namespace: None, sources }
}

fn ours(phase: &str, revision: &str) -> Value {
    let mut app = app(json!({}));
    app["status"] = json!({"operationState": {
        "phase": phase,
        "message": "one or more objects failed to apply",
        "operation": {"info": [{"name": PROMOTION_INFO_KEY, "value": "p1"}], "initiatedBy": {"username": OPERATION_INITIATOR}},
        "syncResult": {"revision": revision},
    }});
    app
}

#[test]
fn given_an_app_annotated_for_the_stage_when_authorized_then_it_passes_under_either_annotation() {
    assert!(authorize(&app(json!({"kargo.akuity.io/authorized-stage": "demo:test"})), "demo", "test").is_ok());
    assert!(authorize(&app(json!({"lading.dev/authorized-stage": "other:x, demo:test"})), "demo", "test").is_ok());
}

#[test]
fn given_an_app_for_another_stage_or_none_when_authorized_then_it_is_refused_naming_the_annotation() {
    let error = authorize(&app(json!({"kargo.akuity.io/authorized-stage": "demo:uat"})), "demo", "test").unwrap_err();
    assert!(error.contains("does not authorize stage test of project demo"), "{error}");
    assert!(error.contains("kargo.akuity.io/authorized-stage"), "{error}");
    assert!(authorize(&app(json!(null)), "demo", "test").is_err());
    let error = authorize(&app(json!({"kargo.akuity.io/authorized-stage": "demo:*"})), "demo", "test").unwrap_err();
    assert!(error.contains("glob"), "{error}");
}

#[test]
fn given_source_updates_when_desired_sources_are_built_then_revision_and_images_change() {
    let app = app(json!({}));
    let update = update(vec![SourceUpdate {
        repo_url: "https://github.com/example/gitops".into(),
        desired_revision: "abc123".into(),
        update_target_revision: true,
        kustomize: Some(KustomizeImages {
            images: vec![KustomizeImage { repo_url: "nginx".into(), tag: "1.2".into(), ..Default::default() }],
        }),
        helm: Some(HelmImages { images: vec![HelmImage { key: "image.tag".into(), value: "1.2".into() }] }),
        ..Default::default()
    }]);
    assert_eq!(desired_revisions(&update, &app), vec!["abc123".to_owned()]);
    let sources = desired_sources(&update, &app).unwrap();
    assert_eq!(sources[0]["targetRevision"], "abc123");
    assert_eq!(sources[0]["kustomize"]["images"], json!(["nginx:1.2"]));
    assert_eq!(sources[0]["helm"]["parameters"], json!([{"name": "image.tag", "value": "1.2"}]));
}

#[test]
fn given_an_update_for_a_repository_the_app_lacks_when_built_then_it_names_the_source() {
    let update =
        update(vec![SourceUpdate { repo_url: "https://github.com/example/other".into(), ..Default::default() }]);
    let error = desired_sources(&update, &app(json!({}))).unwrap_err();
    assert!(error.starts_with("sources[0]: no source of"), "{error}");
}

#[test]
fn given_a_single_source_app_when_the_sync_patch_is_made_then_it_names_the_promotion_and_clears_the_last_state() {
    let app = app(json!({}));
    let patch = sync_patch(&app, desired_sources(&update(vec![]), &app).unwrap(), "p1");
    assert_eq!(patch["operation"]["info"][1], json!({"name": PROMOTION_INFO_KEY, "value": "p1"}));
    assert_eq!(patch["operation"]["sync"]["revisions"], json!([]));
    assert!(patch["spec"]["source"].is_object());
    assert!(patch["status"]["operationState"].is_null());
    assert_eq!(patch["metadata"]["annotations"]["argocd.argoproj.io/refresh"], "hard");
}

#[test]
fn given_operation_states_when_progress_is_read_then_start_run_succeed_or_fail() {
    let desired = vec!["abc".to_owned()];
    assert_eq!(sync_progress(&app(json!({})), "p1", &desired), SyncProgress::Start);
    assert_eq!(sync_progress(&ours("Running", ""), "p1", &desired), SyncProgress::Running);
    assert_eq!(sync_progress(&ours("Succeeded", "abc"), "p1", &desired), SyncProgress::Succeeded);
    let SyncProgress::Failed(message) = sync_progress(&ours("Failed", "abc"), "p1", &desired) else { panic!() };
    assert!(message.contains("one or more objects failed to apply"), "{message}");
    // Finished at another revision: synced again.
    assert_eq!(sync_progress(&ours("Succeeded", "old"), "p1", &desired), SyncProgress::Start);
    // Another promotion's finished sync does not hold this one; a running one does.
    assert_eq!(sync_progress(&ours("Succeeded", "abc"), "p2", &desired), SyncProgress::Start);
    assert!(matches!(sync_progress(&ours("Running", ""), "p2", &desired), SyncProgress::Busy(_)));
    let mut pending = app(json!({}));
    pending["operation"] = json!({"info": [{"name": PROMOTION_INFO_KEY, "value": "p1"}], "sync": {}});
    assert_eq!(sync_progress(&pending, "p1", &desired), SyncProgress::Running);
}

#[test]
fn given_argo_health_and_sync_when_mapped_then_kargo_states_result() {
    let mut healthy = ours("Succeeded", "abc");
    healthy["status"]["operationState"]["finishedAt"] = json!("2026-01-01T00:00:00Z");
    healthy["status"]["reconciledAt"] = json!("2026-01-01T00:00:00Z");
    healthy["status"]["sync"] = json!({"status": "Synced", "revision": "abc"});
    healthy["status"]["health"] = json!({"status": "Healthy"});
    let desired = vec!["abc".to_owned()];
    assert_eq!(app_health(&healthy, &desired).0, Health::Healthy);
    let mut progressing = healthy.clone();
    progressing["status"]["health"]["status"] = json!("Progressing");
    assert_eq!(app_health(&progressing, &desired).0, Health::Progressing);
    let mut degraded = healthy.clone();
    degraded["status"]["health"]["status"] = json!("Degraded");
    assert_eq!(app_health(&degraded, &desired).0, Health::Degraded);
    let mut behind = healthy.clone();
    behind["status"]["sync"]["revision"] = json!("old");
    assert_eq!(app_health(&behind, &desired).0, Health::Degraded);
    let mut syncing = healthy.clone();
    syncing["operation"] = json!({"sync": {}});
    assert_eq!(app_health(&syncing, &desired).0, Health::Unknown);
    let mut broken = healthy.clone();
    broken["status"]["conditions"] = json!([{"type": "ComparisonError", "message": "bad"}]);
    assert_eq!(app_health(&broken, &desired).0, Health::Degraded);
    assert_eq!(stage_health(&[Health::Healthy, Health::Progressing]), Health::Progressing);
    assert_eq!(stage_health(&[Health::Healthy, Health::Degraded, Health::Unknown]), Health::Degraded);
    assert_eq!(stage_health(&[]), Health::Healthy);
}

#[test]
fn given_wait_conditions_when_checked_then_ready_only_when_all_hold() {
    let mut app = app(json!({}));
    app["status"] = json!({"health": {"status": "Healthy"}, "sync": {"status": "OutOfSync"}});
    assert!(!wait_ready(&app, &[]).unwrap());
    assert!(wait_ready(&app, &["health".to_owned()]).unwrap());
    app["status"]["sync"]["status"] = json!("Synced");
    assert!(wait_ready(&app, &[]).unwrap());
    assert!(wait_ready(&app, &["bogus".to_owned()]).unwrap_err().starts_with("waitFor[0]"));
}
