//! `argocd-update` and `argocd-wait` against a real kube-apiserver with Argo CD's
//! Application CRD; the test plays Argo CD's application controller. Kargo's quickstart
//! runs through `argocd-update`, and the stage takes its health from the Application:
//! `Progressing` after the sync, `Healthy` once Argo CD says so (only then does its
//! verification start), `Degraded` when the Application degrades later; `Unknown` while
//! a promotion runs; a stage refresh assesses it at once; two promoter replicas publish
//! each change once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lading_domain::Freight;
use lading_domain::spec::PromotionStep;
use lading_promoter::engine::{PromotionError, PromotionOutcome};
use lading_promoter::steps::argocd::ArgoCdAccess;
use lading_tests::argocd::{self, FakeArgoCd, SyncOutcome};
use lading_tests::engine_run::EngineRun;
use lading_tests::kube::TestKube;
use serde_json::{Value, json};

const REPO: &str = "https://git.example.com/team/gitops.git";
const TIMEOUT: Duration = Duration::from_secs(30);

fn step(value: Value) -> PromotionStep {
    serde_json::from_value(value).expect("a step")
}

fn update(app: &str) -> PromotionStep {
    step(json!({"uses": "argocd-update", "config": {"apps": [{"name": app, "sources": [{
        "repoURL": REPO, "desiredRevision": "abc123", "updateTargetRevision": true,
        "kustomize": {"images": [{"repoURL": "nginx", "tag": "1.29.1"}]},
    }]}]}, "retry": {"timeout": "30s"}}))
}

/// Runs `steps` as promotion `p1` of stage `demo:test` on a blocking thread.
async fn run(kube: &TestKube, steps: Vec<PromotionStep>) -> Result<PromotionOutcome, PromotionError> {
    let access = ArgoCdAccess {
        kubeconfig: Some(kube.kubeconfig_path()),
        poll: Duration::from_millis(50),
        ..Default::default()
    };
    tokio::task::spawn_blocking(move || {
        let freight = Freight::from_warehouse("app").with_image("nginx", "1.29.1", "sha256:1111");
        let workspace = tempfile::tempdir().unwrap();
        EngineRun { promotion: "p1", argocd: access, ..EngineRun::new(&freight) }.run(workspace.path(), &steps)
    })
    .await
    .unwrap()
}

fn authorized() -> Value {
    json!({"kargo.akuity.io/authorized-stage": "demo:test"})
}

