//! Runs a stage's promotion steps in order in a fresh workspace, evaluating expressions
//! in each step's config just before the step runs (so later steps see earlier outputs).
//!
//! Per step, as Kargo does: `if` decides whether it runs (default: every earlier step
//! succeeded, so `failure()` or `always()` steps can clean up); `retry` tries it again
//! until `errorThreshold` consecutive errors or `timeout`; `continueOnError` lets the
//! promotion go on after it fails; `vars` add variables for it alone.
//!
//! # Layout
//!
//! - [`expressions`]: `${{ }}` in configs and `if` conditions.
//! - [`tasks`]: promotion tasks expanded into their steps.
//! - [`workspace`]: the directory steps work in.
//! - `waiting`: the state a run resumed at its waiting step carries.
//! - `report`: what each step's end reports.
//! - `service_steps`: `set-freight-alias` and `set-metadata`, through the observer.

pub mod expressions;
mod report;
mod service_steps;
pub mod tasks;
mod waiting;
pub mod workspace;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use lading_domain::duration::parse_go_duration;
use lading_domain::metadata::{MetadataKind, ProjectMetadata};
use lading_domain::spec::{PromotionStep, PromotionVariable};
use lading_domain::{Freight, FreightId};
use serde_json::{Map, Value, json};

use crate::steps::{CommitAuthor, Remotes, StepContext, run_step};
use expressions::{Scope, budget, evaluate_condition, evaluate_string, evaluate_tree};
pub use report::{Pushed, StepOutcome, StepReport};
use service_steps::{set_freight_alias, set_metadata};
use waiting::CarriedState;
pub use waiting::{Parked, ResumeFrom, WaitSlot, Waiting};

/// One promotion to run.
pub struct PromotionInput<'a> {
    pub project: &'a str,
    pub stage: &'a str,
    pub promotion: &'a str,
    pub freight_id: &'a FreightId,
    pub freight: &'a Freight,
    /// See [`StepContext::origins`].
    pub origins: &'a [Freight],
    pub vars: &'a [PromotionVariable],
    pub steps: &'a [PromotionStep],
    pub author: &'a CommitAuthor,
    /// Git credentials, and the budgets of calls to remote servers.
    pub remotes: &'a Remotes,
    /// See [`StepContext::mirrors`].
    pub mirrors: Option<&'a Path>,
    /// Asked before every effect outside the workspace.
    pub effects: &'a dyn EffectGuard,
    /// The secrets `secret(name)` reads; what it revealed is cut out of every message.
    pub secrets: Option<&'a lading_domain::secrets::SecretAccess>,
    /// Whether a step that waits (a pull request) parks the run
    /// ([`PromotionError::Waiting`]) instead of polling in it.
    pub parks: bool,
    /// Where a promotion that waited resumes, and with what.
    pub resume: Option<&'a ResumeFrom>,
}

/// A finished promotion.
#[derive(Debug, Clone, PartialEq)]
pub struct PromotionOutcome {
    /// The commit the promotion made, as pushed (the last `commit` output), or empty.
    pub commit: String,
    /// Outputs of steps that have an `as` alias.
    pub outputs: Map<String, Value>,
    /// The health checks its steps left (one per `argocd-update`), in step order.
    pub health_checks: Vec<lading_domain::stage_health::HealthCheck>,
}

/// Why a promotion failed: which step, and what it said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("step {index} ({uses}): {message}")]
pub struct StepFailure {
    pub index: usize,
    pub uses: String,
    pub message: String,
}

/// Why a run stopped before its end without a step failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The promotion was aborted (the reason given).
    Aborted(String),
    /// This replica no longer holds the stage's turn: another may be running the
    /// promotion, so this run must neither change anything nor record anything.
    LostTurn(String),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Aborted(reason) => write!(f, "aborted: {reason}"),
            Stop::LostTurn(reason) => f.write_str(reason),
        }
    }
}

/// An effect outside the workspace a step is about to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Pushing to a Git remote: once it happened, the promotion cannot be aborted.
    Push,
    /// Calling out (an HTTP request, an alias change).
    Call,
}

/// Asked by steps right before each effect outside the workspace, so that a run that
/// lost its turn or was aborted changes nothing more.
pub trait EffectGuard: Sync {
    /// `Err` (with the reason) refuses the effect; the step fails with it.
    fn before_effect(&self, effect: Effect) -> Result<(), String>;

