//! Manifests users apply: Project, ProjectConfig, Warehouse and Stage, with Kargo's field
//! names, and the validation that turns a bad document into an error naming its field
//! (for an expression, also the place in it).

pub mod analysis_template;
mod expressions;
mod project;
mod promotion_task;
pub mod references;
mod stage;
mod stage_selector;
pub mod step_configs;
pub mod step_schemas;
mod warehouse;
pub mod webhook_receiver;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

pub use analysis_template::{AnalysisTemplateSpec, IntOrString, Metric, MetricProvider};
pub use project::{ProjectConfigSpec, ProjectSpec, PromotionPolicy};
pub use promotion_task::{PromotionTaskSpec, TaskVariable};
pub use stage::{
    AnalysisRunArgument, AnalysisRunMetadata, AnalysisTemplateReference, AutoPromotionOptions, AvailabilityStrategy,
    FreightOriginRef, FreightSources, PromotionStep, PromotionTemplate, PromotionTemplateSpec, PromotionVariable,
    RequestedFreight, SUPPORTED_STEPS, SelectionPolicy, StageSpec, StepRetry, TaskRef, Verification,
};
pub use stage_selector::{LabelSelectorRequirement, StageSelector};
pub use warehouse::{
    ArtifactKind, ChartSubscription, CommitSelectionStrategy, DEFAULT_INTERVAL, EXPRESSION_FILTER_VARIABLES,
    FreightCreationCriteria, FreightCreationPolicy, GitSubscription, ImageSelectionStrategy, ImageSubscription,
    Subscription, WarehouseSpec, discovery_limit, within_since,
};
pub use webhook_receiver::{
    GenericAction, GenericReceiver, ReceiverKind, TargetSelectionCriteria, WebhookReceiverConfig,
};

use crate::names::validate_dns_label;

/// The apiVersion Lading writes.
pub const API_VERSION: &str = "lading.dev/v1alpha1";
/// Kargo's apiVersion, accepted as an alias so Kargo manifests apply unchanged.
pub const KARGO_API_VERSION: &str = "kargo.akuity.io/v1alpha1";
/// Argo Rollouts' apiVersion, accepted for analysis templates.
pub const ARGO_API_VERSION: &str = "argoproj.io/v1alpha1";

/// The kinds of manifest Lading stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    Project,
    ProjectConfig,
    Warehouse,
    Stage,
    PromotionTask,
    ClusterPromotionTask,
    AnalysisTemplate,
    ClusterAnalysisTemplate,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Project,
        Kind::ProjectConfig,
        Kind::Warehouse,
        Kind::Stage,
        Kind::PromotionTask,
        Kind::ClusterPromotionTask,
        Kind::AnalysisTemplate,
        Kind::ClusterAnalysisTemplate,
    ];

    /// Whether objects of this kind belong to no project.
    pub fn is_cluster_scoped(self) -> bool {
        matches!(self, Kind::ClusterPromotionTask | Kind::ClusterAnalysisTemplate)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Project => "Project",
            Kind::ProjectConfig => "ProjectConfig",
            Kind::Warehouse => "Warehouse",
            Kind::Stage => "Stage",
            Kind::PromotionTask => "PromotionTask",
            Kind::ClusterPromotionTask => "ClusterPromotionTask",
            Kind::AnalysisTemplate => "AnalysisTemplate",
            Kind::ClusterAnalysisTemplate => "ClusterAnalysisTemplate",
        }
    }

    /// The lowercase token used in storage keys and subjects.
    pub fn token(self) -> &'static str {
        match self {
            Kind::Project => "project",
            Kind::ProjectConfig => "projectconfig",
            Kind::Warehouse => "warehouse",
            Kind::Stage => "stage",
            Kind::PromotionTask => "promotiontask",
            Kind::ClusterPromotionTask => "clusterpromotiontask",
            Kind::AnalysisTemplate => "analysistemplate",
            Kind::ClusterAnalysisTemplate => "clusteranalysistemplate",
        }
    }

    pub fn from_token(token: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.token() == token)
    }

    fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Kubernetes-style object metadata. Fields Lading does not use (uid, resourceVersion, …)
/// are accepted and dropped, so `kubectl get -o yaml` output applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ObjectMeta {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A validated spec of one kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    Project(ProjectSpec),
    ProjectConfig(ProjectConfigSpec),
    Warehouse(WarehouseSpec),
    Stage(StageSpec),
    PromotionTask(PromotionTaskSpec),
    ClusterPromotionTask(PromotionTaskSpec),
    AnalysisTemplate(AnalysisTemplateSpec),
    ClusterAnalysisTemplate(AnalysisTemplateSpec),
}

