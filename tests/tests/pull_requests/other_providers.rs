//! The same flows against the stand-in's Gitea (`/api/v1`, `Authorization: token`),
//! Bitbucket Cloud (`/2.0`, `Bearer`) and Azure DevOps (`…/_apis/git`, `Basic` with a
//! personal access token) APIs, with the stand-in's host named that provider in
//! `LADING_GIT_PROVIDERS`.

use super::*;

/// A provider as the tests drive it.
#[derive(Clone, Copy, Debug)]
enum Provider {
    Gitea,
    Bitbucket,
    Azure,
}

const PROVIDERS: [Provider; 3] = [Provider::Gitea, Provider::Bitbucket, Provider::Azure];

impl Provider {
    fn name(self) -> &'static str {
        match self {
            Provider::Gitea => "gitea",
            Provider::Bitbucket => "bitbucket",
            Provider::Azure => "azure",
        }
    }

    /// The repository URL the pull-request steps name: the clone URL, or Azure DevOps'
    /// form of it (organization `example`, project `ops`).
    fn repo_url(self, hosting: &GitHosting, clone_url: &str) -> String {
        match self {
            Provider::Azure => format!("{}/example/ops/_git/repo", hosting.base_url),
            _ => clone_url.to_owned(),
        }
    }

    /// The web page of pull request 1.
    fn pr_page(self, hosting: &GitHosting) -> String {
        match self {
            Provider::Gitea => format!("{}/example/repo/pulls/1", hosting.base_url),
            Provider::Bitbucket => format!("{}/example/repo/pull-requests/1", hosting.base_url),
            Provider::Azure => format!("{}/example/ops/_git/repo/pullrequest/1", hosting.base_url),
        }
    }

    /// The labels a pull request opened with `infra` and `needs-review` has (Bitbucket's
    /// have none).
    fn labels(self) -> Vec<String> {
        match self {
            Provider::Bitbucket => Vec::new(),
            _ => vec!["infra".to_owned(), "needs-review".to_owned()],
        }
    }
}

async fn run_as(
    provider: Provider,
    hosting: &GitHosting,
    url: &str,
    template: String,
) -> Result<PromotionOutcome, PromotionError> {
    run_with(BTreeMap::from([(hosting.host(), provider.name().to_owned())]), url, template).await
}