    /// Why an effect was refused, once one was: the run then ends with this instead of
    /// a step failure.
    fn refused(&self) -> Option<Stop> {
        None
    }
}

/// A guard that allows every effect: runs under no lease (tests, tools).
pub struct Unguarded;

impl EffectGuard for Unguarded {
    fn before_effect(&self, _effect: Effect) -> Result<(), String> {
        Ok(())
    }
}

/// Watches a promotion run: may stop it before a step, and hears how each step ended.
pub trait StepObserver {
    /// Called before each step; an `Err` stops the promotion there.
    fn before_step(&mut self, _index: usize) -> Result<(), Stop> {
        Ok(())
    }

    fn step_finished(&mut self, _report: StepReport) {}

    /// Gives a freight a new alias (the `set-freight-alias` step); only the promoter
    /// service can, so the default refuses.
    fn set_freight_alias(&mut self, _freight: &FreightId, _alias: &str) -> Result<(), String> {
        Err("set-freight-alias needs the promoter service".to_owned())
    }

    /// The metadata of the project's freight and stages when the promotion starts
    /// (`freightMetadata()`, `stageMetadata()`); the run adds what its own
    /// `set-metadata` steps set.
    fn project_metadata(&self) -> ProjectMetadata {
        ProjectMetadata::default()
    }

    /// Sets keys of a freight's (by ID or alias) or a stage's metadata (the `set-metadata`
    /// step; `values` is a JSON object) and returns the name it is kept under (a freight's
    /// ID); only the promoter service can, so the default refuses.
    fn set_metadata(&mut self, _kind: MetadataKind, _name: &str, _values: &str) -> Result<String, String> {
        Err("set-metadata needs the promoter service".to_owned())
    }
}

/// An observer that watches nothing.
pub struct Unobserved;

impl StepObserver for Unobserved {}

/// Why a promotion did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromotionError {
    #[error(transparent)]
    Step(#[from] StepFailure),
    #[error("stopped at step {index}: {stop}")]
    Stopped { index: usize, stop: Stop },
    /// A step waits on something outside: the run stopped there, to be resumed.
    #[error("waiting at step {}: {}", .0.index, .0.parked.message)]
    Waiting(Box<Waiting>),
}

/// Runs every step without an observer.
pub fn run_promotion(input: &PromotionInput<'_>, workspace: &Path) -> Result<PromotionOutcome, PromotionError> {
    run_promotion_observed(input, workspace, &mut Unobserved)
}

/// Pause between attempts of a retried step.
fn retry_pause(attempt: u32) -> Duration {
    Duration::from_millis(250 * u64::from(attempt)).min(Duration::from_secs(5))
}

struct Run<'a> {
    input: &'a PromotionInput<'a>,
    ctx: Value,
    vars: Map<String, Value>,
    outputs: Map<String, Value>,
    statuses: BTreeMap<String, String>,
    failure: Option<StepFailure>,
    /// The project's metadata, with what this run's `set-metadata` steps set.
    metadata: ProjectMetadata,
}