/// A validated manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub metadata: ObjectMeta,
    pub spec: Spec,
}

impl Manifest {
    pub fn kind(&self) -> Kind {
        match self.spec {
            Spec::Project(_) => Kind::Project,
            Spec::ProjectConfig(_) => Kind::ProjectConfig,
            Spec::Warehouse(_) => Kind::Warehouse,
            Spec::Stage(_) => Kind::Stage,
            Spec::PromotionTask(_) => Kind::PromotionTask,
            Spec::ClusterPromotionTask(_) => Kind::ClusterPromotionTask,
            Spec::AnalysisTemplate(_) => Kind::AnalysisTemplate,
            Spec::ClusterAnalysisTemplate(_) => Kind::ClusterAnalysisTemplate,
        }
    }

    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// The project the object belongs to (a Project belongs to itself; cluster-scoped
    /// objects to none, written `""`).
    pub fn project(&self) -> &str {
        match self.spec {
            Spec::Project(_) => &self.metadata.name,
            Spec::ClusterPromotionTask(_) | Spec::ClusterAnalysisTemplate(_) => "",
            _ => &self.metadata.namespace,
        }
    }

    /// The object as Lading stores and serves it, with the canonical apiVersion.
    pub fn to_json(&self) -> Value {
        let spec = match &self.spec {
            Spec::Project(s) => serde_json::to_value(s),
            Spec::ProjectConfig(s) => serde_json::to_value(s),
            Spec::Warehouse(s) => serde_json::to_value(s),
            Spec::Stage(s) => serde_json::to_value(s),
            Spec::PromotionTask(s) | Spec::ClusterPromotionTask(s) => serde_json::to_value(s),
            Spec::AnalysisTemplate(s) | Spec::ClusterAnalysisTemplate(s) => serde_json::to_value(s),
        }
        .unwrap_or(Value::Null);
        serde_json::json!({
            "apiVersion": API_VERSION,
            "kind": self.kind().as_str(),
            "metadata": self.metadata,
            "spec": spec,
        })
    }
}

/// A manifest that failed validation: which document, which object, which field, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestError {
    /// 1-based position of the document in the applied stream.
    pub document: usize,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub field: String,
    pub reason: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document {}", self.document)?;
        match (self.kind.is_empty(), self.name.is_empty()) {
            (false, false) => write!(f, " ({} {:?})", self.kind, self.name)?,
            (false, true) => write!(f, " ({})", self.kind)?,
            _ => {}
        }
        write!(f, ": {}: {}", self.field, self.reason)
    }
}

impl std::error::Error for ManifestError {}

/// A field-level problem found while validating one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    /// A field error; a reason that quotes a long value is cut (see [`crate::excerpt`]).
    pub fn new(field: impl Into<String>, reason: impl fmt::Display) -> Self {
        let reason = crate::excerpt::shortened(&reason.to_string(), crate::excerpt::REASON_CHARS);
        Self { field: crate::excerpt::shortened(&field.into(), crate::excerpt::REASON_CHARS), reason }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default)]
    spec: Option<Value>,
}

/// Deserializes `value` into `T`, reporting the failing field's full path under `prefix`.
pub fn deserialize_at<T: DeserializeOwned>(prefix: &str, value: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let inner = err.path().to_string();
        let field = if inner == "." || inner.is_empty() {
            prefix.to_owned()
        } else if prefix.is_empty() {
            inner
        } else if inner.starts_with('[') {
            format!("{prefix}{inner}")
        } else {
            format!("{prefix}.{inner}")
        };
        FieldError::new(field, err.into_inner())
    })
}

