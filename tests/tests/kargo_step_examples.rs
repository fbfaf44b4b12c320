//! The examples of Kargo's reference pages for the parse, merge, archive, tag and
//! download steps, as Kargo prints them but for URLs: each is applied inside a Kargo
//! Stage manifest (its step configs checked against their schemas then), and run against
//! real files, repositories and an HTTP server.

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

/// The error applying `template` gives.
fn refused(template: &str) -> String {
    let indented: String = template.lines().map(|l| format!("      {l}\n")).collect();
    let manifest = format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: test\n  namespace: demo\nspec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n  promotionTemplate:\n    spec:\n{indented}"
    );
    let value: Value = serde_saphyr::from_str(&manifest).unwrap();
    validate_manifest(1, value).expect_err("the manifest is refused").to_string()
}

fn run_with(
    run: EngineRun<'_>,
    workspace: &Path,
    template: &str,
) -> Result<PromotionOutcome, PromotionError> {
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
    let error = refused("steps:\n- uses: untar\n  config:\n    inPath: a.tgz\n    outPath: x\n    stripComponents: -1\n");
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

fn source_code(workspace: &Path) {
    for (file, content) in [
        ("source-code/main.go", "package main\n"),
        ("source-code/temp/scratch.txt", "scratch\n"),
        ("source-code/.DS_Store", "junk"),
        ("source-code/app.log", "log\n"),
    ] {
        let path = workspace.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

#[test]
fn tar_and_untar_examples_round_trip_strip_and_ignore() {
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let workspace = tempfile::tempdir().unwrap();
    source_code(workspace.path());
    // tar: basic (gzip), uncompressed, with ignore patterns.
    run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: tar\n  config:\n    inPath: ./source-code\n    outPath: ./artifacts/bundle.tar.gz\n    gzip: true\n",
    )
    .unwrap();
    let gz = std::fs::read(workspace.path().join("artifacts/bundle.tar.gz")).unwrap();
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzipped");
    run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: tar\n  config:\n    inPath: ./source-code\n    outPath: ./artifacts/bundle.tar\n    gzip: false\n",
    )
    .unwrap();
    let plain = std::fs::read(workspace.path().join("artifacts/bundle.tar")).unwrap();
    assert_eq!(&plain[257..262], b"ustar", "a plain tar");
    // untar: basic, into ./extracted.
    run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: untar\n  config:\n    inPath: ./artifacts/bundle.tar.gz\n    outPath: ./extracted\n",
    )
    .unwrap();
    assert_eq!(
        tree(&workspace.path().join("extracted")),
        [".DS_Store", "app.log", "main.go", "temp/", "temp/scratch.txt"]
    );
    assert_eq!(std::fs::read_to_string(workspace.path().join("extracted/main.go")).unwrap(), "package main\n");
    // tar with ignore, then untar with stripComponents: 1 after wrapping it one level deeper.
    run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: tar\n  config:\n    inPath: ./source-code\n    outPath: ./artifacts/bundle.tar.gz\n    gzip: true\n    ignore: |\n      temp/\n      .DS_Store\n",
    )
    .unwrap();
    std::fs::remove_dir_all(workspace.path().join("extracted")).unwrap();
    run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: untar\n  config:\n    inPath: ./artifacts/bundle.tar.gz\n    outPath: ./extracted\n",
    )
    .unwrap();
    assert_eq!(tree(&workspace.path().join("extracted")), ["app.log", "main.go"]);
    // A tar of a directory holding the tree one level down, stripped back.
    std::fs::create_dir_all(workspace.path().join("wrap")).unwrap();
    std::fs::rename(workspace.path().join("source-code"), workspace.path().join("wrap/source-code")).unwrap();
    run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: tar\n  config:\n    inPath: ./wrap\n    outPath: ./artifacts/bundle.tar.gz\n    gzip: true\n",
    )
    .unwrap();
    std::fs::remove_dir_all(workspace.path().join("extracted")).unwrap();
    run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: untar\n  config:\n    inPath: ./artifacts/bundle.tar.gz\n    outPath: ./extracted\n    stripComponents: 1\n",
    )
    .unwrap();
    assert_eq!(
        tree(&workspace.path().join("extracted")),
        [".DS_Store", "app.log", "main.go", "temp/", "temp/scratch.txt"]
    );
    // untar with ignore patterns.
    std::fs::remove_dir_all(workspace.path().join("extracted")).unwrap();
    run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: untar\n  config:\n    inPath: ./artifacts/bundle.tar.gz\n    outPath: ./extracted\n    stripComponents: 1\n    ignore: |\n      *.log\n      temp/\n      .DS_Store\n",
    )
    .unwrap();
    assert_eq!(tree(&workspace.path().join("extracted")), ["main.go"]);
}

