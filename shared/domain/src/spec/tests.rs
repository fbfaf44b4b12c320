use serde_json::{Value, json};

use super::*;

fn yaml(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple(text).expect("test YAML parses")
}

const GOOD: &str = r#"
apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata:
  name: demo
---
apiVersion: lading.dev/v1alpha1
kind: ProjectConfig
metadata:
  name: demo
  namespace: demo
spec:
  promotionPolicies:
  - stageSelector:
      name: test
    autoPromotionEnabled: true
---
apiVersion: lading.dev/v1alpha1
kind: Warehouse
metadata:
  name: app
  namespace: demo
spec:
  interval: 1m
  subscriptions:
  - git:
      repoURL: https://example.com/app.git
      branch: main
---
apiVersion: lading.dev/v1alpha1
kind: Stage
metadata:
  name: uat
  namespace: demo
spec:
  requestedFreight:
  - origin: {kind: Warehouse, name: app}
    sources:
      stages: [test]
  promotionTemplate:
    spec:
      vars:
      - name: gitopsRepo
        value: https://example.com/gitops.git
      steps:
      - uses: git-clone
        config:
          repoURL: ${{ vars.gitopsRepo }}
      - uses: git-commit
        as: commit
        config:
          path: ./out
          message: promote
"#;

fn error_of(text: &str) -> ManifestError {
    parse_manifests(yaml(text)).expect_err("invalid").remove(0)
}

#[test]
fn a_kargo_style_set_of_manifests_validates() {
    let manifests = parse_manifests(yaml(GOOD)).unwrap();
    let kinds: Vec<_> = manifests.iter().map(|m| m.kind()).collect();
    assert_eq!(kinds, vec![Kind::Project, Kind::ProjectConfig, Kind::Warehouse, Kind::Stage]);
    assert!(manifests.iter().all(|m| m.project() == "demo"));
    let Spec::Stage(stage) = &manifests[3].spec else { panic!() };
    assert_eq!(stage.requested_freight[0].sources.stages, vec!["test"]);
    assert_eq!(stage.steps()[1].alias.as_deref(), Some("commit"));
    let Spec::Warehouse(warehouse) = &manifests[2].spec else { panic!() };
    assert_eq!(warehouse.interval().as_secs(), 60);
}

#[test]
fn stored_form_round_trips_with_the_canonical_api_version() {
    let manifests = parse_manifests(yaml(GOOD)).unwrap();
    for (i, m) in manifests.iter().enumerate() {
        let json = m.to_json();
        assert_eq!(json["apiVersion"], API_VERSION);
        assert_eq!(&parse_manifest(i + 1, json).unwrap(), m);
    }
}

#[test]
fn unknown_api_version_names_the_field() {
    let e = error_of("apiVersion: v1\nkind: Project\nmetadata: {name: a}\n");
    assert_eq!(e.field, "apiVersion");
    assert!(e.reason.contains("lading.dev/v1alpha1"), "{}", e.reason);
}

#[test]
fn unknown_kind_names_the_field() {
    let e = error_of("apiVersion: lading.dev/v1alpha1\nkind: Pod\nmetadata: {name: a}\n");
    assert_eq!((e.field.as_str(), e.kind.as_str()), ("kind", "Pod"));
}

#[test]
fn missing_namespace_is_an_error() {
    let e = error_of(
        "apiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata: {name: a}\nspec: {subscriptions: [{git: {repoURL: 'https://h/x'}}]}\n",
    );
    assert_eq!(e.field, "metadata.namespace");
    assert_eq!(e.to_string(), "document 1 (Warehouse \"a\"): metadata.namespace: is required: it names the project");
}

#[test]
fn nested_type_errors_carry_the_full_path() {
    let e = error_of(
        "apiVersion: lading.dev/v1alpha1\nkind: Stage\nmetadata: {name: s, namespace: p}\nspec:\n  requestedFreight:\n  - origin: {kind: Warehouse, name: w}\n    sources: {direct: maybe}\n",
    );
    assert_eq!(e.field, "spec.requestedFreight[0].sources.direct");
}

