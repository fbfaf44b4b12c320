//! GitOps steps against real repositories and the real `kubectl kustomize`: image and
//! chart edits that change only their lines, rendering, pushing over a concurrent
//! commit, and a pipeline shaped like Kargo's quickstart.

use std::path::Path;

use lading_domain::Freight;
use lading_domain::spec::PromotionStep;
use lading_promoter::engine::{PromotionError, PromotionOutcome};
use lading_promoter::steps::{GitCredentials, RemoteBudgets};
use lading_tests::chart_repo::{ChartArchives, StreamedChart, helm_dependency_update, push_chart};
use lading_tests::engine_run::EngineRun;
use lading_tests::git::Repo;
use lading_tests::registry::TestRegistry;
use serde_json::json;

fn step(uses: &str, config: serde_json::Value) -> PromotionStep {
    PromotionStep { uses: uses.into(), config: Some(config), ..Default::default() }
}

fn freight() -> Freight {
    Freight::from_warehouse("app").with_image("ghcr.io/example/guestbook", "v0.2.0", "sha256:1111").with_chart(
        "oci://ghcr.io/example/charts",
        "redis",
        "19.1.0",
    )
}

fn run(workspace: &Path, promotion: &str, steps: &[PromotionStep]) -> Result<PromotionOutcome, PromotionError> {
    let freight = freight();
    EngineRun { promotion, ..EngineRun::new(&freight) }.run(workspace, steps)
}

const KUSTOMIZATION: &str = "\
# Base for every stage.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deploy.yaml
images:
  - name: ghcr.io/example/guestbook   # the app
    newTag: v0.1.0
  - name: redis
    newTag: \"7.2\"
";

const DEPLOY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: guestbook
spec:
  template:
    spec:
      containers:
      - name: app
        image: ghcr.io/example/guestbook
";

#[test]
fn kustomize_set_image_changes_only_the_image_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kustomization.yaml"), KUSTOMIZATION).unwrap();
    let outcome = run(
        dir.path(),
        "p",
        &[PromotionStep {
            alias: Some("images".into()),
            ..step(
                "kustomize-set-image",
                json!({"path": ".", "images": [
                    {"image": "ghcr.io/example/guestbook"},
                    {"image": "busybox", "tag": "1.36"},
                ]}),
            )
        }],
    )
    .unwrap();
    let after = std::fs::read_to_string(dir.path().join("kustomization.yaml")).unwrap();
    let expected_head = KUSTOMIZATION.replace("newTag: v0.1.0", "newTag: v0.2.0");
    assert!(after.starts_with(&expected_head), "{after}");
    let appended: serde_json::Value = serde_saphyr::from_str(&after).unwrap();
    assert_eq!(appended["images"][2], json!({"name": "busybox", "newTag": "1.36"}), "{after}");
    assert!(outcome.outputs["images"]["commitMessage"].as_str().unwrap().contains("ghcr.io/example/guestbook:v0.2.0"));
    let missing =
        run(dir.path(), "p", &[step("kustomize-set-image", json!({"path": ".", "images": [{"image": "unknown"}]}))])
            .unwrap_err();
    assert!(missing.to_string().contains("the freight has no image \"unknown\""), "{missing}");
}

/// The files of `dir` (sorted names), or none when it does not exist.
fn files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> = entries.map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

/// A lock's fields but `generated` (the time Helm wrote it).
fn lock_without_time(text: &str) -> serde_json::Value {
    let mut lock: serde_json::Value = serde_saphyr::from_str(text).unwrap();
    lock.as_object_mut().unwrap().remove("generated");
    lock
}

