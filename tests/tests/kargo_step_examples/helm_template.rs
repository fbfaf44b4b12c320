//! Kargo's `helm-template` examples rendered with Helm's library, and a chart that leads outside.

use super::*;

fn chart_repo(root: &Path) -> (Repo, Freight) {
    repo_with(
        root,
        &[
            ("charts/my-chart/Chart.yaml", "apiVersion: v2\nname: my-chart\nversion: 0.1.0\n"),
            ("charts/my-chart/values.yaml", "replicas: 1\nimage: nginx:1.0\n"),
            ("charts/my-chart/test-values.yaml", "replicas: 3\n"),
            (
                "charts/my-chart/templates/deployment.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicas }}\n  template:\n    spec:\n      containers:\n      - image: {{ .Values.image }}\n",
            ),
            (
                "charts/my-chart/templates/service.yaml",
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n",
            ),
            ("charts/my-chart/templates/NOTES.txt", "Installed {{ .Release.Name }}\n"),
        ],
    )
}

#[test]
fn helm_template_examples_render_to_a_file_and_to_a_directory_with_helms_library() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, freight) = chart_repo(dir.path());
    // Rendering to a file.
    let workspace = tempfile::tempdir().unwrap();
    let template = format!(
        "{}- uses: helm-template\n  config:\n    path: ./src/charts/my-chart\n    valuesFiles:\n    - ./src/charts/my-chart/${{{{ ctx.stage }}}}-values.yaml\n    outPath: ./out/manifests.yaml\n",
        clone_prologue(&repo)
    );
    run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap();
    let rendered = std::fs::read_to_string(workspace.path().join("out/manifests.yaml")).unwrap();
    assert!(rendered.starts_with("---\n# Source: my-chart/templates/deployment.yaml\n"), "{rendered}");
    assert!(rendered.contains("name: release-name\nspec:\n  replicas: 3\n"), "{rendered}");
    assert!(rendered.contains("# Source: my-chart/templates/service.yaml\n"), "{rendered}");
    assert!(!rendered.contains("Installed"), "NOTES.txt is not a manifest: {rendered}");
    // Rendering to a directory.
    let workspace = tempfile::tempdir().unwrap();
    let template = format!(
        "{}- uses: helm-template\n  config:\n    path: ./src/charts/my-chart\n    valuesFiles:\n    - ./src/charts/my-chart/${{{{ ctx.stage }}}}-values.yaml\n    outPath: ./out\n    releaseName: my-chart\n",
        clone_prologue(&repo)
    );
    run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap();
    assert_eq!(
        tree(&workspace.path().join("out")).into_iter().filter(|p| !p.starts_with(".git")).collect::<Vec<_>>(),
        ["my-chart/", "my-chart/templates/", "my-chart/templates/deployment.yaml", "my-chart/templates/service.yaml"]
    );
    let deployment = std::fs::read_to_string(workspace.path().join("out/my-chart/templates/deployment.yaml")).unwrap();
    assert!(deployment.contains("name: my-chart\nspec:\n  replicas: 3\n"), "{deployment}");
}

#[test]
fn helm_template_sets_values_and_refuses_a_chart_with_a_symlink_leading_outside() {
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let mut canary = lading_tests::canary::Canary::new();
    let secret = canary.plant("values.yaml", "stolen: true\n");
    let workspace = tempfile::tempdir().unwrap();
    let chart = workspace.path().join("chart");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: c\nversion: 0.1.0\n").unwrap();
    std::fs::write(
        chart.join("templates/cm.yaml"),
        "kind: ConfigMap\ndata:\n  tag: {{ .Values.image.tag | quote }}\n  count: {{ .Values.count }}\n",
    )
    .unwrap();
    run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: helm-template\n  config:\n    path: chart\n    outPath: out.yaml\n    setValues:\n    - key: image.tag\n      value: \"1.2.3\"\n      literal: true\n    - key: count\n      value: \"5\"\n",
    )
    .unwrap();
    let rendered = std::fs::read_to_string(workspace.path().join("out.yaml")).unwrap();
    assert!(rendered.contains("tag: \"1.2.3\"\n  count: 5"), "{rendered}");
    std::os::unix::fs::symlink(&secret, chart.join("values.yaml")).unwrap();
    let error = run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: helm-template\n  config:\n    path: chart\n    outPath: out.yaml\n",
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("holds the symlink \"values.yaml\", which leads outside"), "{error}");
    canary.assert_untouched();
}

#[test]
fn helm_template_builds_dependencies_from_the_lock_and_renders_with_the_capabilities_given() {
    let repo = lading_tests::chart_repo::ChartArchives::start(&[("some-chart", "1.2.3", 0)]);
    let chart = format!(
        "apiVersion: v2\nname: my-chart\nversion: 0.1.0\ndependencies:\n- name: some-chart\n  version: 1.2.3\n  repository: {}\n",
        repo.url
    );
    // The lock as Helm writes it; the repository holds no charts/.
    let locked = tempfile::tempdir().unwrap();
    std::fs::write(locked.path().join("Chart.yaml"), &chart).unwrap();
    lading_tests::chart_repo::helm_dependency_update(locked.path());
    let lock = std::fs::read_to_string(locked.path().join("Chart.lock")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (repo_git, freight) =
        repo_with(dir.path(), &[("charts/my-chart/Chart.yaml", &chart), ("charts/my-chart/Chart.lock", &lock)]);
    let workspace = tempfile::tempdir().unwrap();
    let template = format!(
        "{}- uses: helm-template\n  config:\n    path: ./src/charts/my-chart\n    outPath: ./out/manifests.yaml\n    buildDependencies: true\n    kubeVersion: 1.29.3\n    apiVersions:\n    - example.com/v1\n",
        clone_prologue(&repo_git)
    );
    run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap();
    let rendered = std::fs::read_to_string(workspace.path().join("out/manifests.yaml")).unwrap();
    assert!(rendered.contains("# Source: my-chart/charts/some-chart/templates/cm.yaml\n"), "{rendered}");
    assert!(rendered.contains("version: \"1.2.3\"\n  kube: \"v1.29.3\"\n  api: \"true\""), "{rendered}");
    assert!(!workspace.path().join("src/charts/my-chart/charts").exists(), "the workspace's chart is left as it was");
    // A kubeVersion that is no version fails the step, naming the field.
    let template = template.replace("kubeVersion: 1.29.3", "kubeVersion: not-a-version");
    let workspace = tempfile::tempdir().unwrap();
    let error = run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap_err().to_string();
    assert!(error.contains("config.kubeVersion: \"not-a-version\" is not a version"), "{error}");
}
