//! The step engine against real Git repositories: what a promotion writes, and that a
//! promotion run again (a replica resuming after a crash) commits nothing new.

use lading_domain::spec::{PromotionStep, PromotionVariable};
use lading_domain::{Freight, freight_id};
use lading_tests::engine_run::EngineRun;
use lading_tests::git::Repo;
use lading_tests::git_cli::{commit_as_lading, commit_upstream, head_of, remote_and_copy};
use serde_json::json;

fn step(uses: &str, alias: Option<&str>, config: serde_json::Value) -> PromotionStep {
    PromotionStep { uses: uses.into(), alias: alias.map(str::to_owned), config: Some(config), ..Default::default() }
}

/// Freight of warehouse `app` with commit `abc123` of `https://example.com/app.git`.
fn app_freight() -> Freight {
    Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123")
}

/// `git-clone` of `main` of `gitops` into `path`.
fn clone_main(gitops: &Repo, path: &str) -> PromotionStep {
    step("git-clone", None, json!({"repoURL": gitops.url(), "checkout": [{"branch": "main", "path": path}]}))
}

/// `yaml-update` setting `image.tag` to `tag` in `file`.
fn set_image_tag(file: &str, tag: &str) -> PromotionStep {
    step("yaml-update", None, json!({"path": file, "updates": [{"key": "image.tag", "value": tag}]}))
}

/// `git-commit` of `path` with message `promote`, then `git-push`.
fn commit_and_push(path: &str) -> [PromotionStep; 2] {
    [
        step("git-commit", None, json!({"path": path, "message": "promote"})),
        step("git-push", None, json!({"path": path})),
    ]
}

fn steps(gitops: &str) -> Vec<PromotionStep> {
    vec![
        step(
            "git-clone",
            None,
            json!({"repoURL": gitops, "checkout": [{"branch": "stage/${{ ctx.stage }}", "create": true, "path": "./out"}]}),
        ),
        step(
            "yaml-update",
            None,
            json!({"path": "./out/values.yaml", "updates": [{"key": "image.tag", "value": "${{ commitFrom(vars.app).ID }}"}]}),
        ),
        step(
            "git-commit",
            Some("commit"),
            json!({"path": "./out", "message": "promote ${{ ctx.targetFreight.name }}"}),
        ),
        step("git-push", Some("push"), json!({"path": "./out"})),
    ]
}

fn promote(gitops: &Repo, freight: &Freight, promotion: &str) -> Result<String, String> {
    let workspace = tempfile::tempdir().unwrap();
    let vars = [PromotionVariable { name: "app".into(), value: "https://example.com/app.git".into() }];
    let run = EngineRun { promotion, vars: &vars, ..EngineRun::new(freight) };
    run.run(workspace.path(), &steps(&gitops.url())).map(|o| o.commit).map_err(|e| e.to_string())
}

#[test]
fn a_promotion_writes_its_values_and_names_itself_in_the_commit() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    let freight = app_freight();
    let commit = promote(&gitops, &freight, "test.01.aaaaaaa").unwrap();
    let log = gitops.log("stage/test");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].id, commit);
    assert!(log[0].message.ends_with("Lading-Promotion: test.01.aaaaaaa"), "{}", log[0].message);
    assert!(log[0].message.starts_with(&format!("promote {}", freight_id::compute(&freight).unwrap())));
    assert_eq!(gitops.show("stage/test", "values.yaml").trim(), "image:\n  tag: abc123");
}

#[test]
fn running_the_same_promotion_again_commits_nothing_new() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    let first = app_freight();
    let second = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "def456");
    let commit = promote(&gitops, &first, "test.01.aaaaaaa").unwrap();
    let later = promote(&gitops, &second, "test.02.bbbbbbb").unwrap();
    // The first promotion resumed after its push (a crash before it was recorded).
    let again = promote(&gitops, &first, "test.01.aaaaaaa").unwrap();
    assert_eq!(again, commit, "the resumed promotion reports its earlier commit");
    let log = gitops.log("stage/test");
    assert_eq!(log.len(), 2, "no second commit for one promotion: {log:#?}");
    assert_eq!(log[0].id, later);
}

