//! Given/when/then tests of the step config schemas and their checker.

use serde_json::{Value, json};

use super::step_configs::*;

fn error(uses: &str, config: Value) -> String {
    let error = validate_config(uses, Some(&config), "config").unwrap_err();
    format!("{}: {}", error.field, error.reason)
}

#[test]
fn given_a_token_in_a_step_repo_url_when_checked_then_it_is_refused_without_showing_it() {
    for uses in ["git-clone", "git-open-pr", "some-unknown-step"] {
        let config = json!({"repoURL": "https://ghp_t0ken-s3cret@github.com/org/app.git", "sourceBranch": "b"});
        let error = validate_config(uses, Some(&config), "config").unwrap_err();
        assert_eq!(error.field, "config.repoURL", "{uses}");
        assert!(!error.reason.contains("t0ken-s3cret"), "{}", error.reason);
    }
    let from_a_secret = json!({"repoURL": "https://${{ secret('git').token }}@github.com/org/app.git"});
    validate_config("git-clone", Some(&from_a_secret), "config").unwrap();
    validate_config("git-clone", Some(&json!({"repoURL": "ssh://git@github.com/org/app.git"})), "config").unwrap();
}

#[test]
fn given_kargo_examples_when_checked_then_they_pass() {
    let open = json!({"repoURL": "https://github.com/example/repo.git",
        "sourceBranch": "${{ outputs.push.branch }}", "targetBranch": "stage/${{ ctx.stage }}",
        "title": "Deploy", "labels": ["infra", "needs-review"]});
    validate_config("git-open-pr", Some(&open), "config").unwrap();
    let wait = json!({"repoURL": "r", "prNumber": "${{ outputs['open-pr'].pr.id }}"});
    validate_config("git-wait-for-pr", Some(&wait), "config").unwrap();
    let merge = json!({"repoURL": "r", "prNumber": 42, "wait": true, "mergeMethod": "squash"});
    validate_config("git-merge-pr", Some(&merge), "config").unwrap();
}

#[test]
fn given_bad_fields_when_checked_then_the_error_names_the_path() {
    assert_eq!(
        error("git-merge-pr", json!({"repoURL": "r", "prNumber": "42"})),
        "config.prNumber: must be an integer, got a string"
    );
    assert_eq!(
        error("git-merge-pr", json!({"repoURL": "r", "prNumber": 0})),
        "config.prNumber: must be at least 1, got 0"
    );
    assert_eq!(error("git-wait-for-pr", json!({"repoURL": "r"})), "config.prNumber: is required");
    assert!(error("tar", json!({"inPath": "a", "outPath": "b", "zip": true})).starts_with("config.zip: unknown field"));
    assert_eq!(
        error("json-parse", json!({"path": "a", "outputs": [{"name": "x"}]})),
        "config.outputs[0].fromExpression: is required"
    );
    assert!(
        error("git-open-pr", json!({"repoURL": "r", "sourceBranch": "b", "provider": "svn"}))
            .starts_with("config.provider: \"svn\" is not one of")
    );
    assert_eq!(
        error("http-download", json!({"url": "u", "outPath": "o", "headers": [{"name": 1, "value": "v"}]})),
        "config.headers[0].name: must be a string, got a number"
    );
}

