//! `git-clone`: Kargo's "Submodules" example (`recurseSubmodules`), with a submodule
//! that has a submodule of its own, and the `commits` output keyed by `as` or `path`.

use super::*;

#[test]
fn git_clone_submodules_example_checks_out_nested_submodules() {
    let dir = tempfile::tempdir().unwrap();
    let inner = Repo::create(dir.path(), "inner");
    inner.commit("inner.txt", "deepest\n", "inner");
    let lib = Repo::create(dir.path(), "lib");
    lib.commit("lib.txt", "library\n", "lib");
    lib.add_submodule(&inner.url(), "vendor/inner");
    let (repo, _) = repo_with(dir.path(), &[("app.txt", "app\n")]);
    let head = repo.add_submodule(&lib.url(), "libs/lib");
    let freight = Freight::from_warehouse("app").with_commit(&repo.url(), &head);
    let template = format!(
        "vars:\n- name: gitRepo\n  value: {}\nsteps:\n- uses: git-clone\n  as: clone\n  config:\n    repoURL: ${{{{ vars.gitRepo }}}}\n    recurseSubmodules: true\n    checkout:\n    - commit: ${{{{ commitFrom(vars.gitRepo).ID }}}}\n      path: ./src\n    - branch: stage/${{{{ ctx.stage }}}}\n      create: true\n      path: ./out\n      as: stage\n",
        repo.url()
    );
    let workspace = tempfile::tempdir().unwrap();
    let outcome = run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap();
    let read = |path: &str| std::fs::read_to_string(workspace.path().join(path)).unwrap();
    assert_eq!(read("src/app.txt"), "app\n");
    assert_eq!(read("src/libs/lib/lib.txt"), "library\n");
    assert_eq!(read("src/libs/lib/vendor/inner/inner.txt"), "deepest\n");
    assert_eq!(outcome.outputs["clone"], json!({"commits": {"./src": head, "stage": ""}}));

    // Without recurseSubmodules the submodule's directory stays empty.
    let plain = template.replace("    recurseSubmodules: true\n", "");
    let workspace = tempfile::tempdir().unwrap();
    run_with(EngineRun::new(&freight), workspace.path(), &plain).unwrap();
    assert!(!workspace.path().join("src/libs/lib/lib.txt").exists());
    assert_eq!(std::fs::read_to_string(workspace.path().join("src/app.txt")).unwrap(), "app\n");
}