#[test]
fn unknown_fields_are_rejected_by_name() {
    let e = error_of(
        "apiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata: {name: w, namespace: p}\nspec:\n  subscriptions:\n  - git: {repoURL: 'https://h/x', brunch: main}\n",
    );
    assert_eq!(e.field, "spec.subscriptions[0].git.brunch");
    assert!(e.reason.contains("brunch"), "{}", e.reason);
}

#[test]
fn stage_rules_are_checked() {
    let base = |spec: &str| {
        format!("apiVersion: lading.dev/v1alpha1\nkind: Stage\nmetadata: {{name: s, namespace: p}}\nspec:\n{spec}")
    };
    let e = error_of(&base("  requestedFreight:\n  - origin: {kind: Warehouse, name: w}\n"));
    assert_eq!(e.field, "spec.requestedFreight[0].sources");
    let e =
        error_of(&base("  requestedFreight:\n  - origin: {kind: Warehouse, name: w}\n    sources: {stages: [s]}\n"));
    assert_eq!(e.field, "spec.requestedFreight[0].sources.stages[0]");
    let e = error_of(&base(
        "  requestedFreight:\n  - origin: {kind: Warehouse, name: w}\n    sources: {direct: true}\n  promotionTemplate:\n    spec:\n      steps:\n      - uses: helm-dance\n",
    ));
    assert_eq!(e.field, "spec.promotionTemplate.spec.steps[0].uses");
    let e = error_of(&base("  requestedFreight:\n  - origin: {kind: Image, name: w}\n    sources: {direct: true}\n"));
    assert_eq!(e.field, "spec.requestedFreight[0].origin.kind");
}

#[test]
fn warehouse_rules_are_checked() {
    let base = |spec: &str| {
        format!("apiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata: {{name: w, namespace: p}}\nspec:\n{spec}")
    };
    let e = error_of(&base("  subscriptions: []\n"));
    assert_eq!(e.field, "spec.subscriptions");
    let e = error_of(&base("  interval: soon\n  subscriptions:\n  - git: {repoURL: 'https://h/x'}\n"));
    assert_eq!(e.field, "spec.interval");
    let e = error_of(&base("  subscriptions:\n  - git: {repoURL: 'https://h/x?y=1'}\n"));
    assert_eq!(e.field, "spec.subscriptions[0].git.repoURL");
}

#[test]
fn every_invalid_document_is_reported() {
    let errors = parse_manifests(vec![
        json!({"apiVersion": "lading.dev/v1alpha1", "kind": "Project", "metadata": {"name": "Bad_Name"}}),
        json!({"apiVersion": "lading.dev/v1alpha1", "kind": "Project", "metadata": {"name": "ok"}}),
        json!("just a string"),
    ])
    .unwrap_err();
    assert_eq!(errors.iter().map(|e| e.document).collect::<Vec<_>>(), vec![1, 3]);
    assert_eq!(errors[0].field, "metadata.name");
}

#[test]
fn project_config_must_be_named_after_its_project() {
    let e = error_of("apiVersion: lading.dev/v1alpha1\nkind: ProjectConfig\nmetadata: {name: x, namespace: p}\n");
    assert_eq!(e.field, "metadata.name");
}

#[test]
fn stage_sources_are_checked() {
    let base = |sources: &str| {
        format!(
            "apiVersion: lading.dev/v1alpha1\nkind: Stage\nmetadata: {{name: s, namespace: p}}\nspec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: w}}\n    sources: {sources}\n"
        )
    };
    let ok = parse_manifests(yaml(&base(
        "{stages: [a, b], requiredSoakTime: 1h, availabilityStrategy: All, autoPromotionOptions: {selectionPolicy: NewestFreight}}",
    )))
    .unwrap();
    let Spec::Stage(stage) = &ok[0].spec else { panic!() };
    let sources = &stage.requested_freight[0].sources;
    assert_eq!(sources.availability_strategy(), AvailabilityStrategy::All);
    assert_eq!(sources.required_soak_time(), Some(std::time::Duration::from_secs(3600)));
    let e = error_of(&base("{stages: [a], requiredSoakTime: forever}"));
    assert_eq!(e.field, "spec.requestedFreight[0].sources.requiredSoakTime");
    let e = error_of(&base("{direct: true, requiredSoakTime: 1h}"));
    assert_eq!(e.field, "spec.requestedFreight[0].sources.requiredSoakTime");
    let e = error_of(&base("{stages: [a, b], autoPromotionOptions: {selectionPolicy: MatchUpstream}}"));
    assert_eq!(e.field, "spec.requestedFreight[0].sources.autoPromotionOptions.selectionPolicy");
    let e = error_of(&base("{stages: [a], availabilityStrategy: Most}"));
    assert_eq!(e.field, "spec.requestedFreight[0].sources.availabilityStrategy");
}

