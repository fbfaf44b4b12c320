//! Which warehouses a push refreshes: those with a subscription to a repository the push
//! names, whose selection the push could change (Kargo's rule). A Git subscription
//! following a branch is refreshed by a push to that branch (without `branch`, to `main`
//! or `master`: the default branch is not known here); one selecting tags, by a pushed
//! tag its filters and constraint allow; and, when the push lists the paths it changed,
//! only if one passes its `includePaths`/`excludePaths`. An image subscription is
//! refreshed by a tag it could select (a `Digest` subscription: its tag), a chart
//! subscription by a version within its constraint. A push that names no ref, tag or
//! version refreshes every subscriber of the repository.

use std::collections::BTreeMap;

use super::push::{Push, Repository, chart_key, git_key, image_key};
use crate::selection::{PathFilter, SemverConstraint, TagFilter, parse_version};
use crate::spec::{
    ChartSubscription, CommitSelectionStrategy, GitSubscription, ImageSelectionStrategy, ImageSubscription,
    WarehouseSpec,
};

/// A warehouse as selection sees it.
#[derive(Debug, Clone, Copy)]
pub struct WarehouseRef<'a> {
    pub name: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub spec: &'a WarehouseSpec,
}

/// The names of the warehouses `push` refreshes, sorted, each once.
pub fn warehouses_to_refresh<'a>(push: &Push, warehouses: impl IntoIterator<Item = WarehouseRef<'a>>) -> Vec<String> {
    let qualifiers: Vec<&str> = push.qualifiers.iter().map(String::as_str).filter(|q| !q.is_empty()).collect();
    let mut selected: Vec<String> = warehouses
        .into_iter()
        .filter(|warehouse| {
            warehouse.spec.subscriptions.iter().any(|subscription| {
                if let Some(git) = &subscription.git {
                    push.repositories.contains(&Repository::Git(git_key(&git.repo_url)))
                        && git_push_concerns(git, &qualifiers, push.changed_paths.as_deref())
                } else if let Some(image) = &subscription.image {
                    push.repositories.contains(&Repository::Image(image_key(&image.repo_url)))
                        && (qualifiers.is_empty() || qualifiers.iter().any(|tag| image_tag_concerns(image, tag)))
                } else if let Some(chart) = &subscription.chart {
                    push.repositories.contains(&Repository::Chart(chart_key(&chart.repo_url)))
                        && (qualifiers.is_empty() || qualifiers.iter().any(|v| chart_version_concerns(chart, v)))
                } else {
                    false
                }
            })
        })
        .map(|warehouse| warehouse.name.to_owned())
        .collect();
    selected.sort();
    selected.dedup();
    selected
}

/// The normalized repository URLs a warehouse subscribes to (Kargo's `subscribedURLs`
/// index).
pub fn subscribed_urls(spec: &WarehouseSpec) -> Vec<String> {
    spec.subscriptions
        .iter()
        .filter_map(|s| {
            s.git
                .as_ref()
                .map(|g| git_key(&g.repo_url))
                .or_else(|| s.image.as_ref().map(|i| image_key(&i.repo_url)))
                .or_else(|| s.chart.as_ref().map(|c| chart_key(&c.repo_url)))
        })
        .collect()
}

fn git_push_concerns(git: &GitSubscription, refs: &[&str], changed_paths: Option<&[String]>) -> bool {
    if !refs.is_empty() && !refs.iter().any(|r| git_ref_concerns(git, r)) {
        return false;
    }
    match changed_paths {
        Some(paths) if !paths.is_empty() => match PathFilter::new(&git.include_paths, &git.exclude_paths) {
            Ok(filter) => filter.is_empty() || filter.matches(paths.iter().map(String::as_str)),
            // A filter that does not parse was refused at apply; refreshing is harmless.
            Err(_) => true,
        },
        _ => true,
    }
}

fn git_ref_concerns(git: &GitSubscription, reference: &str) -> bool {
    match git.commit_selection_strategy {
        CommitSelectionStrategy::NewestFromBranch => {
            let Some(branch) = reference.strip_prefix("refs/heads/") else { return false };
            if git.branch.is_empty() { branch == "main" || branch == "master" } else { branch == git.branch }
        }
        strategy => {
            let Some(tag) = reference.strip_prefix("refs/tags/") else { return false };
            let allowed =
                TagFilter::new(&git.allow_tags_regexes, &git.ignore_tags_regexes).is_ok_and(|f| f.allows(tag));
            allowed
                && (strategy != CommitSelectionStrategy::SemVer
                    || within(tag, git.strict_semvers, &git.semver_constraint))
        }
    }
}