#[test]
fn a_step_failure_names_the_step_and_pushes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/other.git", "abc123");
    let error = promote(&gitops, &freight, "test.01.aaaaaaa").unwrap_err();
    assert!(error.starts_with("step 1 (yaml-update):"), "{error}");
    assert!(error.contains("no commit from https://example.com/app.git"), "{error}");
    assert!(gitops.log("stage/test").is_empty());
}

#[test]
fn paths_outside_the_workspace_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    let freight = app_freight();
    let workspace = tempfile::tempdir().unwrap();
    let steps = vec![step(
        "git-clone",
        None,
        json!({"repoURL": gitops.url(), "checkout": [{"branch": "main", "create": true, "path": "../escape"}]}),
    )];
    let error = EngineRun::new(&freight).run(workspace.path(), &steps).unwrap_err().to_string();
    assert!(
        error.contains("config.checkout[0].path: \"../escape\" leads outside the promotion's workspace"),
        "{error}"
    );
}

#[test]
fn yaml_update_changes_only_the_targeted_values() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    let before = include_str!("../fixtures/yaml-update/values.before.yaml");
    let after = include_str!("../fixtures/yaml-update/values.after.yaml");
    gitops.commit("values.yaml", before, "initial values");
    let freight = app_freight();
    let workspace = tempfile::tempdir().unwrap();
    let steps = vec![
        clone_main(&gitops, "./src"),
        step(
            "yaml-update",
            None,
            json!({"path": "./src/values.yaml", "updates": [
                {"key": "image.tag", "value": "v0.2.0"},
                {"key": "replicaCount", "value": "${{ 1 + 2 }}"},
                {"key": "sidecars.0.image", "value": "envoy:1.31"},
            ]}),
        ),
        step("git-commit", None, json!({"path": "./src", "message": "bump"})),
        step("git-push", None, json!({"path": "./src"})),
    ];
    EngineRun::new(&freight).run(workspace.path(), &steps).unwrap();
    assert_eq!(gitops.show("main", "values.yaml") + "\n", after, "only the three values changed");
}

/// A sparse clone of `gitops` (`apps/test` and the root files) into `out`, an edit in
/// the cone, a commit and a push; returns what was written to the working tree.
fn sparse_promotion(gitops: &Repo, mirrors: Option<&std::path::Path>) -> (bool, bool, bool) {
    let workspace = tempfile::tempdir().unwrap();
    let freight = app_freight();
    let steps = [
        vec![
            step(
                "git-clone",
                None,
                json!({"repoURL": gitops.url(), "checkout": [{"branch": "main", "sparse": ["apps/test/"], "path": "out"}]}),
            ),
            step("file-write", None, json!({"path": "out/apps/test/tag", "contents": "abc123\n", "overwrite": true})),
        ],
        commit_and_push("out").to_vec(),
    ]
    .concat();
    let run = EngineRun { promotion: "test.01.sparse", mirrors, ..EngineRun::new(&freight) };
    run.run(workspace.path(), &steps).unwrap();
    let out = workspace.path().join("out");
    (out.join("README.md").exists(), out.join("apps/test/tag").exists(), out.join("apps/prod").exists())
}

#[test]
fn a_sparse_clone_writes_only_its_cone_and_commits_without_touching_the_rest() {
    for mirrored in [false, true] {
        let root = tempfile::tempdir().unwrap();
        let gitops = Repo::create(root.path(), "gitops");
        gitops.commit("README.md", "readme\n", "readme");
        gitops.commit("apps/test/tag", "old\n", "test");
        gitops.commit("apps/prod/tag", "old\n", "prod");
        let mirrors = tempfile::tempdir().unwrap();
        let (readme, test, prod) = sparse_promotion(&gitops, mirrored.then(|| mirrors.path()));
        assert!(readme && test, "root files and the cone are written (mirrored: {mirrored})");
        assert!(!prod, "apps/prod is outside the cone and stays unwritten (mirrored: {mirrored})");
        assert_eq!(gitops.show("main", "apps/test/tag"), "abc123");
        assert_eq!(gitops.show("main", "apps/prod/tag"), "old", "not deleted by the commit");
        assert_eq!(gitops.show("main", "README.md"), "readme");
        assert_eq!(gitops.log("main").len(), 4);
    }
}

