//! A ProjectConfig's `webhookReceivers` (Kargo's shape): endpoints that registries and Git
//! hosts call when something is pushed, each for one provider, authenticated by a secret
//! that `secretRef` names. `generic` receivers refresh the warehouses their
//! `targetSelectionCriteria` select.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::FieldError;
use super::stage_selector::{LabelSelectorRequirement, StageSelector};
use crate::names::validate_dns_label;

/// The most receivers one project may have.
pub const MAX_WEBHOOK_RECEIVERS: usize = 32;

/// The most actions one generic receiver may have, and criteria one action may have.
pub const MAX_GENERIC_ACTIONS: usize = 16;

/// Which provider a receiver understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReceiverKind {
    GitHub,
    GitLab,
    Bitbucket,
    Gitea,
    DockerHub,
    Quay,
    Harbor,
    Artifactory,
    Generic,
}

impl ReceiverKind {
    pub const ALL: [ReceiverKind; 9] = [
        ReceiverKind::GitHub,
        ReceiverKind::GitLab,
        ReceiverKind::Bitbucket,
        ReceiverKind::Gitea,
        ReceiverKind::DockerHub,
        ReceiverKind::Quay,
        ReceiverKind::Harbor,
        ReceiverKind::Artifactory,
        ReceiverKind::Generic,
    ];

    /// The field naming the provider in a receiver, and the receiver type in its path.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiverKind::GitHub => "github",
            ReceiverKind::GitLab => "gitlab",
            ReceiverKind::Bitbucket => "bitbucket",
            ReceiverKind::Gitea => "gitea",
            ReceiverKind::DockerHub => "dockerhub",
            ReceiverKind::Quay => "quay",
            ReceiverKind::Harbor => "harbor",
            ReceiverKind::Artifactory => "artifactory",
            ReceiverKind::Generic => "generic",
        }
    }

    pub fn from_token(token: &str) -> Option<ReceiverKind> {
        ReceiverKind::ALL.into_iter().find(|k| k.as_str() == token)
    }

    /// The key of the referenced secret that holds what the receiver needs (Kargo's
    /// keys): the shared secret, GitLab's and Artifactory's token, or Harbor's
    /// `Authorization` header.
    pub fn secret_key(self) -> &'static str {
        match self {
            ReceiverKind::GitLab | ReceiverKind::Artifactory => "secret-token",
            ReceiverKind::Harbor => "auth-header",
            _ => "secret",
        }
    }
}

impl std::fmt::Display for ReceiverKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Names a secret of the project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    #[serde(default)]
    pub name: String,
}

/// A provider's settings when a secret is all it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretReceiver {
    #[serde(default)]
    pub secret_ref: SecretRef,
}

/// Artifactory's settings: `virtualRepoName` replaces the local repository a push names,
/// for warehouses that subscribe through a virtual repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArtifactoryReceiver {
    #[serde(default)]
    pub secret_ref: SecretRef,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub virtual_repo_name: String,
}

/// A generic receiver: any POST to its path runs its actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenericReceiver {
    #[serde(default)]
    pub secret_ref: SecretRef,
    #[serde(default)]
    pub actions: Vec<GenericAction>,
}

/// One action of a generic receiver: when `whenExpression` holds (or is absent), refresh
/// the warehouses `targetSelectionCriteria` select.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenericAction {
    /// `Refresh`, the only action.
    #[serde(default)]
    pub action: String,
    /// A CEL expression over the request; the action runs when it is true.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub when_expression: String,
    /// Values (or `${{ }}` templates over the request) the action's expressions read as
    /// `params`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    #[serde(default)]
    pub target_selection_criteria: Vec<TargetSelectionCriteria>,
}

/// Which resources an action applies to; every criterion given must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetSelectionCriteria {
    /// `Warehouse`, the only kind.
    #[serde(default)]
    pub kind: String,
    /// The resource's exact name, or a `${{ }}` template yielding it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "LabelSelector::is_empty")]
    pub label_selector: LabelSelector,
    #[serde(default, skip_serializing_if = "IndexSelector::is_empty")]
    pub index_selector: IndexSelector,
}

/// A Kubernetes label selector whose values may be `${{ }}` templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

