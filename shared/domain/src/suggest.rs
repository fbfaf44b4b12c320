//! "Did you mean …?": the closest known name to one a person typed, when it is close.

/// The candidate nearest `typed` by edit distance (a swap of two letters counts once), when it is at most a third of the
/// typed length away (and not `typed` itself).
pub fn closest<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (typed.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != typed)
        .map(|c| (strsim::osa_distance(typed, c), c))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, c)| c)
}

/// ` (did you mean "uat"?)`, or nothing when no name is close.
pub fn did_you_mean<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(typed, candidates).map(|c| format!(" (did you mean {c:?}?)")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_gets_the_close_name_and_a_stranger_nothing() {
        let stages = ["test", "uat", "prod"];
        assert_eq!(closest("uta", stages), Some("uat"));
        assert_eq!(closest("prdo", stages), Some("prod"));
        assert_eq!(closest("staging", stages), None);
        assert_eq!(did_you_mean("tset", stages), " (did you mean \"test\"?)");
        assert_eq!(did_you_mean("zzz", stages), "");
    }
}
