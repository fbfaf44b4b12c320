//! A stand-in for a Git hosting service, since none can be installed here: the bare
//! repositories under a directory over authenticated smart HTTP (real `git http-backend`),
//! plus the part of GitHub's REST API (as GitHub Enterprise serves it, under `/api/v3`)
//! that the pull-request steps use, answering as GitHub documents:
//!
//! - `GET /repos/{owner}/{repo}`: `default_branch`.
//! - `GET /repos/{owner}/{repo}/pulls?state=&head=owner:branch&base=`: a list.
//! - `POST /repos/{owner}/{repo}/pulls` `{title, head, base, body}`: 201 with the pull
//!   request; 422 when a branch does not exist or an open one exists already.
//! - `GET /repos/{owner}/{repo}/pulls/{number}`: `number`, `html_url`, `state`, `merged`,
//!   `merge_commit_sha`, `mergeable`.
//! - `PUT /repos/{owner}/{repo}/pulls/{number}/merge` `{merge_method}`: merges for real in
//!   the bare repository (a merge commit, or one squashed commit), 200 `{sha, merged}`;
//!   405 when not mergeable (conflict, or marked so by the test), 404 when closed.
//! - `POST /repos/{owner}/{repo}/issues/{number}/labels` `{labels}`.
//! - `PATCH /repos/{owner}/{repo}/pulls/{number}` `{state: closed}`.
//!
//! - The Git Database and compare endpoints `github-push` uses: see [`git_data`].
//!
//! Every API call needs `Authorization: Bearer <token>`; 401 otherwise. The same
//! repositories and requests answer GitLab's merge-request API too (see [`gitlab`]),
//! Gitea's ([`gitea`]), Bitbucket Cloud's ([`bitbucket`]) and Azure DevOps' ([`azure`]).

mod azure;
mod bitbucket;
mod git_data;
mod gitea;
mod github;
mod gitlab;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};

/// One pull request the stand-in holds.
#[derive(Debug, Clone)]
pub struct PullRequest {
    pub number: u64,
    pub owner: String,
    pub repo: String,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub open: bool,
    pub merged: bool,
    pub merge_commit: Option<String>,
    /// `false` makes merges answer 405 (checks pending).
    pub mergeable: bool,
    /// Merged as one squashed commit (GitLab then names it `squash_commit_sha`).
    pub squashed: bool,
}

#[derive(Default)]
struct Hosted {
    pulls: Vec<PullRequest>,
    calls: Vec<String>,
    /// Commits made through `POST git/commits`.
    commits_created: usize,
    /// A commit (file, content) another writer lands on a ref (`refs/heads/…`) right
    /// before the next `PATCH` of it.
    move_before_update: std::collections::HashMap<String, (String, String)>,
    /// The API refuses the token (Git over HTTP still takes it).
    api_token_revoked: bool,
    /// GitLab projects merge by fast-forward (no merge commit).
    gitlab_fast_forward: bool,
    /// Pull requests opened from now on are not mergeable (checks pending).
    new_pulls_unmergeable: bool,
    /// Rewrites each compare answer before it is sent: a GitHub answering wrongly.
    compare_rewrite: Option<CompareRewrite>,
}

/// A rewrite of the compare endpoint's answer.
pub type CompareRewrite = Arc<dyn Fn(&mut Value) + Send + Sync>;

#[derive(Clone)]
struct Hosting {
    root: PathBuf,
    base_url: String,
    token: String,
    state: Arc<Mutex<Hosted>>,
}

/// The running stand-in.
pub struct GitHosting {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    pub token: String,
    root: PathBuf,
    state: Arc<Mutex<Hosted>>,
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"message": message}))).into_response()
}

/// Why a pull request could not be opened.
enum NotOpened {
    NoRepository,
    NoBranch,
    NoChanges,
    Exists,
}

/// Why a pull request could not be merged.
enum NotMerged {
    NotFound,
    NotOpen,
    NotMergeable,
    Conflict(String),
}