impl LabelSelector {
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// As a stage-style selector (any name), to check operators and match labels.
    pub fn as_selector(&self) -> StageSelector {
        StageSelector {
            name: String::new(),
            match_labels: self.match_labels.clone(),
            match_expressions: self.match_expressions.clone(),
        }
    }
}

/// Selects resources by values of Kargo's well-known indices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IndexSelector {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_indices: Vec<IndexSelectorRequirement>,
}

impl IndexSelector {
    pub fn is_empty(&self) -> bool {
        self.match_indices.is_empty()
    }
}

/// The index `subscribedURLs`: the normalized repository URLs a warehouse subscribes to.
pub const SUBSCRIBED_URLS_INDEX: &str = "subscribedURLs";

/// One `matchIndices` entry: `key` (`subscribedURLs`), `operator` (`Equals` or
/// `NotEquals`) and `value` (text or a `${{ }}` template).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IndexSelectorRequirement {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub operator: String,
    #[serde(default)]
    pub value: String,
}

/// One entry of `webhookReceivers`: a name and exactly one provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WebhookReceiverConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<SecretReceiver>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitlab: Option<SecretReceiver>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitbucket: Option<SecretReceiver>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitea: Option<SecretReceiver>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerhub: Option<SecretReceiver>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quay: Option<SecretReceiver>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harbor: Option<SecretReceiver>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifactory: Option<ArtifactoryReceiver>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generic: Option<GenericReceiver>,
}

impl WebhookReceiverConfig {
    /// The providers set, in field order (one, once validated).
    fn providers(&self) -> Vec<(ReceiverKind, &SecretRef)> {
        let simple = [
            (ReceiverKind::GitHub, &self.github),
            (ReceiverKind::GitLab, &self.gitlab),
            (ReceiverKind::Bitbucket, &self.bitbucket),
            (ReceiverKind::Gitea, &self.gitea),
            (ReceiverKind::DockerHub, &self.dockerhub),
            (ReceiverKind::Quay, &self.quay),
            (ReceiverKind::Harbor, &self.harbor),
        ];
        let mut set: Vec<(ReceiverKind, &SecretRef)> =
            simple.into_iter().filter_map(|(kind, r)| r.as_ref().map(|r| (kind, &r.secret_ref))).collect();
        if let Some(artifactory) = &self.artifactory {
            set.push((ReceiverKind::Artifactory, &artifactory.secret_ref));
        }
        if let Some(generic) = &self.generic {
            set.push((ReceiverKind::Generic, &generic.secret_ref));
        }
        set
    }

    /// The receiver's provider (the first set, for a receiver that failed validation).
    pub fn kind(&self) -> Option<ReceiverKind> {
        self.providers().first().map(|(kind, _)| *kind)
    }

    /// The name of the secret the receiver reads.
    pub fn secret_name(&self) -> &str {
        self.providers().first().map(|(_, r)| r.name.as_str()).unwrap_or_default()
    }
}

/// Checks `receivers`, naming the bad field under `prefix` (`spec`).
pub(super) fn validate(receivers: &[WebhookReceiverConfig], prefix: &str) -> Result<(), FieldError> {
    let list = format!("{prefix}.webhookReceivers");
    if receivers.len() > MAX_WEBHOOK_RECEIVERS {
        return Err(FieldError::new(
            &list,
            format!("has {} receivers; a project may have at most {MAX_WEBHOOK_RECEIVERS}", receivers.len()),
        ));
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, receiver) in receivers.iter().enumerate() {
        let field = format!("{list}[{i}]");
        if receiver.name.is_empty() {
            return Err(FieldError::new(format!("{field}.name"), "is required"));
        }
        validate_dns_label(&receiver.name).map_err(|e| FieldError::new(format!("{field}.name"), e))?;
        if let Some(first) = seen.insert(&receiver.name, i) {
            return Err(FieldError::new(
                format!("{field}.name"),
                format!("receiver {:?} is already defined by {list}[{first}]", receiver.name),
            ));
        }
        let providers = receiver.providers();
        let (kind, secret_ref) = match providers.as_slice() {
            [one] => *one,
            [] => {
                let all: Vec<&str> = ReceiverKind::ALL.iter().map(|k| k.as_str()).collect();
                return Err(FieldError::new(&field, format!("set exactly one provider: {}", all.join(", "))));
            }
            [first, second, ..] => {
                return Err(FieldError::new(
                    format!("{field}.{}", second.0),
                    format!("a receiver has exactly one provider, and this one already has {}", first.0),
                ));
            }
        };
        let secret_field = format!("{field}.{kind}.secretRef.name");
        if secret_ref.name.is_empty() {
            return Err(FieldError::new(
                secret_field,
                "is required: it names the secret that authenticates the sender",
            ));
        }
        validate_dns_label(&secret_ref.name).map_err(|e| FieldError::new(secret_field, e))?;
        if let Some(generic) = &receiver.generic {
            validate_generic(generic, &format!("{field}.generic"))?;
        }
    }
    Ok(())
}

