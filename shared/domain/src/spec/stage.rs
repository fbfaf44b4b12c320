//! Stage spec: which freight a stage takes, and the steps that promote it.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{FieldError, deserialize_at};
use crate::duration::parse_go_duration;
use crate::freight::FreightOrigin;
use crate::names::validate_dns_label;

/// Promotion steps this version of Lading runs.
pub const SUPPORTED_STEPS: [&str; 35] = [
    "git-clone",
    "git-clear",
    "git-commit",
    "git-push",
    "github-push",
    "yaml-update",
    "json-update",
    "toml-update",
    "kustomize-set-image",
    "kustomize-build",
    "helm-update-chart",
    "copy",
    "delete",
    "file-write",
    "compose-output",
    "fail",
    "http",
    "set-freight-alias",
    "git-tag",
    "git-open-pr",
    "git-wait-for-pr",
    "git-merge-pr",
    "json-parse",
    "yaml-parse",
    "toml-parse",
    "yaml-merge",
    "tar",
    "untar",
    "http-download",
    "helm-template",
    "argocd-update",
    "argocd-wait",
    "set-metadata",
    "oci-download",
    "oci-push",
];

/// The origin a stage requests freight from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FreightOriginRef {
    pub kind: String,
    pub name: String,
}

impl FreightOriginRef {
    pub fn matches(&self, origin: &FreightOrigin) -> bool {
        self.kind == origin.kind && self.name == origin.name
    }
}

/// Whether freight must be verified in one or in all upstream stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum AvailabilityStrategy {
    #[default]
    OneOf,
    All,
}

/// Which available freight auto-promotion takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SelectionPolicy {
    /// The newest available freight, by discovery.
    #[default]
    NewestFreight,
    /// The freight currently in the (single) upstream stage.
    MatchUpstream,
}

/// `autoPromotionOptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutoPromotionOptions {
    #[serde(default)]
    pub selection_policy: SelectionPolicy,
}

/// Where requested freight may come from: straight from the origin, or after upstream
/// stages verified it (and it soaked there long enough).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FreightSources {
    #[serde(default)]
    pub direct: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<String>,
    /// How long freight must have been in an upstream stage (Go duration, e.g. `1h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_soak_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_strategy: Option<AvailabilityStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_promotion_options: Option<AutoPromotionOptions>,
}

impl FreightSources {
    pub fn availability_strategy(&self) -> AvailabilityStrategy {
        self.availability_strategy.unwrap_or_default()
    }

    pub fn selection_policy(&self) -> SelectionPolicy {
        self.auto_promotion_options.as_ref().map(|o| o.selection_policy).unwrap_or_default()
    }

    /// The required soak time (validated at apply time; none when unset).
    pub fn required_soak_time(&self) -> Option<std::time::Duration> {
        self.required_soak_time.as_deref().and_then(|d| parse_go_duration(d).ok())
    }
}

/// One `requestedFreight` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RequestedFreight {
    pub origin: FreightOriginRef,
    #[serde(default)]
    pub sources: FreightSources,
}

/// A named value usable in step expressions as `vars.<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PromotionVariable {
    pub name: String,
    #[serde(default)]
    pub value: String,
}

/// A reference to a task: `kind` is `PromotionTask` (the default, in the stage's project)
/// or `ClusterPromotionTask`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TaskRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl TaskRef {
    pub fn is_cluster_scoped(&self) -> bool {
        self.kind.as_deref() == Some("ClusterPromotionTask")
    }
}

/// How often a failing step is tried before the promotion fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepRetry {
    /// Give up after this long in all (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Give up after this many consecutive errors (default 1: no retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_threshold: Option<u32>,
}

/// One promotion step: `uses` names the step, `as` names its outputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromotionStep {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uses: String,
    /// Runs a PromotionTask's (or ClusterPromotionTask's) steps instead of one step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskRef>,
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    /// Run only when this expression is true (default: every earlier step succeeded).
    #[serde(default, rename = "if", skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// A failure of this step does not fail the promotion.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continue_on_error: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<StepRetry>,
    /// Variables for this step only, on top of the template's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vars: Vec<PromotionVariable>,
}

/// `promotionTemplate.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PromotionTemplateSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vars: Vec<PromotionVariable>,
    #[serde(default)]
    pub steps: Vec<PromotionStep>,
}

/// `promotionTemplate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PromotionTemplate {
    pub spec: PromotionTemplateSpec,
}

