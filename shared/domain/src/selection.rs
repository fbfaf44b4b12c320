//! Choosing among discovered revisions: semantic versions and constraints (the syntax
//! Kargo's users write: `^1.2`, `>=1.0 <2.0`, `~1.4 || ^2`, `1.2.0 - 1.4.0`, `!=1.3.0`), tag
//! allow/ignore regexes, path filters, and the SemVer and Lexical orders.

use std::cmp::Reverse;

use globset::{GlobBuilder, GlobMatcher};
use regex::Regex;
use semver::{Version, VersionReq};

/// Reads a tag as a semantic version. Strict: `MAJOR.MINOR.PATCH` with optional
/// pre-release and build (and an optional leading `v`); otherwise `1` and `1.2` count as
/// `1.0.0` and `1.2.0` too.
pub fn parse_version(tag: &str, strict: bool) -> Option<Version> {
    let text = tag.strip_prefix('v').unwrap_or(tag);
    if let Ok(version) = Version::parse(text) {
        return Some(version);
    }
    if strict {
        return None;
    }
    let end = text.find(['-', '+']).unwrap_or(text.len());
    let (core, rest) = text.split_at(end);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty()
        || parts.len() > 2
        || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let padded = match parts.len() {
        1 => format!("{}.0.0{rest}", parts[0]),
        _ => format!("{}.{}.0{rest}", parts[0], parts[1]),
    };
    Version::parse(&padded).ok()
}

/// A semver constraint: alternatives joined by `||`, each a set of comparators that must
/// all hold (separated by commas or spaces), plus `!=` exclusions.
#[derive(Debug, Clone)]
pub struct SemverConstraint {
    alternatives: Vec<(VersionReq, Vec<Version>)>,
}

impl SemverConstraint {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut alternatives = Vec::new();
        for alternative in text.split("||") {
            alternatives.push(parse_alternative(alternative.trim()).map_err(|e| format!("{text:?}: {e}"))?);
        }
        Ok(Self { alternatives })
    }

    pub fn matches(&self, version: &Version) -> bool {
        self.alternatives.iter().any(|(req, excluded)| req.matches(version) && !excluded.contains(version))
    }
}

fn parse_alternative(text: &str) -> Result<(VersionReq, Vec<Version>), String> {
    if text.is_empty() {
        return Err("an empty alternative".to_owned());
    }
    // A hyphen range `1.2 - 1.4` is `>=1.2, <=1.4`.
    if let Some((low, high)) = text.split_once(" - ") {
        let req = VersionReq::parse(&format!(">={}, <={}", low.trim(), high.trim())).map_err(|e| e.to_string())?;
        return Ok((req, Vec::new()));
    }
    // Tokens, with an operator separated from its version by spaces joined back on.
    let mut tokens: Vec<String> = Vec::new();
    let mut pending = String::new();
    for token in text.split([',', ' ']).map(str::trim).filter(|t| !t.is_empty()) {
        if token.chars().all(|c| "=<>!~^".contains(c)) {
            pending.push_str(token);
            continue;
        }
        tokens.push(format!("{pending}{}", token.trim_start_matches('v')));
        pending.clear();
    }
    if !pending.is_empty() {
        return Err(format!("{pending:?} has no version"));
    }
    let mut comparators = Vec::new();
    let mut excluded = Vec::new();
    for token in tokens {
        if let Some(version) = token.strip_prefix("!=") {
            excluded.push(
                parse_version(version.trim_start_matches('v'), false).ok_or(format!("{version:?} is not a version"))?,
            );
        } else {
            comparators.push(token);
        }
    }
    let req = if comparators.is_empty() {
        VersionReq::STAR
    } else {
        VersionReq::parse(&comparators.join(", ")).map_err(|e| e.to_string())?
    };
    Ok((req, excluded))
}

/// `allowTagsRegexes` (a tag must match one, when any are given) and
/// `ignoreTagsRegexes` (a tag matching one is dropped).
#[derive(Debug, Clone, Default)]
pub struct TagFilter {
    allow: Vec<Regex>,
    ignore: Vec<Regex>,
}