#[test]
fn sparse_entries_must_be_directories_inside_the_repository() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("README.md", "readme\n", "readme");
    let workspace = tempfile::tempdir().unwrap();
    let freight = app_freight();
    let clone = step(
        "git-clone",
        None,
        json!({"repoURL": gitops.url(), "checkout": [{"branch": "main", "sparse": ["../etc"], "path": "out"}]}),
    );
    let error = EngineRun::new(&freight).run(workspace.path(), &[clone]).unwrap_err().to_string();
    assert_eq!(
        error,
        "step 0 (git-clone): config.checkout[0].sparse: \"../etc\" is not a directory inside the repository"
    );
}

#[test]
fn a_lazy_commit_of_edits_and_new_files_leaves_ignored_files_out_as_git_add_does() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("env/a/values.yaml", "image:\n  tag: v0\n", "a");
    gitops.commit(".gitignore", "*.tmp\n", "ignore");
    let (lading_remote, cli_remote) = remote_and_copy(root.path(), "gitops");
    let freight = app_freight();
    let steps = [
        vec![
            clone_main(&gitops, "./out"),
            set_image_tag("./out/env/a/values.yaml", "v1"),
            step("file-write", None, json!({"path": "./out/env/a/scratch.tmp", "contents": "scratch\n"})),
            step("file-write", None, json!({"path": "./out/env/b/new.yaml", "contents": "new: 1\n"})),
        ],
        commit_and_push("./out").to_vec(),
    ]
    .concat();
    let workspace = tempfile::tempdir().unwrap();
    EngineRun { promotion: "test.01.ignored", ..EngineRun::new(&freight) }.run(workspace.path(), &steps).unwrap();
    commit_as_lading(
        root.path(),
        &cli_remote,
        "cli-work",
        "sed -i 's/v0/v1/' env/a/values.yaml; printf 'scratch\\n' > env/a/scratch.tmp; mkdir -p env/b; \
         printf 'new: 1\\n' > env/b/new.yaml",
        "test.01.ignored",
    );
    assert_eq!(head_of(&lading_remote, "main"), head_of(&cli_remote, "main"));
    assert_eq!(gitops.show("main", "env/b/new.yaml"), "new: 1");
}

#[test]
fn a_kept_working_tree_moved_to_a_head_with_more_than_plain_files_is_checked_out_in_full() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("env/a/values.yaml", "image:\n  tag: v0\n", "a");
    gitops.commit("README.md", "readme\n", "readme");
    let mirrors = tempfile::tempdir().unwrap();
    let freight = app_freight();
    let steps = |tag: &str| {
        [
            vec![clone_main(&gitops, "./out"), set_image_tag("./out/env/a/values.yaml", tag)],
            commit_and_push("./out").to_vec(),
        ]
        .concat()
    };
    let first = tempfile::tempdir().unwrap();
    EngineRun { promotion: "test.01.plain", mirrors: Some(mirrors.path()), ..EngineRun::new(&freight) }
        .run(first.path(), &steps("v1"))
        .unwrap();
    lading_promoter::steps::keep_working_trees(first.path(), mirrors.path());
    assert!(!first.path().join("out").exists(), "the working tree went back to the pool");
    // Upstream adds an executable and a symlink: the kept tree's next head is not plain.
    commit_upstream(
        root.path(),
        &root.path().join("gitops.git"),
        "other",
        "printf '#!/bin/sh\\n' > run.sh; chmod +x run.sh; ln -s env/a/values.yaml link.yaml",
    );
    let second = tempfile::tempdir().unwrap();
    EngineRun { promotion: "test.02.plain", mirrors: Some(mirrors.path()), ..EngineRun::new(&freight) }
        .run(second.path(), &steps("v2"))
        .unwrap();
    let out = second.path().join("out");
    assert!(out.join("README.md").is_file(), "a tree with more than plain files is checked out in full");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(out.join("run.sh")).unwrap().permissions());
    assert_ne!(mode & 0o111, 0, "the executable is executable");
    assert!(std::fs::symlink_metadata(out.join("link.yaml")).unwrap().file_type().is_symlink());
    assert_eq!(gitops.show("main", "env/a/values.yaml"), "image:\n  tag: v2");
    assert_eq!(gitops.show("main", "run.sh"), "#!/bin/sh");
}

