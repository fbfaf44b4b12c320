//! Success and failure conditions: expressions over `result` in the forms Argo users
//! write (`result[0] >= 0.95`, `result == "ok"`, `len(result) > 0 && result[0] < 100`,
//! `isNaN(result)`, `default(result, 0)`), run by the bounded CEL layer of
//! [`crate::expression`]. Checked when a template is applied; evaluated per measurement.

use std::sync::Arc;

use cel::extractors::Arguments;
use cel::{Context, ExecutionError, Value as CelValue};

use crate::expression::{Budget, Evaluator, ExpressionError, ExpressionLimits, Program, QuotedError};

/// The functions conditions may call besides CEL's (Argo's expr functions).
pub const FUNCTIONS: [&str; 6] = ["len", "isNaN", "isInf", "default", "asInt", "asFloat"];
/// The variables conditions see.
pub const VARIABLES: [&str; 1] = ["result"];

/// Parses a condition and checks that it names only `result` and known functions.
pub fn check(source: &str) -> Result<Program, QuotedError> {
    Program::compile(source)
        .and_then(|program| program.check_names(&FUNCTIONS, &VARIABLES).map(|()| program))
        .map_err(|e| QuotedError::bare(source, e))
}

fn first_number(args: &[CelValue]) -> Option<f64> {
    match args.first()? {
        CelValue::Float(f) => Some(*f),
        CelValue::Int(i) => Some(*i as f64),
        CelValue::UInt(u) => Some(*u as f64),
        CelValue::List(items) if items.len() == 1 => first_number(&items[..]),
        _ => None,
    }
}

/// Adds [`FUNCTIONS`] to `context`.
pub fn add(context: &mut Context<'_, '_>) -> Result<(), String> {
    let declared = |e: cel::DeclarationError| e.to_string();
    context
        .add_function("len", |Arguments(args): Arguments| -> Result<CelValue, ExecutionError> {
            match args.first() {
                Some(CelValue::List(items)) => Ok(CelValue::Int(items.len() as i64)),
                Some(CelValue::String(s)) => Ok(CelValue::Int(s.chars().count() as i64)),
                Some(CelValue::Map(m)) => Ok(CelValue::Int(m.map.len() as i64)),
                Some(CelValue::Null) => Ok(CelValue::Int(0)),
                _ => Err(ExecutionError::function_error("len", "needs a list, a string or a map")),
            }
        })
        .map_err(declared)?;
    context
        .add_function("isNaN", |Arguments(args): Arguments| -> Result<CelValue, ExecutionError> {
            first_number(&args)
                .map(|f| CelValue::Bool(f.is_nan()))
                .ok_or_else(|| ExecutionError::function_error("isNaN", "needs a number"))
        })
        .map_err(declared)?;
    context
        .add_function("isInf", |Arguments(args): Arguments| -> Result<CelValue, ExecutionError> {
            first_number(&args)
                .map(|f| CelValue::Bool(f.is_infinite()))
                .ok_or_else(|| ExecutionError::function_error("isInf", "needs a number"))
        })
        .map_err(declared)?;
    context
        .add_function("default", |Arguments(args): Arguments| -> Result<CelValue, ExecutionError> {
            let (Some(value), Some(fallback)) = (args.first(), args.get(1)) else {
                return Err(ExecutionError::function_error("default", "needs a value and a default"));
            };
            let missing = match value {
                CelValue::Null => true,
                CelValue::Float(f) => f.is_nan(),
                CelValue::List(items) => items.is_empty(),
                _ => false,
            };
            Ok(if missing { fallback.clone() } else { value.clone() })
        })
        .map_err(declared)?;
    context
        .add_function("asFloat", |Arguments(args): Arguments| -> Result<CelValue, ExecutionError> {
            match args.first() {
                Some(CelValue::String(s)) => s
                    .trim()
                    .parse::<f64>()
                    .map(CelValue::Float)
                    .map_err(|_| ExecutionError::function_error("asFloat", format!("{s:?} is not a number"))),
                _ => first_number(&args)
                    .map(CelValue::Float)
                    .ok_or_else(|| ExecutionError::function_error("asFloat", "needs a number or a string")),
            }
        })
        .map_err(declared)?;
    context
        .add_function("asInt", |Arguments(args): Arguments| -> Result<CelValue, ExecutionError> {
            match args.first() {
                Some(CelValue::String(s)) => s
                    .trim()
                    .parse::<i64>()
                    .map(CelValue::Int)
                    .map_err(|_| ExecutionError::function_error("asInt", format!("{s:?} is not an integer"))),
                _ => first_number(&args)
                    .filter(|f| f.is_finite())
                    .map(|f| CelValue::Int(f as i64))
                    .ok_or_else(|| ExecutionError::function_error("asInt", "needs a number or a string")),
            }
        })
        .map_err(declared)?;
    Ok(())
}

/// Evaluates `program` with `result` bound; it must yield a bool. Blocking (it runs on
/// an expression thread).
pub fn holds(program: &Program, result: CelValue, limits: &ExpressionLimits) -> Result<bool, QuotedError> {
    let quoted = |error| QuotedError::bare(program.source(), error);
    let budget = Budget::new(limits);
    let result = Arc::new(result);
    crate::expression::on_expression_stack(|| {
        let mut evaluator = Evaluator::new(&budget);
        add(evaluator.context_mut()).map_err(ExpressionError::Internal)?;
        evaluator.context_mut().add_variable_from_value("result", (*result).clone());
        match evaluator.evaluate(program)? {
            serde_json::Value::Bool(holds) => Ok(holds),
            other => Err(ExpressionError::WrongType {
                expected: "a bool",
                got: crate::expression::values::type_name(&other).to_owned(),
            }),
        }
    })
    .and_then(|r| r)
    .map_err(quoted)
}