impl Hosting {
    /// Records the call; whether its `Authorization` header is `expected`.
    fn authorized_by(&self, headers: &HeaderMap, call: String, expected: &str) -> bool {
        let mut hosted = self.state.lock().unwrap();
        hosted.calls.push(call);
        !hosted.api_token_revoked && headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected)
    }

    /// Opens a pull request from `head` to `base` of `owner/repo`, as every provider does.
    fn open_pull(
        &self,
        (owner, repo): (&str, &str),
        (head, base): (&str, &str),
        (title, body): (&str, &str),
        labels: Vec<String>,
    ) -> Result<PullRequest, NotOpened> {
        let bare = self.bare(owner, repo).ok_or(NotOpened::NoRepository)?;
        let (Some(head_tip), Some(base_tip)) = (branch_tip(&bare, head), branch_tip(&bare, base)) else {
            return Err(NotOpened::NoBranch);
        };
        if head_tip == base_tip {
            return Err(NotOpened::NoChanges);
        }
        let mut hosted = self.state.lock().unwrap();
        if hosted
            .pulls
            .iter()
            .any(|pr| pr.open && pr.owner == owner && pr.repo == repo && pr.head == head && pr.base == base)
        {
            return Err(NotOpened::Exists);
        }
        let pr = PullRequest {
            number: hosted.pulls.len() as u64 + 1,
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            head: head.to_owned(),
            base: base.to_owned(),
            title: title.to_owned(),
            body: body.to_owned(),
            labels,
            open: true,
            merged: false,
            merge_commit: None,
            mergeable: !hosted.new_pulls_unmergeable,
            squashed: false,
        };
        hosted.pulls.push(pr.clone());
        Ok(pr)
    }

    /// Merges pull request `number` of `owner/repo` for real (`squash`: one squashed
    /// commit; else a merge commit), as every provider does.
    fn merge_pull_request(&self, owner: &str, repo: &str, number: u64, squash: bool) -> Result<PullRequest, NotMerged> {
        let bare = self.bare(owner, repo).ok_or(NotMerged::NotFound)?;
        let mut hosted = self.state.lock().unwrap();
        let i = find(&mut hosted, owner, repo, number).ok_or(NotMerged::NotFound)?;
        let pr = hosted.pulls[i].clone();
        if !pr.open {
            return Err(NotMerged::NotOpen);
        }
        if !pr.mergeable {
            return Err(NotMerged::NotMergeable);
        }
        let commit =
            merge_in_repository(&bare, &pr, if squash { "squash" } else { "merge" }).map_err(NotMerged::Conflict)?;
        let pr = &mut hosted.pulls[i];
        pr.open = false;
        pr.merged = true;
        pr.squashed = squash;
        pr.merge_commit = Some(commit.to_string());
        Ok(pr.clone())
    }

    fn bare(&self, owner: &str, repo: &str) -> Option<git2::Repository> {
        let repo = repo.strip_suffix(".git").unwrap_or(repo);
        git2::Repository::open_bare(self.root.join(owner).join(format!("{repo}.git"))).ok()
    }
}

/// Commits `file` with `content` (at the top level) on `reference` of the bare repository.
fn commit_on(bare: &git2::Repository, reference: &str, file: &str, content: &str) -> git2::Oid {
    let tip = bare.find_reference(reference).unwrap().peel_to_commit().unwrap();
    let blob = bare.blob(content.as_bytes()).unwrap();
    let mut tree = bare.treebuilder(Some(&tip.tree().unwrap())).unwrap();
    tree.insert(file, blob, 0o100644).unwrap();
    let tree = bare.find_tree(tree.write().unwrap()).unwrap();
    let signature = git2::Signature::now("Someone Else", "else@example.com").unwrap();
    let message = format!("change {file} meanwhile");
    bare.commit(Some(reference), &signature, &signature, &message, &tree, &[&tip]).unwrap()
}

fn branch_tip(repo: &git2::Repository, branch: &str) -> Option<git2::Oid> {
    repo.find_reference(&format!("refs/heads/{branch}")).ok().and_then(|r| r.target())
}

fn find(hosted: &mut Hosted, owner: &str, repo: &str, number: u64) -> Option<usize> {
    hosted.pulls.iter().position(|pr| pr.owner == owner && pr.repo == repo && pr.number == number)
}