impl Run<'_> {
    fn scope<'s>(&'s self, vars: &'s Map<String, Value>, task: &'s Value) -> Scope<'s> {
        Scope {
            vars,
            ctx: &self.ctx,
            outputs: &self.outputs,
            freight: self.input.freight,
            origins: self.input.origins,
            step_status: &self.statuses,
            failed: self.failure.is_some(),
            task,
            secrets: self.input.secrets,
            metadata: &self.metadata,
        }
    }

    /// `text` without any secret value an expression of this promotion revealed.
    fn scrub(&self, text: &str) -> String {
        self.input.secrets.map_or_else(|| text.to_owned(), |secrets| secrets.revealed.scrub(text))
    }

    /// For a step inside a task (alias `A::a`): `{outputs}` of the task's steps so far.
    fn task_view(&self, step: &PromotionStep) -> Value {
        let Some((task_alias, _)) = step.alias.as_deref().and_then(|a| a.split_once(tasks::TASK_ALIAS_SEPARATOR))
        else {
            return Value::Null;
        };
        let prefix = format!("{task_alias}{}", tasks::TASK_ALIAS_SEPARATOR);
        let outputs: Map<String, Value> = self
            .outputs
            .iter()
            .filter_map(|(alias, value)| alias.strip_prefix(&prefix).map(|inner| (inner.to_owned(), value.clone())))
            .collect();
        json!({"outputs": outputs})
    }

    /// The template's variables overlaid with the step's own (evaluated under one budget).
    fn step_vars(&self, step: &PromotionStep) -> Result<Map<String, Value>, String> {
        let mut vars = self.vars.clone();
        let task = self.task_view(step);
        let budget = budget();
        for (i, var) in step.vars.iter().enumerate() {
            let value = evaluate_string(&var.value, &self.scope(&vars, &task), &format!("vars[{i}].value"), &budget)?;
            vars.insert(var.name.clone(), value);
        }
        Ok(vars)
    }

    /// Runs one step with its retries; returns its outputs or its last error.
    fn attempt(
        &mut self,
        step: &PromotionStep,
        step_ctx: &StepContext<'_>,
        observer: &mut dyn StepObserver,
    ) -> Result<Map<String, Value>, String> {
        let vars = self.step_vars(step)?;
        let threshold = step.retry.as_ref().and_then(|r| r.error_threshold).unwrap_or(1).max(1);
        let timeout = step.retry.as_ref().and_then(|r| r.timeout.as_deref()).and_then(|t| parse_go_duration(t).ok());
        let started = Instant::now();
        let step_ctx = &StepContext { timeout, ..*step_ctx };
        let mut errors = 0;
        loop {
            let task = self.task_view(step);
            let config = evaluate_tree(
                step.config.as_ref().unwrap_or(&Value::Object(Map::new())),
                &self.scope(&vars, &task),
                "config",
                &budget(),
            )?;
            let result = match step.uses.as_str() {
                "set-freight-alias" => set_freight_alias(self.input.freight_id, config, observer),
                "set-metadata" => set_metadata(config, observer, &mut self.metadata),
                uses => run_step(uses, step_ctx, config),
            };
            match result {
                Ok(outputs) => return Ok(outputs),
                Err(error) if step_ctx.wait.is_some_and(WaitSlot::is_parked) => return Err(error),
                Err(error) => {
                    errors += 1;
                    let timed_out = timeout.is_some_and(|t| started.elapsed() >= t);
                    if errors >= threshold || timed_out {
                        return Err(if errors > 1 { format!("{error} (after {errors} attempts)") } else { error });
                    }
                    tracing::warn!(
                        uses = step.uses,
                        attempt = errors,
                        error = self.scrub(&error),
                        "step failed; retrying"
                    );
                    if !self.input.remotes.cancel.sleep(retry_pause(errors)) {
                        return Err(error);
                    }
                }
            }
        }
    }
}

