//! Expressions (CEL, as in Kargo's `${{ }}`), bounded: every program is checked before it
//! may run, and every evaluation spends from a budget it cannot escape.
//!
//! # Layout
//!
//! - [`limits`]: what an evaluation may spend (configurable) and the shapes a program may
//!   have (fixed), with their settings.
//! - [`template`]: strings holding `${{ … }}` expressions.
//! - [`program`]: parsing and checking a program, the names it refers to.
//! - [`evaluator`]: evaluating programs against variables and functions, within a
//!   [`Budget`].
//! - [`budget`]: the budget, and the probes that enforce it from inside the program.
//! - `instrument`: where the probes go.
//! - `shape`: depth, nesting, and the names a program refers to.
//! - [`values`]: the size of a value, and the JSON it becomes.
//! - [`stack`]: the thread expressions run on.
//! - [`error`]: why an expression was refused or failed, and where.
//!
//! # What is bounded, and how
//!
//! - A program is at most [`limits::MAX_SOURCE_BYTES`] of source, nests at most
//!   [`limits::MAX_DEPTH`] levels and at most [`limits::MAX_NESTED_COMPREHENSIONS`]
//!   comprehensions inside one another; it names only known functions (and, for
//!   manifests, variables that can exist). Checked when a manifest is applied, and again
//!   before each run.
//! - An evaluation runs on its own thread with a stack large enough for any program that
//!   passes those checks ([`stack`]), so no expression overflows a stack or panics its
//!   caller.
//! - It stops within one operation of running out of time or of allocation budget, and
//!   its result may not pass the output limit ([`budget`]). Once out of budget it stays
//!   out: no `||` or `exists` can absorb it.

pub mod budget;
pub mod error;
pub mod evaluator;
mod instrument;
pub mod limits;
pub mod program;
mod shape;
pub mod stack;
pub mod template;
pub mod values;

use std::sync::{Arc, LazyLock};

use cel::Env;

pub use budget::Budget;
pub use error::{ExpressionError, Position, QuotedError};
pub use evaluator::Evaluator;
pub use limits::ExpressionLimits;
pub use program::Program;
pub use shape::Reference;
pub use stack::on_expression_stack;

/// CEL's standard library, built once.
static STANDARD: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

fn standard() -> Arc<Env> {
    STANDARD.clone()
}

#[cfg(test)]
mod tests;
