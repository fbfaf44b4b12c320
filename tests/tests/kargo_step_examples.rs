//! The examples of Kargo's reference pages for the file-write, delete, copy, kustomize,
//! yaml/json/toml-update, git-commit, git-push, http, parse, merge, archive, tag,
//! github-push, download, OCI, Helm, metadata, fail and compose-output steps, as Kargo
//! prints them but for URLs: each is applied inside a Kargo Stage manifest (or, for those
//! reading `task.outputs`, a PromotionTask), its step configs checked against their
//! schemas then, and run against real files, repositories, HTTP servers and an OCI
//! registry.

#[path = "kargo_step_examples/archives.rs"]
mod archives;
#[path = "kargo_step_examples/file_steps.rs"]
mod file_steps;
#[path = "kargo_step_examples/git_clone.rs"]
mod git_clone;
#[path = "kargo_step_examples/git_clone_blobless.rs"]
mod git_clone_blobless;
#[path = "kargo_step_examples/git_tag.rs"]
mod git_tag;
#[path = "kargo_step_examples/github_push.rs"]
mod github_push;
#[path = "kargo_step_examples/helm_template.rs"]
mod helm_template;
#[path = "kargo_step_examples/helm_update_chart.rs"]
mod helm_update_chart;
#[path = "kargo_step_examples/http.rs"]
mod http;
#[path = "kargo_step_examples/http_download.rs"]
mod http_download;
#[path = "kargo_step_examples/oci.rs"]
mod oci;
#[path = "kargo_step_examples/rendering.rs"]
mod rendering;
#[path = "kargo_step_examples/set_metadata.rs"]
mod set_metadata;
#[path = "kargo_step_examples/task_examples.rs"]
mod task_examples;

use std::path::Path;
use std::sync::Arc;

use lading_domain::Freight;
use lading_domain::spec::{PromotionStep, PromotionVariable, Spec, validate_manifest};
use lading_promoter::engine::{PromotionError, PromotionOutcome};
use lading_tests::engine_run::EngineRun;
use lading_tests::git::Repo;
use serde_json::{Value, json};

/// A Kargo Stage whose promotion template is `template` (YAML at the level of
/// `promotionTemplate.spec`: `vars`, `steps`), applied: its steps and variables.
fn apply(template: &str) -> (Vec<PromotionVariable>, Vec<PromotionStep>) {
    let indented: String = template.lines().map(|l| format!("      {l}\n")).collect();
    let manifest = format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: test\n  namespace: demo\nspec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n  promotionTemplate:\n    spec:\n{indented}"
    );
    let value: Value = serde_saphyr::from_str(&manifest).expect("the example is YAML");
    let manifest = validate_manifest(1, value).unwrap_or_else(|e| panic!("the example applies: {e}"));
    match manifest.spec {
        Spec::Stage(spec) => (spec.vars().to_vec(), spec.steps().to_vec()),
        _ => unreachable!(),
    }
}

/// Secrets of project `demo` holding one secret `name` with `key: value`, as
/// `secret(name).key` reads them.
fn secret_access(name: &str, key: &str, value: &str) -> lading_domain::secrets::SecretAccess {
    let secrets = lading_domain::secrets::Secrets::parse(&format!(
        "kind: Secret\nmetadata: {{name: {name}, namespace: demo}}\nstringData: {{{key}: {value}}}\n"
    ))
    .unwrap();
    lading_domain::secrets::SecretAccess {
        project: "demo".into(),
        secrets: Arc::new(secrets),
        revealed: Default::default(),
    }
}

/// The error applying `template` gives.
fn refused(template: &str) -> String {
    let indented: String = template.lines().map(|l| format!("      {l}\n")).collect();
    let manifest = format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: test\n  namespace: demo\nspec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n  promotionTemplate:\n    spec:\n{indented}"
    );
    let value: Value = serde_saphyr::from_str(&manifest).unwrap();
    validate_manifest(1, value).expect_err("the manifest is refused").to_string()
}

fn run_with(run: EngineRun<'_>, workspace: &Path, template: &str) -> Result<PromotionOutcome, PromotionError> {
    let (vars, steps) = apply(template);
    EngineRun { vars: &vars, ..run }.run(workspace, &steps)
}

/// A repository `example/repo` with `files` on `main`, and freight with its head commit.
fn repo_with(root: &Path, files: &[(&str, &str)]) -> (Repo, Freight) {
    let repo = Repo::create(root, "repo");
    let mut head = String::new();
    for (file, content) in files {
        head = repo.commit(file, content, &format!("add {file}"));
    }
    let freight = Freight::from_warehouse("app").with_commit(&repo.url(), &head);
    (repo, freight)
}

/// The vars/clone/clear prologue the parse and merge examples share, for `repo`.
fn clone_prologue(repo: &Repo) -> String {
    format!(
        "vars:\n- name: gitRepo\n  value: {}\nsteps:\n- uses: git-clone\n  config:\n    repoURL: ${{{{ vars.gitRepo }}}}\n    checkout:\n    - commit: ${{{{ commitFrom(vars.gitRepo).ID }}}}\n      path: ./src\n    - branch: stage/${{{{ ctx.stage }}}}\n      create: true\n      path: ./out\n- uses: git-clear\n  config:\n    path: ./out\n",
        repo.url()
    )
}

