//! `helm-update-chart` against Helm itself: the same Chart.lock and archives, HTTP
//! repository credentials that never leak, and limits on archives, time and memory.

use super::*;

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
fn helm_update_chart_fetches_the_indexes_of_credentialed_repositories_within_one_shared_byte_budget() {
    use lading_domain::limits::display_size;
    // Each index fits the limit on its own, the two together do not.
    let first = ChartArchives::start(&[("alpha", "1.0.0", 0), ("alpha", "1.1.0", 0)]);
    let second = ChartArchives::start(&[("beta", "1.0.0", 0), ("beta", "1.1.0", 0)]);
    let (first_size, second_size) = (first.index().len() as u64, second.index().len() as u64);
    let mut budgets = RemoteBudgets::default();
    budgets.helm.max_file.value = first_size.max(second_size) + first_size.min(second_size) / 2;
    let left = budgets.helm.max_file.value - first_size;
    assert!(left < second_size);
    let mut credentials = String::new();
    for repo in [&first, &second] {
        repo.require_basic_auth("robot", "s3cret");
        credentials
            .push_str(&format!("- type: helm\n  repoURL: {}\n  username: robot\n  password: s3cret\n", repo.url));
    }
    let chart = format!(
        "apiVersion: v2\nname: umbrella\nversion: 0.1.0\ndependencies:\n- name: alpha\n  version: 1.1.0\n  repository: {}\n- name: beta\n  version: 1.1.0\n  repository: {}\n",
        first.url, second.url
    );
    let dir = tempfile::tempdir().unwrap();
    let umbrella = dir.path().join("charts/umbrella");
    std::fs::create_dir_all(&umbrella).unwrap();
    std::fs::write(umbrella.join("Chart.yaml"), &chart).unwrap();
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let run =
        EngineRun { budgets, credentials: GitCredentials::parse(&credentials).unwrap(), ..EngineRun::new(&freight) };
    let error =
        run.run(dir.path(), &[step("helm-update-chart", json!({"path": "charts/umbrella"}))]).unwrap_err().to_string();
    let expected = format!(
        "dependencies[1] (beta): GET {}/index.yaml: the index is larger than the {} left of the {} (LADING_HELM_CHART_MAX_BYTES) the indexes of a step share",
        second.url,
        display_size(left),
        display_size(left + first_size),
    );
    assert!(error.contains(&expected), "{error}");
    assert!(!umbrella.join("charts").exists() && !umbrella.join("Chart.lock").exists());
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