/// A reference to an analysis template: `kind` is `AnalysisTemplate` (the default, in
/// the stage's project) or `ClusterAnalysisTemplate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AnalysisTemplateReference {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl AnalysisTemplateReference {
    pub fn is_cluster_scoped(&self) -> bool {
        self.kind.as_deref() == Some("ClusterAnalysisTemplate")
    }
}

/// Labels and annotations for the analysis runs of a stage (kept on each verification).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AnalysisRunMetadata {
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// An argument a stage gives its analysis templates; its value may hold `${{ }}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AnalysisRunArgument {
    pub name: String,
    #[serde(default)]
    pub value: String,
}

/// `spec.verification`: the analyses run after each promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Verification {
    #[serde(default)]
    pub analysis_templates: Vec<AnalysisTemplateReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_run_metadata: Option<AnalysisRunMetadata>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<AnalysisRunArgument>,
}

/// A Stage's spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StageSpec {
    /// Variables for every step of the stage's promotions and for its verification's
    /// arguments (Kargo's `spec.vars`); the promotion template's come after them, so they
    /// may use and override these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vars: Vec<PromotionVariable>,
    #[serde(default)]
    pub requested_freight: Vec<RequestedFreight>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_template: Option<PromotionTemplate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

impl StageSpec {
    /// The request that covers freight from `origin`, if the stage takes it at all.
    pub fn request_for(&self, origin: &FreightOrigin) -> Option<&RequestedFreight> {
        self.requested_freight.iter().find(|r| r.origin.matches(origin))
    }

    /// The request for the origin written `<kind>/<name>`.
    pub fn request_for_origin_key(&self, key: &str) -> Option<&RequestedFreight> {
        self.requested_freight.iter().find(|r| format!("{}/{}", r.origin.kind, r.origin.name) == key)
    }

    /// Whether the stage verifies its freight with analysis templates.
    pub fn has_analyses(&self) -> bool {
        self.verification.as_ref().is_some_and(|v| !v.analysis_templates.is_empty())
    }

    pub fn steps(&self) -> &[PromotionStep] {
        self.promotion_template.as_ref().map_or(&[], |t| t.spec.steps.as_slice())
    }

    /// Every variable the steps see, in the order they are evaluated: the stage's
    /// `spec.vars`, then the promotion template's (a later one of the same name wins).
    pub fn vars(&self) -> Vec<PromotionVariable> {
        let template = self.promotion_template.as_ref().map_or(&[][..], |t| t.spec.vars.as_slice());
        self.vars.iter().chain(template).cloned().collect()
    }

    /// The field of the `index`th of [`StageSpec::vars`].
    pub fn var_field(&self, index: usize) -> String {
        match index.checked_sub(self.vars.len()) {
            None => format!("spec.vars[{index}]"),
            Some(i) => format!("spec.promotionTemplate.spec.vars[{i}]"),
        }
    }
}

/// Checks a list of steps; `allow_tasks` is false inside a task (tasks do not nest).
pub(super) fn validate_steps(steps: &[PromotionStep], prefix: &str, allow_tasks: bool) -> Result<(), FieldError> {
    let mut aliases = HashSet::new();
    for (i, step) in steps.iter().enumerate() {
        let field = format!("{prefix}[{i}]");
        match (&step.task, step.uses.is_empty()) {
            (Some(_), false) => return Err(FieldError::new(&field, "set either uses or task, not both")),
            (None, true) => return Err(FieldError::new(format!("{field}.uses"), "is required")),
            (Some(_), true) if !allow_tasks => {
                return Err(FieldError::new(format!("{field}.task"), "a task's steps cannot run other tasks"));
            }
            (Some(task), true) => {
                validate_dns_label(&task.name).map_err(|e| FieldError::new(format!("{field}.task.name"), e))?;
                if !matches!(task.kind.as_deref(), None | Some("PromotionTask") | Some("ClusterPromotionTask")) {
                    return Err(FieldError::new(
                        format!("{field}.task.kind"),
                        "must be PromotionTask or ClusterPromotionTask",
                    ));
                }
            }
            (None, false) if !SUPPORTED_STEPS.contains(&step.uses.as_str()) => {
                return Err(FieldError::new(
                    format!("{field}.uses"),
                    format!("unknown step {:?}; supported: {}", step.uses, SUPPORTED_STEPS.join(", ")),
                ));
            }
            (None, false) => {}
        }
        if let Some(alias) = &step.alias {
            let valid = !alias.is_empty()
                && alias.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(FieldError::new(
                    format!("{field}.as"),
                    "must start with a letter and contain only letters, digits, '-' and '_'",
                ));
            }
            if !aliases.insert(alias.clone()) {
                return Err(FieldError::new(
                    format!("{field}.as"),
                    format!("alias {alias:?} is used by an earlier step"),
                ));
            }
        }
        if let Some(retry) = &step.retry {
            if let Some(timeout) = &retry.timeout {
                parse_go_duration(timeout).map_err(|e| FieldError::new(format!("{field}.retry.timeout"), e))?;
            }
            if retry.error_threshold == Some(0) {
                return Err(FieldError::new(format!("{field}.retry.errorThreshold"), "must be at least 1"));
            }
        }
        for (j, var) in step.vars.iter().enumerate() {
            if var.name.is_empty() {
                return Err(FieldError::new(format!("{field}.vars[{j}].name"), "is required"));
            }
        }
        if let Some(config) = &step.config
            && !config.is_object()
        {
            return Err(FieldError::new(format!("{field}.config"), "must be a mapping"));
        }
        super::step_configs::validate_config(&step.uses, step.config.as_ref(), &format!("{field}.config"))?;
    }
    Ok(())
}

