//! The same flows against GitLab's merge-request API (`/api/v4`, `PRIVATE-TOKEN`), with
//! the stand-in's host named a GitLab in `LADING_GIT_PROVIDERS`.

use super::*;

fn providers(hosting: &GitHosting) -> BTreeMap<String, String> {
    BTreeMap::from([(hosting.host(), "gitlab".to_owned())])
}

async fn run(hosting: &GitHosting, url: &str, template: String) -> Result<PromotionOutcome, PromotionError> {
    run_with(providers(hosting), url, template).await
}

async fn merge_when_open(hosting: &GitHosting) -> Option<String> {
    hosting.merge_through_gitlab_api("example", "repo", first_opened(hosting).await).await
}

fn open_and_wait(url: &str) -> String {
    format!(
        "{}    title: Deploy to ${{{{ ctx.stage }}}}\n    labels: [\"infra\", \"needs-review\"]\n- uses: git-wait-for-pr\n  as: wait-for-pr\n  config:\n    repoURL: {url}\n    prNumber: ${{{{ outputs['open-pr'].pr.id }}}}\n",
        OPEN_COMMON.replace("__URL__", url)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_request_is_opened_with_labels_and_the_wait_ends_with_the_merge_commit() {
    let (_dir, hosting, repo, url) = hosted().await;
    let promotion = run(&hosting, &url, prepared(&url, &open_and_wait(&url)));
    let (outcome, merged) = tokio::join!(promotion, merge_when_open(&hosting));
    let merged = merged.expect("a merge commit");
    let outcome = outcome.unwrap();
    let mr = &hosting.pulls()[0];
    assert_eq!((mr.head.as_str(), mr.base.as_str()), ("lading/promotion/p", "stage/test"));
    assert_eq!(mr.title, "Deploy to test");
    assert_eq!(mr.labels, ["infra", "needs-review"]);
    assert_eq!(
        outcome.outputs["open-pr"]["pr"]["url"],
        json!(format!("{}/example/repo/-/merge_requests/1", hosting.base_url))
    );
    assert_eq!(outcome.outputs["wait-for-pr"]["commit"], json!(merged));
    assert_eq!(outcome.outputs["wait-for-pr"]["pr"]["merged"], json!(true));
    assert_eq!(outcome.commit, merged);
    assert_eq!(repo.log("stage/test")[0].id, merged);
    assert_eq!(repo.show("stage/test", "app.yaml"), "image: nginx:2.0");
    assert!(
        hosting.calls().iter().all(|c| c.contains("/projects/example%2Frepo") || c.contains("/projects/example/repo"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_merge_request_for_the_same_branches_is_taken_and_the_default_branch_is_the_target() {
    let (_dir, hosting, _repo, url) = hosted().await;
    run(&hosting, &url, prepared(&url, &OPEN_COMMON.replace("__URL__", &url))).await.unwrap();
    let again = format!(
        "steps:\n- uses: git-open-pr\n  as: open-pr\n  config:\n    repoURL: {url}\n    sourceBranch: lading/promotion/p\n    targetBranch: stage/test\n"
    );
    let outcome = run(&hosting, &url, again).await.unwrap();
    assert_eq!(outcome.outputs["open-pr"]["pr"]["id"], json!(1));
    assert_eq!(hosting.pulls().len(), 1, "no second merge request");
    // Without targetBranch, the project's default branch.
    let default = format!(
        "steps:\n- uses: git-open-pr\n  as: open-pr\n  config:\n    repoURL: {url}\n    sourceBranch: lading/promotion/p\n"
    );
    let outcome = run(&hosting, &url, default).await.unwrap();
    assert_eq!(outcome.outputs["open-pr"]["pr"]["id"], json!(2));
    assert_eq!(hosting.pulls()[1].base, "main");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_merge_request_fails_the_wait() {
    let (_dir, hosting, _repo, url) = hosted().await;
    let promotion = run(&hosting, &url, prepared(&url, &open_and_wait(&url)));
    let close = async {
        wait::until("a merge request", TIMEOUT, || async {
            if hosting.pulls().is_empty() { Err("none".to_owned()) } else { Ok(()) }
        })
        .await;
        hosting.close_through_gitlab_api("example", "repo", 1).await;
    };
    let (outcome, ()) = tokio::join!(promotion, close);
    let error = outcome.unwrap_err().to_string();
    assert!(error.contains("pull request #1") && error.contains("was closed without being merged"), "{error}");
    // Merging it fails too.
    let merge = format!("steps:\n- uses: git-merge-pr\n  config:\n    repoURL: {url}\n    prNumber: 1\n");
    let error = run(&hosting, &url, merge).await.unwrap_err().to_string();
    assert!(error.contains("merge request !1 was closed without being merged"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_merge_pr_merges_waits_for_mergeable_and_squashes() {
    let merge = |url: &str, extra: &str| {
        format!("steps:\n- uses: git-merge-pr\n  config:\n    repoURL: {url}\n    prNumber: 1\n{extra}")
    };
    // Merged at once: a merge commit.
    let (_dir, hosting, repo, url) = hosted().await;
    run(&hosting, &url, prepared(&url, &OPEN_COMMON.replace("__URL__", &url))).await.unwrap();
    let outcome = run(&hosting, &url, merge(&url, "")).await.unwrap();
    assert_eq!(outcome.commit, repo.log("stage/test")[0].id);
    assert_eq!(repo.parent_count(&outcome.commit), 2, "a merge commit");

    // Checks pending: fails without wait, merges once they pass with it.
    let (_dir, hosting, repo, url) = hosted().await;
    run(&hosting, &url, prepared(&url, &OPEN_COMMON.replace("__URL__", &url))).await.unwrap();
    hosting.set_mergeable(1, false);
    let error = run(&hosting, &url, merge(&url, "")).await.unwrap_err().to_string();
    assert!(error.contains("pull request #1 cannot be merged: status 405: 405 Method Not Allowed"), "{error}");
    let promotion = run(&hosting, &url, merge(&url, "    wait: true\n"));
    let checks_pass = async {
        wait::until("the merge step to try twice", TIMEOUT, || async {
            let tried = hosting.calls().iter().filter(|c| c.ends_with("/merge_requests/1/merge")).count();
            if tried >= 3 { Ok(()) } else { Err(format!("tried {tried} times")) }
        })
        .await;
        hosting.set_mergeable(1, true);
    };
    let (outcome, ()) = tokio::join!(promotion, checks_pass);
    assert_eq!(outcome.unwrap().commit, repo.log("stage/test")[0].id);

    // Squash: one commit with one parent, which GitLab names squash_commit_sha.
    let (_dir, hosting, repo, url) = hosted().await;
    run(&hosting, &url, prepared(&url, &OPEN_COMMON.replace("__URL__", &url))).await.unwrap();
    let outcome = run(&hosting, &url, merge(&url, "    mergeMethod: squash\n")).await.unwrap();
    let head = &repo.log("stage/test")[0];
    assert_eq!((outcome.commit.as_str(), repo.parent_count(&head.id)), (head.id.as_str(), 1));
    assert_eq!(repo.show("stage/test", "app.yaml"), "image: nginx:2.0");
    let error = run(&hosting, &url, merge(&url, "    mergeMethod: rebase\n")).await.unwrap_err().to_string();
    assert!(error.contains("config.mergeMethod: \"rebase\" is not one of GitLab's: merge, squash"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_fast_forward_project_the_merged_commit_is_the_source_head() {
    // GitLab leaves merge_commit_sha null when it fast-forwards: the commit is `sha`.
    let (_dir, hosting, repo, url) = hosted().await;
    hosting.set_gitlab_fast_forward();
    let promotion = run(&hosting, &url, prepared(&url, &open_and_wait(&url)));
    let (outcome, _) = tokio::join!(promotion, async {
        wait::until("a merge request to be opened", TIMEOUT, || async {
            if hosting.pulls().is_empty() { Err("none yet".to_owned()) } else { Ok(()) }
        })
        .await;
        let url = format!("{}/api/v4/projects/example%2Frepo/merge_requests/1/merge", hosting.base_url);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("private-token", reqwest::header::HeaderValue::from_static(TOKEN));
        let client = lading_tests::http_client::builder().default_headers(headers).build().unwrap();
        let answer = client.put(url).json(&json!({})).send().await.unwrap();
        assert_eq!(answer.status(), 200);
    });
    let outcome = outcome.unwrap();
    let tip = repo.log("stage/test")[0].id.clone();
    assert_eq!(tip, repo.log("lading/promotion/p")[0].id, "fast-forwarded");
    assert_eq!(outcome.outputs["wait-for-pr"]["commit"], json!(tip));
    assert_eq!(outcome.commit, tip);

    // git-merge-pr in such a project.
    let (_dir, hosting, repo, url) = hosted().await;
    hosting.set_gitlab_fast_forward();
    run(&hosting, &url, prepared(&url, &OPEN_COMMON.replace("__URL__", &url))).await.unwrap();
    let merge = format!("steps:\n- uses: git-merge-pr\n  config:\n    repoURL: {url}\n    prNumber: 1\n");
    let outcome = run(&hosting, &url, merge).await.unwrap();
    assert_eq!(outcome.commit, repo.log("stage/test")[0].id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_gitlab_refuses_fails_the_step_without_showing_it() {
    let (_dir, hosting, _repo, url) = hosted().await;
    hosting.revoke_api_token();
    let template = format!("steps:\n- uses: git-merge-pr\n  config:\n    repoURL: {url}\n    prNumber: 1\n");
    let error = run(&hosting, &url, template).await.unwrap_err().to_string();
    assert!(error.contains("status 401: 401 Unauthorized"), "{error}");
    assert!(!error.contains(TOKEN), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_redirect_to_another_host_is_not_followed_with_the_token() {
    // An API that answers every call with a redirect to another server, which records
    // the PRIVATE-TOKEN headers it gets.
    let seen: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let recorded = seen.clone();
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_base = format!("http://{}", other.local_addr().unwrap());
    let recorder = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let recorded = recorded.clone();
        async move {
            let token = headers.get("private-token").and_then(|v| v.to_str().ok()).unwrap_or("none").to_owned();
            recorded.lock().unwrap().push(token);
            axum::Json(json!({}))
        }
    });
    tokio::spawn(async move { axum::serve(other, recorder).await });
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = api.local_addr().unwrap().to_string();
    let redirect = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let to = format!("{other_base}{uri}");
        async move { (axum::http::StatusCode::FOUND, [("location", to)]) }
    });
    tokio::spawn(async move { axum::serve(api, redirect).await });

    let url = format!("http://{host}/example/repo.git");
    let providers = BTreeMap::from([(host.clone(), "gitlab".to_owned())]);
    let template = format!("steps:\n- uses: git-merge-pr\n  config:\n    repoURL: {url}\n    prNumber: 1\n");
    let credentials = credentials(&url);
    let result = tokio::task::spawn_blocking(move || {
        let (vars, steps) = apply(&template);
        let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        let workspace = tempfile::tempdir().unwrap();
        EngineRun { vars: &vars, credentials, git_providers: providers, budgets: budgets(), ..EngineRun::new(&freight) }
            .run(workspace.path(), &steps)
    })
    .await
    .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.iter().any(|token| token == TOKEN), "the token reached another host: {seen:?}");
    let error = result.map(|_| ()).unwrap_err().to_string();
    assert!(error.contains("status 302"), "{error}");
}