fn validate_generic(generic: &GenericReceiver, field: &str) -> Result<(), FieldError> {
    if generic.actions.is_empty() {
        return Err(FieldError::new(format!("{field}.actions"), "a generic receiver needs at least one action"));
    }
    if generic.actions.len() > MAX_GENERIC_ACTIONS {
        return Err(FieldError::new(format!("{field}.actions"), format!("at most {MAX_GENERIC_ACTIONS} actions")));
    }
    for (i, action) in generic.actions.iter().enumerate() {
        let field = format!("{field}.actions[{i}]");
        if action.action != "Refresh" {
            return Err(FieldError::new(
                format!("{field}.action"),
                format!("must be Refresh, got {}", crate::excerpt::quoted(&action.action)),
            ));
        }
        let criteria = &action.target_selection_criteria;
        if criteria.is_empty() {
            return Err(FieldError::new(format!("{field}.targetSelectionCriteria"), "needs at least one entry"));
        }
        if criteria.len() > MAX_GENERIC_ACTIONS {
            return Err(FieldError::new(
                format!("{field}.targetSelectionCriteria"),
                format!("at most {MAX_GENERIC_ACTIONS} entries"),
            ));
        }
        for (j, target) in criteria.iter().enumerate() {
            validate_target(target, &format!("{field}.targetSelectionCriteria[{j}]"))?;
        }
    }
    Ok(())
}