#[test]
fn a_lazy_working_tree_writes_only_what_steps_open_and_commits_what_a_full_checkout_commits() {
    for mirrored in [false, true] {
        let root = tempfile::tempdir().unwrap();
        let gitops = Repo::create(root.path(), "gitops");
        gitops.commit("env/a/values.yaml", "image:\n  tag: v0\n", "a");
        gitops.commit("env/a/more/deep.yaml", "deep: true\n", "deep");
        gitops.commit("env/b/old.yaml", "old: true\n", "old");
        gitops.commit("env/b/keep.yaml", "keep: true\n", "keep");
        gitops.commit("env/d/untouched.yaml", "untouched: true\n", "untouched");
        gitops.commit("README.md", "readme\n", "readme");
        let (lading_remote, cli_remote) = remote_and_copy(root.path(), "gitops");
        // Lading: an edit, a new file, a deletion and a directory copy, in a lazy tree.
        let workspace = tempfile::tempdir().unwrap();
        let mirrors = tempfile::tempdir().unwrap();
        let freight = app_freight();
        let steps = [
            vec![
                clone_main(&gitops, "./out"),
                set_image_tag("./out/env/a/values.yaml", "v1"),
                step("file-write", None, json!({"path": "./out/new/extra.yaml", "contents": "extra: 1\n"})),
                step("delete", None, json!({"path": "./out/env/b/old.yaml"})),
                step("copy", None, json!({"inPath": "./out/env/a", "outPath": "./out/env/c"})),
            ],
            commit_and_push("./out").to_vec(),
        ]
        .concat();
        let run = EngineRun {
            promotion: "test.01.lazy",
            mirrors: mirrored.then(|| mirrors.path()),
            ..EngineRun::new(&freight)
        };
        run.run(workspace.path(), &steps).unwrap();
        let out = workspace.path().join("out");
        assert!(out.join("env/a/more/deep.yaml").exists(), "a copied directory is written in full");
        assert!(!out.join("env/d/untouched.yaml").exists(), "a file no step opened is never written");
        assert!(!out.join("env/b/keep.yaml").exists(), "nor is its neighbour of a deleted file");
        // The git CLI, the same work in a full checkout of its own copy.
        commit_as_lading(
            root.path(),
            &cli_remote,
            "cli-work",
            "sed -i 's/v0/v1/' env/a/values.yaml; mkdir new; printf 'extra: 1\\n' > new/extra.yaml; \
             git rm -q env/b/old.yaml; cp -r env/a env/c",
            "test.01.lazy",
        );
        assert_eq!(head_of(&lading_remote, "main"), head_of(&cli_remote, "main"), "mirrored: {mirrored}");
        assert_eq!(gitops.show("main", "env/d/untouched.yaml"), "untouched: true", "not deleted by the commit");
    }
}

#[test]
fn a_step_that_reads_a_whole_lazy_tree_sees_all_of_it() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("env/a/values.yaml", "a: 1\n", "a");
    gitops.commit("env/b/values.yaml", "b: 1\n", "b");
    gitops.commit("README.md", "readme\n", "readme");
    let workspace = tempfile::tempdir().unwrap();
    let freight = app_freight();
    let steps = [
        clone_main(&gitops, "./out"),
        step("copy", None, json!({"inPath": "./out", "outPath": "./whole"})),
        step("tar", None, json!({"inPath": "./out/env", "outPath": "./env.tar"})),
        step("untar", None, json!({"inPath": "./env.tar", "outPath": "./unpacked"})),
    ];
    EngineRun::new(&freight).run(workspace.path(), &steps).unwrap();
    let whole = workspace.path().join("whole");
    for (file, content) in [("env/a/values.yaml", "a: 1\n"), ("env/b/values.yaml", "b: 1\n"), ("README.md", "readme\n")]
    {
        assert_eq!(std::fs::read_to_string(whole.join(file)).unwrap(), content, "{file}");
    }
    let unpacked = workspace.path().join("unpacked");
    assert_eq!(std::fs::read_to_string(unpacked.join("b/values.yaml")).unwrap(), "b: 1\n");
}