async fn cluster() -> (TestKube, kube::Client, FakeArgoCd) {
    let kube = TestKube::start().await;
    argocd::install(&kube).await;
    let client = kube.client().await;
    let argo = FakeArgoCd::start(
        client.clone(),
        Arc::new(|name: &str| match name {
            "failing" => SyncOutcome::Fail("one or more objects failed to apply: deployments.apps is forbidden".into()),
            "stuck" => SyncOutcome::Ignore,
            _ => SyncOutcome::Succeed,
        }),
        Arc::new(|target: &str| target.to_owned()),
    );
    (kube, client, argo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn argocd_update_syncs_the_application_and_argocd_wait_waits_for_its_health() {
    let (kube, client, argo) = cluster().await;
    argocd::create_application(&client, "guestbook", authorized(), REPO, "stage/test").await;

    let outcome = run(&kube, vec![update("guestbook")]).await.expect("the sync succeeds");
    let operation = argo.wait_for_operation("guestbook", TIMEOUT).await;
    assert_eq!(operation["info"][1], json!({"name": "kargo.akuity.io/promotion", "value": "p1"}));
    assert_eq!(operation["initiatedBy"]["username"], "lading-promoter");
    let app = argocd::read(&client, "guestbook").await;
    assert_eq!(app["spec"]["source"]["targetRevision"], "abc123");
    assert_eq!(app["spec"]["source"]["kustomize"]["images"], json!(["nginx:1.29.1"]));
    assert_eq!(app["status"]["operationState"]["phase"], "Succeeded");
    assert_eq!(outcome.commit, "");

    // Run again (a retried promotion): the finished sync is found, not started twice.
    run(&kube, vec![update("guestbook")]).await.expect("the retry finds its sync");
    assert_eq!(argo.operations.lock().unwrap().len(), 1, "one sync for one promotion");

    // argocd-wait: not ready while Progressing; ready once Healthy.
    let wait =
        step(json!({"uses": "argocd-wait", "config": {"apps": [{"name": "guestbook"}]}, "retry": {"timeout": "1s"}}));
    let error = run(&kube, vec![wait.clone()]).await.unwrap_err().to_string();
    assert!(error.contains("still not done after 1s"), "{error}");
    argo.mark_healthy("guestbook").await;
    let outcome = run(
        &kube,
        vec![step(json!({"uses": "argocd-wait", "as": "wait", "config": {"apps": [{"name": "guestbook"}]}}))],
    )
    .await
    .expect("healthy and synced");
    assert_eq!(outcome.outputs["wait"]["apps"], json!([{"name": "guestbook", "namespace": "argocd"}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn argocd_update_refuses_unauthorized_apps_fails_with_a_failed_sync_and_stops_at_its_timeout() {
    let (kube, client, _argo) = cluster().await;
    argocd::create_application(
        &client,
        "elsewhere",
        json!({"kargo.akuity.io/authorized-stage": "demo:uat"}),
        REPO,
        "main",
    )
    .await;
    argocd::create_application(&client, "failing", json!({"lading.dev/authorized-stage": "demo:test"}), REPO, "main")
        .await;
    argocd::create_application(&client, "stuck", authorized(), REPO, "main").await;

    // Not authorized for demo:test: refused, and left as it was.
    let error = run(&kube, vec![update("elsewhere")]).await.unwrap_err().to_string();
    assert!(
        error.contains("config.apps[0]: Argo CD Application \"elsewhere\" in namespace \"argocd\" does not authorize stage test of project demo"),
        "{error}"
    );
    let app = argocd::read(&client, "elsewhere").await;
    assert!(app.get("operation").is_none_or(Value::is_null), "no sync was asked for: {app}");
    assert_eq!(app["spec"]["source"]["targetRevision"], "main");

    // Argo CD reports the sync Failed: the step fails with its message.
    let error = run(&kube, vec![update("failing")]).await.unwrap_err().to_string();
    assert!(error.contains("failed to sync: one or more objects failed to apply"), "{error}");

    // Argo CD never answers: the step ends at its retry.timeout, not before.
    let mut stuck = update("stuck");
    stuck.retry = serde_json::from_value(json!({"timeout": "2s"})).unwrap();
    let started = Instant::now();
    let error = run(&kube, vec![stuck]).await.unwrap_err().to_string();
    let took = started.elapsed();
    assert!(error.contains("waiting for Argo CD Application \"stuck\""), "{error}");
    assert!(error.contains("still not done after 2s (the step's retry.timeout)"), "{error}");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(10), "took {took:?}");
}

/// Kargo's quickstart pipeline (docs/20-quickstart: Project, Warehouse, PromotionTask
/// `demo-promo-process`, Stage `test`) as published, but for its URLs: the image comes
/// from the loopback registry, the GitOps repository is a bare repository on disk (so
/// the quickstart's Git credentials Secret is left out).
fn kargo_quickstart(gitops: &str, image: &str) -> String {
    r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata:
  name: kargo-demo
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: kargo-demo
  namespace: kargo-demo
spec:
  subscriptions:
  - image:
      repoURL: IMAGE_REPO
      constraint: ^1.29.0
      discoveryLimit: 5
---
apiVersion: kargo.akuity.io/v1alpha1
kind: PromotionTask
metadata:
  name: demo-promo-process
  namespace: kargo-demo
spec:
  vars:
  - name: gitopsRepo
    value: GITOPS_REPO
  - name: imageRepo
    value: IMAGE_REPO
  steps:
  - uses: git-clone
    config:
      repoURL: ${{ vars.gitopsRepo }}
      checkout:
      - branch: main
        path: ./src
      - branch: stage/${{ ctx.stage }}
        create: true
        path: ./out
  - uses: git-clear
    config:
      path: ./out
  - uses: kustomize-set-image
    as: update
    config:
      path: ./src/base
      images:
      - image: ${{ vars.imageRepo }}
        tag: ${{ imageFrom(vars.imageRepo).Tag }}
  - uses: kustomize-build
    config:
      path: ./src/stages/${{ ctx.stage }}
      outPath: ./out
  - uses: git-commit
    as: commit
    config:
      path: ./out
      message: ${{ task.outputs.update.commitMessage }}
  - uses: git-push
    config:
      path: ./out
  - uses: argocd-update
    config:
      apps:
      - name: kargo-demo-${{ ctx.stage }}
        sources:
        - repoURL: ${{ vars.gitopsRepo }}
          desiredRevision: ${{ task.outputs.commit.commit }}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: test
  namespace: kargo-demo
spec:
  requestedFreight:
  - origin:
      kind: Warehouse
      name: kargo-demo
    sources:
      direct: true
  promotionTemplate:
    spec:
      steps:
      - task:
          name: demo-promo-process
        as: promo-process
"#
    .replace("GITOPS_REPO", gitops)
    .replace("IMAGE_REPO", image)
}

/// Kargo's quickstart with verification added to Stage `test`: a `web` metric calling
/// `url` that succeeds when it answers `{"status": "ok"}`.
fn with_web_verification(manifests: &str, url: &str) -> String {
    let stages = manifests.replacen(
        "  promotionTemplate:\n",
        "  verification:\n    analysisTemplates:\n    - name: app-up\n  promotionTemplate:\n",
        1,
    );
    format!(
        r#"{stages}---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: app-up
  namespace: kargo-demo
spec:
  metrics:
  - name: app-up
    successCondition: result == "ok"
    provider:
      web:
        url: {url}/up
        jsonPath: "{{$.status}}"
"#
    )
}

/// Deliveries so far of the verifier's deciding consumer (redeliveries counted): each
/// one is the verifier deciding again whether the verification may start.
async fn verifier_deliveries(sandbox: &lading_tests::sandbox::Sandbox) -> Result<u64, String> {
    let bus = sandbox.nats.bus("test").await;
    let stream = bus.jetstream().get_stream(lading_bus::names::EVENTS_STREAM).await.map_err(|e| e.to_string())?;
    let mut consumer: async_nats::jetstream::consumer::PullConsumer =
        stream.get_consumer(lading_verifier::CONSUMER).await.map_err(|e| e.to_string())?;
    Ok(consumer.info().await.map_err(|e| e.to_string())?.delivered.consumer_sequence)
}

/// The stage's health changes the log holds, as `(change, status)`.
async fn health_changes(sandbox: &lading_tests::sandbox::Sandbox) -> Vec<(u32, String)> {
    let bus = sandbox.nats.bus("test").await;
    let mut stream = bus.jetstream().get_stream(lading_bus::names::EVENTS_STREAM).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut changes = Vec::new();
    for seq in 1..=last {
        let Ok(message) = stream.get_raw_message(seq).await else { continue };
        let ce_type = message.headers.get(lading_events::headers::CE_TYPE).map(|v| v.as_str().to_owned());
        if let Ok(lading_events::Event::StageHealthChanged(e)) =
            lading_events::decode(ce_type.as_deref(), &message.payload)
        {
            changes.push((e.change, format!("{:?}", e.status)));
        }
    }
    changes
}

fn condition<'a>(stage: &'a Value, kind: &str) -> &'a Value {
    stage["status"]["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kargo_quickstart_promotes_through_argocd_update_and_the_stage_takes_the_application_health() {
    use lading_tests::git::Repo;
    use lading_tests::registry::TestRegistry;
    use lading_tests::sandbox::{Sandbox, SandboxOptions};
    use lading_tests::web_answer::WebAnswer;

    let kube = TestKube::start().await;
    argocd::install(&kube).await;
    let client = kube.client().await;
    let access = ArgoCdAccess {
        kubeconfig: Some(kube.kubeconfig_path()),
        poll: Duration::from_millis(50),
        ..Default::default()
    };
    let sandbox = Sandbox::start_with_options(SandboxOptions {
        promoter_argocd: access,
        promoter_health_interval: Duration::from_millis(200),
        ..SandboxOptions::default()
    })
    .await;
    let web = WebAnswer::start(r#"{"status": "ok"}"#).await;
    let registry = tokio::task::spawn_blocking(TestRegistry::start).await.unwrap();
    registry.push("nginx/nginx", "1.29.1", "linux/amd64", "2026-01-01T00:00:00Z");
    let image = format!("{}/nginx/nginx", registry.addr);
    let gitops = Arc::new(Repo::create(sandbox.dir.path(), "gitops"));
    gitops.commit(
        "base/deploy.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: kargo-demo\nspec:\n  template:\n    spec:\n      containers:\n      - name: nginx\n        image: {image}:placeholder\n"
        ),
        "base",
    );
    gitops.commit("base/kustomization.yaml", "resources:\n- deploy.yaml\n", "base kustomization");
    gitops.commit("stages/test/kustomization.yaml", "resources:\n- ../../base\n", "test stage");
    // Argo CD resolves the Application's target revision (the stage branch) to its head.
    let bare = gitops.clone();
    let argo = FakeArgoCd::start(
        client.clone(),
        Arc::new(|_: &str| SyncOutcome::Succeed),
        Arc::new(move |branch: &str| bare.log(branch).first().map(|c| c.id.clone()).unwrap_or_default()),
    );
    argocd::create_application(
        &client,
        "kargo-demo-test",
        json!({"kargo.akuity.io/authorized-stage": "kargo-demo:test"}),
        &gitops.url(),
        "stage/test",
    )
    .await;

    sandbox.apply(&with_web_verification(&kargo_quickstart(&gitops.url(), &image), web.url())).await;
    let freight = lading_tests::wait::until("freight", TIMEOUT, || async {
        sandbox.freight("kargo-demo").await.first().cloned().ok_or_else(|| "none yet".to_owned())
    })
    .await;
    let name = freight["metadata"]["name"].as_str().unwrap().to_owned();
    let (status, body) =
        sandbox.post_json("/api/v1/projects/kargo-demo/stages/test/promotions", &json!({"freight": name})).await;
    assert!(status < 300, "{status} {body}");
    let get_stage = || async {
        let (_, stages) = sandbox.get("/api/v1/projects/kargo-demo/stages").await;
        stages["items"][0].clone()
    };
    let stage = lading_tests::wait::until("the promotion to end", TIMEOUT, || async {
        let test = get_stage().await;
        match test["status"]["lastPromotion"]["status"]["phase"].as_str() {
            Some("Succeeded" | "Failed" | "Errored") => Ok(test),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let last = &stage["status"]["lastPromotion"]["status"];
    assert_eq!(last["phase"], "Succeeded", "{last}");
    let pushed = gitops.log("stage/test")[0].id.clone();
    let rendered = gitops.show("stage/test", "deployment-kargo-demo.yaml");
    assert!(rendered.contains(&format!("{image}:1.29.1")), "{rendered}");
    let app = argocd::read(&client, "kargo-demo-test").await;
    assert_eq!(app["status"]["operationState"]["syncResult"]["revision"], pushed.as_str());
    assert_eq!(app["status"]["operationState"]["operation"]["info"][1]["name"], "kargo.akuity.io/promotion");

    // Synced at the pushed commit, Argo CD still says Progressing: so does the stage,
    // from the moment the promotion is seen to succeed.
    let health = &stage["status"]["health"];
    assert_eq!(health["status"], "Progressing", "{health}");
    assert!(
        health["issues"][0].as_str().unwrap().contains("\"kargo-demo-test\" in namespace \"argocd\" is progressing")
    );
    assert_eq!(health["config"][0]["uses"], "argocd-update");
    assert_eq!(health["config"][0]["config"]["apps"][0]["desiredRevisions"], json!([pushed]));
    assert_eq!(health["output"][0]["applicationStatuses"][0]["sync"]["revision"], pushed.as_str());
    let healthy = condition(&stage, "Healthy");
    assert_eq!((healthy["status"].as_str(), healthy["reason"].as_str()), (Some("Unknown"), Some("Progressing")));

    // While Progressing, the verifier decides again and again not to verify.
    let deliveries = lading_tests::wait::until("the verifier to decide twice more", TIMEOUT, || async {
        let test = get_stage().await;
        let verifications = &test["status"]["freightHistory"][0]["verificationHistory"];
        if verifications.is_array() {
            return Ok(verifications.clone());
        }
        match verifier_deliveries(&sandbox).await? {
            n if n >= 3 => Ok(Value::Null),
            n => Err(format!("{n} deliveries")),
        }
    })
    .await;
    assert_eq!(deliveries, Value::Null, "a verification started while the stage was Progressing");
    assert_eq!(web.calls(), 0, "the verification's metric was measured while the stage was Progressing");
    assert_eq!(get_stage().await["status"]["health"]["status"], "Progressing");

    // Argo CD says Healthy: the stage is Healthy, and its verification starts and passes.
    argo.mark_healthy("kargo-demo-test").await;
    let stage = lading_tests::wait::until("the stage to be Healthy", TIMEOUT, || async {
        let test = get_stage().await;
        match test["status"]["health"]["status"].as_str() {
            Some("Healthy") => Ok(test),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(stage["status"]["health"].get("issues").is_none(), "{}", stage["status"]["health"]);
    let healthy = condition(&stage, "Healthy");
    assert_eq!((healthy["status"].as_str(), healthy["reason"].as_str()), (Some("True"), Some("Healthy")));
    let verification = lading_tests::wait::until("the verification to pass", TIMEOUT, || async {
        let test = get_stage().await;
        match test["status"]["freightHistory"][0]["verificationHistory"][0]["phase"].as_str() {
            Some("Successful") => Ok(test),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(condition(&verification, "Verified")["status"], "True");
    assert!(web.calls() >= 1);

    // Later the Application degrades: so does the stage.
    argo.set_health("kargo-demo-test", "Degraded").await;
    let stage = lading_tests::wait::until("the stage to be Degraded", TIMEOUT, || async {
        let test = get_stage().await;
        match test["status"]["health"]["status"].as_str() {
            Some("Degraded") => Ok(test),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let issues = &stage["status"]["health"]["issues"];
    assert!(issues[0].as_str().unwrap().contains("has health state \"Degraded\""), "{issues}");
    let healthy = condition(&stage, "Healthy");
    assert_eq!((healthy["status"].as_str(), healthy["reason"].as_str()), (Some("False"), Some("Degraded")));
    // Only changes were published, though health was assessed every 200ms.
    assert_eq!(
        health_changes(&sandbox).await,
        [(0, "Progressing".to_owned()), (1, "Healthy".to_owned()), (2, "Degraded".to_owned())]
    );
    drop(argo);
}

/// Kargo's quickstart (no verification) on a real kube-apiserver with the Application
/// `kargo-demo-test`, promoters assessing health every `interval`; while `hold` is set
/// the test's Argo CD leaves sync operations unanswered, so a promotion waits in its
/// `argocd-update` step.
struct Quickstart {
    _kube: TestKube,
    sandbox: lading_tests::sandbox::Sandbox,
    argo: FakeArgoCd,
    hold: Arc<std::sync::atomic::AtomicBool>,
    freight: String,
    _registry: lading_tests::registry::TestRegistry,
}

impl Quickstart {
    async fn start(interval: Duration, replicas: usize) -> Quickstart {
        use lading_tests::git::Repo;
        use lading_tests::registry::TestRegistry;
        use lading_tests::sandbox::{Sandbox, SandboxOptions};
        use std::sync::atomic::{AtomicBool, Ordering};

        let kube = TestKube::start().await;
        argocd::install(&kube).await;
        let client = kube.client().await;
        let access = ArgoCdAccess {
            kubeconfig: Some(kube.kubeconfig_path()),
            poll: Duration::from_millis(50),
            ..Default::default()
        };
        let sandbox = Sandbox::start_with_options(SandboxOptions {
            replicas,
            promoter_argocd: access,
            promoter_health_interval: interval,
            ..SandboxOptions::default()
        })
        .await;
        let registry = tokio::task::spawn_blocking(TestRegistry::start).await.unwrap();
        registry.push("nginx/nginx", "1.29.1", "linux/amd64", "2026-01-01T00:00:00Z");
        let image = format!("{}/nginx/nginx", registry.addr);
        let gitops = Arc::new(Repo::create(sandbox.dir.path(), "gitops"));
        gitops.commit(
            "base/deploy.yaml",
            &format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: kargo-demo\nspec:\n  template:\n    spec:\n      containers:\n      - name: nginx\n        image: {image}:placeholder\n"),
            "base",
        );
        gitops.commit("base/kustomization.yaml", "resources:\n- deploy.yaml\n", "base kustomization");
        gitops.commit("stages/test/kustomization.yaml", "resources:\n- ../../base\n", "test stage");
        let hold = Arc::new(AtomicBool::new(false));
        let held = hold.clone();
        let bare = gitops.clone();
        let argo = FakeArgoCd::start(
            client.clone(),
            Arc::new(
                move |_: &str| if held.load(Ordering::SeqCst) { SyncOutcome::Ignore } else { SyncOutcome::Succeed },
            ),
            Arc::new(move |branch: &str| bare.log(branch).first().map(|c| c.id.clone()).unwrap_or_default()),
        );
        argocd::create_application(
            &client,
            "kargo-demo-test",
            json!({"kargo.akuity.io/authorized-stage": "kargo-demo:test"}),
            &gitops.url(),
            "stage/test",
        )
        .await;
        sandbox.apply(&kargo_quickstart(&gitops.url(), &image)).await;
        let freight = lading_tests::wait::until("freight", TIMEOUT, || async {
            sandbox.freight("kargo-demo").await.first().cloned().ok_or_else(|| "none yet".to_owned())
        })
        .await;
        let freight = freight["metadata"]["name"].as_str().unwrap().to_owned();
        Quickstart { _kube: kube, sandbox, argo, hold, freight, _registry: registry }
    }

    async fn stage(&self) -> Value {
        let (_, stages) = self.sandbox.get("/api/v1/projects/kargo-demo/stages").await;
        stages["items"][0].clone()
    }

    /// Promotes the freight to `test`.
    async fn promote(&self) {
        let (status, body) = self
            .sandbox
            .post_json("/api/v1/projects/kargo-demo/stages/test/promotions", &json!({"freight": self.freight}))
            .await;
        assert!(status < 300, "{status} {body}");
    }

    async fn wait_for_health(&self, wanted: &str) -> Value {
        lading_tests::wait::until(&format!("the stage to be {wanted}"), TIMEOUT, || async {
            let test = self.stage().await;
            match test["status"]["health"]["status"].as_str() {
                Some(status) if status == wanted => Ok(test),
                other => Err(format!("{other:?}: {}", test["status"]["health"])),
            }
        })
        .await
    }

    async fn wait_for_last_promotion(&self, phase: &str) -> Value {
        lading_tests::wait::until("the promotion to end", TIMEOUT, || async {
            let test = self.stage().await;
            match test["status"]["lastPromotion"]["status"]["phase"].as_str() {
                Some(p) if p == phase => Ok(test),
                other => Err(format!("{other:?}")),
            }
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stage_refresh_assesses_health_at_once_and_a_running_promotion_shows_unknown() {
    use std::sync::atomic::Ordering;
    // Health rounds an hour apart: every change below comes from a promotion or a refresh.
    let q = Quickstart::start(Duration::from_secs(3600), 1).await;
    q.promote().await;
    q.wait_for_last_promotion("Succeeded").await;
    assert_eq!(q.stage().await["status"]["health"]["status"], "Progressing");

    // Argo CD says Healthy; a refresh of the stage assesses it now, not in an hour.
    q.argo.mark_healthy("kargo-demo-test").await;
    let (status, body) = q.sandbox.post_json("/api/v1/projects/kargo-demo/stages/test/refresh", &Value::Null).await;
    assert_eq!(status, 202, "{body}");
    assert!(body["requestId"].as_str().is_some_and(|id| !id.is_empty()), "{body}");
    let stage = q.wait_for_health("Healthy").await;
    assert_eq!(condition(&stage, "Healthy")["status"], "True");
    assert_eq!(health_changes(&q.sandbox).await, [(0, "Progressing".to_owned()), (1, "Healthy".to_owned())]);
    // A stage that does not exist is named in a 404.
    let (status, _) = q.sandbox.post_json("/api/v1/projects/kargo-demo/stages/prod/refresh", &Value::Null).await;
    assert_eq!(status, 404);

    // A second promotion waits in argocd-update (Argo CD does not answer): meanwhile the
    // stage's health is Unknown because of it, as in Kargo.
    q.hold.store(true, Ordering::SeqCst);
    q.promote().await;
    let stage = q.wait_for_health("Unknown").await;
    assert_eq!(
        stage["status"]["health"]["issues"],
        json!(["Cannot assess health because a Promotion is currently in progress"])
    );
    assert_eq!(condition(&stage, "Promoting")["reason"], "ActivePromotion", "{}", stage["status"]["conditions"]);
    let healthy = condition(&stage, "Healthy");
    assert_eq!((healthy["status"].as_str(), healthy["reason"].as_str()), (Some("Unknown"), Some("ActivePromotion")));
    // A refresh while it runs assesses nothing and publishes nothing.
    let (status, _) = q.sandbox.post_json("/api/v1/projects/kargo-demo/stages/test/refresh", &Value::Null).await;
    assert_eq!(status, 202);

    // Argo CD answers: the promotion succeeds and the stage has the health it left.
    q.hold.store(false, Ordering::SeqCst);
    let stage = lading_tests::wait::until("the second promotion to succeed", TIMEOUT, || async {
        let test = q.stage().await;
        let promotions = test["status"]["promotions"].as_array().cloned().unwrap_or_default();
        let succeeded = promotions.iter().filter(|p| p["status"]["phase"] == "Succeeded").count();
        if succeeded == 2 { Ok(test) } else { Err(format!("{succeeded} succeeded")) }
    })
    .await;
    assert_eq!(stage["status"]["health"]["status"], "Progressing", "{}", stage["status"]["health"]);
    let changes = health_changes(&q.sandbox).await;
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert_eq!(changes[2], (0, "Progressing".to_owned()), "the second promotion's first health");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_promoter_replicas_publish_each_health_change_once() {
    // Two promoters assess the stage every 50ms each.
    let q = Quickstart::start(Duration::from_millis(50), 2).await;
    q.promote().await;
    q.wait_for_last_promotion("Succeeded").await;
    // Each change is seen by both replicas (each assesses every 50ms); waiting for the api
    // to show it takes rounds of both, so a replica that published a change again would
    // have done so before the next one is made.
    for health in ["Healthy", "Degraded", "Healthy", "Progressing", "Healthy"] {
        q.argo.set_health("kargo-demo-test", health).await;
        q.wait_for_health(health).await;
    }
    let changes = health_changes(&q.sandbox).await;
    let expected: Vec<(u32, String)> = ["Progressing", "Healthy", "Degraded", "Healthy", "Progressing", "Healthy"]
        .iter()
        .enumerate()
        .map(|(i, s)| (i as u32, s.to_string()))
        .collect();
    assert_eq!(changes, expected, "one event per change, none twice, no flapping back");
}