#[test]
fn helm_update_chart_refreshes_chart_lock_and_charts_as_helms_dependency_update_does() {
    let repo = ChartArchives::start(&[("alpha", "1.0.0", 0), ("alpha", "1.1.0", 0)]);
    let registry = TestRegistry::start();
    let oci = format!("oci://{}/charts", registry.addr);
    for version in ["1.0.0", "2.0.0"] {
        push_chart("gamma", version, &oci);
    }
    let chart = format!(
        "apiVersion: v2\nname: umbrella   # our chart\nversion: 0.1.0\ndependencies:\n- name: alpha\n  version: 1.0.0\n  repository: {}\n- name: gamma\n  version: 1.0.0   # bumped by promotions\n  repository: {oci}\n",
        repo.url
    );
    let dir = tempfile::tempdir().unwrap();
    let umbrella = dir.path().join("charts/umbrella");
    std::fs::create_dir_all(&umbrella).unwrap();
    std::fs::write(umbrella.join("Chart.yaml"), &chart).unwrap();
    helm_dependency_update(&umbrella);
    assert_eq!(files(&umbrella.join("charts")), ["alpha-1.0.0.tgz", "gamma-1.0.0.tgz"]);
    let freight = Freight::from_warehouse("app").with_chart(&oci, "gamma", "2.0.0");
    let outcome = EngineRun::new(&freight)
        .run(
            dir.path(),
            &[PromotionStep {
                alias: Some("chart".into()),
                ..step(
                    "helm-update-chart",
                    json!({"path": "charts/umbrella", "charts": [{"repository": oci, "name": "gamma"}]}),
                )
            }],
        )
        .unwrap();
    let after = std::fs::read_to_string(umbrella.join("Chart.yaml")).unwrap();
    assert_eq!(after, chart.replace("version: 1.0.0   # bumped", "version: 2.0.0   # bumped"));
    // Helm itself, on the same Chart.yaml, writes the same lock (but its time) and archives.
    let oracle = tempfile::tempdir().unwrap();
    std::fs::write(oracle.path().join("Chart.yaml"), &after).unwrap();
    helm_dependency_update(oracle.path());
    let lock = std::fs::read_to_string(umbrella.join("Chart.lock")).unwrap();
    let expected = std::fs::read_to_string(oracle.path().join("Chart.lock")).unwrap();
    assert_eq!(lock_without_time(&lock), lock_without_time(&expected), "{lock}");
    assert!(lock.contains("  version: 2.0.0\n"), "{lock}");
    assert_eq!(files(&umbrella.join("charts")), ["alpha-1.0.0.tgz", "gamma-2.0.0.tgz"]);
    for archive in files(&umbrella.join("charts")) {
        let ours = std::fs::read(umbrella.join("charts").join(&archive)).unwrap();
        assert_eq!(ours, std::fs::read(oracle.path().join("charts").join(&archive)).unwrap(), "{archive}");
    }
    assert_eq!(repo.archive("alpha", "1.0.0"), std::fs::read(umbrella.join("charts/alpha-1.0.0.tgz")).unwrap());
    assert_eq!(
        outcome.outputs["chart"]["commitMessage"],
        json!("Updated chart dependencies for charts/umbrella\n\n- gamma: 1.0.0 -> 2.0.0")
    );
    // Over HTTP, with the version given: the replaced archive goes.
    let config =
        json!({"path": "charts/umbrella", "charts": [{"repository": repo.url, "name": "alpha", "version": "1.1.0"}]});
    EngineRun::new(&freight).run(dir.path(), &[step("helm-update-chart", config)]).unwrap();
    assert_eq!(files(&umbrella.join("charts")), ["alpha-1.1.0.tgz", "gamma-2.0.0.tgz"]);
    assert_eq!(repo.archive("alpha", "1.1.0"), std::fs::read(umbrella.join("charts/alpha-1.1.0.tgz")).unwrap());
    // The same versions again: the lock is kept as it was (its time included), and
    // nothing is reported.
    let lock = std::fs::read_to_string(umbrella.join("Chart.lock")).unwrap();
    let config =
        json!({"path": "charts/umbrella", "charts": [{"repository": repo.url, "name": "alpha", "version": "1.1.0"}]});
    let again = EngineRun::new(&freight)
        .run(dir.path(), &[PromotionStep { alias: Some("chart".into()), ..step("helm-update-chart", config) }])
        .unwrap();
    assert_eq!(std::fs::read_to_string(umbrella.join("Chart.lock")).unwrap(), lock);
    assert_eq!(again.outputs.get("chart").and_then(|o| o.get("commitMessage")), None);
    // A repository answering garbage fails the step, naming the field.
    repo.serve_garbage();
    let config =
        json!({"path": "charts/umbrella", "charts": [{"repository": repo.url, "name": "alpha", "version": "1.0.0"}]});
    let error = EngineRun::new(&freight).run(dir.path(), &[step("helm-update-chart", config)]).unwrap_err().to_string();
    assert!(error.contains("config.path: Helm failed: "), "{error}");
    assert_eq!(files(&umbrella.join("charts")), ["alpha-1.1.0.tgz", "gamma-2.0.0.tgz"], "charts/ is left as it was");
}

