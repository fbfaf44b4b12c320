//! The budget of one evaluation, enforced from inside the program: [`super::instrument`]
//! puts a probe on every operation that can create a value or repeat work, and each probe
//! asks the [`Budget`] before the program goes on.
//!
//! - **Time**: every probe compares the clock with the deadline.
//! - **Allocation**: a probe charges the bytes of every value an operation created (a
//!   result the operation owns) or is about to copy (an element of a list or map
//!   literal, an item a comprehension collects); the total may not pass the limit.
//! - **Once exceeded, always exceeded**: CEL's `||`, `&&` and `exists` absorb errors
//!   (`error || true` is `true`), so the budget remembers that it ran out, every later
//!   probe fails at once, and the evaluation's answer is that error whatever the program
//!   yields.
//!
//! Between two probes a program does one operation on values the budget already
//! bounds: a comparison, a concatenation, a lookup, a regular expression match.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use cel::common::types::{CelBool, CelString};
use cel::common::value::CowVal;
use cel::{ExecutionError, FunctionContext};
use regex::Regex;

use super::error::ExpressionError;
use super::limits::{ExpressionLimits, MAX_REGEX_BYTES, MAX_SOURCE_BYTES};
use super::values::footprint;

/// How many compiled patterns an evaluation keeps for `matches`.
const CACHED_PATTERNS: usize = 8;

/// What one evaluation (or a few evaluated together) may still spend.
pub struct Budget {
    pub(super) meter: Arc<Meter>,
}

impl Budget {
    /// A budget whose time starts with its first evaluation (binding variables is not
    /// the expression's work).
    pub fn new(limits: &ExpressionLimits) -> Budget {
        Budget {
            meter: Arc::new(Meter {
                limits: *limits,
                deadline: OnceLock::new(),
                allocated: AtomicU64::new(0),
                exceeded: OnceLock::new(),
                patterns: Mutex::new(Vec::new()),
            }),
        }
    }

    pub fn limits(&self) -> &ExpressionLimits {
        &self.meter.limits
    }

    /// Why the budget ran out, once it did.
    pub fn exceeded(&self) -> Option<ExpressionError> {
        self.meter.exceeded.get().cloned()
    }

    /// Bytes charged so far.
    pub fn allocated(&self) -> u64 {
        self.meter.allocated.load(Ordering::Relaxed)
    }
}

pub(super) struct Meter {
    limits: ExpressionLimits,
    /// Set when the first evaluation starts.
    deadline: OnceLock<Instant>,
    allocated: AtomicU64,
    exceeded: OnceLock<ExpressionError>,
    patterns: Mutex<Vec<(String, Arc<Regex>)>>,
}

impl Meter {
    /// Starts the clock, unless an earlier evaluation did.
    pub(super) fn start_clock(&self) {
        self.deadline.get_or_init(|| {
            let now = Instant::now();
            now.checked_add(self.limits.timeout).unwrap_or(now)
        });
    }

    /// Fails once the budget ran out, or the deadline passed.
    pub(super) fn check(&self) -> Result<(), ExecutionError> {
        if let Some(exceeded) = self.exceeded.get() {
            return Err(Self::stop(exceeded));
        }
        if self.deadline.get().is_some_and(|deadline| Instant::now() >= *deadline) {
            return Err(self.trip(ExpressionError::Timeout { limit: self.limits.timeout }));
        }
        Ok(())
    }

    /// Charges `bytes` against the allocation limit.
    fn charge(&self, bytes: u64) -> Result<(), ExecutionError> {
        self.check()?;
        let total = self.allocated.fetch_add(bytes, Ordering::Relaxed).saturating_add(bytes);
        if total > self.limits.max_allocated_bytes {
            return Err(self.trip(ExpressionError::Allocation { limit: self.limits.max_allocated_bytes }));
        }
        Ok(())
    }

    fn remaining(&self) -> u64 {
        self.limits.max_allocated_bytes.saturating_sub(self.allocated.load(Ordering::Relaxed))
    }