fn validate_target(target: &TargetSelectionCriteria, field: &str) -> Result<(), FieldError> {
    match target.kind.as_str() {
        "Warehouse" => {}
        "" => return Err(FieldError::new(format!("{field}.kind"), "is required: Warehouse")),
        other => {
            return Err(FieldError::new(
                format!("{field}.kind"),
                format!("must be Warehouse, got {}", crate::excerpt::quoted(other)),
            ));
        }
    }
    if target.name.is_empty() && target.label_selector.is_empty() && target.index_selector.is_empty() {
        return Err(FieldError::new(field, "set name, labelSelector or indexSelector"));
    }
    if !target.label_selector.is_empty() {
        target.label_selector.as_selector().validate(&format!("{field}.labelSelector"))?;
    }
    let keys: BTreeSet<&str> = [SUBSCRIBED_URLS_INDEX].into();
    for (k, index) in target.index_selector.match_indices.iter().enumerate() {
        let field = format!("{field}.indexSelector.matchIndices[{k}]");
        if !keys.contains(index.key.as_str()) {
            return Err(FieldError::new(
                format!("{field}.key"),
                format!("must be {SUBSCRIBED_URLS_INDEX}, got {}", crate::excerpt::quoted(&index.key)),
            ));
        }
        if index.operator != "Equals" && index.operator != "NotEquals" {
            return Err(FieldError::new(
                format!("{field}.operator"),
                format!("must be Equals or NotEquals, got {}", crate::excerpt::quoted(&index.operator)),
            ));
        }
        if index.value.is_empty() {
            return Err(FieldError::new(format!("{field}.value"), "is required"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::spec::deserialize_at;

    fn check(receivers: serde_json::Value) -> Result<Vec<WebhookReceiverConfig>, FieldError> {
        let receivers: Vec<WebhookReceiverConfig> = deserialize_at("spec.webhookReceivers", receivers)?;
        validate(&receivers, "spec")?;
        Ok(receivers)
    }

    #[test]
    fn a_receiver_names_one_provider_and_its_secret() {
        let receivers = check(json!([
            {"name": "gh", "github": {"secretRef": {"name": "gh-secret"}}},
            {"name": "hub", "dockerhub": {"secretRef": {"name": "hub"}}},
            {"name": "frog", "artifactory": {"secretRef": {"name": "frog"}, "virtualRepoName": "virtual"}},
        ]))
        .unwrap();
        assert_eq!(receivers[0].kind(), Some(ReceiverKind::GitHub));
        assert_eq!(receivers[0].secret_name(), "gh-secret");
        assert_eq!(receivers[2].kind(), Some(ReceiverKind::Artifactory));
        assert_eq!(ReceiverKind::Harbor.secret_key(), "auth-header");
        assert_eq!(ReceiverKind::GitLab.secret_key(), "secret-token");
    }

    #[test]
    fn errors_name_the_field() {
        let error = |value| check(value).unwrap_err().field;
        assert_eq!(error(json!([{"name": "a"}])), "spec.webhookReceivers[0]");
        assert_eq!(
            error(
                json!([{"name": "a", "github": {"secretRef": {"name": "s"}}, "gitlab": {"secretRef": {"name": "s"}}}])
            ),
            "spec.webhookReceivers[0].gitlab"
        );
        assert_eq!(error(json!([{"name": "a", "quay": {}}])), "spec.webhookReceivers[0].quay.secretRef.name");
        assert_eq!(
            error(
                json!([{"name": "a", "quay": {"secretRef": {"name": "s"}}}, {"name": "a", "gitea": {"secretRef": {"name": "s"}}}])
            ),
            "spec.webhookReceivers[1].name"
        );
        assert_eq!(
            error(json!([{"name": "A_b", "quay": {"secretRef": {"name": "s"}}}])),
            "spec.webhookReceivers[0].name"
        );
        assert_eq!(error(json!([{"name": "a", "azure": {}}])), "spec.webhookReceivers[0].azure");
        let many: Vec<_> =
            (0..33).map(|i| json!({"name": format!("r{i}"), "quay": {"secretRef": {"name": "s"}}})).collect();
        let too_many = check(json!(many)).unwrap_err();
        assert_eq!(too_many.field, "spec.webhookReceivers");
        assert!(too_many.reason.contains("at most 32"), "{}", too_many.reason);
    }

    #[test]
    fn generic_actions_refresh_warehouses_selected_by_name_labels_or_subscribed_url() {
        let generic = |actions| json!([{"name": "g", "generic": {"secretRef": {"name": "s"}, "actions": actions}}]);
        check(generic(json!([{"action": "Refresh", "whenExpression": "true", "targetSelectionCriteria": [
            {"kind": "Warehouse", "name": "app"},
            {"kind": "Warehouse", "labelSelector": {"matchLabels": {"team": "a"}}},
            {"kind": "Warehouse", "indexSelector": {"matchIndices": [{"key": "subscribedURLs", "operator": "Equals", "value": "x"}]}},
        ]}])))
        .unwrap();
        let error = |actions| check(generic(actions)).unwrap_err().field;
        assert_eq!(error(json!([])), "spec.webhookReceivers[0].generic.actions");
        assert_eq!(
            error(json!([{"action": "Delete", "targetSelectionCriteria": [{"kind": "Warehouse", "name": "a"}]}])),
            "spec.webhookReceivers[0].generic.actions[0].action"
        );
        assert_eq!(
            error(json!([{"action": "Refresh", "targetSelectionCriteria": [{"kind": "Promotion", "name": "a"}]}])),
            "spec.webhookReceivers[0].generic.actions[0].targetSelectionCriteria[0].kind"
        );
        assert_eq!(
            error(json!([{"action": "Refresh", "targetSelectionCriteria": [{"kind": "Warehouse"}]}])),
            "spec.webhookReceivers[0].generic.actions[0].targetSelectionCriteria[0]"
        );
        assert_eq!(
            error(
                json!([{"action": "Refresh", "targetSelectionCriteria": [{"kind": "Warehouse", "indexSelector": {"matchIndices": [{"key": "receiverPaths", "operator": "Equals", "value": "x"}]}}]}])
            ),
            "spec.webhookReceivers[0].generic.actions[0].targetSelectionCriteria[0].indexSelector.matchIndices[0].key"
        );
    }
}