pub(super) fn parse(stage_name: &str, value: Value) -> Result<StageSpec, FieldError> {
    let spec: StageSpec = deserialize_at("spec", value)?;
    if spec.requested_freight.is_empty() {
        return Err(FieldError::new("spec.requestedFreight", "must request freight from at least one origin"));
    }
    for (i, request) in spec.requested_freight.iter().enumerate() {
        let field = format!("spec.requestedFreight[{i}]");
        if request.origin.kind != FreightOrigin::WAREHOUSE {
            return Err(FieldError::new(
                format!("{field}.origin.kind"),
                format!("must be Warehouse, got {:?}", request.origin.kind),
            ));
        }
        validate_dns_label(&request.origin.name).map_err(|e| FieldError::new(format!("{field}.origin.name"), e))?;
        if !request.sources.direct && request.sources.stages.is_empty() {
            return Err(FieldError::new(format!("{field}.sources"), "must set direct: true or list upstream stages"));
        }
        if let Some(soak) = &request.sources.required_soak_time {
            parse_go_duration(soak).map_err(|e| FieldError::new(format!("{field}.sources.requiredSoakTime"), e))?;
            if request.sources.stages.is_empty() {
                return Err(FieldError::new(
                    format!("{field}.sources.requiredSoakTime"),
                    "needs upstream stages to soak in",
                ));
            }
        }
        if request.sources.selection_policy() == SelectionPolicy::MatchUpstream && request.sources.stages.len() != 1 {
            return Err(FieldError::new(
                format!("{field}.sources.autoPromotionOptions.selectionPolicy"),
                "MatchUpstream needs exactly one upstream stage",
            ));
        }
        if spec.requested_freight[..i].iter().any(|earlier| earlier.origin == request.origin) {
            return Err(FieldError::new(format!("{field}.origin"), "this origin is already requested"));
        }
        for (j, upstream) in request.sources.stages.iter().enumerate() {
            let field = format!("{field}.sources.stages[{j}]");
            validate_dns_label(upstream).map_err(|e| FieldError::new(&field, e))?;
            if upstream == stage_name {
                return Err(FieldError::new(field, "a stage cannot be its own upstream"));
            }
        }
    }
    validate_steps(spec.steps(), "spec.promotionTemplate.spec.steps", true)?;
    for (i, var) in spec.vars().iter().enumerate() {
        if var.name.is_empty() {
            return Err(FieldError::new(format!("{}.name", spec.var_field(i)), "is required"));
        }
    }
    if let Some(verification) = &spec.verification {
        for (i, template) in verification.analysis_templates.iter().enumerate() {
            let field = format!("spec.verification.analysisTemplates[{i}]");
            validate_dns_label(&template.name).map_err(|e| FieldError::new(format!("{field}.name"), e))?;
            if !matches!(template.kind.as_deref(), None | Some("AnalysisTemplate") | Some("ClusterAnalysisTemplate")) {
                return Err(FieldError::new(
                    format!("{field}.kind"),
                    "must be AnalysisTemplate or ClusterAnalysisTemplate",
                ));
            }
        }
        for (i, arg) in verification.args.iter().enumerate() {
            if arg.name.is_empty() {
                return Err(FieldError::new(format!("spec.verification.args[{i}].name"), "is required"));
            }
        }
    }
    Ok(spec)
}