impl TagFilter {
    /// Compiles the regexes; an error says which list (0 allow, 1 ignore), which entry,
    /// and why.
    pub fn new(allow: &[String], ignore: &[String]) -> Result<Self, (usize, usize, String)> {
        let compile = |list: &[String], which: usize| {
            list.iter()
                .enumerate()
                .map(|(i, r)| Regex::new(r).map_err(|e| (which, i, e.to_string())))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self { allow: compile(allow, 0)?, ignore: compile(ignore, 1)? })
    }

    pub fn allows(&self, tag: &str) -> bool {
        (self.allow.is_empty() || self.allow.iter().any(|r| r.is_match(tag)))
            && !self.ignore.iter().any(|r| r.is_match(tag))
    }
}

/// Tags that are versions within `constraint` (any, when `None`), highest first, at most
/// `limit`.
pub fn newest_semver<'a>(
    tags: impl IntoIterator<Item = &'a str>,
    constraint: Option<&SemverConstraint>,
    strict: bool,
    limit: usize,
) -> Vec<(&'a str, Version)> {
    let mut versions: Vec<(&str, Version)> = tags
        .into_iter()
        .filter_map(|tag| parse_version(tag, strict).map(|v| (tag, v)))
        .filter(|(_, v)| constraint.is_none_or(|c| c.matches(v)))
        .collect();
    // Highest first; equal versions (`v1.0.0` and `1.0.0`) by tag, for a stable order.
    versions.sort_by(|(ta, a), (tb, b)| b.cmp(a).then_with(|| tb.cmp(ta)));
    versions.truncate(limit);
    versions
}

/// Tags in reverse lexical order, at most `limit`.
pub fn newest_lexical<'a>(tags: impl IntoIterator<Item = &'a str>, limit: usize) -> Vec<&'a str> {
    let mut tags: Vec<&str> = tags.into_iter().collect();
    tags.sort_by_key(|t| Reverse(*t));
    tags.truncate(limit);
    tags
}

/// One path filter: `glob:` (doublestar), `regex:`/`regexp:`, or a directory prefix.
#[derive(Debug, Clone)]
enum PathPattern {
    Glob(GlobMatcher),
    Regex(Regex),
    Prefix(String),
}

impl PathPattern {
    fn parse(text: &str) -> Result<Self, String> {
        if let Some(glob) = text.strip_prefix("glob:") {
            let glob = GlobBuilder::new(glob).literal_separator(true).build().map_err(|e| e.to_string())?;
            Ok(PathPattern::Glob(glob.compile_matcher()))
        } else if let Some(re) = text.strip_prefix("regex:").or_else(|| text.strip_prefix("regexp:")) {
            Ok(PathPattern::Regex(Regex::new(re).map_err(|e| e.to_string())?))
        } else if text.trim_matches('/').is_empty() {
            Err("an empty path".to_owned())
        } else {
            Ok(PathPattern::Prefix(text.trim_start_matches("./").trim_end_matches('/').to_owned()))
        }
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            PathPattern::Glob(g) => g.is_match(path),
            PathPattern::Regex(r) => r.is_match(path),
            PathPattern::Prefix(p) => path == p || path.strip_prefix(p.as_str()).is_some_and(|r| r.starts_with('/')),
        }
    }
}

/// `includePaths` / `excludePaths`: a commit counts when one of its changed paths is
/// included (every path is, when there are no includes) and not excluded; exclusion wins.
#[derive(Debug, Clone, Default)]
pub struct PathFilter {
    include: Vec<PathPattern>,
    exclude: Vec<PathPattern>,
}