#[test]
fn promotion_policy_selectors_are_checked() {
    let base = |selector: &str| {
        format!(
            "apiVersion: lading.dev/v1alpha1\nkind: ProjectConfig\nmetadata: {{name: p, namespace: p}}\nspec:\n  promotionPolicies:\n  - stageSelector: {selector}\n    autoPromotionEnabled: true\n"
        )
    };
    assert!(parse_manifests(yaml(&base("{name: 'glob:uat-*'}"))).is_ok());
    assert!(parse_manifests(yaml(&base("{matchLabels: {tier: pre-prod}}"))).is_ok());
    let e = error_of(&base("{name: 'regex:('}"));
    assert_eq!(e.field, "spec.promotionPolicies[0].stageSelector.name");
    let e = error_of(&base("{matchExpressions: [{key: k, operator: In}]}"));
    assert_eq!(e.field, "spec.promotionPolicies[0].stageSelector.matchExpressions[0].values");
}

#[test]
fn promotion_tasks_validate_like_stage_steps() {
    let ok = parse_manifests(yaml(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: PromotionTask\nmetadata: {name: promote, namespace: p}\nspec:\n  vars:\n  - name: repo\n  steps:\n  - uses: git-clone\n    as: clone\n    config: {repoURL: \"${{ vars.repo }}\"}\n---\napiVersion: lading.dev/v1alpha1\nkind: ClusterPromotionTask\nmetadata: {name: shared}\nspec:\n  steps:\n  - uses: fail\n",
    ))
    .unwrap();
    assert_eq!(ok[0].kind(), Kind::PromotionTask);
    assert_eq!((ok[1].kind(), ok[1].project()), (Kind::ClusterPromotionTask, ""));
    let e = error_of(
        "apiVersion: lading.dev/v1alpha1\nkind: ClusterPromotionTask\nmetadata: {name: s, namespace: p}\nspec: {steps: [{uses: fail}]}\n",
    );
    assert_eq!(e.field, "metadata.namespace");
    let e = error_of(
        "apiVersion: lading.dev/v1alpha1\nkind: PromotionTask\nmetadata: {name: t, namespace: p}\nspec: {steps: [{task: {name: other}}]}\n",
    );
    assert_eq!(e.field, "spec.steps[0].task");
    let stage = |step: &str| {
        format!(
            "apiVersion: lading.dev/v1alpha1\nkind: Stage\nmetadata: {{name: s, namespace: p}}\nspec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: w}}\n    sources: {{direct: true}}\n  promotionTemplate:\n    spec:\n      steps:\n      - {step}\n"
        )
    };
    assert!(parse_manifests(yaml(&stage("{task: {name: promote}, vars: [{name: repo, value: x}]}"))).is_ok());
    let e = error_of(&stage("{task: {name: promote}, uses: fail}"));
    assert_eq!(e.field, "spec.promotionTemplate.spec.steps[0]");
    let e = error_of(&stage("{task: {name: promote, kind: Job}}"));
    assert_eq!(e.field, "spec.promotionTemplate.spec.steps[0].task.kind");
}

#[test]
fn errors_quote_an_excerpt_of_a_very_long_name() {
    // Given a Stage whose name is 100,000 characters long,
    let name = "x".repeat(100_000);
    let doc = json!({"apiVersion": API_VERSION, "kind": "Stage", "metadata": {"name": name, "namespace": "demo"}});
    // when it is validated, then the error says why without echoing the name whole.
    let error = parse_manifest(1, doc).unwrap_err();
    let rendered = serde_json::to_string(&error).unwrap();
    assert!(rendered.len() < 1_000, "{} bytes: {rendered:.300}", rendered.len());
    assert!(error.reason.contains("at most 63 characters"), "{}", error.reason);
}

#[test]
fn errors_quote_an_excerpt_of_a_very_long_value() {
    // Given a boolean field holding a 100,000-character string,
    let doc = json!({"apiVersion": API_VERSION, "kind": "Stage", "metadata": {"name": "s", "namespace": "demo"},
        "spec": {"requestedFreight": [{"origin": {"kind": "Warehouse", "name": "w"}, "sources": {"direct": "y".repeat(100_000)}}]}});
    // when it is validated, then the reason names the field and is cut.
    let error = parse_manifest(1, doc).unwrap_err();
    assert_eq!(error.field, "spec.requestedFreight[0].sources.direct");
    assert!(error.reason.len() < 600, "{} bytes", error.reason.len());
}

#[test]
fn a_400_digit_interval_is_an_error_naming_the_field() {
    let doc = json!({"apiVersion": API_VERSION, "kind": "Warehouse", "metadata": {"name": "w", "namespace": "demo"},
        "spec": {"interval": format!("{}h", "9".repeat(400)), "subscriptions": [{"git": {"repoURL": "https://h/x"}}]}});
    let error = parse_manifest(1, doc).unwrap_err();
    assert_eq!(error.field, "spec.interval");
    assert!(error.reason.contains("longest duration"), "{}", error.reason);
}

#[test]
fn kargos_insecure_skip_tls_verify_applies_to_git_and_image_subscriptions() {
    // Given Kargo's spelling of the field on both kinds of subscription,
    let doc = json!({"apiVersion": KARGO_API_VERSION, "kind": "Warehouse", "metadata": {"name": "w", "namespace": "demo"},
    "spec": {"subscriptions": [
        {"git": {"repoURL": "https://h/x.git", "insecureSkipTLSVerify": true}},
        {"image": {"repoURL": "h/app", "insecureSkipTLSVerify": true}},
    ]}});
    // when validated, then both are set, and stored under Kargo's name.
    let manifest = parse_manifest(1, doc).unwrap();
    let Spec::Warehouse(spec) = &manifest.spec else { panic!("a warehouse") };
    assert!(spec.subscriptions[0].git.as_ref().unwrap().insecure_skip_tls_verify);
    assert!(spec.subscriptions[1].image.as_ref().unwrap().insecure_skip_tls_verify);
    assert!(manifest.to_json().to_string().contains("insecureSkipTLSVerify"));
}

#[test]
fn a_password_in_a_repository_url_is_refused_with_where_credentials_go() {
    let warehouse = |url: &str| {
        json!({"apiVersion": API_VERSION, "kind": "Warehouse", "metadata": {"name": "w", "namespace": "demo"},
            "spec": {"subscriptions": [{"git": {"repoURL": url}}]}})
    };
    let error = parse_manifest(1, warehouse("https://bot:t0ken-s3cret@git.example.com/app.git")).unwrap_err();
    assert_eq!(error.field, "spec.subscriptions[0].git.repoURL");
    assert!(error.reason.contains("LADING_CREDENTIALS_FILE"), "{}", error.reason);
    assert!(!error.reason.contains("t0ken-s3cret"));
    // A bare token as the user name is refused the same way, in any scheme that sends it
    // over HTTP, and for charts too; an ssh account name is fine.
    for url in [
        "https://ghp_t0ken-s3cret@git.example.com/app.git",
        "HTTP://ghp_t0ken-s3cret@127.0.0.1:8080/app.git",
        "https://ghp_t0ken-s3cret@git.example.com",
    ] {
        let error = parse_manifest(1, warehouse(url)).unwrap_err();
        assert_eq!(error.field, "spec.subscriptions[0].git.repoURL", "{url}");
        assert!(!error.reason.contains("t0ken-s3cret"), "{}", error.reason);
    }
    let chart = json!({"apiVersion": API_VERSION, "kind": "Warehouse", "metadata": {"name": "w", "namespace": "demo"},
        "spec": {"subscriptions": [{"chart": {"repoURL": "oci://ghp_t0ken-s3cret@ghcr.io/org/app"}}]}});
    assert_eq!(parse_manifest(1, chart).unwrap_err().field, "spec.subscriptions[0].chart.repoURL");
    assert!(parse_manifest(1, warehouse("ssh://git@git.example.com/app.git")).is_ok());
    assert!(parse_manifest(1, warehouse("git@git.example.com:org/app.git")).is_ok());
}
