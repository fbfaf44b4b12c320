//! Kubernetes label selectors, as Kargo's Argo CD steps take them (`apps[].selector`):
//! checked, and turned into the API's `labelSelector` query; and how a step names its
//! Applications, by name or by selector.

use serde::{Deserialize, Serialize};

/// A Kubernetes label selector (Kargo's `apps[].selector`): every label of `matchLabels`,
/// and every requirement of `matchExpressions`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    #[serde(default)]
    pub match_labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub match_expressions: Vec<LabelRequirement>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LabelRequirement {
    pub key: String,
    pub operator: String,
    #[serde(default)]
    pub values: Vec<String>,
}

impl LabelSelector {
    /// The selector as the Kubernetes API's `labelSelector` query
    /// (`env=staging,tier in (a,b),!legacy`), or why it is not one (a field under
    /// `selector`, and the reason).
    pub fn query(&self) -> Result<String, String> {
        if self.match_labels.is_empty() && self.match_expressions.is_empty() {
            return Err("selector: needs matchLabels or matchExpressions".to_owned());
        }
        let mut parts: Vec<String> = self.match_labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for (i, requirement) in self.match_expressions.iter().enumerate() {
            let field = format!("selector.matchExpressions[{i}]");
            if requirement.key.is_empty() {
                return Err(format!("{field}.key: is required"));
            }
            let (key, values) = (&requirement.key, requirement.values.join(","));
            let part = match requirement.operator.as_str() {
                "In" | "NotIn" if requirement.values.is_empty() => {
                    return Err(format!("{field}.values: is required with operator {}", requirement.operator));
                }
                "Exists" | "DoesNotExist" if !requirement.values.is_empty() => {
                    return Err(format!("{field}.values: must be empty with operator {}", requirement.operator));
                }
                "In" => format!("{key} in ({values})"),
                "NotIn" => format!("{key} notin ({values})"),
                "Exists" => key.clone(),
                "DoesNotExist" => format!("!{key}"),
                other => {
                    return Err(format!("{field}.operator: {other:?} is not one of In, NotIn, Exists, DoesNotExist"));
                }
            };
            parts.push(part);
        }
        Ok(parts.join(","))
    }
}

/// How a step names the Applications it works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    Name(String),
    /// A `labelSelector` query.
    Labels(String),
}

/// The Applications `name` or `selector` names: exactly one of them must be set.
pub fn selection(name: &str, selector: Option<&LabelSelector>) -> Result<Selection, String> {
    match (name.is_empty(), selector) {
        (false, None) => Ok(Selection::Name(name.to_owned())),
        (true, Some(selector)) => selector.query().map(Selection::Labels),
        (true, None) => Err("name: is required (or selector)".to_owned()),
        (false, Some(_)) => Err("selector: set either name or selector, not both".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_label_selectors_when_read_then_they_become_the_apis_query_or_say_what_is_wrong() {
        let selector: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchLabels": {"environment": "staging"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["web", "api"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "team", "operator": "Exists"},
                {"key": "zone", "operator": "NotIn", "values": ["b"]},
            ],
        }))
        .unwrap();
        assert_eq!(selector.query().unwrap(), "environment=staging,tier in (web,api),!legacy,team,zone notin (b)");
        assert_eq!(selection("app", None), Ok(Selection::Name("app".into())));
        assert_eq!(selection("", Some(&selector)).unwrap(), Selection::Labels(selector.query().unwrap()));
        assert_eq!(selection("", None).unwrap_err(), "name: is required (or selector)");
        assert_eq!(selection("app", Some(&selector)).unwrap_err(), "selector: set either name or selector, not both");
        let bad = |requirement: serde_json::Value| {
            let selector = LabelSelector {
                match_expressions: vec![serde_json::from_value(requirement).unwrap()],
                ..Default::default()
            };
            selector.query().unwrap_err()
        };
        assert_eq!(LabelSelector::default().query().unwrap_err(), "selector: needs matchLabels or matchExpressions");
        assert_eq!(
            bad(serde_json::json!({"key": "a", "operator": "In"})),
            "selector.matchExpressions[0].values: is required with operator In"
        );
        assert_eq!(
            bad(serde_json::json!({"key": "a", "operator": "Exists", "values": ["x"]})),
            "selector.matchExpressions[0].values: must be empty with operator Exists"
        );
        assert!(
            bad(serde_json::json!({"key": "a", "operator": "Gt", "values": ["1"]})).contains("\"Gt\" is not one of In")
        );
    }
}
