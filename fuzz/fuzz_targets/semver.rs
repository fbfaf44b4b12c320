//! Semver constraints and tags: the first line is a constraint (also tried as a tag
//! regex and a path pattern), the other lines are tags as a registry or a Git server
//! lists them. The newest versions chosen hold to the constraint, highest first, within
//! the limit. Nothing may panic.

#![no_main]

use lading_domain::promotion_functions::semver_diff;
use lading_domain::selection::{PathFilter, SemverConstraint, TagFilter, newest_lexical, newest_semver, parse_version};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 5;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let tags: Vec<&str> = rest.lines().collect();

    let constraint = SemverConstraint::parse(first).ok();
    for strict in [true, false] {
        let newest = newest_semver(tags.iter().copied(), constraint.as_ref(), strict, LIMIT);
        assert!(newest.len() <= LIMIT);
        for (tag, version) in &newest {
            assert_eq!(parse_version(tag, strict).as_ref(), Some(version));
            assert!(constraint.as_ref().is_none_or(|c| c.matches(version)), "{tag} is outside {first:?}");
        }
        assert!(newest.windows(2).all(|w| w[0].1 >= w[1].1), "not highest first: {newest:?}");
    }
    let lexical = newest_lexical(tags.iter().copied(), LIMIT);
    assert!(lexical.windows(2).all(|w| w[0] >= w[1]));
    if let [a, b, ..] = tags.as_slice() {
        let _ = semver_diff(a, b);
    }

    let patterns = vec![first.to_owned()];
    if let Ok(filter) = TagFilter::new(&patterns, &[]) {
        let _ = tags.iter().filter(|t| filter.allows(t)).count();
    }
    if let Ok(filter) = PathFilter::new(&patterns, &patterns) {
        assert!(!filter.matches(tags.iter().copied()), "an excluded path counts");
    }
});