/// A tar file holding one entry whose name (or link) the `tar` crate would refuse to
/// write, built by hand.
fn hostile_tar(name: &str, kind: u8, link: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..107].copy_from_slice(b"0000644");
    header[108..115].copy_from_slice(b"0000000");
    header[116..123].copy_from_slice(b"0000000");
    header[124..135].copy_from_slice(format!("{:011o}", content.len()).as_bytes());
    header[136..147].copy_from_slice(b"00000000000");
    header[156] = kind;
    header[157..157 + link.len()].copy_from_slice(link.as_bytes());
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

#[test]
fn untar_refuses_entries_that_would_leave_the_workspace() {
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let mut canary = lading_tests::canary::Canary::new();
    let outside = canary.plant("target.txt", "untouched\n");
    for (name, kind, link, what) in [
        ("../escape.txt", b'0', "", "leads outside the archive's directory"),
        ("/abs.txt", b'0', "", "leads outside the archive's directory"),
        ("link", b'2', outside.to_str().unwrap(), "which leads outside the promotion's workspace"),
        ("uplink", b'2', "../../../../../../../../../../../../../..", "which leads outside the promotion's workspace"),
        ("hard", b'1', "/etc/passwd", "is not unpacked"),
    ] {
        let workspace = tempfile::tempdir().unwrap();
        std::fs::write(workspace.path().join("evil.tar"), hostile_tar(name, kind, link, b"pwned\n")).unwrap();
        let error = run_with(
            EngineRun::new(&freight),
            workspace.path(),
            "steps:\n- uses: untar\n  config:\n    inPath: evil.tar\n    outPath: out\n",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains(what), "{name}: {error}");
        assert!(!workspace.path().parent().unwrap().join("escape.txt").exists());
    }
    canary.assert_untouched();
}

#[test]
fn tar_refuses_a_symlink_leading_outside_and_untar_keeps_to_its_budget() {
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let mut canary = lading_tests::canary::Canary::new();
    let secret = canary.plant("secret.txt", "do not pack\n");
    let workspace = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(workspace.path().join("src")).unwrap();
    std::os::unix::fs::symlink(&secret, workspace.path().join("src/leak")).unwrap();
    let error = run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: tar\n  config:\n    inPath: src\n    outPath: out.tar\n",
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("holds the symlink \"leak\", which leads outside"), "{error}");
    canary.assert_untouched();
    // A gzip bomb: 2 MiB of zeros in one entry, more than a budget of 1 MiB.
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    let mut header = tar::Header::new_gnu();
    let size: u64 = 2 << 20;
    header.set_size(size);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, "zeros", std::io::Read::take(std::io::repeat(0), size)).unwrap();
    let bomb = builder.into_inner().unwrap().finish().unwrap();
    std::fs::write(workspace.path().join("bomb.tar.gz"), bomb).unwrap();
    let mut budgets = lading_promoter::steps::RemoteBudgets::default();
    budgets.unpack.max_bytes = 1 << 20;
    let error = run_with(
        EngineRun { budgets, ..EngineRun::new(&freight) },
        workspace.path(),
        "steps:\n- uses: untar\n  config:\n    inPath: bomb.tar.gz\n    outPath: x\n",
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("unpacks to more than 1048576 bytes"), "{error}");
    // and a tar of more entries than its budget.
    let mut builder = tar::Builder::new(Vec::new());
    for i in 0..20 {
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, format!("f{i}"), std::io::empty()).unwrap();
    }
    std::fs::write(workspace.path().join("many.tar"), builder.into_inner().unwrap()).unwrap();
    budgets.unpack.max_entries = 10;
    let error = run_with(
        EngineRun { budgets, ..EngineRun::new(&freight) },
        workspace.path(),
        "steps:\n- uses: untar\n  config:\n    inPath: many.tar\n    outPath: many\n",
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("holds more than 10 entries"), "{error}");
}