/// A lock's text without its `generated` line (the time Helm wrote it).
fn lock_text_without_time(text: &str) -> String {
    text.lines().filter(|l| !l.starts_with("generated: ")).map(|l| format!("{l}\n")).collect()
}

/// Files under `dir` whose bytes contain any of `needles`.
fn files_holding(dir: &Path, needles: &[&str]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_holding(&path, needles));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            if needles.iter().any(|n| bytes.windows(n.len()).any(|w| w == n.as_bytes())) {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn helm_update_chart_failing_on_a_credentialed_download_names_the_archive_without_any_form_of_the_password() {
    // `$` and `!`: Go writes the first bare in userinfo and escapes the second, unlike a
    // WHATWG URL, so the credential Helm prints is in neither of the promoter's forms.
    const PASSWORD: &str = "pa$$w!rd s3cret";
    let repo = ChartArchives::start(&[("alpha", "1.0.0", 0)]);
    repo.require_basic_auth("robot", PASSWORD);
    repo.list_missing("gone", "1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let umbrella = dir.path().join("charts/umbrella");
    std::fs::create_dir_all(&umbrella).unwrap();
    let chart = format!(
        "apiVersion: v2\nname: umbrella\nversion: 0.1.0\ndependencies:\n- name: gone\n  version: 1.0.0\n  repository: {}\n",
        repo.url
    );
    std::fs::write(umbrella.join("Chart.yaml"), &chart).unwrap();
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let credentials = GitCredentials::parse(&format!(
        "- type: helm\n  repoURL: {}\n  username: robot\n  password: {}\n",
        repo.url,
        json!(PASSWORD)
    ))
    .unwrap();
    let update = step("helm-update-chart", json!({"path": "charts/umbrella"}));
    let run = EngineRun { credentials, ..EngineRun::new(&freight) };
    let error = run.run(dir.path(), std::slice::from_ref(&update)).unwrap_err().to_string();
    assert!(error.contains(&format!("{}/gone-1.0.0.tgz", repo.url)), "{error}");
    for form in ["s3cret", "w!rd", "w%21rd", "pa$$", "pa%24%24", "robot", "***@", "/r0"] {
        assert!(!error.contains(form), "{form} in {error}");
    }
}

#[test]
fn helm_update_chart_sends_an_http_repositorys_helm_credential_and_writes_what_helm_writes_without_one() {
    const PASSWORD: &str = "p@ss:w/rd s3cret";
    let repo = ChartArchives::start(&[("alpha", "1.0.0", 0), ("alpha", "1.1.0", 0)]);
    let elsewhere = ChartArchives::start(&[("beta", "1.0.0", 0)]);
    repo.list_elsewhere(&elsewhere, "beta", "1.0.0");
    repo.require_basic_auth("robot", PASSWORD);
    let chart = format!(
        "apiVersion: v2\nname: umbrella\nversion: 0.1.0\ndependencies:\n- name: alpha\n  version: \">=1.0.0 <2\"\n  repository: {url}\n- name: beta\n  version: 1.0.0\n  repository: {url}\n",
        url = repo.url
    );
    let dir = tempfile::tempdir().unwrap();
    let umbrella = dir.path().join("charts/umbrella");
    std::fs::create_dir_all(&umbrella).unwrap();
    std::fs::write(umbrella.join("Chart.yaml"), &chart).unwrap();
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let credentials = |password: &str| {
        GitCredentials::parse(&format!(
            "- type: helm\n  repoURL: {}\n  username: robot\n  password: {}\n",
            repo.url,
            json!(password)
        ))
        .unwrap()
    };
    let update = step("helm-update-chart", json!({"path": "charts/umbrella"}));
    let with = |password: &str| EngineRun { credentials: credentials(password), ..EngineRun::new(&freight) };
    with(PASSWORD).run(dir.path(), std::slice::from_ref(&update)).unwrap();
    // Helm itself, on the same Chart.yaml, against the same repository answering
    // without credentials, writes the same lock (digest included) and archives.
    let lock = std::fs::read_to_string(umbrella.join("Chart.lock")).unwrap();
    repo.allow_anonymous();
    let oracle = tempfile::tempdir().unwrap();
    std::fs::write(oracle.path().join("Chart.yaml"), &chart).unwrap();
    helm_dependency_update(oracle.path());
    let expected = std::fs::read_to_string(oracle.path().join("Chart.lock")).unwrap();
    assert_eq!(lock_text_without_time(&lock), lock_text_without_time(&expected));
    assert!(lock.contains(&format!("  repository: {}\n  version: 1.1.0\n", repo.url)), "{lock}");
    assert_eq!(files(&umbrella.join("charts")), ["alpha-1.1.0.tgz", "beta-1.0.0.tgz"]);
    for archive in files(&umbrella.join("charts")) {
        let ours = std::fs::read(umbrella.join("charts").join(&archive)).unwrap();
        assert_eq!(ours, std::fs::read(oracle.path().join("charts").join(&archive)).unwrap(), "{archive}");
    }
    assert_eq!(std::fs::read_to_string(umbrella.join("Chart.yaml")).unwrap(), chart);
    // The credential reached neither the workspace nor the other origin.
    assert_eq!(files_holding(dir.path(), &["s3cret", "p%40ss", "robot"]), Vec::<std::path::PathBuf>::new());
    assert!(!lock.contains("/r0"), "{lock}");
    assert!(
        elsewhere.requests().iter().all(|(_, authorization)| authorization.is_none()),
        "{:?}",
        elsewhere.requests()
    );
    let archive_requests: Vec<_> = repo.requests().into_iter().filter(|(file, _)| file == "alpha-1.1.0.tgz").collect();
    assert!(archive_requests[0].1.is_some(), "the archive was fetched with the credential");
    // Wrong credentials: the step fails naming the repository, and not the password.
    repo.require_basic_auth("robot", PASSWORD);
    let error = with("wrong password").run(dir.path(), std::slice::from_ref(&update)).unwrap_err().to_string();
    assert!(
        error.contains(&format!(
            "dependencies[0] (alpha): the chart repository {} refused the helm credential configured for it",
            repo.url
        )),
        "{error}"
    );
    assert!(!error.contains("wrong password") && !error.contains("wrong%20password"), "{error}");
    // Helm's own failures name the repository's URL, without the credential.
    repo.list_missing("gone", "1.0.0");
    let gone = chart
        .replace("- name: beta", "- name: gone\n  version: 1.0.0\n  repository: URL\n- name: beta")
        .replace("URL", &repo.url);
    std::fs::write(umbrella.join("Chart.yaml"), &gone).unwrap();
    let error = with(PASSWORD).run(dir.path(), std::slice::from_ref(&update)).unwrap_err().to_string();
    assert!(error.contains(&format!("{}/gone-1.0.0.tgz", repo.url)), "{error}");
    assert!(!error.contains("s3cret") && !error.contains("robot") && !error.contains("/r0"), "{error}");
    std::fs::write(umbrella.join("Chart.yaml"), &chart).unwrap();
    // helm-template builds charts/ from the lock with the credential too.
    let template =
        step("helm-template", json!({"path": "charts/umbrella", "outPath": "out.yaml", "buildDependencies": true}));
    with(PASSWORD).run(dir.path(), &[template]).unwrap();
    let rendered = std::fs::read_to_string(dir.path().join("out.yaml")).unwrap();
    assert!(rendered.contains("name: alpha") && rendered.contains("version: \"1.1.0\""), "{rendered}");
}

#[test]
fn helm_update_chart_bounds_archives_time_and_file_dependencies() {
    let repo = ChartArchives::start(&[("big", "1.0.0", 64 << 10)]);
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("chart");
    std::fs::create_dir_all(&chart).unwrap();
    let yaml = |repository: &str| {
        format!(
            "apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies:\n- name: big\n  version: 1.0.0\n  repository: {repository}\n"
        )
    };
    std::fs::write(chart.join("Chart.yaml"), yaml(&repo.url)).unwrap();
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let update = |repository: &str| {
        step(
            "helm-update-chart",
            json!({"path": "chart", "charts": [{"repository": repository, "name": "big", "version": "1.0.0"}]}),
        )
    };
    // An archive over the limit stops Helm; nothing reaches the workspace.
    let mut budgets = RemoteBudgets::default();
    budgets.helm.max_file.value = 32 << 10;
    let error = EngineRun { budgets, ..EngineRun::new(&freight) }
        .run(dir.path(), &[update(&repo.url)])
        .unwrap_err()
        .to_string();
    assert!(error.contains("config.path: Helm wrote a file (a chart archive or an index) larger than 32 KiB (LADING_HELM_CHART_MAX_BYTES)"), "{error}");
    assert!(!chart.join("charts").exists() && !chart.join("Chart.lock").exists());
    // A repository that never answers is given up at the time limit.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/charts", silent.local_addr().unwrap());
    std::fs::write(chart.join("Chart.yaml"), yaml(&silent_url)).unwrap();
    let mut budgets = RemoteBudgets::default();
    budgets.helm.timeout.value = std::time::Duration::from_secs(2);
    let (sent, answer) = std::sync::mpsc::channel();
    let workspace = dir.path().to_owned();
    std::thread::spawn(move || {
        let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        let config =
            json!({"path": "chart", "charts": [{"repository": silent_url, "name": "big", "version": "1.0.0"}]});
        let result =
            EngineRun { budgets, ..EngineRun::new(&freight) }.run(&workspace, &[step("helm-update-chart", config)]);
        let _ = sent.send(result.map(|_| ()).map_err(|e| e.to_string()));
    });
    let error =
        answer.recv_timeout(std::time::Duration::from_secs(60)).expect("the step ends within a minute").unwrap_err();
    assert!(error.contains("config.path: Helm took longer than 2s (LADING_HELM_TIMEOUT); it was stopped"), "{error}");
    // With a credential the promoter fetches the index first, within the same limit.
    let (sent, answer) = std::sync::mpsc::channel();
    let workspace = dir.path().to_owned();
    let silent_url = format!("http://{}/charts", silent.local_addr().unwrap());
    std::thread::spawn(move || {
        let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        let credentials = GitCredentials::parse(&format!(
            "- type: helm\n  repoURL: {silent_url}\n  username: robot\n  password: s3cret\n"
        ))
        .unwrap();
        let config = json!({"path": "chart"});
        let result = EngineRun { budgets, credentials, ..EngineRun::new(&freight) }
            .run(&workspace, &[step("helm-update-chart", config)]);
        let _ = sent.send(result.map(|_| ()).map_err(|e| e.to_string()));
    });
    let error =
        answer.recv_timeout(std::time::Duration::from_secs(60)).expect("the step ends within a minute").unwrap_err();
    assert!(error.contains("dependencies[0] (big): GET ") && error.contains("(LADING_HELM_TIMEOUT)"), "{error}");
    drop(silent);
}

#[test]
fn helm_update_chart_is_stopped_at_its_memory_limit_while_a_huge_archive_streams() {
    // Helm holds a download in memory before it writes it: a 512 MiB archive, within the
    // file size limit, stops Helm at its memory limit, well before its time limit.
    let repo = StreamedChart::start(512 << 20);
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("chart");
    std::fs::create_dir_all(&chart).unwrap();
    let yaml = format!(
        "apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies:\n- name: huge\n  version: 1.0.0\n  repository: {}\n",
        repo.url
    );
    std::fs::write(chart.join("Chart.yaml"), yaml).unwrap();
    let mut budgets = RemoteBudgets::default();
    budgets.helm.max_memory.value = 96 << 20;
    budgets.helm.max_file.value = 1 << 30;
    budgets.helm.timeout.value = std::time::Duration::from_secs(120);
    let (sent, answer) = std::sync::mpsc::channel();
    let workspace = dir.path().to_owned();
    std::thread::spawn(move || {
        let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        let result = EngineRun { budgets, ..EngineRun::new(&freight) }
            .run(&workspace, &[step("helm-update-chart", json!({"path": "chart"}))]);
        let _ = sent.send(result.map(|_| ()).map_err(|e| e.to_string()));
    });
    let error = answer
        .recv_timeout(std::time::Duration::from_secs(180))
        .expect("the step ends within its time limit")
        .unwrap_err();
    assert!(
        error.contains("config.path: Helm needed more memory than 96 MiB (LADING_HELM_MEMORY_MAX_BYTES)"),
        "{error}"
    );
    assert!(repo.sent() < 512 << 20, "Helm was stopped before the whole archive arrived ({} bytes)", repo.sent());
    assert!(!chart.join("charts").exists() && !chart.join("Chart.lock").exists());
}

#[test]
fn kustomize_build_renders_to_a_file_or_one_file_per_resource() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("base")).unwrap();
    std::fs::write(dir.path().join("base/kustomization.yaml"), KUSTOMIZATION).unwrap();
    std::fs::write(dir.path().join("base/deploy.yaml"), DEPLOY).unwrap();
    run(
        dir.path(),
        "p",
        &[
            step("kustomize-build", json!({"path": "base", "outPath": "out/all.yaml"})),
            step("kustomize-build", json!({"path": "base", "outPath": "split"})),
        ],
    )
    .unwrap();
    let all = std::fs::read_to_string(dir.path().join("out/all.yaml")).unwrap();
    assert!(all.contains("image: ghcr.io/example/guestbook:v0.1.0"), "{all}");
    assert!(dir.path().join("split/deployment-guestbook.yaml").is_file());
}