#[test]
fn a_kept_working_tree_moves_to_the_new_head_and_commits_what_a_fresh_clone_commits() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("env/a/values.yaml", "image:\n  tag: v0\n", "a");
    gitops.commit("env/b/values.yaml", "image:\n  tag: v0\n", "b");
    gitops.commit("env/b/other.yaml", "other: true\n", "other");
    gitops.commit("README.md", "readme\n", "readme");
    let (lading_remote, cli_remote) = remote_and_copy(root.path(), "gitops");
    let mirrors = tempfile::tempdir().unwrap();
    let freight = app_freight();
    let clone = clone_main(&gitops, "./out");
    let pool = || -> usize {
        std::fs::read_dir(mirrors.path().join("trees"))
            .map(|dirs| dirs.flatten().map(|d| std::fs::read_dir(d.path()).unwrap().count()).sum())
            .unwrap_or(0)
    };
    // Round 1 in a fresh clone: an edit, and a copy that writes env/b to disk.
    let first = tempfile::tempdir().unwrap();
    let mut steps = vec![
        clone.clone(),
        set_image_tag("./out/env/a/values.yaml", "v1"),
        step("copy", None, json!({"inPath": "./out/env/b", "outPath": "./out/env/b2"})),
    ];
    steps.extend(commit_and_push("./out"));
    let run = |promotion: &str, workspace: &std::path::Path, steps: &[PromotionStep]| {
        EngineRun { promotion, mirrors: Some(mirrors.path()), ..EngineRun::new(&freight) }
            .run(workspace, steps)
            .unwrap();
        lading_promoter::steps::keep_working_trees(workspace, mirrors.path());
    };
    run("test.01.kept", first.path(), &steps);
    assert!(!first.path().join("out").exists(), "the working tree went back to the pool");
    assert_eq!(pool(), 1);
    commit_as_lading(
        root.path(),
        &cli_remote,
        "cli-1",
        "sed -i 's/v0/v1/' env/a/values.yaml; cp -r env/b env/b2",
        "test.01.kept",
    );
    assert_eq!(head_of(&lading_remote, "main"), head_of(&cli_remote, "main"), "round 1");
    // Someone else changes a file the kept tree holds, deletes another it holds and
    // changes one it never wrote, on both remotes alike.
    for (i, remote) in [&lading_remote, &cli_remote].into_iter().enumerate() {
        commit_upstream(
            root.path(),
            remote,
            &format!("other-{i}"),
            "printf 'image:\\n  tag: upstream\\nextra: 1\\n' > env/b/values.yaml; git rm -q env/b2/other.yaml; \
             printf 'readme 2\\n' > README.md",
        );
    }
    // Round 2 takes the kept tree and moves it to the new head.
    let second = tempfile::tempdir().unwrap();
    let mut steps = vec![clone, set_image_tag("./out/env/b/values.yaml", "v2")];
    steps.extend(commit_and_push("./out"));
    EngineRun { promotion: "test.02.kept", mirrors: Some(mirrors.path()), ..EngineRun::new(&freight) }
        .run(second.path(), &steps)
        .unwrap();
    let out = second.path().join("out");
    assert_eq!(pool(), 0, "the kept tree was taken");
    assert_eq!(std::fs::read_to_string(out.join("env/b/other.yaml")).unwrap(), "other: true\n", "kept on disk");
    assert!(!out.join("env/b2/other.yaml").exists(), "a file deleted upstream is gone from disk");
    assert!(!out.join("README.md").exists(), "a file never written stays lazy");
    commit_as_lading(
        root.path(),
        &cli_remote,
        "cli-2",
        "sed -i 's/tag: upstream/tag: v2/' env/b/values.yaml",
        "test.02.kept",
    );
    assert_eq!(head_of(&lading_remote, "main"), head_of(&cli_remote, "main"), "round 2, from the kept tree");
    assert_eq!(gitops.show("main", "README.md"), "readme 2", "a file never written keeps upstream's content");
    // A resumed round 2 (the same promotion again) finds its commit and makes no other.
    lading_promoter::steps::keep_working_trees(second.path(), mirrors.path());
    let resumed = tempfile::tempdir().unwrap();
    let again = EngineRun { promotion: "test.02.kept", mirrors: Some(mirrors.path()), ..EngineRun::new(&freight) }
        .run(resumed.path(), &steps)
        .unwrap();
    assert_eq!(head_of(&lading_remote, "main"), head_of(&cli_remote, "main"), "nothing new pushed");
    assert_eq!(again.commit, gitops.log("main")[0].id, "the promotion's commit, found by its trailer");
}