#[test]
fn git_tag_examples_tag_push_and_move_tags() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, freight) = repo_with(dir.path(), &[("app.yaml", "v: 1\n")]);
    let workspace = tempfile::tempdir().unwrap();
    let clone = format!(
        "steps:\n- uses: git-clone\n  config:\n    repoURL: {}\n    checkout:\n    - branch: main\n      path: ./out\n",
        repo.url()
    );
    // Basic usage: a tag on HEAD.
    let outcome = run_with(
        EngineRun::new(&freight),
        workspace.path(),
        &format!("{clone}- uses: git-tag\n  as: tag\n  config:\n    path: ./out\n    tag: v1.0.0\n"),
    )
    .unwrap();
    let head = repo.log("main")[0].id.clone();
    assert_eq!(outcome.outputs["tag"]["commit"], json!(head));
    // Tagging after a commit, then pushing the tag.
    let workspace = tempfile::tempdir().unwrap();
    let template = format!(
        "{clone}- uses: file-write\n  config:\n    path: ./out/app.yaml\n    contents: \"v: 2\\n\"\n- uses: git-commit\n  as: commit\n  config:\n    path: ./out\n    message: \"Committing changes for release v1.0.0\"\n- uses: git-tag\n  config:\n    path: ./out\n    tag: v1.0.0\n- uses: git-push\n  config:\n    path: ./out\n    tag: v1.0.0\n"
    );
    let outcome = run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap();
    let committed = outcome.commit.clone();
    let remote_tag = std::process::Command::new("git")
        .args(["rev-parse", "refs/tags/v1.0.0^{commit}"])
        .current_dir(dir.path().join("repo.git"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&remote_tag.stdout).trim(), committed, "the pushed tag names the new commit");
    // An existing tag elsewhere is refused without force, and moved with it.
    let retag = format!("- uses: git-tag\n  config:\n    path: ./out\n    tag: dev-team-a\n");
    let workspace = tempfile::tempdir().unwrap();
    let first = format!("{clone}{retag}- uses: file-write\n  config:\n    path: ./out/app.yaml\n    contents: \"v: 3\\n\"\n- uses: git-commit\n  config:\n    path: ./out\n    message: next\n{retag}");
    let error = run_with(EngineRun::new(&freight), workspace.path(), &first).unwrap_err().to_string();
    assert!(error.contains("config.tag: \"dev-team-a\" already exists on another commit"), "{error}");
    let workspace = tempfile::tempdir().unwrap();
    let forced = format!("{clone}{retag}- uses: file-write\n  config:\n    path: ./out/app.yaml\n    contents: \"v: 3\\n\"\n- uses: git-commit\n  as: c\n  config:\n    path: ./out\n    message: next\n- uses: git-tag\n  as: moved\n  config:\n    path: ./out\n    tag: dev-team-a\n    force: true\n");
    let outcome = run_with(EngineRun::new(&freight), workspace.path(), &forced).unwrap();
    assert_eq!(outcome.outputs["moved"]["commit"], outcome.outputs["c"]["commit"]);
}