/// Merges `head` into `base` in the bare repository; the new commit of `base`.
fn merge_in_repository(bare: &git2::Repository, pr: &PullRequest, method: &str) -> Result<git2::Oid, String> {
    let base_tip = branch_tip(bare, &pr.base).ok_or("base branch is gone")?;
    let head_tip = branch_tip(bare, &pr.head).ok_or("head branch is gone")?;
    let base = bare.find_commit(base_tip).map_err(|e| e.to_string())?;
    let head = bare.find_commit(head_tip).map_err(|e| e.to_string())?;
    let mut index = bare.merge_commits(&base, &head, None).map_err(|e| e.to_string())?;
    if index.has_conflicts() {
        return Err("Merge conflict".to_owned());
    }
    let tree = bare.find_tree(index.write_tree_to(bare).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let signature = git2::Signature::now("GitHub", "noreply@github.com").map_err(|e| e.to_string())?;
    let (message, parents) = match method {
        "squash" => (format!("{} (#{})", pr.title, pr.number), vec![&base]),
        _ => (
            format!("Merge pull request #{} from {}/{}\n\n{}", pr.number, pr.owner, pr.head, pr.title),
            vec![&base, &head],
        ),
    };
    let merged = bare.commit(None, &signature, &signature, &message, &tree, &parents).map_err(|e| e.to_string())?;
    bare.reference_matching(&format!("refs/heads/{}", pr.base), merged, true, base_tip, "merge pull request")
        .map_err(|e| e.to_string())?;
    Ok(merged)
}

impl GitHosting {
    /// Serves the bare repositories under `root` (`<owner>/<name>.git`) for Git with
    /// `user`/`token` (Basic), and the API for `token` (Bearer).
    pub async fn start(root: &Path, user: &str, token: &str) -> GitHosting {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(Hosted::default()));
        let hosting = Hosting {
            root: root.to_path_buf(),
            base_url: base_url.clone(),
            token: token.to_owned(),
            state: state.clone(),
        };
        let api = axum::Router::new()
            .route("/api/v3/repos/{owner}/{repo}", get(github::repository))
            .route("/api/v3/repos/{owner}/{repo}/pulls", get(github::list_pulls).post(github::create_pull))
            .route("/api/v3/repos/{owner}/{repo}/pulls/{number}", get(github::get_pull).patch(github::update_pull))
            .route("/api/v3/repos/{owner}/{repo}/pulls/{number}/merge", put(github::merge_pull))
            .route("/api/v3/repos/{owner}/{repo}/issues/{number}/labels", post(github::add_labels))
            .route("/api/v3/repos/{owner}/{repo}/git/ref/{*reference}", get(git_data::get_ref))
            .route("/api/v3/repos/{owner}/{repo}/git/refs", post(git_data::create_ref))
            .route(
                "/api/v3/repos/{owner}/{repo}/git/refs/{*reference}",
                axum::routing::patch(git_data::update_ref).delete(git_data::delete_ref),
            )
            .route("/api/v3/repos/{owner}/{repo}/git/commits", post(git_data::create_commit))
            .route("/api/v3/repos/{owner}/{repo}/compare/{basehead}", get(git_data::compare))
            .route("/api/v4/projects/{id}", get(gitlab::project))
            .route("/api/v4/projects/{id}/merge_requests", get(gitlab::list).post(gitlab::create))
            .route("/api/v4/projects/{id}/merge_requests/{iid}", get(gitlab::get_one).put(gitlab::update))
            .route("/api/v4/projects/{id}/merge_requests/{iid}/merge", put(gitlab::merge))
            .route("/api/v1/repos/{owner}/{repo}", get(gitea::repository))
            .route("/api/v1/repos/{owner}/{repo}/labels", get(gitea::labels))
            .route("/api/v1/repos/{owner}/{repo}/pulls", get(gitea::list).post(gitea::create))
            .route("/api/v1/repos/{owner}/{repo}/pulls/{number}", get(gitea::get_one))
            .route("/api/v1/repos/{owner}/{repo}/pulls/{number}/merge", post(gitea::merge))
            .route("/2.0/repositories/{workspace}/{slug}", get(bitbucket::repository))
            .route("/2.0/repositories/{workspace}/{slug}/commit/{hash}", get(bitbucket::commit))
            .route("/2.0/repositories/{workspace}/{slug}/pullrequests", get(bitbucket::list).post(bitbucket::create))
            .route("/2.0/repositories/{workspace}/{slug}/pullrequests/{id}", get(bitbucket::get_one))
            .route("/2.0/repositories/{workspace}/{slug}/pullrequests/{id}/merge", post(bitbucket::merge))
            .route("/{org}/{project}/_apis/git/repositories/{repo}", get(azure::repository))
            .route("/{org}/{project}/_apis/git/repositories/{repo}/pullrequests", get(azure::list).post(azure::create))
            .route(
                "/{org}/{project}/_apis/git/repositories/{repo}/pullrequests/{id}",
                get(azure::get_one).patch(azure::complete),
            )
            .with_state(hosting);
        let app = api.merge(crate::git_http::router(root, user, token));
        tokio::spawn(async move { axum::serve(listener, app).await });
        GitHosting { base_url, token: token.to_owned(), root: root.to_path_buf(), state }
    }

    /// `host:port`, as `LADING_GIT_PROVIDERS` names it.
    pub fn host(&self) -> String {
        self.base_url.trim_start_matches("http://").to_owned()
    }

    /// The clone URL of `owner/name`.
    pub fn repo_url(&self, owner: &str, name: &str) -> String {
        format!("{}/{owner}/{name}.git", self.base_url)
    }

    /// The pull requests, in the order they were opened.
    pub fn pulls(&self) -> Vec<PullRequest> {
        self.state.lock().unwrap().pulls.clone()
    }

    /// The API calls made so far (`METHOD path`).
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    /// Commits made through the API (`POST git/commits`).
    pub fn commits_created(&self) -> usize {
        self.state.lock().unwrap().commits_created
    }

    /// Makes another writer commit `file` with `content` on `branch` right before the
    /// next API update of that branch, which then is not a fast forward.
    pub fn move_branch_before_next_update(&self, branch: &str, file: &str, content: &str) {
        let mut hosted = self.state.lock().unwrap();
        hosted.move_before_update.insert(format!("refs/heads/{branch}"), (file.to_owned(), content.to_owned()));
    }

    /// Rewrites every compare answer with `rewrite` from now on (a GitHub listing other
    /// commits, in another order, or naming ids that are not commit ids).
    pub fn rewrite_compare(&self, rewrite: impl Fn(&mut Value) + Send + Sync + 'static) {
        self.state.lock().unwrap().compare_rewrite = Some(Arc::new(rewrite));
    }

    /// Makes GitLab merges fast-forward the target branch, as a project with GitLab's
    /// "Fast-forward merge" method does: no merge commit.
    pub fn set_gitlab_fast_forward(&self) {
        self.state.lock().unwrap().gitlab_fast_forward = true;
    }

    /// Makes the API refuse the token from now on, as for a token without API access;
    /// Git over HTTP still takes it.
    pub fn revoke_api_token(&self) {
        self.state.lock().unwrap().api_token_revoked = true;
    }

    /// The refs of the bare repository `owner/name` under `prefix` (e.g. `refs/lading/`).
    pub fn refs_under(&self, owner: &str, name: &str, prefix: &str) -> Vec<String> {
        let bare = git2::Repository::open_bare(self.root.join(owner).join(format!("{name}.git"))).unwrap();
        let names = bare.references().unwrap().filter_map(Result::ok);
        names.filter_map(|r| r.name().ok().map(str::to_owned)).filter(|n| n.starts_with(prefix)).collect()
    }

    /// The tree of `branch`'s tip in `owner/name`, and the tree that tip's tree becomes
    /// with `files` (top level) written over it.
    pub fn tree_with(&self, owner: &str, name: &str, base: &str, files: &[(&str, &str)]) -> String {
        let bare = git2::Repository::open_bare(self.root.join(owner).join(format!("{name}.git"))).unwrap();
        let tip = bare.revparse_single(base).unwrap().peel_to_commit().unwrap();
        let mut tree = bare.treebuilder(Some(&tip.tree().unwrap())).unwrap();
        for (file, content) in files {
            tree.insert(file, bare.blob(content.as_bytes()).unwrap(), 0o100644).unwrap();
        }
        tree.write().unwrap().to_string()
    }

    /// The tree of `revision` in `owner/name`.
    pub fn tree_of(&self, owner: &str, name: &str, revision: &str) -> String {
        let bare = git2::Repository::open_bare(self.root.join(owner).join(format!("{name}.git"))).unwrap();
        bare.revparse_single(revision).unwrap().peel_to_tree().unwrap().id().to_string()
    }

    /// Whether pull requests opened from now on are mergeable (`false`: checks pending).
    pub fn set_new_pulls_mergeable(&self, mergeable: bool) {
        self.state.lock().unwrap().new_pulls_unmergeable = !mergeable;
    }

    /// Marks pull request `number` mergeable or not (checks pending).
    pub fn set_mergeable(&self, number: u64, mergeable: bool) {
        let mut hosted = self.state.lock().unwrap();
        if let Some(pr) = hosted.pulls.iter_mut().find(|pr| pr.number == number) {
            pr.mergeable = mergeable;
        }
    }

    /// A client calling the API as a person with the token would.
    pub fn client(&self) -> reqwest::Client {
        crate::sandbox::client_with_token(&self.token)
    }

    /// Merges pull request `number` of `owner/name` through the API; the merge commit.
    pub async fn merge_through_api(&self, owner: &str, name: &str, number: u64) -> String {
        let url = format!("{}/api/v3/repos/{owner}/{name}/pulls/{number}/merge", self.base_url);
        let answer = self.client().put(url).json(&json!({"merge_method": "merge"})).send().await.unwrap();
        assert_eq!(answer.status(), 200, "merging #{number}");
        let body: Value = answer.json().await.unwrap();
        body["sha"].as_str().unwrap().to_owned()
    }

    /// Merges merge request `iid` of `owner/name` through GitLab's API; the merge commit,
    /// `None` when GitLab names none (a fast-forward or squashed merge).
    pub async fn merge_through_gitlab_api(&self, owner: &str, name: &str, iid: u64) -> Option<String> {
        let url = format!("{}/api/v4/projects/{owner}%2F{name}/merge_requests/{iid}/merge", self.base_url);
        let answer = self.gitlab_client().put(url).json(&json!({})).send().await.unwrap();
        assert_eq!(answer.status(), 200, "merging !{iid}");
        let body: Value = answer.json().await.unwrap();
        body["merge_commit_sha"].as_str().map(str::to_owned)
    }

    /// Closes merge request `iid` of `owner/name` unmerged, through GitLab's API.
    pub async fn close_through_gitlab_api(&self, owner: &str, name: &str, iid: u64) {
        let url = format!("{}/api/v4/projects/{owner}%2F{name}/merge_requests/{iid}", self.base_url);
        let answer = self.gitlab_client().put(url).json(&json!({"state_event": "close"})).send().await.unwrap();
        assert_eq!(answer.status(), 200, "closing !{iid}");
    }

    fn gitlab_client(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("private-token", reqwest::header::HeaderValue::from_str(&self.token).unwrap());
        crate::http_client::builder().default_headers(headers).build().unwrap()
    }

    /// Merges pull request `number` of `owner/name` on the host, as a reviewer would in
    /// its web interface; the merge commit.
    pub fn merge_as_reviewer(&self, owner: &str, name: &str, number: u64) -> String {
        let hosting = Hosting {
            root: self.root.clone(),
            base_url: self.base_url.clone(),
            token: self.token.clone(),
            state: self.state.clone(),
        };
        match hosting.merge_pull_request(owner, name, number, false) {
            Ok(pr) => pr.merge_commit.unwrap(),
            Err(_) => panic!("pull request {number} could not be merged"),
        }
    }

    /// Closes pull request `number` unmerged on the host, as a reviewer would.
    pub fn close_as_reviewer(&self, number: u64) {
        let mut hosted = self.state.lock().unwrap();
        let pr = hosted.pulls.iter_mut().find(|pr| pr.number == number).expect("the pull request");
        pr.open = false;
    }

    /// Closes pull request `number` of `owner/name` unmerged, through the API.
    pub async fn close_through_api(&self, owner: &str, name: &str, number: u64) {
        let url = format!("{}/api/v3/repos/{owner}/{name}/pulls/{number}", self.base_url);
        let answer = self.client().patch(url).json(&json!({"state": "closed"})).send().await.unwrap();
        assert_eq!(answer.status(), 200, "closing #{number}");
    }
}