/// Validates one document (already parsed from YAML or JSON).
pub fn parse_manifest(document: usize, value: Value) -> Result<Manifest, ManifestError> {
    let mut kind_text = String::new();
    let mut name = String::new();
    let result = (|| -> Result<Manifest, FieldError> {
        if !value.is_object() {
            return Err(FieldError::new("(document)", "must be a mapping with apiVersion, kind, metadata and spec"));
        }
        let envelope: Envelope = deserialize_at("", value)?;
        kind_text = envelope.kind.clone();
        if envelope.api_version.is_empty() {
            return Err(FieldError::new("apiVersion", "is required"));
        }
        let analysis = matches!(envelope.kind.as_str(), "AnalysisTemplate" | "ClusterAnalysisTemplate");
        let argo = analysis && envelope.api_version == ARGO_API_VERSION;
        if envelope.api_version != API_VERSION && envelope.api_version != KARGO_API_VERSION && !argo {
            let also = if analysis {
                format!("{KARGO_API_VERSION} or {ARGO_API_VERSION}")
            } else {
                KARGO_API_VERSION.to_owned()
            };
            return Err(FieldError::new(
                "apiVersion",
                format!("must be {API_VERSION} (or {also}), got {:?}", envelope.api_version),
            ));
        }
        if envelope.kind.is_empty() {
            return Err(FieldError::new("kind", "is required"));
        }
        let kind = Kind::parse(&envelope.kind).ok_or_else(|| {
            FieldError::new(
                "kind",
                format!(
                    "must be one of Project, ProjectConfig, Warehouse, Stage, PromotionTask, ClusterPromotionTask, AnalysisTemplate, ClusterAnalysisTemplate, got {:?}",
                    envelope.kind
                ),
            )
        })?;
        let metadata: ObjectMeta = deserialize_at("metadata", envelope.metadata.unwrap_or(Value::Null))
            .map_err(|e| if e.field == "metadata" { FieldError::new("metadata", "is required") } else { e })?;
        name = metadata.name.clone();
        if metadata.name.is_empty() {
            return Err(FieldError::new("metadata.name", "is required"));
        }
        validate_dns_label(&metadata.name).map_err(|e| FieldError::new("metadata.name", e))?;
        if kind.is_cluster_scoped() {
            if !metadata.namespace.is_empty() {
                return Err(FieldError::new("metadata.namespace", format!("a {kind} belongs to no project")));
            }
        } else if kind != Kind::Project {
            if metadata.namespace.is_empty() {
                return Err(FieldError::new("metadata.namespace", "is required: it names the project"));
            }
            validate_dns_label(&metadata.namespace).map_err(|e| FieldError::new("metadata.namespace", e))?;
        }
        let spec_value = envelope.spec.unwrap_or(Value::Object(Default::default()));
        let spec = match kind {
            Kind::Project => Spec::Project(project::parse_project(spec_value)?),
            Kind::ProjectConfig => {
                if metadata.name != metadata.namespace {
                    return Err(FieldError::new(
                        "metadata.name",
                        format!("a ProjectConfig must be named after its project {:?}", metadata.namespace),
                    ));
                }
                Spec::ProjectConfig(project::parse_project_config(spec_value)?)
            }
            Kind::Warehouse => Spec::Warehouse(warehouse::parse(spec_value)?),
            Kind::Stage => Spec::Stage(stage::parse(&metadata.name, spec_value)?),
            Kind::PromotionTask => Spec::PromotionTask(promotion_task::parse(spec_value)?),
            Kind::ClusterPromotionTask => Spec::ClusterPromotionTask(promotion_task::parse(spec_value)?),
            Kind::AnalysisTemplate => Spec::AnalysisTemplate(analysis_template::parse(spec_value)?),
            Kind::ClusterAnalysisTemplate => Spec::ClusterAnalysisTemplate(analysis_template::parse(spec_value)?),
        };
        Ok(Manifest { metadata, spec })
    })();
    result.map_err(|e| ManifestError {
        document,
        kind: crate::excerpt::shortened(&kind_text, crate::excerpt::EXCERPT_CHARS),
        name: crate::excerpt::shortened(&name, crate::excerpt::EXCERPT_CHARS),
        field: e.field,
        reason: e.reason,
    })
}

/// Validates one document as [`parse_manifest`] does, and checks every expression in it
/// (see `expressions`): what `lading apply` accepts.
pub fn validate_manifest(document: usize, value: Value) -> Result<Manifest, ManifestError> {
    let manifest = parse_manifest(document, value)?;
    expressions::check(&manifest.spec).map_err(|e| ManifestError {
        document,
        kind: manifest.kind().to_string(),
        name: crate::excerpt::shortened(manifest.name(), crate::excerpt::EXCERPT_CHARS),
        field: e.field,
        reason: e.reason,
    })?;
    Ok(manifest)
}

/// Validates every document, expressions included; on any failure returns every error
/// found, so nothing is stored unless all documents are valid. Blocking: expressions are
/// parsed on a thread of their own.
pub fn parse_manifests(documents: Vec<Value>) -> Result<Vec<Manifest>, Vec<ManifestError>> {
    let mut manifests = Vec::new();
    let mut errors = Vec::new();
    for (i, doc) in documents.into_iter().enumerate() {
        match validate_manifest(i + 1, doc) {
            Ok(m) => manifests.push(m),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() { Ok(manifests) } else { Err(errors) }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod analysis_template_tests;
#[cfg(test)]
mod step_configs_tests;