mod downloads {
    use std::sync::{Arc, Mutex};

    use axum::extract::{Path as UrlPath, Query, State};
    use axum::http::HeaderMap;

    type Seen = Arc<Mutex<Vec<String>>>;

    /// Serves `/…` with the request's path, query and authorization echoed in the body,
    /// and `/big` as 2 MiB.
    pub async fn server() -> (String, Seen) {
        let seen: Seen = Default::default();
        let app = axum::Router::new()
            .route("/big", axum::routing::get(|| async { vec![b'x'; 2 << 20] }))
            .route(
                "/{*path}",
                axum::routing::get(
                    |State(seen): State<Seen>,
                     UrlPath(path): UrlPath<String>,
                     Query(query): Query<std::collections::BTreeMap<String, String>>,
                     headers: HeaderMap| async move {
                        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                        seen.lock().unwrap().push(format!("{path} {query:?} {auth}"));
                        format!("path={path} query={query:?}\n")
                    },
                ),
            )
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, seen)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_download_examples_download_with_headers_query_and_overwrite_rules() {
    let (base, seen) = downloads::server().await;
    tokio::task::spawn_blocking(move || {
        let freight = Freight::from_warehouse("app").with_chart(&base, "my-helm-chart", "1.4.0");
        let secrets = lading_domain::secrets::Secrets::parse(
            "kind: Secret\nmetadata: {name: artifacts, namespace: demo}\nstringData: {token: t0ken}\n",
        )
        .unwrap();
        let access = || lading_domain::secrets::SecretAccess {
            project: "demo".into(),
            secrets: Arc::new(secrets.clone()),
            revealed: Default::default(),
        };
        let workspace = tempfile::tempdir().unwrap();
        let run = |template: &str| {
            run_with(EngineRun { secrets: Some(access()), ..EngineRun::new(&freight) }, workspace.path(), template)
        };
        // Basic usage.
        run(&format!("steps:\n- uses: http-download\n  as: fetch-config\n  config:\n    url: {base}/config/app.yaml\n    outPath: config/app.yaml\n")).unwrap();
        assert_eq!(std::fs::read_to_string(workspace.path().join("config/app.yaml")).unwrap(), "path=config/app.yaml query={}\n");
        // With authentication, overwriting.
        let auth = format!("steps:\n- uses: http-download\n  as: fetch-artifact\n  config:\n    url: {base}/releases/v1.2.3/app.tar.gz\n    outPath: artifacts/app.tar.gz\n    headers:\n    - name: Authorization\n      value: Bearer ${{{{ secret('artifacts').token }}}}\n    allowOverwrite: true\n    timeout: 10m\n");
        run(&auth).unwrap();
        run(&auth).unwrap();
        assert!(seen.lock().unwrap().last().unwrap().ends_with("Bearer t0ken"));
        // With query parameters, not overwriting: a second run fails.
        let query = format!("vars:\n- name: version\n  value: 1.2.3\nsteps:\n- uses: http-download\n  as: fetch-release\n  config:\n    url: {base}/releases/source.zip\n    outPath: releases/source.zip\n    queryParams:\n    - name: version\n      value: ${{{{ vars.version }}}}\n    headers:\n    - name: Authorization\n      value: token ${{{{ secret('artifacts').token }}}}\n    allowOverwrite: false\n    timeout: 5m\n");
        run(&query).unwrap();
        assert!(std::fs::read_to_string(workspace.path().join("releases/source.zip")).unwrap().contains("\"version\": \"1.2.3\""));
        let again = run(&query).unwrap_err().to_string();
        assert!(again.contains("config.outPath: \"releases/source.zip\" exists already"), "{again}");
        // Download and unpack a Helm chart (served as a tar made by the tar step).
        std::fs::create_dir_all(workspace.path().join("chart-src/my-helm-chart")).unwrap();
        std::fs::write(workspace.path().join("chart-src/my-helm-chart/Chart.yaml"), "name: my-helm-chart\n").unwrap();
        let chart = format!("vars:\n- name: chartRepo\n  value: {base}\n- name: chartName\n  value: my-helm-chart\nsteps:\n- uses: http-download\n  as: fetch-chart\n  config:\n    url: {base}/${{{{ vars.chartName }}}}-${{{{ chartFrom(vars.chartRepo, vars.chartName).Version }}}}.tgz\n    outPath: charts/${{{{ vars.chartName }}}}.tgz\n    headers:\n    - name: Accept\n      value: application/gzip\n    allowOverwrite: true\n");
        run(&chart).unwrap();
        assert_eq!(
            std::fs::read_to_string(workspace.path().join("charts/my-helm-chart.tgz")).unwrap(),
            "path=my-helm-chart-1.4.0.tgz query={}\n"
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_download_keeps_to_its_size_limit_and_checksum_and_leaves_nothing_behind() {
    let (base, _) = downloads::server().await;
    tokio::task::spawn_blocking(move || {
        let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        let workspace = tempfile::tempdir().unwrap();
        let mut budgets = lading_promoter::steps::RemoteBudgets::default();
        budgets.http.max_download = lading_domain::limits::Limit::new(1 << 20, "LADING_HTTP_DOWNLOAD_MAX_BYTES");
        let big = format!("steps:\n- uses: http-download\n  config:\n    url: {base}/big\n    outPath: big.bin\n");
        let error = run_with(EngineRun { budgets, ..EngineRun::new(&freight) }, workspace.path(), &big)
            .unwrap_err()
            .to_string();
        assert!(error.contains("larger than 1048576 bytes (LADING_HTTP_DOWNLOAD_MAX_BYTES)"), "{error}");
        assert!(std::fs::read_dir(workspace.path()).unwrap().next().is_none(), "nothing is left behind");
        let wrong = format!(
            "steps:\n- uses: http-download\n  config:\n    url: {base}/a\n    outPath: a.txt\n    checksum: sha256:{}\n",
            "0".repeat(64)
        );
        let error = run_with(EngineRun::new(&freight), workspace.path(), &wrong).unwrap_err().to_string();
        assert!(error.contains("the file's checksum is sha256:"), "{error}");
        assert!(!workspace.path().join("a.txt").exists());
        use sha2::Digest as _;
        let digest: String = sha2::Sha256::digest(b"path=a query={}\n").iter().map(|b| format!("{b:02x}")).collect();
        let right = format!(
            "steps:\n- uses: http-download\n  config:\n    url: {base}/a\n    outPath: a.txt\n    checksum: sha256:{digest}\n"
        );
        run_with(EngineRun::new(&freight), workspace.path(), &right).unwrap();
        let outside = format!("steps:\n- uses: http-download\n  config:\n    url: {base}/a\n    outPath: ../a.txt\n");
        let error = run_with(EngineRun::new(&freight), workspace.path(), &outside).unwrap_err().to_string();
        assert!(error.contains("leads outside the promotion's workspace"), "{error}");
    })
    .await
    .unwrap();
}

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
            ("charts/my-chart/templates/service.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n"),
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
    assert_eq!(tree(&workspace.path().join("out")).into_iter().filter(|p| !p.starts_with(".git")).collect::<Vec<_>>(), [
        "my-chart/",
        "my-chart/templates/",
        "my-chart/templates/deployment.yaml",
        "my-chart/templates/service.yaml"
    ]);
    let deployment =
        std::fs::read_to_string(workspace.path().join("out/my-chart/templates/deployment.yaml")).unwrap();
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
    std::fs::write(chart.join("templates/cm.yaml"), "kind: ConfigMap\ndata:\n  tag: {{ .Values.image.tag | quote }}\n  count: {{ .Values.count }}\n").unwrap();
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
