//! Analysis templates and stage verification at apply time.

use serde_json::Value;

use super::*;

fn yaml(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple(text).expect("test YAML parses")
}

fn error_of(text: &str) -> ManifestError {
    parse_manifests(yaml(text)).unwrap_err().remove(0)
}

fn template(metric: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {{name: success-rate, namespace: p}}\nspec:\n  args:\n  - name: service\n  metrics:\n  - {metric}\n"
    )
}

const PROMETHEUS: &str = "{name: success-rate, interval: 5m, count: 3, successCondition: 'result[0] >= 0.95', failureLimit: 1, provider: {prometheus: {address: 'http://prometheus:9090', query: 'sum(rate(ok{service=\"{{args.service}}\"}[5m]))'}}}";

#[test]
fn an_argo_rollouts_template_applies_unchanged() {
    let ok = parse_manifests(yaml(&template(PROMETHEUS))).unwrap();
    assert_eq!((ok[0].kind(), ok[0].project()), (Kind::AnalysisTemplate, "p"));
    let Spec::AnalysisTemplate(spec) = &ok[0].spec else { panic!("not a template") };
    assert_eq!(spec.metrics[0].provider_name(), "prometheus");
    let cluster = "apiVersion: argoproj.io/v1alpha1\nkind: ClusterAnalysisTemplate\nmetadata: {name: ping}\nspec:\n  metrics:\n  - {name: ping, provider: {web: {url: 'http://x/health', jsonPath: '{$.status}'}}, successCondition: 'result == \"ok\"'}\n";
    let ok = parse_manifests(yaml(cluster)).unwrap();
    assert_eq!((ok[0].kind(), ok[0].project()), (Kind::ClusterAnalysisTemplate, ""));
}

#[test]
fn a_condition_that_does_not_parse_is_named_with_its_metric_and_field() {
    let e = error_of(&template(
        "{name: success-rate, successCondition: 'result[0] >= ', provider: {web: {url: 'http://x'}}}",
    ));
    assert_eq!(e.field, "spec.metrics[0].successCondition");
    assert!(e.reason.contains("metric \"success-rate\""), "{}", e.reason);
    let e = error_of(&template(
        "{name: success-rate, failureCondition: 'response.code > 0', provider: {web: {url: 'http://x'}}}",
    ));
    assert_eq!(e.field, "spec.metrics[0].failureCondition");
    assert!(e.reason.contains("response"), "{}", e.reason);
}

#[test]
fn an_unsupported_provider_is_refused_with_its_name() {
    let e = error_of(&template("{name: m, provider: {datadog: {query: 'avg:x'}}}"));
    assert_eq!(e.field, "spec.metrics[0].provider.datadog");
    assert!(e.reason.contains("\"datadog\" is not supported"), "{}", e.reason);
    let e = error_of(&template("{name: m, provider: {}}"));
    assert_eq!(e.field, "spec.metrics[0].provider");
}

#[test]
fn argo_rules_for_count_interval_and_limits_are_enforced() {
    let e = error_of(&template("{name: m, count: 3, provider: {web: {url: 'http://x'}}}"));
    assert_eq!(e.field, "spec.metrics[0].interval");
    let e = error_of(&template("{name: m, interval: often, provider: {web: {url: 'http://x'}}}"));
    assert_eq!(e.field, "spec.metrics[0].interval");
    let e = error_of(&template("{name: m, failureLimit: -2, provider: {web: {url: 'http://x'}}}"));
    assert_eq!(e.field, "spec.metrics[0].failureLimit");
    assert!(
        parse_manifests(yaml(&template("{name: m, failureLimit: -1, provider: {web: {url: 'http://x'}}}"))).is_ok()
    );
    let e = error_of(&template("{name: m, provider: {job: {spec: {template: {spec: {containers: []}}}}}}"));
    assert_eq!(e.field, "spec.metrics[0].provider.job.spec.template.spec.containers");
}

#[test]
fn argo_api_version_is_only_for_analysis_templates() {
    let e = error_of("apiVersion: argoproj.io/v1alpha1\nkind: Project\nmetadata: {name: p}\n");
    assert_eq!(e.field, "apiVersion");
}

fn stage(verification: &str) -> String {
    format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {{name: test, namespace: p}}\nspec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: w}}\n    sources: {{direct: true}}\n  promotionTemplate:\n    spec:\n      vars:\n      - {{name: service, value: app}}\n      steps:\n      - uses: fail\n  verification:\n{verification}"
    )
}

#[test]
fn a_kargo_stage_with_verification_applies_and_its_arguments_are_checked() {
    let ok = parse_manifests(yaml(&stage(
        "    analysisTemplates:\n    - name: success-rate\n    analysisRunMetadata: {labels: {team: a}}\n    args:\n    - {name: service, value: '${{ vars.service }}-${{ ctx.stage }}'}\n",
    )))
    .unwrap();
    let Spec::Stage(spec) = &ok[0].spec else { panic!("not a stage") };
    assert_eq!(spec.verification.as_ref().unwrap().analysis_templates[0].name, "success-rate");
    let e = error_of(&stage(
        "    analysisTemplates:\n    - name: t\n    args:\n    - {name: a, value: '${{ vars.nope }}'}\n",
    ));
    assert_eq!(e.field, "spec.verification.args[0].value");
    let e = error_of(&stage("    analysisTemplates:\n    - {name: t, kind: Rollout}\n"));
    assert_eq!(e.field, "spec.verification.analysisTemplates[0].kind");
}

#[test]
fn given_secret_references_in_a_provider_when_applied_then_only_secret_calls_pass_and_errors_name_the_field() {
    let with_secrets = "{name: ping, provider: {web: {url: 'https://x/${{ secret(\"hook\").path }}', headers: [{key: Authorization, value: 'Bearer ${{ secret(\"api\").token }}'}]}}}";
    parse_manifests(yaml(&template(with_secrets))).unwrap();
    let prometheus = "{name: rate, provider: {prometheus: {address: '${{ secret(\"prom\").address }}', query: up, headers: [{key: Authorization, value: 'Bearer ${{ secret(\"prom\").token }}'}]}}}";
    parse_manifests(yaml(&template(prometheus))).unwrap();

    let e = error_of(&template(
        "{name: ping, provider: {web: {url: 'http://x', headers: [{key: A, value: '${{ ctx.stage }}'}]}}}",
    ));
    assert_eq!(e.field, "spec.metrics[0].provider.web.headers[0].value");
    let e = error_of(&template("{name: rate, provider: {prometheus: {address: '${{ secret(\"p\"', query: up}}}"));
    assert_eq!(e.field, "spec.metrics[0].provider.prometheus.address");
}
