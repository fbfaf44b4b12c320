//! The examples of Kargo's `argocd-update` and `argocd-wait` reference pages, each
//! applied inside a Stage manifest (its config checked against the schema then) and run
//! against a real apiserver with the Application CRD, the test playing Argo CD's
//! controller. Adapted in URLs only, but for two fixes the printed examples need to run
//! anywhere: the chart example names its repository `${{ chartRepo }}` and the Kustomize
//! one `vars.imageRepo` without defining either; here both are variables it defines. Where
//! an example begins with "Clone, render manifests, commit, push, etc...", those steps
//! come first: a clone of the stage's branch, `kustomize-set-image` (`update-image`), and
//! when the example has none, `git-commit` (`commit`) and `git-push`.

use std::sync::Arc;

use kube::api::{DynamicObject, PostParams};
use lading_domain::Freight;
use lading_domain::spec::{PromotionStep, PromotionVariable, Spec, validate_manifest};
use lading_promoter::engine::{PromotionError, PromotionOutcome};
use lading_tests::argocd::{self, FakeArgoCd, SyncOutcome};
use lading_tests::engine_run::EngineRun;
use lading_tests::git::Repo;
use lading_tests::kube::TestKube;
use serde_json::{Value, json};

use super::TIMEOUT;

const CHART_REPO: &str = "oci://registry.example.com/charts";

/// A Stage `demo/test` whose promotion template is `template`, applied.
fn apply(template: &str) -> (Vec<PromotionVariable>, Vec<PromotionStep>) {
    let indented: String = template.lines().map(|l| format!("      {l}\n")).collect();
    let manifest = format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: test\n  namespace: demo\nspec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n  promotionTemplate:\n    spec:\n{indented}"
    );
    let value: Value = serde_saphyr::from_str(&manifest).expect("the example is YAML");
    match validate_manifest(1, value).unwrap_or_else(|e| panic!("the example applies: {e}\n{template}")).spec {
        Spec::Stage(spec) => (spec.vars().to_vec(), spec.steps().to_vec()),
        _ => unreachable!(),
    }
}

/// Runs `template` as promotion `promotion` of stage `demo:test`.
async fn run(kube: &TestKube, promotion: &str, template: String) -> Result<PromotionOutcome, PromotionError> {
    let access = argocd::access(kube);
    let promotion = promotion.to_owned();
    tokio::task::spawn_blocking(move || {
        let (vars, steps) = apply(&template);
        let freight = Freight::from_warehouse("app")
            .with_image("nginx", "1.29.1", "sha256:1111")
            .with_image("my/image", "2.0.0", "sha256:2222")
            .with_chart(CHART_REPO, "my-chart", "1.2.0");
        let workspace = tempfile::tempdir().unwrap();
        EngineRun { promotion: &promotion, vars: &vars, argocd: access, ..EngineRun::new(&freight) }
            .run(workspace.path(), &steps)
    })
    .await
    .unwrap()
}

/// Creates Application `name` (authorizing `demo:test`) with `labels` and `spec`.
async fn create(client: &kube::Client, name: &str, labels: Value, spec: Value) {
    let app = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "labels": labels,
            "annotations": {"kargo.akuity.io/authorized-stage": "demo:test"}},
        "spec": spec,
    });
    let app: DynamicObject = serde_json::from_value(app).unwrap();
    argocd::applications(client).create(&PostParams::default(), &app).await.expect("the Application is created");
}

fn git_source(url: &str) -> Value {
    json!({"repoURL": url, "targetRevision": "stage/test", "path": "."})
}

fn single(url: &str) -> Value {
    json!({"project": "default", "source": git_source(url), "destination": {"server": "https://kubernetes.default.svc", "namespace": "apps"}})
}

/// The steps "Clone, render manifests, commit, push, etc..." stands for, with or without
/// the commit and push.
fn prelude(url: &str, commit_and_push: bool) -> String {
    let mut steps = format!(
        "- uses: git-clone\n  config:\n    repoURL: {url}\n    checkout:\n    - branch: stage/test\n      path: ./out\n- uses: kustomize-set-image\n  as: update-image\n  config:\n    path: ./out\n    images:\n    - image: nginx\n"
    );
    if commit_and_push {
        steps.push_str("- uses: git-commit\n  as: commit\n  config:\n    path: ./out\n    message: ${{ outputs['update-image'].commitMessage }}\n- uses: git-push\n  config:\n    path: ./out\n");
    }
    steps
}