impl PathFilter {
    /// Parses the patterns; an error says which list (0 include, 1 exclude), which entry,
    /// and why.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, (usize, usize, String)> {
        let parse = |list: &[String], which: usize| {
            list.iter()
                .enumerate()
                .map(|(i, p)| PathPattern::parse(p).map_err(|e| (which, i, e)))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self { include: parse(include, 0)?, exclude: parse(exclude, 1)? })
    }

    /// Whether the filter has nothing to say (every commit counts).
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Whether a commit changing `paths` counts.
    pub fn matches<'a>(&self, paths: impl IntoIterator<Item = &'a str>) -> bool {
        paths.into_iter().any(|path| {
            (self.include.is_empty() || self.include.iter().any(|p| p.matches(path)))
                && !self.exclude.iter().any(|p| p.matches(path))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(text: &str) -> SemverConstraint {
        SemverConstraint::parse(text).unwrap()
    }

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn strict_versions_need_three_parts_and_loose_ones_pad() {
        assert_eq!(parse_version("v1.2.3", true), Some(v("1.2.3")));
        assert_eq!(parse_version("1.2", true), None);
        assert_eq!(parse_version("1.2", false), Some(v("1.2.0")));
        assert_eq!(parse_version("2", false), Some(v("2.0.0")));
        assert_eq!(parse_version("1.2-rc.1", false), Some(v("1.2.0-rc.1")));
        assert_eq!(parse_version("latest", false), None);
        assert_eq!(parse_version("1.2.3.4", false), None);
    }

    #[test]
    fn constraints_take_the_forms_users_write() {
        assert!(c("^1.2").matches(&v("1.9.0")) && !c("^1.2").matches(&v("2.0.0")));
        assert!(c(">=1.0 <2.0").matches(&v("1.5.0")) && !c(">=1.0 <2.0").matches(&v("2.0.0")));
        assert!(c(">= 1.0, < 2.0").matches(&v("1.0.0")));
        assert!(c("~1.4 || ^3").matches(&v("3.1.0")) && !c("~1.4 || ^3").matches(&v("1.5.0")));
        assert!(c("1.2.0 - 1.4.0").matches(&v("1.4.0")) && !c("1.2.0 - 1.4.0").matches(&v("1.4.1")));
        assert!(!c("^1, !=1.3.0").matches(&v("1.3.0")) && c("^1, !=1.3.0").matches(&v("1.3.1")));
        assert!(c("1.x").matches(&v("1.7.0")));
        assert!(!c("^1").matches(&v("1.5.0-rc.1")), "pre-releases only when the constraint names one");
        assert!(SemverConstraint::parse(">=").is_err());
        assert!(SemverConstraint::parse("banana").is_err());
    }

    #[test]
    fn semver_selection_is_highest_first_within_the_constraint() {
        let tags = ["1.0.0", "1.10.0", "1.9.0", "2.0.0", "latest", "v1.2"];
        let picked: Vec<_> = newest_semver(tags, Some(&c("<2")), true, 10).into_iter().map(|(t, _)| t).collect();
        assert_eq!(picked, ["1.10.0", "1.9.0", "1.0.0"], "numeric, not lexical; v1.2 is not strict");
        let loose: Vec<_> = newest_semver(tags, None, false, 2).into_iter().map(|(t, _)| t).collect();
        assert_eq!(loose, ["2.0.0", "1.10.0"]);
    }

    #[test]
    fn lexical_selection_is_reverse_string_order() {
        assert_eq!(newest_lexical(["b", "a", "c10", "c9"], 3), ["c9", "c10", "b"]);
    }

    #[test]
    fn tag_regexes_allow_then_ignore() {
        let filter = TagFilter::new(&["^v".into()], &["-rc".into()]).unwrap();
        assert!(filter.allows("v1.0.0") && !filter.allows("1.0.0") && !filter.allows("v1.0.0-rc1"));
        assert_eq!(TagFilter::new(&[], &["(".into()]).unwrap_err().0, 1);
    }

    #[test]
    fn path_filters_include_any_and_exclusion_wins() {
        let filter =
            PathFilter::new(&["apps/web".into(), "glob:charts/**/*.yaml".into()], &["regex:\\.md$".into()]).unwrap();
        assert!(filter.matches(["apps/web/main.go"]));
        assert!(!filter.matches(["apps/webhooks/main.go"]), "a prefix is a directory, not a string prefix");
        assert!(filter.matches(["charts/a/b/values.yaml"]));
        assert!(!filter.matches(["charts/values.txt"]));
        assert!(!filter.matches(["apps/web/README.md"]), "excluded");
        assert!(filter.matches(["apps/web/README.md", "apps/web/x.go"]), "one included path is enough");
        let only_exclude = PathFilter::new(&[], &["docs".into()]).unwrap();
        assert!(only_exclude.matches(["src/a.rs"]) && !only_exclude.matches(["docs/a.md"]));
        assert!(PathFilter::new(&["glob:[".into()], &[]).is_err());
    }
}