    /// Charges a value an operation produced, when it made it (rather than borrowed it).
    pub(super) fn charge_result(&self, value: &CowVal<'_, '_>) -> Result<(), ExecutionError> {
        if value.is_owned() { self.charge(footprint(value.as_ref(), self.remaining())) } else { self.check() }
    }

    /// Charges a value about to be copied into a list, a map or a comprehension's result.
    pub(super) fn charge_copy(&self, value: &CowVal<'_, '_>) -> Result<(), ExecutionError> {
        self.charge(footprint(value.as_ref(), self.remaining()))
    }

    fn trip(&self, error: ExpressionError) -> ExecutionError {
        let _ = self.exceeded.set(error);
        Self::stop(self.exceeded.get().unwrap_or(&ExpressionError::Internal(String::new())))
    }

    fn stop(exceeded: &ExpressionError) -> ExecutionError {
        ExecutionError::function_error("budget", exceeded)
    }

    /// `pattern` compiled, within [`MAX_REGEX_BYTES`]; recent patterns are kept.
    fn pattern(&self, pattern: &str) -> Result<Arc<Regex>, ExecutionError> {
        let mut patterns = self.patterns.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, regex)) = patterns.iter().find(|(source, _)| source == pattern) {
            return Ok(regex.clone());
        }
        if pattern.len() > MAX_SOURCE_BYTES {
            return Err(ExecutionError::function_error(
                "matches",
                format!("the pattern is {} bytes long; a pattern may have at most {MAX_SOURCE_BYTES}", pattern.len()),
            ));
        }
        let regex = regex::RegexBuilder::new(pattern)
            .size_limit(MAX_REGEX_BYTES)
            .build()
            .map_err(|e| ExecutionError::function_error("matches", e))?;
        let regex = Arc::new(regex);
        if patterns.len() == CACHED_PATTERNS {
            patterns.remove(0);
        }
        patterns.push((pattern.to_owned(), regex.clone()));
        Ok(regex)
    }
}

/// What a probe does with the value it passes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Probe {
    /// Charges a result the operation made.
    Result,
    /// Charges a value about to be copied.
    Copy,
    /// Only checks the time: every iteration of a comprehension.
    Tick,
}

/// A probe: checks and charges its one argument, then yields it unchanged.
pub(super) fn probe<'c, 'v>(
    meter: &Meter,
    probe: Probe,
    call: &mut FunctionContext<'c, 'v>,
) -> Result<CowVal<'c, 'v>, ExecutionError> {
    let value = call.args.pop().ok_or_else(|| ExecutionError::invalid_argument_count(1, 0))?;
    match probe {
        Probe::Result => meter.charge_result(&value)?,
        Probe::Copy => meter.charge_copy(&value)?,
        Probe::Tick => meter.check()?,
    }
    Ok(value)
}

/// `text.matches(pattern)` and `matches(text, pattern)`, as CEL's, but with patterns of
/// bounded size compiled once per evaluation.
pub(super) fn matches<'c, 'v>(
    meter: &Meter,
    call: &mut FunctionContext<'c, 'v>,
) -> Result<CowVal<'c, 'v>, ExecutionError> {
    meter.check()?;
    let mut args: Vec<CowVal<'c, 'v>> = call.this.take().into_iter().collect();
    args.append(&mut call.args);
    let [text, pattern] = args.as_slice() else {
        return Err(ExecutionError::invalid_argument_count(2, args.len()));
    };
    let (Some(text), Some(pattern)) = (text.downcast_ref::<CelString>(), pattern.downcast_ref::<CelString>()) else {
        let types = args.iter().map(|a| a.get_type().name().to_owned()).collect();
        return Err(ExecutionError::no_such_overload("matches", types));
    };
    let regex = meter.pattern(pattern.inner())?;
    Ok(CowVal::owned(CelBool::from(regex.is_match(text.inner()))))
}
