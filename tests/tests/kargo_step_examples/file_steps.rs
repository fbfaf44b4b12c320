//! The examples of Kargo's `file-write`, `delete` and `copy` pages, as printed but for URLs:
//! `file-write` with `asYAML()` and `asJSON()` of what `yaml-parse` read, and `delete` of
//! one path, of several, and of globs with `strict`; `copy` between checkouts of two
//! warehouses' freight.

use super::*;

const FILE_WRITE_YAML: &str = "- uses: yaml-parse
  as: read-config
  config:
    path: ./src/apps.yaml
    outputs:
    - name: appConfig
      fromExpression: apps[ctx.stage]
- uses: file-write
  config:
    path: ./out/app-config.yaml
    contents: ${{ asYAML(outputs['read-config'].appConfig) }}
    overwrite: true
# Commit, push, etc...
";

const FILE_WRITE_JSON: &str = "- uses: file-write
  config:
    path: ./out/app-config.json
    contents: ${{ asJSON(outputs['read-config'].appConfig) }}
    overwrite: true
";

#[test]
fn file_write_examples_render_a_parsed_object_as_yaml_and_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let apps = "apps:\n  test:\n    replicas: 2\n    image: nginx:1.27\n    env: [A, B]\n  prod:\n    replicas: 5\n";
    let (repo, freight) = repo_with(dir.path(), &[("apps.yaml", apps)]);
    let workspace = tempfile::tempdir().unwrap();
    let template = format!("{}{FILE_WRITE_YAML}{FILE_WRITE_JSON}", clone_prologue(&repo));
    run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap();
    let yaml = std::fs::read_to_string(workspace.path().join("out/app-config.yaml")).unwrap();
    let read: Value = serde_saphyr::from_str(&yaml).unwrap();
    let expected = json!({"replicas": 2, "image": "nginx:1.27", "env": ["A", "B"]});
    assert_eq!(read, expected, "{yaml}");
    let json_text = std::fs::read_to_string(workspace.path().join("out/app-config.json")).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&json_text).unwrap(), expected);
    assert!(json_text.starts_with("{\n  \""), "pretty-printed: {json_text}");
}

#[test]
fn delete_examples_remove_a_path_several_paths_and_globs_strictly() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, freight) = repo_with(dir.path(), &[("README.md", "app\n")]);
    let workspace = tempfile::tempdir().unwrap();
    let w = workspace.path();
    // The first example clones, then deletes what earlier steps left in ./out.
    let first = format!(
        "vars:\n- name: gitRepo\n  value: {url}\nsteps:\n- uses: git-clone\n  config:\n    repoURL: ${{{{ vars.gitRepo }}}}\n    checkout:\n    - commit: ${{{{ commitFrom(vars.gitRepo).ID }}}}\n      path: ./src\n    - branch: stage/${{{{ ctx.stage }}}}\n      create: true\n      path: ./out\n\n# Steps that produce intermediate files in ./out...\n- uses: file-write\n  config:\n    path: ./out/unwanted/file\n    contents: scratch\n\n- uses: delete\n  config:\n    path: ./out/unwanted/file\n- uses: git-commit\n  config:\n    path: ./out\n    message: without the scratch file\n",
        url = repo.url()
    );
    run_with(EngineRun::new(&freight), w, &first).unwrap();
    assert!(!w.join("out/unwanted/file").exists());

    let write = |files: &[&str]| {
        for file in files {
            std::fs::create_dir_all(w.join(file).parent().unwrap()).unwrap();
            std::fs::write(w.join(file), "x").unwrap();
        }
    };
    write(&["out/unwanted/file", "out/tmp/a", "out/build.log", "out/keep.yaml"]);
    let several = "steps:\n- uses: delete\n  config:\n    paths:\n    - ./out/unwanted/file\n    - ./out/tmp\n    - ./out/build.log\n";
    run_with(EngineRun::new(&freight), w, several).unwrap();
    assert!(!w.join("out/unwanted/file").exists() && !w.join("out/tmp").exists() && !w.join("out/build.log").exists());
    assert!(w.join("out/keep.yaml").exists());

    write(&["out/a.tmp", "out/deep/b.tmp", "out/build/output.bin", "out/keep.yaml"]);
    let globs = "steps:\n- uses: delete\n  config:\n    paths:\n    - ./out/**/*.tmp\n    - ./out/build/\n    pathsAreGlobs: true\n    strict: true\n";
    run_with(EngineRun::new(&freight), w, globs).unwrap();
    for gone in ["out/a.tmp", "out/deep/b.tmp", "out/build"] {
        assert!(!w.join(gone).exists(), "{gone}");
    }
    assert!(w.join("out/keep.yaml").exists() && w.join("out/deep").is_dir());
    // strict: run again, the globs match nothing, and the step says so.
    let error = run_with(EngineRun::new(&freight), w, globs).unwrap_err().to_string();
    assert!(error.contains("no path matches"), "{error}");
}

#[test]
fn copy_example_takes_each_checkout_from_its_warehouses_freight() {
    // Given a stage holding freight of two warehouses, `base` and `test-overlay`, each
    // with its own commit of one repository,
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::create(dir.path(), "repo");
    let base = repo.commit("stages/test/kustomization.yaml", "resources: [base]\n", "base");
    let overlay = repo.commit("stages/test/kustomization.yaml", "resources: [base, overlay]\n", "overlay");
    let promoted = Freight::from_warehouse("base").with_commit(&repo.url(), &base);
    let collection = [promoted.clone(), Freight::from_warehouse("test-overlay").with_commit(&repo.url(), &overlay)];
    // when Kargo's copy example runs,
    let template = format!(
        "vars:
- name: gitRepo
  value: {url}
steps:
- uses: git-clone
  config:
    repoURL: ${{{{ vars.gitRepo }}}}
    checkout:
    - commit: ${{{{ commitFrom(vars.gitRepo, warehouse(\"base\")).ID }}}}
      path: ./src
    - commit: ${{{{ commitFrom(vars.gitRepo, warehouse(ctx.stage + \"-overlay\")).ID }}}}
      path: ./overlay
    - branch: stage/${{{{ ctx.stage }}}}
      create: true
      path: ./out
- uses: git-clear
  config:
    path: ./out
- uses: copy
  config:
    inPath: ./overlay/stages/${{{{ ctx.stage }}}}/kustomization.yaml
    outPath: ./src/stages/${{{{ ctx.stage }}}}/kustomization.yaml
# Render manifests to ./out, commit, push, etc...
",
        url = repo.url()
    );
    let workspace = tempfile::tempdir().unwrap();
    let run = EngineRun { origins: Some(&collection), ..EngineRun::new(&promoted) };
    run_with(run, workspace.path(), &template).unwrap();
    // then each checkout is its warehouse's commit, and the overlay's file is copied.
    let copied = std::fs::read_to_string(workspace.path().join("src/stages/test/kustomization.yaml")).unwrap();
    assert_eq!(copied, "resources: [base, overlay]\n");
    let commits = |path: &str| lading_tests::git::git_bytes(&workspace.path().join(path), &["rev-parse", "HEAD"]);
    assert_eq!(String::from_utf8_lossy(&commits("src")).trim(), base);
    assert_eq!(String::from_utf8_lossy(&commits("overlay")).trim(), overlay);
}