#[test]
fn json_parse_yaml_parse_and_toml_parse_examples_give_the_image_tag() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, freight) = repo_with(
        dir.path(),
        &[
            ("config.json", "{\n  \"image\": {\n    \"tag\": \"v1.2.3\"\n  }\n}\n"),
            ("charts/my-chart/values.yaml", "image:\n  tag: \"v1.2.3\"\n"),
            ("config.toml", "[image]\ntag = \"v1.2.3\"\n[rbac]\ninstallClusterRoles = true\n"),
        ],
    );
    for (uses, path) in [
        ("json-parse", "'./src/config.json'"),
        ("yaml-parse", "'./src/charts/my-chart/values.yaml'"),
        ("toml-parse", "'./src/config.toml'"),
    ] {
        let workspace = tempfile::tempdir().unwrap();
        let template = format!(
            "{}- uses: {uses}\n  as: values\n  config:\n    path: {path}\n    outputs:\n    - name: imageTag\n      fromExpression: image.tag\n",
            clone_prologue(&repo)
        );
        let outcome = run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap();
        assert_eq!(outcome.outputs["values"], json!({"imageTag": "v1.2.3"}), "{uses}");
    }
}

#[test]
fn parse_steps_read_keys_through_outputs_and_refuse_bad_files_by_name() {
    let workspace = tempfile::tempdir().unwrap();
    std::fs::write(workspace.path().join("v.yaml"), "my-key: 3\nlist: [1, 2]\n").unwrap();
    std::fs::write(workspace.path().join("bad.json"), "{\"token\": s3cret}").unwrap();
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let outcome = run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: yaml-parse\n  as: v\n  config:\n    path: v.yaml\n    outputs:\n    - name: dashed\n      fromExpression: string(outputs['my-key'])\n    - name: count\n      fromExpression: size(list)\n",
    )
    .unwrap();
    assert_eq!(outcome.outputs["v"], json!({"dashed": "3", "count": 2}));
    let bad = run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: json-parse\n  config:\n    path: bad.json\n    outputs:\n    - name: x\n      fromExpression: token\n",
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("bad.json is not valid JSON (line 1"), "{bad}");
    assert!(!bad.contains("s3cret"), "{bad}");
    let outside = run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: toml-parse\n  config:\n    path: ../x.toml\n    outputs:\n    - name: x\n      fromExpression: a\n",
    )
    .unwrap_err()
    .to_string();
    assert!(outside.contains("config.path: \"../x.toml\" leads outside the promotion's workspace"), "{outside}");
}

#[test]
fn a_parse_step_missing_its_outputs_is_refused_at_apply() {
    let error = refused("steps:\n- uses: yaml-parse\n  config:\n    path: values.yaml\n");
    assert!(error.contains("spec.promotionTemplate.spec.steps[0].config.outputs: is required"), "{error}");
    let error =
        refused("steps:\n- uses: untar\n  config:\n    inPath: a.tgz\n    outPath: x\n    stripComponents: -1\n");
    assert!(error.contains("steps[0].config.stripComponents: must be at least 0, got -1"), "{error}");
    let error = refused("steps:\n- uses: tar\n  config:\n    inPath: a\n    outPath: b\n    gzip: yes please\n");
    assert!(error.contains("steps[0].config.gzip: must be a boolean, got a string"), "{error}");
}

#[test]
fn yaml_merge_example_merges_three_values_files() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, freight) = repo_with(
        dir.path(),
        &[
            ("charts/my-chart/values.yaml", "service:\n  enabled: false\n"),
            ("charts/qa/values.yaml", "service:\n  enabled: true\n"),
            ("charts/qa/cluster-a/values.yaml", "service:\n  type: LoadBalancer\n"),
        ],
    );
    let workspace = tempfile::tempdir().unwrap();
    let template = format!(
        "{}- uses: yaml-merge\n  config:\n    inFiles:\n    - ./src/charts/my-chart/values.yaml\n    - ./src/charts/qa/values.yaml\n    - ./src/charts/qa/cluster-a/values.yaml\n    outFile: ./out/charts/my-chart/values.yaml\n",
        clone_prologue(&repo)
    );
    run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap();
    let merged = std::fs::read_to_string(workspace.path().join("out/charts/my-chart/values.yaml")).unwrap();
    let merged: Value = serde_saphyr::from_str(&merged).unwrap();
    assert_eq!(merged, json!({"service": {"enabled": true, "type": "LoadBalancer"}}));
}

/// Every file and directory (with a trailing `/`) under `root`, sorted.
fn tree(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            if path.is_dir() {
                pending.push(path);
                found.push(format!("{name}/"));
            } else {
                found.push(name);
            }
        }
    }
    found.sort();
    found
}
