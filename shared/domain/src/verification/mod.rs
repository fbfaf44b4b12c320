//! Stage verification (Argo Rollouts' analysis, as Kargo runs it): what a measurement's
//! result is, how conditions judge it, and how measurements add up to a metric's and a
//! verification's phase. Pure functions; the verifier measures and publishes around them.
//!
//! # Layout
//!
//! - [`phase`]: the phases of a verification, a metric and a measurement.
//! - [`conditions`]: success and failure conditions: the functions and variable they
//!   see, checking them at apply time, evaluating them against a result.
//! - [`measurement`]: a measurement's result and its verdict.
//! - [`assessment`]: a metric's phase from its measurements and limits; a verification's
//!   phase from its metrics; when the next measurement is due; the message.
//! - [`args`]: template arguments, the stage's values for them, `{{args.x}}` substitution.
//! - [`when_to_verify`]: whether a verification may start (the stage's current freight,
//!   no promotion running) and whether its verdict still counts.

pub mod args;
pub mod assessment;
pub mod conditions;
pub mod measurement;
pub mod phase;
pub mod when_to_verify;

pub use assessment::{MetricPlan, MetricTally, Next, RunVerdict, assess_metric, assess_run, next_measurement};
pub use measurement::{MeasuredValue, Verdict, judge};
pub use phase::Phase;
