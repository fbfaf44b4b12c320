//! Evaluating programs: the variables and functions they see, and the budget they spend.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use cel::common::value::CowVal;
use cel::{Context, ExecutionError, FunctionContext, Value as CelValue};
use serde_json::Value;

use super::budget::{self, Budget, Probe};
use super::error::ExpressionError;
use super::instrument::{COPY, MATCHES, RESULT, TICK};
use super::program::Program;
use super::values::{footprint, to_json};
use super::{on_expression_stack, standard};

/// Variables and functions for programs, and the budget they spend together.
pub struct Evaluator<'b> {
    budget: &'b Budget,
    context: Context<'static, 'static>,
}

impl<'b> Evaluator<'b> {
    /// An evaluator with CEL's standard library and no variables, spending `budget`.
    pub fn new(budget: &'b Budget) -> Evaluator<'b> {
        let mut context = Context::with_env(standard());
        for (name, probe) in [(RESULT, Probe::Result), (COPY, Probe::Copy), (TICK, Probe::Tick)] {
            let meter = budget.meter.clone();
            add(&mut context, name, function(move |call| budget::probe(&meter, probe, call)));
        }
        let meter = budget.meter.clone();
        add(&mut context, MATCHES, function(move |call| budget::matches(&meter, call)));
        Evaluator { budget, context }
    }

    /// Binds `name` to `value`.
    pub fn bind(&mut self, name: &str, value: &Value) -> Result<(), ExpressionError> {
        let value = cel::to_value(value).map_err(|e| ExpressionError::Internal(format!("variable {name}: {e}")))?;
        self.context.add_variable_from_value(name, value);
        Ok(())
    }

    /// Binds `name` to a string.
    pub fn bind_text(&mut self, name: &str, text: &str) {
        self.context.add_variable_from_value(name, CelValue::String(Arc::new(text.to_owned())));
    }

    /// The context, to add functions to.
    pub fn context_mut(&mut self) -> &mut Context<'static, 'static> {
        &mut self.context
    }

    pub fn budget(&self) -> &Budget {
        self.budget
    }

    /// Evaluates `program` on an expression thread; its result as JSON.
    pub fn evaluate(&self, program: &Program) -> Result<Value, ExpressionError> {
        on_expression_stack(|| self.evaluate_here(program))?
    }

    fn evaluate_here(&self, program: &Program) -> Result<Value, ExpressionError> {
        if let Some(exceeded) = self.budget.exceeded() {
            return Err(exceeded);
        }
        let _clock = self.budget.meter.start_clock();
        let limit = self.budget.limits().max_output_bytes;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let value = cel::Value::resolve_val(&program.expr, &self.context)
                .map_err(|e| ExpressionError::Evaluation(describe(&e)))?;
            if footprint(value.as_ref(), limit) > limit {
                return Err(ExpressionError::OutputTooLarge { limit });
            }
            to_json(value.as_ref())
        }));
        // An exhausted budget is the answer, whatever the program made of the errors.
        if let Some(exceeded) = self.budget.exceeded() {
            return Err(exceeded);
        }
        outcome.unwrap_or_else(|_| Err(ExpressionError::Internal("the interpreter panicked".to_owned())))
    }
}

/// A CEL error as users read it.
fn describe(error: &ExecutionError) -> String {
    match error {
        ExecutionError::FunctionError { function, message } => format!("{function}: {message}"),
        other => other.to_string(),
    }
}

fn add(context: &mut Context<'static, 'static>, name: &str, function: RawFunction) {
    // Lading's probes are named `@…`, which no library and no user can declare.
    let added = context.add_function(name, function);
    debug_assert!(added.is_ok(), "{name} is free");
}

/// A function with full access to its call, its arguments borrowed as they are: the
/// type CEL registers every function as.
pub type RawFunction =
    Box<dyn for<'c, 'v> Fn(&mut FunctionContext<'c, 'v>) -> Result<CowVal<'c, 'v>, ExecutionError> + Send + Sync>;

/// `f` as a [`RawFunction`].
pub fn function<F>(f: F) -> RawFunction
where
    F: for<'c, 'v> Fn(&mut FunctionContext<'c, 'v>) -> Result<CowVal<'c, 'v>, ExecutionError> + Send + Sync + 'static,
{
    Box::new(f)
}