/// Runs every step; stops at the first failure or when `observer` says so.
pub fn run_promotion_observed(
    input: &PromotionInput<'_>,
    workspace: &Path,
    observer: &mut dyn StepObserver,
) -> Result<PromotionOutcome, PromotionError> {
    let mut run = Run {
        input,
        ctx: json!({
            "project": input.project,
            "stage": input.stage,
            "promotion": input.promotion,
            "targetFreight": {
                "name": input.freight_id.as_str(),
                "origin": {"kind": input.freight.origin.kind, "name": input.freight.origin.name},
            },
        }),
        vars: Map::new(),
        outputs: Map::new(),
        statuses: BTreeMap::new(),
        failure: None,
        metadata: observer.project_metadata(),
    };
    // The template's variables share one budget.
    let vars_budget = budget();
    for (i, var) in input.vars.iter().enumerate() {
        let value =
            evaluate_string(&var.value, &run.scope(&run.vars, &Value::Null), &format!("vars[{i}].value"), &vars_budget)
                .map_err(|message| StepFailure { index: 0, uses: "vars".to_owned(), message: run.scrub(&message) })?;
        run.vars.insert(var.name.clone(), value);
    }
    let workspace = workspace::Workspace::open(workspace).map_err(|e| StepFailure {
        index: 0,
        uses: "workspace".to_owned(),
        message: e.to_string(),
    })?;
    let mut commit = String::new();
    let mut health_checks = Vec::new();
    let resume_at = match input.resume {
        Some(resume) => {
            let carried = CarriedState::restore(resume)?;
            run.outputs = carried.outputs;
            run.statuses = carried.statuses;
            run.failure = carried.failure;
            commit = carried.commit;
            health_checks = carried.health_checks;
            resume.index
        }
        None => 0,
    };
    let step_ctx = StepContext {
        workspace: &workspace,
        project: input.project,
        stage: input.stage,
        promotion: input.promotion,
        freight: input.freight,
        origins: input.origins,
        author: input.author,
        remotes: input.remotes,
        mirrors: input.mirrors,
        effects: input.effects,
        timeout: None,
        wait: None,
    };
    for (index, step) in input.steps.iter().enumerate().skip(resume_at) {
        observer.before_step(index).map_err(|stop| PromotionError::Stopped { index, stop })?;
        let slot = WaitSlot::for_step(input.resume, index);
        let step_ctx = StepContext { wait: input.parks.then_some(&slot), ..step_ctx };
        let alias = step.alias.clone().unwrap_or_else(|| format!("step-{index}"));
        let condition = step.condition.as_deref().unwrap_or("success()");
        let task = run.task_view(step);
        let runs = match step.condition.as_deref() {
            // `success()` without an expression evaluator: no earlier step failed.
            None => Ok(run.failure.is_none()),
            Some(condition) => evaluate_condition(condition, &run.scope(&run.vars, &task), &budget()),
        };
        let started_at_ms = slot.since_ms.unwrap_or_else(lading_events::now_ms);
        let result = match runs {
            Ok(false) => {
                run.statuses.insert(alias.clone(), StepOutcome::Skipped.as_str().to_owned());
                observer.step_finished(StepReport {
                    index,
                    alias,
                    uses: step.uses.clone(),
                    outcome: StepOutcome::Skipped,
                    message: format!("skipped: `if: {condition}` was false"),
                    started_at_ms,
                    finished_at_ms: started_at_ms,
                    pushed: None,
                });
                continue;
            }
            Ok(true) => {
                tracing::info!(step = index, uses = step.uses, "running step");
                let result = run.attempt(step, &step_ctx, observer);
                match slot.take() {
                    Some(parked) => {
                        let carried = CarriedState {
                            outputs: run.outputs.clone(),
                            statuses: run.statuses.clone(),
                            failure: run.failure.clone(),
                            commit: commit.clone(),
                            health_checks: health_checks.clone(),
                        };
                        match carried.record(index, alias.clone(), &step.uses, parked, |text| run.scrub(text)) {
                            Some(waiting) => return Err(PromotionError::Waiting(Box::new(waiting))),
                            None => run.attempt(step, &StepContext { wait: None, ..step_ctx }, observer),
                        }
                    }
                    None => result,
                }
            }
            Err(error) => Err(error),
        };
        // What a step says may quote a secret it was given (a URL, a header): cut it.
        let result = result.map_err(|message| run.scrub(&message));
        if result.is_err()
            && let Some(stop) = input.effects.refused()
        {
            return Err(PromotionError::Stopped { index, stop });
        }
        let (outcome, message) = match &result {
            // A step that opened or watched a pull request says which, so a promotion
            // waiting on it shows the link.
            Ok(outputs) => match outputs.get("pr").and_then(|pr| pr.get("url")).and_then(Value::as_str) {
                Some(url) => (StepOutcome::Succeeded, format!("pull request {url}")),
                None => (StepOutcome::Succeeded, String::new()),
            },
            Err(message) if step.continue_on_error => (StepOutcome::Errored, message.clone()),
            Err(message) => (StepOutcome::Failed, message.clone()),
        };
        observer.step_finished(StepReport {
            index,
            alias: alias.clone(),
            uses: step.uses.clone(),
            outcome,
            message,
            started_at_ms,
            finished_at_ms: lading_events::now_ms(),
            pushed: result.as_ref().ok().and_then(|outputs| Pushed::from_outputs(&step.uses, outputs)),
        });
        run.statuses.insert(alias.clone(), outcome.as_str().to_owned());
        match result {
            Ok(step_outputs) => {
                // The promotion's commit: `git-commit` reports the one it made or found,
                // `git-push` the same commit as pushed (after a rebase, the rebased one).
                if let Some(Value::String(c)) = step_outputs.get("commit") {
                    commit = c.clone();
                }
                health_checks.extend(lading_domain::stage_health::check_left_by(&step.uses, &step_outputs));
                if step.alias.is_some() {
                    run.outputs.insert(alias, Value::Object(step_outputs));
                }
            }
            Err(message) if step.continue_on_error => {
                tracing::warn!(step = index, uses = step.uses, message, "step failed; continuing");
            }
            Err(message) => {
                run.failure.get_or_insert(StepFailure { index, uses: step.uses.clone(), message });
            }
        }
    }
    match run.failure {
        Some(failure) => Err(PromotionError::Step(failure)),
        None => Ok(PromotionOutcome { commit, outputs: run.outputs, health_checks }),
    }
}
