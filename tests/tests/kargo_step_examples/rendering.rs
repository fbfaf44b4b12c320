//! The examples of Kargo's `kustomize-set-image`, `kustomize-build`, `yaml-update`,
//! `json-update`, `toml-update`, `git-commit` and `git-push` pages, as printed but for
//! URLs, on a repository laid out as they assume (`base/`, `stages/test/`,
//! `charts/my-chart/values.yaml`). Where an example begins with "Clone, prepare the
//! contents of ./out, etc...", a clone of the stage's branch and a changed file come
//! first. `git-commit`'s first example is not here: its `kustomize-set-image` has no
//! `path`, which Kargo's schema requires too.

use super::*;

const KUSTOMIZATION: &str =
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- deployment.yaml\n";
const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: my-app\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: my/image:1.0\n      - name: sidecar\n        image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/my-image:1.0\n";
const STAGE: &str =
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: test\nresources:\n- ../../base\n";
const VALUES: &str = "# the chart's values\nimage:\n  repository: my/image\n  tag: v1.0.0 # set by Kargo\n";

/// The repository the examples assume, and freight with its head and `my/image:2.0.0`.
fn layout(root: &Path) -> (Repo, Freight) {
    let (repo, freight) = repo_with(
        root,
        &[
            ("base/kustomization.yaml", KUSTOMIZATION),
            ("base/deployment.yaml", DEPLOYMENT),
            ("stages/test/kustomization.yaml", STAGE),
            ("charts/my-chart/values.yaml", VALUES),
        ],
    );
    (repo, freight.with_image("my/image", "2.0.0", "sha256:2222"))
}

/// The clone-and-clear opening every example of these pages shares, for `url`.
fn opening(url: &str, more_vars: &str) -> String {
    format!(
        "vars:\n- name: gitRepo\n  value: {url}\n{more_vars}steps:\n- uses: git-clone\n  config:\n    repoURL: ${{{{ vars.gitRepo }}}}\n    checkout:\n    - commit: ${{{{ commitFrom(vars.gitRepo).ID }}}}\n      path: ./src\n    - branch: stage/${{{{ ctx.stage }}}}\n      create: true\n      path: ./out\n- uses: git-clear\n  config:\n    path: ./out\n"
    )
}

fn read(workspace: &Path, path: &str) -> String {
    std::fs::read_to_string(workspace.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn kustomize_set_image_examples_set_a_tag_and_a_new_name() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, freight) = layout(dir.path());
    let workspace = tempfile::tempdir().unwrap();
    let one = format!(
        "{}- uses: kustomize-set-image\n  config:\n    path: ./src/base\n    images:\n    - image: ${{{{ vars.imageRepo }}}}\n      tag: ${{{{ imageFrom(vars.imageRepo).Tag }}}}\n# Render manifests to ./out, commit, push, etc...\n",
        opening(&repo.url(), "- name: imageRepo\n  value: my/image\n")
    );
    run_with(EngineRun::new(&freight), workspace.path(), &one).unwrap();
    let kustomization: Value = serde_saphyr::from_str(&read(workspace.path(), "src/base/kustomization.yaml")).unwrap();
    assert_eq!(kustomization["images"], json!([{"name": "my/image", "newTag": "2.0.0"}]));

    let workspace = tempfile::tempdir().unwrap();
    let two = format!(
        "{}- uses: kustomize-set-image\n  config:\n    path: ./src/base\n    images:\n    - image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/my-image\n      newName: 123456789012.dkr.ecr.us-west-2.amazonaws.com/my-image\n# Render manifests to ./out, commit, push, etc...\n",
        opening(&repo.url(), "")
    );
    run_with(EngineRun::new(&freight), workspace.path(), &two).unwrap();
    let kustomization: Value = serde_saphyr::from_str(&read(workspace.path(), "src/base/kustomization.yaml")).unwrap();
    assert_eq!(
        kustomization["images"],
        json!([{"name": "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-image", "newName": "123456789012.dkr.ecr.us-west-2.amazonaws.com/my-image"}])
    );
}

#[test]
fn kustomize_build_examples_render_to_a_file_or_one_file_per_resource() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, freight) = layout(dir.path());
    let build = |out: &str, format: &str| {
        format!(
            "{}- uses: kustomize-build\n  config:\n    path: ./src/stages/${{{{ ctx.stage }}}}\n    outPath: {out}\n{format}# Commit, push, etc...\n",
            opening(&repo.url(), "")
        )
    };
    let workspace = tempfile::tempdir().unwrap();
    run_with(EngineRun::new(&freight), workspace.path(), &build("./out/manifests.yaml", "")).unwrap();
    let rendered = read(workspace.path(), "out/manifests.yaml");
    assert!(rendered.contains("namespace: test") && rendered.contains("image: my/image:1.0"), "{rendered}");
    let workspace = tempfile::tempdir().unwrap();
    run_with(EngineRun::new(&freight), workspace.path(), &build("./out", "")).unwrap();
    assert!(read(workspace.path(), "out/test-deployment-my-app.yaml").contains("kind: Deployment"));
    let workspace = tempfile::tempdir().unwrap();
    run_with(EngineRun::new(&freight), workspace.path(), &build("./out", "    outputFormat: kustomize\n")).unwrap();
    // As kustomize names them: no namespace prefix when every resource shares one.
    assert!(read(workspace.path(), "out/apps_v1_deployment_my-app.yaml").contains("kind: Deployment"));
}