#[test]
fn mirrors_kept_trees_and_local_remotes_keep_a_bounded_number_of_packs_however_many_promotions_fetch() {
    use lading_remote::packs::MAX_PACKS;
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("env/a/values.yaml", "image:\n  tag: v0\n", "a");
    let mirrors = tempfile::tempdir().unwrap();
    let freight = app_freight();
    let packs_under = |dir: &std::path::Path| -> Vec<usize> {
        let mut counts = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.ends_with("objects/pack") {
                    let packs = std::fs::read_dir(&path).unwrap().flatten();
                    counts.push(packs.filter(|p| p.path().extension().is_some_and(|e| e == "pack")).count());
                } else if entry.file_type().unwrap().is_dir() {
                    pending.push(path);
                }
            }
        }
        counts
    };
    // Each round, someone else pushes first, so the promotion's clone fetches: through the
    // mirror while no working tree is kept (the first half, a new pack each time), then
    // into the kept tree (copied directly from the local remote).
    let remote_packs_before = packs_under(&root.path().join("gitops.git"));
    let rounds = 2 * (MAX_PACKS + 4);
    for round in 0..rounds {
        let remote = root.path().join("gitops.git");
        commit_upstream(root.path(), &remote, &format!("upstream-{round}"), &format!("echo {round} > upstream.txt"));
        let workspace = tempfile::tempdir().unwrap();
        let steps = [
            vec![clone_main(&gitops, "./out"), set_image_tag("./out/env/a/values.yaml", &format!("v{}", round + 1))],
            commit_and_push("./out").to_vec(),
        ]
        .concat();
        let promotion = format!("test.{round:02}.packs");
        EngineRun { promotion: &promotion, mirrors: Some(mirrors.path()), ..EngineRun::new(&freight) }
            .run(workspace.path(), &steps)
            .unwrap();
        if round >= rounds / 2 {
            lading_promoter::steps::keep_working_trees(workspace.path(), mirrors.path());
        }
    }
    let counts = packs_under(mirrors.path());
    // The mirror and the kept tree.
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert!(counts.iter().all(|&packs| packs <= MAX_PACKS), "{counts:?}");
    // The local remote received each push's objects directly, loose, as git's
    // `receive-pack` keeps small pushes: no pack per push.
    let remote = packs_under(&root.path().join("gitops.git"));
    assert_eq!(remote, remote_packs_before, "the remote's packs");
    // The kept tree copied the last upstream commit directly from the local remote too.
    let upstream = gitops.log("main")[1].id.clone();
    let loose = |git_dir: &std::path::Path| git_dir.join("objects").join(&upstream[..2]).join(&upstream[2..]).is_file();
    let trees = std::fs::read_dir(mirrors.path().join("trees")).unwrap().flatten();
    let kept: Vec<_> = trees.flat_map(|pool| std::fs::read_dir(pool.path()).unwrap().flatten()).collect();
    assert_eq!(kept.len(), 1);
    assert!(loose(&kept[0].path().join(".git")), "upstream commit {upstream} copied loose into the kept tree");
    let fsck = std::process::Command::new("git")
        .args(["fsck", "--strict"])
        .current_dir(root.path().join("gitops.git"))
        .output()
        .unwrap();
    assert!(fsck.status.success(), "the remote is whole: {}", String::from_utf8_lossy(&fsck.stderr));
    // And the last promotion's change reached the remote from a tree whose packs were merged.
    assert_eq!(gitops.show("main", "env/a/values.yaml"), format!("image:\n  tag: v{rounds}"));
}
