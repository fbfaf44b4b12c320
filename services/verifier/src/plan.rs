//! What one verification runs: the stage's analysis templates, looked up in the specs,
//! their arguments rendered and resolved, and each metric's plan and conditions.

use std::collections::BTreeMap;
use std::sync::Arc;

use lading_bus::specs::Specs;
use lading_domain::expression::{ExpressionLimits, Program};
use lading_domain::spec::{Metric, StageSpec};
use lading_domain::verification::{MetricPlan, args, conditions};

/// One metric, ready to measure.
pub struct PlannedMetric {
    pub metric: Metric,
    pub plan: MetricPlan,
    pub success: Option<Arc<Program>>,
    pub failure: Option<Arc<Program>>,
}

/// A verification's metrics and argument values.
pub struct RunPlan {
    pub metrics: Vec<PlannedMetric>,
    pub args: BTreeMap<String, String>,
}

/// The templates a stage's verification names, as `Kind/name`.
pub fn template_names(stage: &StageSpec) -> Vec<String> {
    stage
        .verification
        .iter()
        .flat_map(|v| v.analysis_templates.iter())
        .map(|t| {
            format!("{}/{}", if t.is_cluster_scoped() { "ClusterAnalysisTemplate" } else { "AnalysisTemplate" }, t.name)
        })
        .collect()
}

/// Builds the plan of `stage`'s verification; `Err` says why it cannot run (an Error
/// verdict). Arguments' expressions read `scope` (the verified freight, the project's
/// metadata) as Kargo's do. Blocking: they run on their own thread.
pub fn build(
    specs: &Specs,
    project: &str,
    stage_name: &str,
    stage: &StageSpec,
    limits: &ExpressionLimits,
    scope: args::ArgumentScope<'_>,
) -> Result<RunPlan, String> {
    let Some(verification) = &stage.verification else {
        return Ok(RunPlan { metrics: Vec::new(), args: BTreeMap::new() });
    };
    let mut templates = Vec::new();
    for reference in &verification.analysis_templates {
        let kind = if reference.is_cluster_scoped() { "ClusterAnalysisTemplate" } else { "AnalysisTemplate" };
        let template = specs
            .analysis_template(project, reference)
            .ok_or_else(|| format!("{kind} {:?} does not exist", reference.name))?;
        templates.push((reference.name.as_str(), template));
    }
    let mut values: Vec<(String, String)> = stage.vars().iter().map(|v| (v.name.clone(), v.value.clone())).collect();
    let var_count = values.len();
    values.extend(verification.args.iter().map(|a| (a.name.clone(), a.value.clone())));
    let rendered = args::render_values(&values, project, stage_name, limits, scope)
        .map_err(|e| format!("spec.verification.args: {e}"))?;
    let stage_args: BTreeMap<String, String> = rendered.into_iter().skip(var_count).collect();
    let args = args::resolve(&templates, &stage_args)?;
    let mut metrics = Vec::new();
    for (_, template) in &templates {
        for metric in &template.metrics {
            let plan = MetricPlan::of(metric, &args)?;
            let compile = |source: &str| -> Result<Option<Arc<Program>>, String> {
                if source.trim().is_empty() {
                    return Ok(None);
                }
                conditions::check(source.trim())
                    .map(|p| Some(Arc::new(p)))
                    .map_err(|e| format!("metric {:?}: {e}", metric.name))
            };
            metrics.push(PlannedMetric {
                success: compile(&metric.success_condition)?,
                failure: compile(&metric.failure_condition)?,
                metric: metric.clone(),
                plan,
            });
        }
    }
    Ok(RunPlan { metrics, args })
}