#[test]
fn git_push_rebases_over_a_concurrent_commit() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("README.md", "gitops\n", "start");
    let dir = tempfile::tempdir().unwrap();
    let prepare = [
        step("git-clone", json!({"repoURL": gitops.url(), "checkout": [{"branch": "main", "path": "./out"}]})),
        step("file-write", json!({"path": "./out/test/values.yaml", "contents": "tag: v2\n"})),
        step("git-commit", json!({"path": "./out", "message": "promote to test"})),
    ];
    run(dir.path(), "test.01.aaaaaaa", &prepare).unwrap();
    // Meanwhile another stage pushed to the same branch.
    gitops.commit("uat/values.yaml", "tag: v1\n", "promote to uat");
    let refused = run(dir.path(), "test.01.aaaaaaa", &[step("git-push", json!({"path": "./out", "maxAttempts": 1}))]);
    let refused = refused.unwrap_err().to_string();
    assert!(refused.contains("after 1 attempt"), "{refused}");
    let pushed = run(dir.path(), "test.01.aaaaaaa", &[step("git-push", json!({"path": "./out"}))]).unwrap();
    let log = gitops.log("main");
    assert_eq!(log.len(), 3, "{log:#?}");
    assert_eq!(log[0].id, pushed.commit, "the promotion's (rebased) commit is reported");
    assert!(log[0].message.contains("Lading-Promotion: test.01.aaaaaaa"));
    assert_eq!(gitops.show("main", "uat/values.yaml"), "tag: v1");
    assert_eq!(gitops.show("main", "test/values.yaml"), "tag: v2");
}

