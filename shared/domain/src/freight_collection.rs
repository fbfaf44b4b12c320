//! Freight collection: a promotion's steps see the freight being promoted together with
//! what the stage currently holds from its other origins (Kargo's freight collection),
//! so `commitFrom`, `imageFrom` and `kustomize-set-image` find every artifact.

use crate::freight::Freight;

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
}