fn image_tag_concerns(image: &ImageSubscription, tag: &str) -> bool {
    let allowed = || TagFilter::new(&image.allow_tags_regexes, &image.ignore_tags_regexes).is_ok_and(|f| f.allows(tag));
    match image.image_selection_strategy {
        ImageSelectionStrategy::Digest => image.constraint == tag,
        ImageSelectionStrategy::SemVer => allowed() && within(tag, image.strict_semvers, &image.constraint),
        ImageSelectionStrategy::Lexical | ImageSelectionStrategy::NewestBuild => allowed(),
    }
}

fn chart_version_concerns(chart: &ChartSubscription, version: &str) -> bool {
    within(version, false, &chart.semver_constraint)
}

/// Whether `tag` is a version within `constraint` (any version, when it is empty).
fn within(tag: &str, strict: bool, constraint: &str) -> bool {
    let Some(version) = parse_version(tag, strict) else { return false };
    constraint.is_empty() || SemverConstraint::parse(constraint).is_ok_and(|c| c.matches(&version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Subscription;

    fn git(url: &str) -> GitSubscription {
        GitSubscription { repo_url: url.to_owned(), ..GitSubscription::default() }
    }

    fn warehouse(subscriptions: Vec<Subscription>) -> WarehouseSpec {
        WarehouseSpec { subscriptions, ..WarehouseSpec::default() }
    }

    fn of_git(g: GitSubscription) -> Subscription {
        Subscription { git: Some(g), ..Subscription::default() }
    }

    fn of_image(i: ImageSubscription) -> Subscription {
        Subscription { image: Some(i), ..Subscription::default() }
    }

    fn of_chart(url: &str, constraint: &str) -> Subscription {
        let chart = ChartSubscription {
            repo_url: url.to_owned(),
            semver_constraint: constraint.to_owned(),
            ..Default::default()
        };
        Subscription { chart: Some(chart), ..Subscription::default() }
    }

    fn select(push: &Push, warehouses: &[(&str, WarehouseSpec)]) -> Vec<String> {
        let no_labels = BTreeMap::new();
        warehouses_to_refresh(
            push,
            warehouses.iter().map(|(name, spec)| WarehouseRef { name, labels: &no_labels, spec }),
        )
    }

    fn git_push(urls: &[&str], reference: &str) -> Push {
        Push {
            repositories: urls.iter().map(|u| Repository::git(u)).collect(),
            qualifiers: vec![reference.to_owned()],
            changed_paths: None,
        }
    }

    #[test]
    fn a_git_push_refreshes_only_subscribers_of_that_repository() {
        // Given warehouses on repositories a and b, spelled differently from the push,
        let warehouses = [
            ("a", warehouse(vec![of_git(git("https://github.com/Org/A"))])),
            ("b", warehouse(vec![of_git(git("https://github.com/org/b.git"))])),
            ("a-too", warehouse(vec![of_git(git("git@github.com:org/a.git"))])),
        ];
        // when a is pushed to (the payload names its HTTPS and SSH URLs),
        let push = git_push(&["https://github.com/org/a.git", "git@github.com:org/a.git"], "refs/heads/main");
        // then a's subscribers are refreshed, and b's are not.
        assert_eq!(select(&push, &warehouses), vec!["a", "a-too"]);
    }

    #[test]
    fn a_branch_push_refreshes_subscriptions_following_that_branch() {
        let on = |branch: &str| GitSubscription { branch: branch.to_owned(), ..git("https://h/app.git") };
        let warehouses = [
            ("default", warehouse(vec![of_git(on(""))])),
            ("main", warehouse(vec![of_git(on("main"))])),
            ("release", warehouse(vec![of_git(on("release"))])),
        ];
        assert_eq!(select(&git_push(&["https://h/app"], "refs/heads/main"), &warehouses), vec!["default", "main"]);
        assert_eq!(select(&git_push(&["https://h/app"], "refs/heads/release"), &warehouses), vec!["release"]);
        assert_eq!(select(&git_push(&["https://h/app"], "refs/heads/master"), &warehouses), vec!["default"]);
        assert!(select(&git_push(&["https://h/app"], "refs/tags/v1.0.0"), &warehouses).is_empty());
    }

    #[test]
    fn a_tag_push_refreshes_tag_subscriptions_that_could_select_it() {
        let semver = GitSubscription {
            commit_selection_strategy: CommitSelectionStrategy::SemVer,
            semver_constraint: "^1".into(),
            ..git("https://h/app")
        };
        let lexical = GitSubscription {
            commit_selection_strategy: CommitSelectionStrategy::Lexical,
            ignore_tags_regexes: vec!["^nightly".into()],
            ..git("https://h/app")
        };
        let warehouses = [("semver", warehouse(vec![of_git(semver)])), ("lexical", warehouse(vec![of_git(lexical)]))];
        assert_eq!(select(&git_push(&["https://h/app"], "refs/tags/v1.4.0"), &warehouses), vec!["lexical", "semver"]);
        assert_eq!(select(&git_push(&["https://h/app"], "refs/tags/v2.0.0"), &warehouses), vec!["lexical"]);
        assert!(select(&git_push(&["https://h/app"], "refs/tags/nightly-7"), &warehouses).is_empty());
    }

    #[test]
    fn path_filters_apply_when_the_push_lists_every_changed_path() {
        let docs_only = GitSubscription { include_paths: vec!["docs/".into()], ..git("https://h/app") };
        let warehouses =
            [("docs", warehouse(vec![of_git(docs_only)])), ("all", warehouse(vec![of_git(git("https://h/app"))]))];
        let mut push = git_push(&["https://h/app"], "refs/heads/main");
        push.changed_paths = Some(vec!["src/main.rs".into()]);
        assert_eq!(select(&push, &warehouses), vec!["all"]);
        push.changed_paths = Some(vec!["src/main.rs".into(), "docs/index.md".into()]);
        assert_eq!(select(&push, &warehouses), vec!["all", "docs"]);
        push.changed_paths = None;
        assert_eq!(select(&push, &warehouses), vec!["all", "docs"]);
    }

    #[test]
    fn an_image_push_refreshes_subscriptions_that_could_select_its_tag() {
        let image = |strategy, constraint: &str| ImageSubscription {
            repo_url: "docker.io/library/nginx".into(),
            image_selection_strategy: strategy,
            constraint: constraint.into(),
            ..ImageSubscription::default()
        };
        let warehouses = [
            ("semver", warehouse(vec![of_image(image(ImageSelectionStrategy::SemVer, "^1.27"))])),
            ("digest", warehouse(vec![of_image(image(ImageSelectionStrategy::Digest, "stable"))])),
            (
                "other",
                warehouse(vec![of_image(ImageSubscription {
                    repo_url: "nginx-other".into(),
                    ..image(ImageSelectionStrategy::Lexical, "")
                })]),
            ),
        ];
        let push = |tag: &str| Push {
            repositories: vec![Repository::image("nginx")],
            qualifiers: vec![tag.into()],
            changed_paths: None,
        };
        assert_eq!(select(&push("1.27.3"), &warehouses), vec!["semver"]);
        assert_eq!(select(&push("stable"), &warehouses), vec!["digest"]);
        assert!(select(&push("2.0.0"), &warehouses).is_empty());
        // No tag named: every subscriber of the repository.
        assert_eq!(select(&push(""), &warehouses), vec!["digest", "semver"]);
    }

    #[test]
    fn an_oci_push_refreshes_chart_subscriptions_within_their_constraint() {
        let warehouses = [("chart", warehouse(vec![of_chart("oci://ghcr.io/org/charts/app", ">=1.0 <2.0")]))];
        let push = |version: &str| Push {
            repositories: vec![
                Repository::image("ghcr.io/org/charts/app"),
                Repository::chart("ghcr.io/org/charts/app"),
            ],
            qualifiers: vec![version.into()],
            changed_paths: None,
        };
        assert_eq!(select(&push("1.2.0"), &warehouses), vec!["chart"]);
        assert!(select(&push("2.1.0"), &warehouses).is_empty());
    }

    #[test]
    fn subscribed_urls_are_normalized_like_pushes() {
        let spec = warehouse(vec![
            of_git(git("https://GitHub.com/org/app.git")),
            of_image(ImageSubscription { repo_url: "docker.io/library/nginx".into(), ..Default::default() }),
            of_chart("oci://ghcr.io/org/charts/app", ""),
        ]);
        assert_eq!(subscribed_urls(&spec), vec!["https://github.com/org/app", "nginx", "ghcr.io/org/charts/app"]);
    }
}