#[test]
fn generate_target_branch_pushes_to_a_branch_named_after_the_promotion() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("README.md", "gitops\n", "start");
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(
        dir.path(),
        "uat.01.bbbbbbb",
        &[
            step("git-clone", json!({"repoURL": gitops.url(), "checkout": [{"branch": "main", "path": "./out"}]})),
            step("file-write", json!({"path": "./out/uat.yaml", "contents": "x: 1\n"})),
            step("git-commit", json!({"path": "./out", "message": "for review"})),
            PromotionStep {
                alias: Some("push".into()),
                ..step("git-push", json!({"path": "./out", "generateTargetBranch": true}))
            },
        ],
    )
    .unwrap();
    assert_eq!(outcome.outputs["push"]["branch"], "lading/promotion/uat.01.bbbbbbb");
    assert_eq!(gitops.log("lading/promotion/uat.01.bbbbbbb").len(), 2);
    assert_eq!(gitops.log("main").len(), 1, "main is untouched");
}

#[test]
fn a_quickstart_shaped_pipeline_renders_the_stage_branch() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("base/kustomization.yaml", KUSTOMIZATION, "base");
    gitops.commit("base/deploy.yaml", DEPLOY, "deploy");
    let dir = tempfile::tempdir().unwrap();
    run(
        dir.path(),
        "test.01.ccccccc",
        &[
            step(
                "git-clone",
                json!({"repoURL": gitops.url(), "checkout": [
                    {"branch": "main", "path": "./src"},
                    {"branch": "stage/${{ ctx.stage }}", "create": true, "path": "./out"},
                ]}),
            ),
            step("git-clear", json!({"path": "./out"})),
            step(
                "kustomize-set-image",
                json!({"path": "./src/base", "images": [{"image": "ghcr.io/example/guestbook"}]}),
            ),
            step("kustomize-build", json!({"path": "./src/base", "outPath": "./out/manifests.yaml"})),
            step("git-commit", json!({"path": "./out", "message": "render ${{ ctx.stage }}"})),
            step("git-push", json!({"path": "./out"})),
        ],
    )
    .unwrap();
    let rendered = gitops.show("stage/test", "manifests.yaml");
    assert!(rendered.contains("image: ghcr.io/example/guestbook:v0.2.0"), "{rendered}");
    assert_eq!(gitops.log("stage/test").len(), 1, "an orphan branch with one commit");
    assert_eq!(gitops.log("main").len(), 2, "the source branch is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clone_and_push_over_authenticated_http_with_configured_credentials() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("README.md", "gitops\n", "start");
    let base = lading_tests::git_http::serve(root.path(), "bot", "s3cret-token").await;
    let url = format!("{base}/gitops.git");
    let steps = vec![
        step("git-clone", json!({"repoURL": url, "checkout": [{"branch": "main", "path": "./out"}]})),
        step("file-write", json!({"path": "./out/values.yaml", "contents": "tag: v2\n"})),
        step("git-commit", json!({"path": "./out", "message": "over http"})),
        step("git-push", json!({"path": "./out"})),
    ];
    let run_with = |credentials: lading_promoter::steps::GitCredentials| {
        let steps = steps.clone();
        tokio::task::spawn_blocking(move || {
            let workspace = tempfile::tempdir().unwrap();
            let freight = freight();
            let run = EngineRun { promotion: "test.01.http", credentials, ..EngineRun::new(&freight) };
            run.run(workspace.path(), &steps).map_err(|e| e.to_string())
        })
    };
    let refused = run_with(Default::default()).await.unwrap().unwrap_err();
    assert!(refused.contains("none are configured"), "{refused}");
    assert!(!refused.contains("s3cret"), "no secret in errors");
    let wrong = lading_promoter::steps::GitCredentials::parse(&format!(
        "- {{repoURL: '{base}', username: bot, password: nope}}"
    ))
    .unwrap();
    let refused = run_with(wrong).await.unwrap().unwrap_err();
    assert!(refused.contains("refused the configured credentials") && !refused.contains("nope"), "{refused}");
    let right = lading_promoter::steps::GitCredentials::parse(&format!(
        "- {{repoURL: '{base}/', username: bot, password: s3cret-token}}"
    ))
    .unwrap();
    run_with(right).await.unwrap().unwrap();
    assert_eq!(gitops.show("main", "values.yaml"), "tag: v2");
}

