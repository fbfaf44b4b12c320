//! A GitOps repository on the GitHub stand-in, and Kargo's manifests for a project whose
//! `prod` stage promotes into it: the set-up the pull-request and `github-push` tests share.

use crate::git::Repo;
use crate::git_hosting::GitHosting;

/// A stand-in GitHub (the user `robot` with `token`) holding `example/repo` with
/// `app.yaml` on `main` and `stage/test`, the clone URL, and the repository.
pub async fn hosted(token: &str) -> (tempfile::TempDir, GitHosting, Repo, String) {
    let dir = tempfile::tempdir().unwrap();
    let owner = dir.path().join("example");
    std::fs::create_dir_all(&owner).unwrap();
    let repo = Repo::create(&owner, "repo");
    repo.commit("app.yaml", "image: nginx:1.0\n", "first");
    repo.branch("stage/test");
    let hosting = GitHosting::start(dir.path(), "robot", token).await;
    let url = hosting.repo_url("example", "repo");
    (dir, hosting, repo, url)
}

/// Kargo's manifests for a project `demo` auto-promoting every stage, a Warehouse `app`
/// following `app`'s `main`, and a stage `prod` taking its freight with `prod_spec`
/// (the promotion template's `spec`, YAML indented by six spaces).
pub fn prod_pipeline(app: &str, prod_spec: &str) -> String {
    format!(
        r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata: {{name: demo}}
spec:
  promotionPolicies:
  - stageSelector: {{name: "glob:*"}}
    autoPromotionEnabled: true
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata: {{name: app, namespace: demo}}
spec:
  interval: 1h
  subscriptions:
  - git: {{repoURL: "{app}", branch: main}}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {{name: prod, namespace: demo}}
spec:
  requestedFreight:
  - origin: {{kind: Warehouse, name: app}}
    sources: {{direct: true}}
  promotionTemplate:
    spec:
{prod_spec}"#
    )
}

/// The first steps of a `prod` promotion, indented for [`prod_pipeline`]: clone `branch`
/// of `repo` (a URL or an expression) into `./out`, write the freight's commit of `app`
/// into `app.yaml`, commit.
pub fn commit_steps(repo: &str, branch: &str, app: &str) -> String {
    format!(
        r#"      - uses: git-clone
        config:
          repoURL: {repo}
          checkout:
          - branch: {branch}
            path: ./out
      - uses: yaml-update
        config:
          path: ./out/app.yaml
          updates:
          - key: commit
            value: ${{{{ commitFrom('{app}').ID }}}}
      - uses: git-commit
        config:
          path: ./out
          message: promote to prod
"#
    )
}
