//! Kargo's `helm-update-chart` examples against a real HTTP chart repository and a real
//! OCI registry on loopback: `Chart.yaml` edited, `Chart.lock` and `charts/` refreshed by
//! Helm's own dependency update.

use lading_tests::chart_repo::{ChartArchives, push_chart};
use lading_tests::registry::TestRegistry;

use super::*;

const CHART: &str = "apiVersion: v2\nname: example\ntype: application\nversion: 0.1.0\nappVersion: 0.1.0\ndependencies:\n- repository: https://example-chart-repo\n  name: some-chart\n  version: 1.2.3\n";

const PROLOGUE: &str = "- uses: git-clone\n  config:\n    repoURL: ${{ vars.gitRepo }}\n    checkout:\n    - commit: ${{ commitFrom(vars.gitRepo).ID }}\n      path: ./src\n    - branch: stage/${{ ctx.stage }}\n      create: true\n      path: ./out\n- uses: git-clear\n  config:\n    path: ./out\n";

fn lock(workspace: &Path) -> Value {
    let text = std::fs::read_to_string(workspace.join("src/charts/my-chart/Chart.lock")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

fn archives(workspace: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace.join("src/charts/my-chart/charts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn helm_update_chart_examples_lock_the_freights_chart_from_a_classic_repository_and_by_semver_range() {
    let repo =
        ChartArchives::start(&[("some-chart", "1.2.3", 0), ("some-chart", "1.3.0", 0), ("some-chart", "2.0.0", 0)]);
    let dir = tempfile::tempdir().unwrap();
    let chart = CHART.replace("https://example-chart-repo", &repo.url);
    let (git, freight) = repo_with(dir.path(), &[("charts/my-chart/Chart.yaml", &chart)]);
    let freight = freight.with_chart(&repo.url, "some-chart", "1.3.0");
    // Kargo's example names its variable `chartRepo` without `vars.`, which no expression
    // resolves; it is written `vars.chartRepo` here.
    let template = format!(
        "vars:\n- name: gitRepo\n  value: {}\n- name: chartRepo\n  value: {}\nsteps:\n{PROLOGUE}- uses: helm-update-chart\n  as: chart\n  config:\n    path: ./src/charts/my-chart\n    charts:\n    - repository: ${{{{ vars.chartRepo }}}}\n      name: some-chart\n      version: ${{{{ chartFrom(vars.chartRepo).Version }}}}\n",
        git.url(),
        repo.url
    );
    let workspace = tempfile::tempdir().unwrap();
    let outcome = run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap();
    let written = std::fs::read_to_string(workspace.path().join("src/charts/my-chart/Chart.yaml")).unwrap();
    assert_eq!(written, chart.replace("version: 1.2.3", "version: 1.3.0"));
    assert_eq!(
        lock(workspace.path())["dependencies"],
        json!([{"name": "some-chart", "repository": repo.url, "version": "1.3.0"}])
    );
    assert!(lock(workspace.path())["digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(archives(workspace.path()), ["some-chart-1.3.0.tgz"]);
    // No lock before: the dependency is new to it, as Kargo tells it.
    assert_eq!(
        outcome.outputs["chart"]["commitMessage"],
        json!("Updated chart dependencies for ./src/charts/my-chart\n\n- some-chart: 1.3.0")
    );
    // Without `charts`, Helm resolves the range Chart.yaml declares.
    let ranged = chart.replace("version: 1.2.3", "version: ^1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let (git, freight) = repo_with(dir.path(), &[("charts/my-chart/Chart.yaml", &ranged)]);
    let template = format!(
        "vars:\n- name: gitRepo\n  value: {}\nsteps:\n- uses: git-clone\n  config:\n    repoURL: ${{{{ vars.gitRepo }}}}\n    checkout:\n    - commit: ${{{{ commitFrom(vars.gitRepo).ID }}}}\n      path: ./src\n- uses: helm-update-chart\n  config:\n    path: ./src/charts/my-chart\n",
        git.url()
    );
    let workspace = tempfile::tempdir().unwrap();
    run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap();
    assert_eq!(lock(workspace.path())["dependencies"][0]["version"], json!("1.3.0"));
    assert_eq!(archives(workspace.path()), ["some-chart-1.3.0.tgz"]);
    assert_eq!(std::fs::read_to_string(workspace.path().join("src/charts/my-chart/Chart.yaml")).unwrap(), ranged);
}

#[test]
fn helm_update_chart_example_locks_a_chart_from_an_oci_registry() {
    let registry = TestRegistry::start();
    let reg = format!("oci://{}", registry.addr);
    for version in ["1.2.3", "1.4.0"] {
        push_chart("some-chart", version, &reg);
    }
    let dir = tempfile::tempdir().unwrap();
    let chart = CHART.replace("https://example-chart-repo", &reg);
    let (git, freight) = repo_with(dir.path(), &[("charts/my-chart/Chart.yaml", &chart)]);
    let freight = freight.with_chart(&format!("{reg}/some-chart"), "", "1.4.0");
    let template = format!(
        "vars:\n- name: gitRepo\n  value: {}\n- name: chartReg\n  value: {reg}\nsteps:\n{PROLOGUE}- uses: helm-update-chart\n  config:\n    path: ./src/charts/my-chart\n    charts:\n    - repository: ${{{{ vars.chartReg }}}}\n      name: some-chart\n      version: ${{{{ chartFrom(vars.chartReg + \"/some-chart\").Version }}}}\n",
        git.url()
    );
    let workspace = tempfile::tempdir().unwrap();
    run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap();
    assert_eq!(
        lock(workspace.path())["dependencies"],
        json!([{"name": "some-chart", "repository": reg, "version": "1.4.0"}])
    );
    assert_eq!(archives(workspace.path()), ["some-chart-1.4.0.tgz"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_update_chart_gives_helm_the_registrys_helm_credential() {
    // The gateway's HTTP client uses the process's TLS provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = TestRegistry::start();
    push_chart("some-chart", "1.2.3", &format!("oci://{}/charts", registry.addr));
    let gateway = lading_tests::registry::RegistryGateway::start(&registry, "robot", "s3cret-pass").await;
    let addr = gateway.addr.clone();
    tokio::task::spawn_blocking(move || {
        let reg = format!("oci://{addr}/charts");
        let chart = CHART.replace("https://example-chart-repo", &reg);
        let dir = tempfile::tempdir().unwrap();
        let (git, freight) = repo_with(dir.path(), &[("charts/my-chart/Chart.yaml", &chart)]);
        let template = format!(
            "steps:\n- uses: git-clone\n  config:\n    repoURL: {}\n    checkout:\n    - branch: main\n      path: ./src\n- uses: helm-update-chart\n  config:\n    path: ./src/charts/my-chart\n",
            git.url()
        );
        // Without a credential the registry refuses.
        let workspace = tempfile::tempdir().unwrap();
        let error = run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap_err().to_string();
        assert!(error.contains("config.path: Helm failed: "), "{error}");
        // The credential as a Warehouse subscribes to the chart (`<registry path>/<chart>`).
        let helm = lading_promoter::steps::GitCredentials::parse(&format!(
            "- type: helm\n  repoURL: {reg}/some-chart\n  username: robot\n  password: s3cret-pass\n"
        ))
        .unwrap();
        let workspace = tempfile::tempdir().unwrap();
        run_with(EngineRun { credentials: helm, ..EngineRun::new(&freight) }, workspace.path(), &template).unwrap();
        assert_eq!(archives(workspace.path()), ["some-chart-1.2.3.tgz"]);
        // An HTTP chart repository with a credential: the promoter fetches its index
        // with it first, and an unreachable one fails the step naming the dependency.
        let http = CHART.replace("https://example-chart-repo", "http://127.0.0.1:9/charts");
        let dir = tempfile::tempdir().unwrap();
        let (git, freight) = repo_with(dir.path(), &[("charts/my-chart/Chart.yaml", &http)]);
        let template = format!(
            "steps:\n- uses: git-clone\n  config:\n    repoURL: {}\n    checkout:\n    - branch: main\n      path: ./src\n- uses: helm-update-chart\n  config:\n    path: ./src/charts/my-chart\n",
            git.url()
        );
        let credential = lading_promoter::steps::GitCredentials::parse(
            "- type: helm\n  repoURL: http://127.0.0.1:9/charts\n  username: robot\n  password: s3cret-pass\n",
        )
        .unwrap();
        let workspace = tempfile::tempdir().unwrap();
        let error = run_with(EngineRun { credentials: credential, ..EngineRun::new(&freight) }, workspace.path(), &template)
            .unwrap_err()
            .to_string();
        assert!(error.contains("dependencies[0] (some-chart): GET http://127.0.0.1:9/charts/index.yaml"), "{error}");
        assert!(!error.contains("s3cret-pass"), "{error}");
    })
    .await
    .unwrap();
    assert!(gateway.stats.tokens_issued.load(std::sync::atomic::Ordering::SeqCst) >= 1);
}