#[test]
fn clones_through_a_mirror_see_what_the_remote_has_now() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("one.txt", "1", "one");
    let mirrors = root.path().join("mirrors");
    let clone_and_list = |tag: Option<&str>| {
        let workspace = tempfile::tempdir().unwrap();
        let freight = freight();
        let checkout = match tag {
            Some(tag) => json!([{"tag": tag, "path": "./out"}]),
            None => json!([{"path": "./out"}]),
        };
        // A lazy working tree writes its files when a step reads them: this one reads them all.
        let steps = [
            step("git-clone", json!({"repoURL": gitops.url(), "checkout": checkout})),
            step("tar", json!({"inPath": "./out", "outPath": "./out.tar"})),
        ];
        EngineRun { mirrors: Some(&mirrors), ..EngineRun::new(&freight) }.run(workspace.path(), &steps).unwrap();
        let mut files: Vec<String> = std::fs::read_dir(workspace.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|f| f != ".git")
            .collect();
        files.sort();
        let origin = std::process::Command::new("git")
            .args(["remote", "get-url", "origin"])
            .current_dir(workspace.path().join("out"))
            .output()
            .unwrap();
        let origin = String::from_utf8_lossy(&origin.stdout).trim().to_owned();
        (files, origin)
    };
    let (first, origin) = clone_and_list(None);
    assert_eq!(first, vec!["one.txt"]);
    assert_eq!(origin, gitops.url(), "pushes go to the remote, not the mirror");
    gitops.commit("two.txt", "2", "two");
    std::process::Command::new("git").args(["tag", "v1"]).current_dir(root.path().join("gitops.git")).status().unwrap();
    assert_eq!(clone_and_list(None).0, vec!["one.txt", "two.txt"], "the mirror fetched the new commit");
    assert_eq!(clone_and_list(Some("v1")).0, vec!["one.txt", "two.txt"], "and the new tag");
}

