//! Selecting stages: by exact name, `glob:` or `regex:` pattern, or by labels with
//! Kubernetes label-selector semantics (every condition must hold).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::FieldError;

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LabelSelectorRequirement {
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// Which stages a promotion policy applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StageSelector {
    /// An exact name, `glob:<pattern>`, or `regex:<pattern>` (also `regexp:`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

enum NamePattern {
    Any,
    Exact(String),
    Glob(globset::GlobMatcher),
    Regex(regex::Regex),
}

fn name_pattern(name: &str) -> Result<NamePattern, String> {
    if name.is_empty() {
        return Ok(NamePattern::Any);
    }
    if let Some(glob) = name.strip_prefix("glob:") {
        let glob = globset::Glob::new(glob).map_err(|e| format!("invalid glob: {e}"))?;
        return Ok(NamePattern::Glob(glob.compile_matcher()));
    }
    if let Some(pattern) = name.strip_prefix("regex:").or_else(|| name.strip_prefix("regexp:")) {
        // Anchored, so `regex:uat` does not select `uat-eu`… unless the pattern says so.
        let regex = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| format!("invalid regex: {e}"))?;
        return Ok(NamePattern::Regex(regex));
    }
    Ok(NamePattern::Exact(name.to_owned()))
}

/// How many compiled name patterns are kept; past that the cache starts over.
const COMPILED_PATTERNS: usize = 256;

type Compiled = std::collections::HashMap<String, Result<std::sync::Arc<NamePattern>, String>>;

/// The pattern `name` compiled, from a cache: deciding auto-promotions asks every
/// policy's selector about every stage on every event, and compiling a glob or a regex
/// costs far more than matching it.
fn compiled(name: &str) -> Result<std::sync::Arc<NamePattern>, String> {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<Compiled>> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(name) {
        return found.clone();
    }
    let pattern = name_pattern(name).map(std::sync::Arc::new);
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= COMPILED_PATTERNS {
        cache.clear();
    }
    cache.insert(name.to_owned(), pattern.clone());
    pattern
}

impl StageSelector {
    /// Checks the selector can be evaluated, naming the bad field under `field`.
    pub fn validate(&self, field: &str) -> Result<(), FieldError> {
        if self.name.is_empty() && self.match_labels.is_empty() && self.match_expressions.is_empty() {
            return Err(FieldError::new(field, "set name, matchLabels or matchExpressions"));
        }
        name_pattern(&self.name).map_err(|e| FieldError::new(format!("{field}.name"), e))?;
        for (i, requirement) in self.match_expressions.iter().enumerate() {
            let field = format!("{field}.matchExpressions[{i}]");
            match requirement.operator.as_str() {
                "In" | "NotIn" if requirement.values.is_empty() => {
                    return Err(FieldError::new(format!("{field}.values"), "In and NotIn need values"));
                }
                "Exists" | "DoesNotExist" if !requirement.values.is_empty() => {
                    return Err(FieldError::new(format!("{field}.values"), "Exists and DoesNotExist take no values"));
                }
                "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
                other => {
                    return Err(FieldError::new(
                        format!("{field}.operator"),
                        format!("must be In, NotIn, Exists or DoesNotExist, got {other:?}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether the stage `name` with `labels` is selected. An invalid selector (which
    /// validation rejects) selects nothing.
    pub fn selects(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        let name_matches = match compiled(&self.name).as_deref() {
            Ok(NamePattern::Any) => true,
            Ok(NamePattern::Exact(exact)) => exact == name,
            Ok(NamePattern::Glob(glob)) => glob.is_match(name),
            Ok(NamePattern::Regex(regex)) => regex.is_match(name),
            Err(_) => false,
        };
        name_matches
            && self.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let value = labels.get(&r.key);
                match r.operator.as_str() {
                    "In" => value.is_some_and(|v| r.values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !r.values.contains(v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn by_name(name: &str) -> StageSelector {
        StageSelector { name: name.into(), ..Default::default() }
    }

    #[test]
    fn exact_glob_and_regex_names() {
        let none = labels(&[]);
        assert!(by_name("uat").selects("uat", &none));
        assert!(!by_name("uat").selects("uat-eu", &none));
        assert!(by_name("glob:uat-*").selects("uat-eu", &none));
        assert!(!by_name("glob:uat-*").selects("prod-eu", &none));
        assert!(by_name("regex:(test|uat)").selects("uat", &none));
        assert!(!by_name("regex:uat").selects("uat-eu", &none), "regexes are anchored");
        assert!(by_name("regexp:prod-.+").selects("prod-us", &none));
    }

    #[test]
    fn compiled_patterns_answer_as_fresh_ones_past_the_cache_size() {
        // Given more distinct patterns than the cache keeps, each asked twice,
        for round in 0..2 {
            for i in 0..COMPILED_PATTERNS + 10 {
                // then every answer is the pattern's own.
                assert!(by_name(&format!("glob:s{i}-*")).selects(&format!("s{i}-x"), &labels(&[])), "{round} {i}");
                assert!(!by_name(&format!("glob:s{i}-*")).selects(&format!("s{}-x", i + 1), &labels(&[])));
            }
        }
        assert!(!by_name("regex:(").selects("(", &labels(&[])));
    }

    #[test]
    fn label_selectors_need_every_condition() {
        let selector = StageSelector {
            match_labels: labels(&[("tier", "pre-prod")]),
            match_expressions: vec![
                LabelSelectorRequirement { key: "region".into(), operator: "In".into(), values: vec!["eu".into()] },
                LabelSelectorRequirement { key: "frozen".into(), operator: "DoesNotExist".into(), values: vec![] },
            ],
            ..Default::default()
        };
        assert!(selector.selects("any", &labels(&[("tier", "pre-prod"), ("region", "eu")])));
        assert!(!selector.selects("any", &labels(&[("tier", "pre-prod"), ("region", "us")])));
        assert!(!selector.selects("any", &labels(&[("tier", "pre-prod"), ("region", "eu"), ("frozen", "yes")])));
        assert!(!selector.selects("any", &labels(&[("region", "eu")])));
    }

    #[test]
    fn validation_names_the_problem() {
        assert_eq!(StageSelector::default().validate("s").unwrap_err().field, "s");
        assert_eq!(by_name("regex:(").validate("s").unwrap_err().field, "s.name");
        assert_eq!(by_name("glob:[").validate("s").unwrap_err().field, "s.name");
        let bad_operator = StageSelector {
            match_expressions: vec![LabelSelectorRequirement {
                key: "k".into(),
                operator: "Near".into(),
                values: vec![],
            }],
            ..Default::default()
        };
        assert_eq!(bad_operator.validate("s").unwrap_err().field, "s.matchExpressions[0].operator");
    }
}
