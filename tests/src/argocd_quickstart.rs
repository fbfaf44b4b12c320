//! Kargo's quickstart pipeline promoting through `argocd-update`: a sandbox whose
//! promoters reach a real kube-apiserver with the Application `kargo-demo-test`, the
//! test's Argo CD answering its syncs, an image in a loopback registry and a GitOps
//! repository on disk; and what a test reads back of the stage's health.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::argocd::{self, FakeArgoCd, SyncOutcome};
use crate::git::Repo;
use crate::kube::TestKube;
use crate::registry::TestRegistry;
use crate::sandbox::{Sandbox, SandboxOptions};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Kargo's quickstart pipeline (docs/20-quickstart: Project, Warehouse, PromotionTask
/// `demo-promo-process`, Stage `test`) as published, but for its URLs: the image comes
/// from the loopback registry, the GitOps repository is a bare repository on disk (so
/// the quickstart's Git credentials Secret is left out).
pub fn kargo_quickstart(gitops: &str, image: &str) -> String {
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
pub fn with_web_verification(manifests: &str, url: &str) -> String {
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

/// How a [`Quickstart`] runs.
pub struct QuickstartOptions<'a> {
    /// How often the promoters assess the stage's health.
    pub health_interval: Duration,
    /// How many replicas of each service the sandbox runs.
    pub replicas: usize,
    /// The `web` verification's endpoint, when Stage `test` is verified.
    pub verification_url: Option<&'a str>,
}

/// Kargo's quickstart on a real kube-apiserver with the Application `kargo-demo-test`,
/// and the freight its warehouse made; while `hold` is set the test's Argo CD leaves
/// sync operations unanswered, so a promotion waits in its `argocd-update` step.
pub struct Quickstart {
    _kube: TestKube,
    pub sandbox: Sandbox,
    pub argo: FakeArgoCd,
    pub hold: Arc<AtomicBool>,
    /// The name of the freight the warehouse made.
    pub freight: String,
    _registry: TestRegistry,
    /// A client of the kube-apiserver the Application lives in.
    pub client: kube::Client,
    /// The GitOps repository the promotion pushes to.
    pub gitops: Arc<Repo>,
    /// The image repository the warehouse watches.
    pub image: String,
}

impl Quickstart {
    pub async fn start(options: QuickstartOptions<'_>) -> Quickstart {
        let (kube, client) = argocd::start_cluster().await;
        let sandbox = Sandbox::start_with_options(SandboxOptions {
            replicas: options.replicas,
            promoter_argocd: argocd::access(&kube),
            promoter_health_interval: options.health_interval,
            ..SandboxOptions::default()
        })
        .await;
        let registry = TestRegistry::start_async().await;
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
        // Argo CD resolves the Application's target revision (the stage branch) to its head.
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
        let manifests = kargo_quickstart(&gitops.url(), &image);
        let manifests = match options.verification_url {
            Some(url) => with_web_verification(&manifests, url),
            None => manifests,
        };
        sandbox.apply(&manifests).await;
        let freight = sandbox.wait_for_freight("kargo-demo", "freight", TIMEOUT).await;
        let freight = freight["metadata"]["name"].as_str().unwrap().to_owned();
        Quickstart { _kube: kube, sandbox, argo, hold, freight, _registry: registry, client, gitops, image }
    }

    /// Stage `test` as the api shows it.
    pub async fn stage(&self) -> Value {
        let (_, stages) = self.sandbox.get("/api/v1/projects/kargo-demo/stages").await;
        stages["items"][0].clone()
    }

    /// Promotes the freight to `test`.
    pub async fn promote(&self) {
        let (status, body) = self
            .sandbox
            .post_json("/api/v1/projects/kargo-demo/stages/test/promotions", &json!({"freight": self.freight}))
            .await;
        assert!(status < 300, "{status} {body}");
    }

    pub async fn wait_for_health(&self, wanted: &str) -> Value {
        crate::wait::until(&format!("the stage to be {wanted}"), TIMEOUT, || async {
            let test = self.stage().await;
            match test["status"]["health"]["status"].as_str() {
                Some(status) if status == wanted => Ok(test),
                other => Err(format!("{other:?}: {}", test["status"]["health"])),
            }
        })
        .await
    }

    pub async fn wait_for_last_promotion(&self, phase: &str) -> Value {
        crate::wait::until("the promotion to end", TIMEOUT, || async {
            let test = self.stage().await;
            match test["status"]["lastPromotion"]["status"]["phase"].as_str() {
                Some(p) if p == phase => Ok(test),
                other => Err(format!("{other:?}")),
            }
        })
        .await
    }
}

/// The stage's health changes the log holds, as `(change, status)`.
pub async fn health_changes(sandbox: &Sandbox) -> Vec<(u32, String)> {
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

/// The condition of type `kind` in a stage's status (`null` when it has none).
pub fn condition<'a>(stage: &'a Value, kind: &str) -> &'a Value {
    stage["status"]["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}