/// Pushes the promotion's branch and opens a pull request of it to `stage/test`, titled
/// and labelled, then waits for it.
fn open_and_wait(pr_url: &str, clone_url: &str) -> String {
    let open = OPEN_COMMON.replace("__URL__", pr_url);
    prepared(
        clone_url,
        &format!(
            "{open}    title: Deploy to ${{{{ ctx.stage }}}}\n    labels: [\"infra\", \"needs-review\"]\n- uses: git-wait-for-pr\n  as: wait-for-pr\n  config:\n    repoURL: {pr_url}\n    prNumber: ${{{{ outputs['open-pr'].pr.id }}}}\n"
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_provider_opens_a_pull_request_and_the_wait_ends_with_the_merge_commit_a_reviewer_made() {
    for provider in PROVIDERS {
        let (_dir, hosting, repo, url) = hosted().await;
        let pr_url = provider.repo_url(&hosting, &url);
        let promotion = run_as(provider, &hosting, &url, open_and_wait(&pr_url, &url));
        let review = async { hosting.merge_as_reviewer("example", "repo", first_opened(&hosting).await) };
        let (outcome, merged) = tokio::join!(promotion, review);
        let outcome = outcome.unwrap_or_else(|e| panic!("{provider:?}: {e}"));
        let pr = &hosting.pulls()[0];
        assert_eq!((pr.head.as_str(), pr.base.as_str()), ("lading/promotion/p", "stage/test"), "{provider:?}");
        assert_eq!(pr.title, "Deploy to test", "{provider:?}");
        assert_eq!(pr.labels, provider.labels(), "{provider:?}");
        assert_eq!(outcome.outputs["open-pr"]["pr"]["id"], json!(1), "{provider:?}");
        assert_eq!(outcome.outputs["open-pr"]["pr"]["url"], json!(provider.pr_page(&hosting)), "{provider:?}");
        assert_eq!(outcome.outputs["wait-for-pr"]["commit"], json!(merged), "{provider:?}");
        assert_eq!(outcome.outputs["wait-for-pr"]["pr"]["merged"], json!(true), "{provider:?}");
        assert_eq!(outcome.commit, merged, "{provider:?}");
        assert_eq!(repo.log("stage/test")[0].id, merged, "{provider:?}");

        // Opened again (a resumed promotion): the open one is taken; without a target
        // branch, the repository's default branch.
        let again = format!(
            "steps:\n- uses: git-open-pr\n  as: open-pr\n  config:\n    repoURL: {pr_url}\n    sourceBranch: lading/promotion/p\n"
        );
        let outcome = run_as(provider, &hosting, &url, again.clone()).await.unwrap();
        assert_eq!(outcome.outputs["open-pr"]["pr"]["id"], json!(2), "{provider:?}");
        assert_eq!(hosting.pulls()[1].base, "main", "{provider:?}");
        let outcome = run_as(provider, &hosting, &url, again).await.unwrap();
        assert_eq!(outcome.outputs["open-pr"]["pr"]["id"], json!(2), "{provider:?}");
        assert_eq!(hosting.pulls().len(), 2, "{provider:?}: no third pull request");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_provider_merges_once_checks_pass_and_a_closed_pull_request_fails_the_wait() {
    for provider in PROVIDERS {
        let (_dir, hosting, repo, url) = hosted().await;
        let pr_url = provider.repo_url(&hosting, &url);
        run_as(provider, &hosting, &url, prepared(&url, &OPEN_COMMON.replace("__URL__", &pr_url))).await.unwrap();
        let merge = |extra: &str| {
            format!("steps:\n- uses: git-merge-pr\n  config:\n    repoURL: {pr_url}\n    prNumber: 1\n{extra}")
        };
        // Checks pending: fails without wait, merges once they pass with it.
        hosting.set_mergeable(1, false);
        let error = run_as(provider, &hosting, &url, merge("")).await.unwrap_err().to_string();
        assert!(error.contains("pull request #1 cannot be merged"), "{provider:?}: {error}");
        let promotion = run_as(provider, &hosting, &url, merge("    wait: true\n"));
        let checks_pass = async {
            wait::until("the merge step to look three times", TIMEOUT, || async {
                let looked = hosting.calls().iter().filter(|c| c.ends_with("/1") || c.ends_with("/1/merge")).count();
                if looked >= 4 { Ok(()) } else { Err(format!("looked {looked} times")) }
            })
            .await;
            hosting.set_mergeable(1, true);
        };
        let (outcome, ()) = tokio::join!(promotion, checks_pass);
        let outcome = outcome.unwrap_or_else(|e| panic!("{provider:?}: {e}"));
        let tip = repo.log("stage/test")[0].id.clone();
        assert_eq!(outcome.commit, tip, "{provider:?}");
        assert_eq!(repo.parent_count(&tip), 2, "{provider:?}: a merge commit");
        assert_eq!(repo.show("stage/test", "app.yaml"), "image: nginx:2.0", "{provider:?}");
        // Merged already: merging again answers the same commit.
        assert_eq!(run_as(provider, &hosting, &url, merge("")).await.unwrap().commit, tip, "{provider:?}");
        let error =
            run_as(provider, &hosting, &url, merge("    mergeMethod: octopus\n")).await.unwrap_err().to_string();
        assert!(error.contains("config.mergeMethod: \"octopus\" is not one of"), "{provider:?}: {error}");

        // A pull request closed unmerged fails the wait.
        let (_dir, hosting, _repo, url) = hosted().await;
        let pr_url = provider.repo_url(&hosting, &url);
        let promotion = run_as(provider, &hosting, &url, open_and_wait(&pr_url, &url));
        let close = async { hosting.close_as_reviewer(first_opened(&hosting).await) };
        let (outcome, ()) = tokio::join!(promotion, close);
        let error = outcome.unwrap_err().to_string();
        assert!(
            error.contains("pull request #1") && error.contains("closed without being merged"),
            "{provider:?}: {error}"
        );

        // A token the provider refuses fails the step without showing it.
        hosting.revoke_api_token();
        let error = run_as(
            provider,
            &hosting,
            &url,
            format!("steps:\n- uses: git-merge-pr\n  config:\n    repoURL: {pr_url}\n    prNumber: 1\n"),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(error.contains("status 401"), "{provider:?}: {error}");
        assert!(!error.contains(TOKEN), "{provider:?}: {error}");
    }
}