#[test]
fn given_argo_cd_steps_when_checked_then_kargo_fields_pass_and_others_are_named() {
    let update = json!({"apps": [{"name": "kargo-demo-${{ ctx.stage }}", "sources": [{
        "repoURL": "${{ vars.gitopsRepo }}", "desiredRevision": "${{ task.outputs.commit.commit }}",
        "kustomize": {"images": [{"repoURL": "nginx", "tag": "1.29"}]}}]}]});
    validate_config("argocd-update", Some(&update), "config").unwrap();
    assert_eq!(
        error("argocd-update", json!({"apps": [{"namespace": "argocd"}]})),
        "config.apps[0].name: is required (or selector)"
    );
    // Applications by labels: a selector the Kubernetes API takes, instead of a name.
    let by_labels =
        json!({"apps": [{"selector": {"matchExpressions": [{"key": "env", "operator": "In", "values": ["a"]}]}}]});
    validate_config("argocd-wait", Some(&by_labels), "config").unwrap();
    assert_eq!(
        error("argocd-update", json!({"apps": [{"name": "a", "selector": {"matchLabels": {"x": "y"}}}]})),
        "config.apps[0].selector: set either name or selector, not both"
    );
    assert_eq!(
        error("argocd-wait", json!({"apps": [{"selector": {"matchExpressions": [{"key": "env", "operator": "In"}]}}]})),
        "config.apps[0].selector.matchExpressions[0].values: is required with operator In"
    );
    assert!(
        error("argocd-wait", json!({"apps": [{"selector": {"matchExpressions": [{"key": "env", "operator": "Gt"}]}}]}))
            .starts_with("config.apps[0].selector.matchExpressions[0].operator:")
    );
    assert!(
        error("argocd-update", json!({"apps": [{"name": "a", "sources": [{"repoURL": "r", "revision": "x"}]}]}))
            .starts_with("config.apps[0].sources[0].revision: unknown field")
    );
    assert!(
        error("argocd-wait", json!({"apps": [{"name": "a", "waitFor": ["ready"]}]}))
            .starts_with("config.apps[0].waitFor[0]: \"ready\" is not one of")
    );
}

#[test]
fn given_compose_output_when_checked_then_any_mapping_passes() {
    validate_config("compose-output", Some(&json!({"whatever": 1})), "config").unwrap();
}

#[test]
fn given_every_older_step_when_its_config_is_bad_then_the_path_is_named() {
    // Given a bad config of each step that was checked only when it ran,
    // when checked at apply, then the error names the field and the reason.
    let cases = [
        ("git-clone", json!({"repoURL": "r", "blobby": true}), "config.blobby: unknown field"),
        (
            "git-clone",
            json!({"repoURL": "r", "checkout": [{"branch": "main"}]}),
            "config.checkout[0].path: is required",
        ),
        ("git-commit", json!({"path": "out"}), "config.message: is required"),
        ("git-push", json!({"path": "out", "maxAttempts": "3"}), "config.maxAttempts: must be an integer"),
        ("git-clear", json!({}), "config.path: is required"),
        ("copy", json!({"inPath": "a", "outPath": 1}), "config.outPath: must be a string"),
        ("delete", json!({"strict": true}), "config.path: is required (or paths)"),
        ("delete", json!({"paths": "a"}), "config.paths: must be a list"),
        (
            "file-write",
            json!({"path": "a", "contents": "x", "overwrite": "yes"}),
            "config.overwrite: must be a boolean",
        ),
        ("fail", json!({"reason": "x"}), "config.reason: unknown field"),
        ("yaml-update", json!({"path": "a", "updates": [{"key": "k"}]}), "config.updates[0].value: is required"),
        ("json-update", json!({"path": "a", "updates": {}}), "config.updates: must be a list"),
        ("toml-update", json!({"updates": []}), "config.path: is required"),
        ("kustomize-set-image", json!({"path": "a", "images": [{"tag": "v1"}]}), "config.images[0].image: is required"),
        (
            "kustomize-build",
            json!({"path": "a", "outPath": "b", "outputFormat": "helm"}),
            "config.outputFormat: \"helm\" is not one of",
        ),
        (
            "helm-update-chart",
            json!({"path": "a", "charts": [{"name": "c"}]}),
            "config.charts[0].repository: is required",
        ),
        (
            "http",
            json!({"url": "u", "responseContentType": "text/html"}),
            "config.responseContentType: \"text/html\" is not one of",
        ),
        ("http", json!({"url": "u", "errorExpression": 1}), "config.errorExpression: must be a string"),
        ("set-freight-alias", json!({"name": "f"}), "config.alias: is required (or newAlias)"),
        (
            "set-metadata",
            json!({"updates": [{"kind": "Warehouse", "name": "w", "values": {"a": 1}}]}),
            "config.updates[0].kind: \"Warehouse\" is not one of Freight, Stage",
        ),
        (
            "set-metadata",
            json!({"updates": [{"kind": "Stage", "name": "s", "values": [1]}]}),
            "config.updates[0].values: must be a mapping, got a list",
        ),
        ("set-metadata", json!({"updates": [{"kind": "Stage", "values": {}}]}), "config.updates[0].name: is required"),
        ("set-freight-alias", json!({"alias": "a", "newAlias": "b"}), "config.newAlias: set either alias or newAlias"),
    ];
    for (uses, config, wanted) in cases {
        let got = error(uses, config);
        assert!(got.starts_with(wanted), "{uses}: {got:?} does not start with {wanted:?}");
    }
}

