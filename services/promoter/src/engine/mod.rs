//! Runs a stage's promotion steps in order in a fresh workspace, evaluating expressions
//! in each step's config just before the step runs (so later steps see earlier outputs).

pub mod expressions;
pub mod workspace;

use std::path::Path;

use lading_domain::spec::{PromotionStep, PromotionVariable};
use lading_domain::{Freight, FreightId};
use serde_json::{Map, Value, json};

use crate::steps::{CommitAuthor, StepContext, run_step};
use expressions::{Scope, evaluate_string, evaluate_tree};

/// One promotion to run.
pub struct PromotionInput<'a> {
    pub project: &'a str,
    pub stage: &'a str,
    pub promotion: &'a str,
    pub freight_id: &'a FreightId,
    pub freight: &'a Freight,
    pub vars: &'a [PromotionVariable],
    pub steps: &'a [PromotionStep],
    pub author: &'a CommitAuthor,
}

/// A finished promotion.
#[derive(Debug, Clone, PartialEq)]
pub struct PromotionOutcome {
    /// The commit the promotion made (the last `git-commit` output), or empty.
    pub commit: String,
    /// Outputs of steps that have an `as` alias.
    pub outputs: Map<String, Value>,
}

/// Why a promotion failed: which step, and what it said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("step {index} ({uses}): {message}")]
pub struct StepFailure {
    pub index: usize,
    pub uses: String,
    pub message: String,
}

/// Runs every step; stops at the first failure.
/// How a step ended, as reported to a [`StepObserver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReport {
    pub index: usize,
    /// The step's `as`, or `step-<index>`.
    pub alias: String,
    pub uses: String,
    /// `None` when it succeeded; the error otherwise.
    pub error: Option<String>,
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
}

/// Watches a promotion run: may stop it before a step, and hears how each step ended.
pub trait StepObserver {
    /// Called before each step; an `Err` with a reason stops the promotion there.
    fn before_step(&mut self, _index: usize) -> Result<(), String> {
        Ok(())
    }

    fn step_finished(&mut self, _report: StepReport) {}
}

/// An observer that watches nothing.
pub struct Unobserved;

impl StepObserver for Unobserved {}

/// Why a promotion did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromotionError {
    #[error(transparent)]
    Step(#[from] StepFailure),
    #[error("aborted before step {index}: {reason}")]
    Aborted { index: usize, reason: String },
}

/// Runs every step without an observer.
pub fn run_promotion(input: &PromotionInput<'_>, workspace: &Path) -> Result<PromotionOutcome, PromotionError> {
    run_promotion_observed(input, workspace, &mut Unobserved)
}

/// Runs every step; stops at the first failure or when `observer` says so.
pub fn run_promotion_observed(
    input: &PromotionInput<'_>,
    workspace: &Path,
    observer: &mut dyn StepObserver,
) -> Result<PromotionOutcome, PromotionError> {
    let ctx_value = json!({
        "project": input.project,
        "stage": input.stage,
        "promotion": input.promotion,
        "targetFreight": {
            "name": input.freight_id.as_str(),
            "origin": {"kind": input.freight.origin.kind, "name": input.freight.origin.name},
        },
    });
    let mut vars = Map::new();
    let mut outputs = Map::new();
    for (i, var) in input.vars.iter().enumerate() {
        let scope = Scope { vars: &vars, ctx: &ctx_value, outputs: &outputs, freight: input.freight };
        let value = evaluate_string(&var.value, &scope).map_err(|message| StepFailure {
            index: 0,
            uses: "vars".to_owned(),
            message: format!("vars[{i}] ({}): {message}", var.name),
        })?;
        vars.insert(var.name.clone(), value);
    }
    let step_ctx = StepContext {
        workspace,
        project: input.project,
        stage: input.stage,
        promotion: input.promotion,
        freight: input.freight,
        author: input.author,
    };
    let mut commit = String::new();
    for (index, step) in input.steps.iter().enumerate() {
        observer.before_step(index).map_err(|reason| PromotionError::Aborted { index, reason })?;
        let started_at_ms = lading_events::now_ms();
        let alias = step.alias.clone().unwrap_or_else(|| format!("step-{index}"));
        let mut fail = |message: String| {
            observer.step_finished(StepReport {
                index,
                alias: alias.clone(),
                uses: step.uses.clone(),
                error: Some(message.clone()),
                started_at_ms,
                finished_at_ms: lading_events::now_ms(),
            });
            StepFailure { index, uses: step.uses.clone(), message }
        };
        let scope = Scope { vars: &vars, ctx: &ctx_value, outputs: &outputs, freight: input.freight };
        let config =
            evaluate_tree(step.config.as_ref().unwrap_or(&Value::Object(Map::new())), &scope).map_err(&mut fail)?;
        tracing::info!(step = index, uses = step.uses, "running step");
        let step_outputs = run_step(&step.uses, &step_ctx, config).map_err(&mut fail)?;
        observer.step_finished(StepReport {
            index,
            alias,
            uses: step.uses.clone(),
            error: None,
            started_at_ms,
            finished_at_ms: lading_events::now_ms(),
        });
        // The promotion's commit is the one `git-commit` made or recognised; a push
        // reports the branch tip, which is the same commit unless the promotion resumed.
        if let Some(Value::String(c)) = step_outputs.get("commit")
            && (step.uses == "git-commit" || commit.is_empty())
        {
            commit = c.clone();
        }
        if let Some(alias) = &step.alias {
            outputs.insert(alias.clone(), Value::Object(step_outputs));
        }
    }
    Ok(PromotionOutcome { commit, outputs })
}
