//! The examples of Kargo's `fail` and `compose-output` pages, which read
//! `task.outputs`: each runs inside a PromotionTask (applied as a manifest) that a
//! Stage's step names, as printed but for URLs. The services they call are stand-ins:
//! a name API and Slack's `chat.postMessage` on a local server, GitHub's pull requests
//! in `lading_tests::git_hosting`.

use lading_domain::spec::{PromotionTaskSpec, TaskRef};
use lading_promoter::engine::tasks::expand_tasks;
use lading_tests::http_stub::{self, Seen};

use super::*;

/// A local server answering `GET /expected-name` with `{"name": <name>}`, and anything
/// else (Slack's `chat.postMessage`) with `{"ok": true}`.
fn services(name: &'static str) -> (String, Seen) {
    http_stub::serve(move |request| match request.path.as_str() {
        "/expected-name" => (200, "application/json", format!("{{\"name\": \"{name}\"}}")),
        _ => (200, "application/json", "{\"ok\": true}".to_owned()),
    })
}

/// The steps of a Stage whose one step runs PromotionTask `example` with `steps`.
fn in_task(vars: &str, steps: &str) -> (Vec<PromotionVariable>, Vec<PromotionStep>) {
    let task = format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: PromotionTask\nmetadata:\n  name: example\n  namespace: demo\nspec:\n{vars}{steps}"
    );
    let value: Value = serde_saphyr::from_str(&task).expect("the task is YAML");
    let spec: PromotionTaskSpec =
        match validate_manifest(1, value).unwrap_or_else(|e| panic!("the task applies: {e}")).spec {
            Spec::PromotionTask(spec) => spec,
            _ => unreachable!(),
        };
    let (stage_vars, steps) = apply("steps:\n- task:\n    name: example\n  as: example\n");
    let steps =
        expand_tasks(&steps, |reference: &TaskRef| (reference.name == "example").then(|| spec.clone())).unwrap();
    (stage_vars, steps)
}

#[test]
fn fail_example_fails_the_promotion_when_the_chart_is_not_the_expected_one() {
    let fail = |base: &str| {
        format!(
            "steps:\n  - uses: http\n    as: expected-name\n    config:\n      url: {base}/expected-name\n      outputs:\n        - name: name\n          fromExpression: response.body.name\n  - uses: fail\n    if: ${{{{ task.outputs['expected-name'].name != chartFrom('oci://example.com/my-chart').Name }}}}\n    config:\n      message: Expected chart name ${{{{ task.outputs['expected-name'].name }}}}\n"
        )
    };
    let freight = Freight::from_warehouse("app").with_chart("oci://example.com/my-chart", "my-chart", "1.0.0");
    // The chart is the one expected: fail is skipped.
    let (base, _) = services("my-chart");
    let (vars, steps) = in_task("", &indent(&fail(&base)));
    let workspace = tempfile::tempdir().unwrap();
    EngineRun { vars: &vars, ..EngineRun::new(&freight) }.run(workspace.path(), &steps).unwrap();
    // Another chart: the promotion fails with the message.
    let (base, _) = services("other-chart");
    let (vars, steps) = in_task("", &indent(&fail(&base)));
    let workspace = tempfile::tempdir().unwrap();
    let error = EngineRun { vars: &vars, ..EngineRun::new(&freight) }.run(workspace.path(), &steps).unwrap_err();
    assert!(error.to_string().contains("Expected chart name other-chart"), "{error}");
}

/// `text` under the task's `spec:`.
fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_output_example_links_the_pull_request_in_a_slack_message() {
    let (_dir, hosting, _repo, url) = lading_tests::hosted_gitops::hosted("ghp_token").await;
    let (slack, posted) = services("unused");
    let repo_url = url.trim_end_matches(".git").to_owned();
    let providers = std::collections::BTreeMap::from([(hosting.host(), "github".to_owned())]);
    let base = url.rsplit_once("/example/").unwrap().0.to_owned();
    let credentials = lading_promoter::steps::GitCredentials::parse(&format!(
        "- repoURL: {base}/\n  username: robot\n  password: ghp_token\n"
    ))
    .unwrap();
    let task_steps = format!(
        "vars:\n- name: repoURL\n  value: {repo_url}\nsteps:\n# Clone, prepare the contents of ./out, commit, push as part of a `push` step etc...\n- uses: git-clone\n  config:\n    repoURL: {url}\n    checkout:\n    - branch: stage/test\n      path: ./out\n- uses: file-write\n  config:\n    path: ./out/app.yaml\n    contents: \"image: nginx:2.0\\n\"\n    overwrite: true\n- uses: git-commit\n  config:\n    path: ./out\n    message: promote\n- uses: git-push\n  as: push\n  config:\n    path: ./out\n    generateTargetBranch: true\n- uses: git-open-pr\n  as: open-pr\n  config:\n    repoURL: ${{{{ vars.repoURL }}}}\n    createTargetBranch: true\n    sourceBranch: ${{{{ task.outputs.push.branch }}}}\n    targetBranch: stage/${{{{ ctx.stage }}}}\n- uses: compose-output\n  as: pr-link\n  config:\n    url: ${{{{ vars.repoURL }}}}/pull/${{{{ task.outputs['open-pr'].pr.id }}}}\n- uses: http\n  config:\n    method: POST\n    url: {slack}/api/chat.postMessage\n    headers:\n    - name: Authorization\n      value: Bearer ${{{{ secret('slack').token }}}}\n    - name: Content-Type\n      value: application/json\n    body: |\n      ${{{{ quote({{\n        \"channel\": \"C123456\",\n        \"blocks\": [\n          {{\n            \"type\": \"section\",\n            \"text\": {{\n              \"type\": \"mrkdwn\",\n              \"text\": \"A new PR has been opened: \" + task.outputs['pr-link'].url\n            }}\n          }}\n        ]\n      }}) }}}}\n"
    );
    let (vars, steps) = {
        let (head, steps) = task_steps.split_once("steps:\n").unwrap();
        in_task(&indent(head), &indent(&format!("steps:\n{steps}")))
    };
    let access = secret_access("slack", "token", "xoxb-1");
    let outcome = tokio::task::spawn_blocking(move || {
        let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        let workspace = tempfile::tempdir().unwrap();
        EngineRun {
            vars: &vars,
            credentials,
            git_providers: providers,
            secrets: Some(access),
            ..EngineRun::new(&freight)
        }
        .run(workspace.path(), &steps)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(outcome.outputs["example::pr-link"]["url"], json!(format!("{repo_url}/pull/1")));
    let message: Value = serde_json::from_str(posted.lock().unwrap()[0].body.trim()).unwrap();
    assert_eq!(message["blocks"][0]["text"]["text"], json!(format!("A new PR has been opened: {repo_url}/pull/1")));
    assert_eq!(hosting.pulls()[0].head, "lading/promotion/p");
}