#[test]
fn given_kargo_fields_of_older_steps_when_checked_then_they_pass() {
    let ok = [
        ("delete", json!({"paths": ["a/*.yaml", "b/**"], "pathsAreGlobs": true, "strict": true})),
        ("file-write", json!({"path": "a", "contents": "x", "overwrite": true})),
        ("kustomize-build", json!({"path": "a", "outPath": "b", "outputFormat": "kustomize"})),
        (
            "http",
            json!({"url": "u", "responseContentType": "application/yaml", "errorExpression": "response.body.msg"}),
        ),
        ("git-push", json!({"path": "out", "tag": "v1.0.0"})),
        ("set-freight-alias", json!({"name": "${{ ctx.targetFreight.name }}", "alias": "prod-ready"})),
        (
            "set-metadata",
            json!({"updates": [
                {"kind": "Stage", "name": "production", "values": {"foo": "hello", "bar": 42}},
                {"kind": "Freight", "name": "${{ ctx.targetFreight.name }}", "values": {"qux": ["a", "b"]}},
            ]}),
        ),
        ("yaml-update", json!({"path": "a", "updates": [{"key": "k", "value": 3}]})),
        ("git-clone", json!({"repoURL": "${{ vars.repo }}", "checkout": "${{ vars.checkouts }}"})),
    ];
    for (uses, config) in ok {
        validate_config(uses, Some(&config), "config").unwrap_or_else(|e| panic!("{uses}: {}: {}", e.field, e.reason));
    }
}

#[test]
fn given_github_push_configs_when_checked_then_kargo_fields_pass_and_a_generated_and_named_branch_exclude_each_other() {
    for config in [
        json!({"path": "./out"}),
        json!({"path": "./out", "generateTargetBranch": true}),
        json!({"path": "./out", "targetBranch": "main", "force": true, "maxAttempts": 3, "insecureSkipTLSVerify": true}),
        json!({"path": "./out", "targetBranch": "", "generateTargetBranch": true}),
        json!({"path": "./out", "targetBranch": "main", "generateTargetBranch": false}),
    ] {
        validate_config("github-push", Some(&config), "config").unwrap_or_else(|e| panic!("{config}: {}", e.reason));
    }
    assert_eq!(
        error("github-push", json!({"path": "out", "targetBranch": "main", "generateTargetBranch": true})),
        "config.targetBranch: set either targetBranch or generateTargetBranch, not both"
    );
    assert_eq!(error("github-push", json!({"targetBranch": "main"})), "config.path: is required");
    assert_eq!(
        error("github-push", json!({"path": "out", "force": "yes"})),
        "config.force: must be a boolean, got a string"
    );
    assert_eq!(
        error("github-push", json!({"path": "out", "maxAttempts": 0})),
        "config.maxAttempts: must be from 1 to 100, got 0"
    );
    assert_eq!(
        error("github-push", json!({"path": "out", "maxAttempts": 101})),
        "config.maxAttempts: must be from 1 to 100, got 101"
    );
    assert!(error("github-push", json!({"path": "out", "tag": "v1"})).starts_with("config.tag: unknown field"));
}