/// An example printed as a Stage (`apiVersion: …` and `# ...` lines, then the
/// template's `steps:` under `promotionTemplate.spec`), as a template: its `vars` and
/// `steps`, with `prelude` where it says "Clone, render manifests, commit, push, etc...".
fn from_stage(example: &str, prelude: &str) -> String {
    let body: Vec<&str> = example
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("vars:") && !l.trim_start().starts_with("steps:"))
        .collect();
    let indent = body[0].len() - body[0].trim_start().len();
    let mut out = String::new();
    for line in body {
        let line = line.get(indent..).unwrap_or(line.trim_start());
        out.push_str(line);
        out.push('\n');
        if line.trim_start().starts_with("# Clone, render manifests, commit, push") {
            out.push_str(prelude);
        }
    }
    out
}

/// Names of the Applications the controller synced for `promotion`.
fn synced_for(argo: &FakeArgoCd, promotion: &str) -> Vec<String> {
    let mut names: Vec<String> = argo
        .operations
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, op)| op["info"][1]["value"] == promotion)
        .map(|(name, _)| name.clone())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_argocd_update_and_argocd_wait_example_applies_and_runs() {
    let root = tempfile::tempdir().unwrap();
    let repo = Repo::create(root.path(), "repo");
    repo.commit("kustomization.yaml", "resources: [deploy.yaml]\n", "kustomization");
    repo.commit("deploy.yaml", "kind: Deployment\n", "deploy");
    repo.branch("stage/test");
    let url = repo.url();
    let bare = std::path::PathBuf::from(url.trim_start_matches("file://"));
    let (kube, client) = argocd::start_cluster().await;
    // Argo CD syncs a branch at its tip, and anything else (a chart version) as it is.
    let argo = FakeArgoCd::start(
        client.clone(),
        Arc::new(|_: &str| SyncOutcome::Succeed),
        Arc::new(move |target: &str| {
            let out = std::process::Command::new("git")
                .args(["rev-parse", "--verify", "--quiet", &format!("{target}^{{commit}}")])
                .current_dir(&bare)
                .output()
                .unwrap();
            if out.status.success() {
                String::from_utf8_lossy(&out.stdout).trim().to_owned()
            } else {
                target.to_owned()
            }
        }),
    );
    // my-app has two sources, the GitOps repository and a chart; the others are found by labels.
    let chart = json!({"repoURL": CHART_REPO, "chart": "my-chart", "targetRevision": "1.0.0"});
    let mut multi = single(&url);
    multi["sources"] = json!([git_source(&url), chart]);
    multi.as_object_mut().unwrap().remove("source");
    create(&client, "my-app", json!({}), multi).await;
    for (name, labels) in [
        ("prod-platform", json!({"environment": "production", "team": "platform"})),
        ("staging-platform", json!({"environment": "staging", "team": "platform", "managed-by": "lading"})),
        ("legacy", json!({"environment": "staging", "team": "platform", "managed-by": "legacy-system"})),
        ("blue", json!({"app": "my-microservice", "deployment-group": "blue"})),
        ("refresh-me", json!({"auto-refresh": "enabled"})),
    ] {
        create(&client, name, labels, single(&url)).await;
    }
    let tip = || repo.rev("stage/test");

    // 3: sync my-app to the commit pushed.
    let three = format!(
        "steps:\n# Clone, render manifests, commit, push, etc...\n{}- uses: git-commit\n  as: commit\n  config:\n    path: ./out\n    message: ${{{{ outputs['update-image'].commitMessage }}}} # Or task.outputs in a (Cluster)PromotionTask\n- uses: git-push\n  config:\n    path: ./out\n- uses: argocd-update\n  config:\n    apps:\n    - name: my-app\n      sources:\n      - repoURL: {url}\n        desiredRevision: ${{{{ outputs.commit.commit }}}}\n",
        prelude(&url, false)
    );
    run(&kube, "p3", three).await.expect("example 3");
    assert_eq!(synced_for(&argo, "p3"), ["my-app"]);
    assert!(repo.show("stage/test", "kustomization.yaml").contains("nginx"));
    let app = argocd::read(&client, "my-app").await;
    assert_eq!(app["status"]["operationState"]["syncResult"]["revisions"][0], json!(tip()));

    // 4: the chart source to the freight's chart version.
    let four = format!(
        "vars:\n- name: gitRepo\n  value: {url}\n- name: chartRepo\n  value: {CHART_REPO}\nsteps:\n- uses: argocd-update\n  config:\n    apps:\n    - name: my-app\n      sources:\n      - repoURL: ${{{{ vars.chartRepo }}}}\n        chart: my-chart\n        desiredRevision: ${{{{ chartFrom(vars.chartRepo, \"my-chart\").Version }}}}\n        updateTargetRevision: true\n"
    );
    run(&kube, "p4", four).await.expect("example 4");
    let app = argocd::read(&client, "my-app").await;
    assert_eq!(app["spec"]["sources"][1]["targetRevision"], "1.2.0");
    assert_eq!(app["spec"]["sources"][0]["targetRevision"], "stage/test", "the other source is left as it was");

    // 5 and 6: Kustomize and Helm image overrides on the Git source.
    let five = format!(
        "vars:\n- name: gitRepo\n  value: {url}\n- name: imageRepo\n  value: nginx\nsteps:\n- uses: argocd-update\n  config:\n    apps:\n    - name: my-app\n      sources:\n      - repoURL: {url}\n        kustomize:\n          images:\n          - repoURL: ${{{{ vars.imageRepo }}}}\n            tag: ${{{{ imageFrom(vars.imageRepo).Tag }}}}\n"
    );
    run(&kube, "p5", five).await.expect("example 5");
    let six = format!(
        "steps:\n- uses: argocd-update\n  config:\n    apps:\n    - name: my-app\n      sources:\n      - repoURL: {url}\n        helm:\n          images:\n          - key: image.tag\n            value: ${{{{ imageFrom(\"my/image\").Tag }}}}\n"
    );
    run(&kube, "p6", six).await.expect("example 6");
    let app = argocd::read(&client, "my-app").await;
    assert_eq!(app["spec"]["sources"][0]["kustomize"]["images"], json!(["nginx:1.29.1"]));
    assert_eq!(app["spec"]["sources"][0]["helm"]["parameters"], json!([{"name": "image.tag", "value": "2.0.0"}]));

    // 7 to 11: Applications by label selectors.
    let selector = |labels: &str| {
        format!(
            "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\n# ...\nspec:\n  # ...\n  promotionTemplate:\n    spec:\n      steps:\n      # Clone, render manifests, commit, push, etc...\n      - uses: argocd-update\n        config:\n          apps:\n          - selector:\n{labels}            sources:\n            - repoURL: {url}\n              desiredRevision: ${{{{ outputs.commit.commit }}}} # Or task.outputs in a (Cluster)PromotionTask\n"
        )
    };
    let seven = selector(
        "              matchLabels:\n                environment: production\n                team: platform\n",
    );
    let eight = selector(
        "              matchExpressions:\n              - key: environment\n                operator: In\n                values:\n                - staging\n                - production\n",
    );
    let nine = selector(
        "              matchLabels:\n                team: platform\n              matchExpressions:\n              - key: environment\n                operator: In\n                values:\n                - staging\n                - production\n              - key: managed-by\n                operator: NotIn\n                values:\n                - legacy-system\n",
    );
    for (promotion, example, expected) in [
        ("p7", seven, vec!["prod-platform"]),
        ("p8", eight, vec!["legacy", "prod-platform", "staging-platform"]),
        ("p9", nine, vec!["prod-platform", "staging-platform"]),
    ] {
        run(&kube, promotion, from_stage(&example, &prelude(&url, true)))
            .await
            .unwrap_or_else(|e| panic!("{promotion}: {e}"));
        assert_eq!(synced_for(&argo, promotion), expected, "{promotion}");
    }
    let ten = "steps:\n- uses: argocd-update\n  config:\n    apps:\n    - selector:\n        matchLabels:\n          auto-refresh: enabled\n".to_owned();
    run(&kube, "p10", ten).await.expect("example 10");
    assert_eq!(synced_for(&argo, "p10"), ["refresh-me"]);
    assert_eq!(
        argocd::read(&client, "refresh-me").await["metadata"]["annotations"]["argocd.argoproj.io/refresh"],
        "hard"
    );
    let eleven = format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\n# ...\nspec:\n  # ...\n  promotionTemplate:\n    spec:\n      vars:\n      - name: gitRepo\n        value: {url}\n      steps:\n      # Clone, render manifests, commit, push, etc...\n      - uses: git-commit\n        as: commit\n        config:\n          path: ./out\n          message: Update to new version\n      - uses: git-push\n        config:\n          path: ./out\n      - uses: argocd-update\n        config:\n          apps:\n          - selector:\n              matchLabels:\n                app: my-microservice\n                deployment-group: blue\n            sources:\n            - repoURL: ${{{{ vars.gitRepo }}}}\n              desiredRevision: ${{{{ outputs.commit.commit }}}} # Or task.outputs in a (Cluster)PromotionTask\n"
    );
    run(&kube, "p11", from_stage(&eleven, &prelude(&url, false))).await.expect("example 11");
    assert_eq!(synced_for(&argo, "p11"), ["blue"]);

    // A selector matching nothing fails the step, naming it.
    let none = "steps:\n- uses: argocd-update\n  config:\n    apps:\n    - selector:\n        matchLabels:\n          team: nobody\n".to_owned();
    let error = run(&kube, "p12", none).await.unwrap_err().to_string();
    assert!(
        error.contains(
            "config.apps[0].selector: no Argo CD Application in namespace \"argocd\" matches \"team=nobody\""
        ),
        "{error}"
    );

    // argocd-wait: its examples, once the Applications are healthy and have no operation.
    for name in ["my-app", "prod-platform", "staging-platform", "legacy"] {
        argo.mark_healthy(name).await;
    }
    let wait_examples = [
        "steps:\n- uses: argocd-wait\n  config:\n    apps:\n    - name: my-app\n      waitFor:\n      - operation\n",
        "steps:\n- uses: argocd-wait\n  config:\n    apps:\n    - selector:\n        matchLabels:\n          environment: staging\n",
        "steps:\n- uses: argocd-wait\n  config:\n    apps:\n    - name: my-app\n",
    ];
    for (i, example) in wait_examples.iter().enumerate() {
        run(&kube, &format!("w{i}"), (*example).to_owned()).await.unwrap_or_else(|e| panic!("wait example {i}: {e}"));
    }
    // `suspended` waits for an Application Argo CD reports Suspended.
    let suspended = "steps:\n- uses: argocd-wait\n  config:\n    apps:\n    - name: my-app\n      waitFor:\n      - suspended\n  retry:\n    timeout: 1s\n";
    let error = run(&kube, "w-s", suspended.to_owned()).await.unwrap_err().to_string();
    assert!(error.contains("still not done after 1s"), "{error}");
    argo.set_health("my-app", "Suspended").await;
    run(&kube, "w-s2", suspended.to_owned()).await.expect("suspended");
    // The first page example: commit, push, update, then wait.
    let first = format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\n# ...\nspec:\n  # ...\n  promotionTemplate:\n    spec:\n      steps:\n      # Clone, render manifests, commit, push, etc...\n      - uses: git-commit\n        as: commit\n        config:\n          path: ./out\n          message: ${{{{ outputs['update-image'].commitMessage }}}} # Or task.outputs in a (Cluster)PromotionTask\n      - uses: git-push\n        config:\n          path: ./out\n      - uses: argocd-update\n        config:\n          apps:\n          - name: my-app\n            sources:\n            - repoURL: {url}\n              desiredRevision: ${{{{ outputs.commit.commit }}}}\n      - uses: argocd-wait\n        config:\n          apps:\n          - name: my-app\n"
    );
    let waiting = run(&kube, "w-first", from_stage(&first, &prelude(&url, false)));
    let heal = async {
        argo.wait_for_operation_of("my-app", "w-first", TIMEOUT).await;
        argo.mark_healthy("my-app").await;
    };
    let (outcome, ()) = tokio::join!(waiting, heal);
    outcome.expect("the first argocd-wait example");
}