#[test]
fn git_clone_from_freight_checks_out_the_freights_commit_of_the_origin_named() {
    let root = tempfile::tempdir().unwrap();
    let app = Repo::create(root.path(), "app");
    let released = app.commit("version.txt", "1", "release");
    let hotfixed = app.commit("version.txt", "1-hotfix", "hotfix");
    app.commit("version.txt", "2-dev", "newer, in no freight");
    // The promoted freight (warehouse `app`) and what the stage holds from `hotfix`.
    let target = Freight::from_warehouse("app").with_commit(&app.url(), &released);
    let hotfix = Freight::from_warehouse("hotfix").with_commit(&app.url(), &hotfixed);
    let clone = |checkout: serde_json::Value, origins: &[Freight]| {
        let workspace = tempfile::tempdir().unwrap();
        let steps = [
            step("git-clone", json!({"repoURL": app.url(), "checkout": [checkout]})),
            step("tar", json!({"inPath": "./out", "outPath": "./out.tar"})),
        ];
        let run = EngineRun { origins: Some(origins), ..EngineRun::new(&target) }.run(workspace.path(), &steps);
        run.map(|outcome| {
            let version = std::fs::read_to_string(workspace.path().join("out/version.txt")).unwrap();
            (version, outcome.outputs.len())
        })
        .map_err(|e| e.to_string())
    };
    let alone = std::slice::from_ref(&target);
    let both = [target.clone(), hotfix.clone()];
    // One origin: the freight's commit, not the branch's head.
    assert_eq!(clone(json!({"fromFreight": true, "path": "./out"}), alone).unwrap().0, "1");
    // fromOrigin picks the warehouse whose freight's commit is checked out (Kargo v1.0).
    let from = |origin: &str| json!({"fromFreight": true, "fromOrigin": {"kind": "Warehouse", "name": origin}, "path": "./out"});
    assert_eq!(clone(from("hotfix"), &both).unwrap().0, "1-hotfix");
    assert_eq!(clone(from("app"), &both).unwrap().0, "1");
    // Two origins with a commit from the repository and none named: refused, saying how.
    let error = clone(json!({"fromFreight": true, "path": "./out"}), &both).unwrap_err();
    assert!(error.contains("config.checkout[0].fromFreight") && error.contains("fromOrigin"), "{error}");
    let error = clone(from("nowhere"), &both).unwrap_err();
    assert!(error.contains("no freight from Warehouse \"nowhere\""), "{error}");
    // fromOrigin alone, or with a branch, is refused.
    let error = clone(json!({"fromOrigin": {"kind": "Warehouse", "name": "app"}, "path": "./out"}), alone).unwrap_err();
    assert!(error.contains("fromOrigin: only with fromFreight"), "{error}");
    let error = clone(json!({"fromFreight": true, "branch": "main", "path": "./out"}), alone).unwrap_err();
    assert!(error.contains("set only one of branch, commit, tag or fromFreight"), "{error}");
}
