//! Freight collection: a promotion's steps see the freight being promoted together with
//! what the stage currently holds from its other origins (Kargo's freight collection),
//! so `commitFrom`, `imageFrom` and `kustomize-set-image` find every artifact.

use crate::freight::{Freight, FreightOrigin, GitCommit};

/// `target` with the commits, images and charts of `others` (the stage's current freight
/// from origins other than `target`'s) appended after its own.
pub fn collect<'a>(target: &Freight, others: impl IntoIterator<Item = &'a Freight>) -> Freight {
    let mut collected = target.clone();
    for other in others {
        if other.origin == target.origin {
            continue;
        }
        collected.commits.extend(other.commits.iter().cloned());
        collected.images.extend(other.images.iter().cloned());
        collected.charts.extend(other.charts.iter().cloned());
    }
    collected
}

/// The freight of every origin a promotion sees: `target` first, then the stage's current
/// freight from each other origin.
pub fn by_origin<'a>(target: &Freight, others: impl IntoIterator<Item = &'a Freight>) -> Vec<Freight> {
    let mut all = vec![target.clone()];
    for other in others {
        if all.iter().all(|f| f.origin != other.origin) {
            all.push(other.clone());
        }
    }
    all
}

/// The commit from `repo_url` in the freight of `origins` (Kargo's `FindCommit`, behind
/// `git-clone`'s `checkout[].fromFreight`): from the freight of `origin` when given,
/// otherwise from the one origin whose freight has a commit from that repository.
pub fn commit_from<'a>(
    origins: &'a [Freight],
    repo_url: &str,
    origin: Option<&FreightOrigin>,
) -> Result<&'a GitCommit, String> {
    let commit_in =
        |f: &'a Freight| f.commits.iter().find(|c| crate::freight_functions::same_git_repo(&c.repo_url, repo_url));
    if let Some(origin) = origin {
        let freight = origins
            .iter()
            .find(|f| &f.origin == origin)
            .ok_or_else(|| format!("the promotion has no freight from {} {:?}", origin.kind, origin.name))?;
        return commit_in(freight).ok_or_else(|| {
            format!("the freight from {} {:?} has no commit from {repo_url}", origin.kind, origin.name)
        });
    }
    let mut found = origins.iter().filter_map(|f| Some((f, commit_in(f)?)));
    match (found.next(), found.next()) {
        (Some((_, commit)), None) => Ok(commit),
        (None, _) => Err(format!("the promotion's freight has no commit from {repo_url}")),
        (Some((a, _)), Some((b, _))) => Err(format!(
            "freight from {} {:?} and from {} {:?} both have a commit from {repo_url}; name one with fromOrigin",
            a.origin.kind, a.origin.name, b.origin.kind, b.origin.name
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::freight::{FreightOrigin, GitCommit, Image};

    #[test]
    fn other_origins_add_their_artifacts_after_the_targets() {
        // Given app freight and config freight current in the stage,
        let target = Freight {
            origin: FreightOrigin::warehouse("app"),
            images: vec![Image { repo_url: "app".into(), tag: "2".into(), ..Default::default() }],
            ..Default::default()
        };
        let config = Freight {
            origin: FreightOrigin::warehouse("config"),
            commits: vec![GitCommit { repo_url: "cfg".into(), id: "c".into(), ..Default::default() }],
            ..Default::default()
        };
        let stale_app = Freight {
            origin: FreightOrigin::warehouse("app"),
            images: vec![Image { repo_url: "app".into(), tag: "1".into(), ..Default::default() }],
            ..Default::default()
        };
        // when collected, then config's commit joins and the app's older image does not.
        let collected = collect(&target, [&config, &stale_app]);
        assert_eq!(collected.images.len(), 1);
        assert_eq!(collected.images[0].tag, "2");
        assert_eq!(collected.commits[0].repo_url, "cfg");
        assert_eq!(collected.origin, target.origin);
    }

    #[test]
    fn given_freight_of_two_origins_when_a_commit_is_wanted_then_from_origin_picks_the_warehouse() {
        let repo = "https://git.example.com/app.git";
        let app = Freight::from_warehouse("app").with_commit(repo, "aaa");
        let hotfix = Freight::from_warehouse("hotfix").with_commit("https://git.example.com/app", "bbb");
        let config = Freight::from_warehouse("config").with_commit("https://git.example.com/cfg.git", "ccc");
        let origins = by_origin(&app, [&config, &hotfix, &app]);
        assert_eq!(origins.len(), 3, "the target's origin is not repeated");
        // Named origin: its freight's commit (the URL compared as Git URLs are).
        let from = |name: &str| commit_from(&origins, repo, Some(&FreightOrigin::warehouse(name)));
        assert_eq!(from("hotfix").unwrap().id, "bbb");
        assert_eq!(from("app").unwrap().id, "aaa");
        assert!(from("config").unwrap_err().contains("has no commit from"));
        assert!(from("nowhere").unwrap_err().contains("no freight from Warehouse \"nowhere\""));
        // No origin named: the one origin with such a commit, or an error naming both.
        assert_eq!(commit_from(&origins, "https://git.example.com/cfg.git", None).unwrap().id, "ccc");
        let ambiguous = commit_from(&origins, repo, None).unwrap_err();
        assert!(ambiguous.contains("fromOrigin") && ambiguous.contains("\"hotfix\""), "{ambiguous}");
        assert!(commit_from(&origins, "https://elsewhere/x.git", None).is_err());
    }
}