#[test]
fn yaml_update_example_sets_the_tag_and_keeps_the_comments() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, freight) = layout(dir.path());
    let workspace = tempfile::tempdir().unwrap();
    let example = format!(
        "{}- uses: yaml-update\n  config:\n    path: ./src/charts/my-chart/values.yaml\n    updates:\n    - key: image.tag\n      value: ${{{{ imageFrom(\"my/image\").Tag }}}}\n# Render manifests to ./out, commit, push, etc...\n",
        opening(&repo.url(), "")
    );
    run_with(EngineRun::new(&freight), workspace.path(), &example).unwrap();
    assert_eq!(
        read(workspace.path(), "src/charts/my-chart/values.yaml"),
        "# the chart's values\nimage:\n  repository: my/image\n  tag: 2.0.0 # set by Kargo\n"
    );
}

#[test]
fn git_commit_and_git_push_examples_commit_and_push_to_the_branch_or_a_generated_one() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, freight) = layout(dir.path());
    repo.branch("stage/test");
    let prepare = format!(
        "# Clone, prepare the contents of ./out, etc...\n- uses: git-clone\n  config:\n    repoURL: {}\n    checkout:\n    - branch: stage/test\n      path: ./out\n- uses: file-write\n  config:\n    path: ./out/rendered.yaml\n    contents: ${{{{ ctx.promotion }}}}\n    overwrite: true\n",
        repo.url()
    );
    // git-commit's second example, then git-push's first: to the branch cloned.
    let workspace = tempfile::tempdir().unwrap();
    let first = format!(
        "steps:\n{prepare}- uses: update-image-stand-in\n"
    )
    .replace("- uses: update-image-stand-in\n", "- uses: kustomize-set-image\n  as: update-image\n  config:\n    path: ./out/base\n    images:\n    - image: my/image\n- uses: git-commit\n  config:\n    path: ./out\n    message: |\n      ${{ ctx.stage }}: ${{ outputs['update-image'].commitMessage }} # Or task.outputs in a (Cluster)PromotionTask\n- uses: git-push\n  config:\n    path: ./out\n");
    let run = EngineRun { promotion: "p1", ..EngineRun::new(&freight) };
    run_with(run, workspace.path(), &first).unwrap();
    let pushed = &repo.log("stage/test")[0];
    assert!(pushed.message.starts_with("test: "), "{pushed:?}");
    assert!(pushed.message.contains("my/image"), "{pushed:?}");
    assert_eq!(repo.show("stage/test", "rendered.yaml"), "p1");
    // git-push's second example: a branch of its own, for a pull request.
    let workspace = tempfile::tempdir().unwrap();
    let second = format!(
        "steps:\n{prepare}- uses: git-commit\n  config:\n    path: ./out\n    message: rendered updated manifests\n- uses: git-push\n  as: push\n  config:\n    path: ./out\n    generateTargetBranch: true\n# Open a PR and wait for it to be merged or closed...\n"
    );
    let run = EngineRun { promotion: "p2", ..EngineRun::new(&freight) };
    let outcome = run_with(run, workspace.path(), &second).unwrap();
    assert_eq!(outcome.outputs["push"]["branch"], "lading/promotion/p2");
    assert!(repo.log("lading/promotion/p2")[0].message.starts_with("rendered updated manifests\n"));
    assert_eq!(repo.show("stage/test", "rendered.yaml"), "p1", "the stage's branch is left as it was");
}

#[test]
fn json_update_and_toml_update_examples_set_the_tag() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, freight) = repo_with(
        dir.path(),
        &[
            ("configs/settings.json", "{\n  \"image\": {\n    \"tag\": \"v1\"\n  },\n  \"replicas\": 2\n}\n"),
            ("configs/settings.toml", "# settings\n[image]\ntag = \"v1\" # the image's tag\n"),
        ],
    );
    let freight = freight.with_image("my/image", "2.0.0", "sha256:2222");
    for (uses, file) in [("json-update", "settings.json"), ("toml-update", "settings.toml")] {
        let workspace = tempfile::tempdir().unwrap();
        let example = format!(
            "{}- uses: {uses}\n  config:\n    path: ./src/configs/{file}\n    updates:\n    - key: image.tag\n      value: ${{{{ imageFrom(\"my/image\").Tag }}}}\n# Render manifests to ./out, commit, push, etc...\n",
            opening(&repo.url(), "")
        );
        run_with(EngineRun::new(&freight), workspace.path(), &example).unwrap();
        let updated = read(workspace.path(), &format!("src/configs/{file}"));
        match uses {
            "json-update" => {
                assert_eq!(updated, "{\n  \"image\": {\n    \"tag\": \"2.0.0\"\n  },\n  \"replicas\": 2\n}\n")
            }
            _ => assert_eq!(updated, "# settings\n[image]\ntag = \"2.0.0\" # the image's tag\n"),
        }
    }
}
