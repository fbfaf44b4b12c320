//! The budget of one evaluation, enforced from inside the program: [`super::instrument`]
//! puts a probe on every operation that can create a value or repeat work, and each probe
//! asks the [`Budget`] before the program goes on.
//!
//! - **Time**: every probe compares the CPU time the evaluations spent with the limit.
//!   CPU time, not the wall clock: a busy machine that leaves the evaluating thread
//!   waiting for a core does not fail an expression, and a runaway one is stopped as
//!   soon as it has used its share of a core.
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

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use cel::common::types::{CelBool, CelString};
use cel::common::value::CowVal;
use cel::{ExecutionError, FunctionContext};
use regex::Regex;

use super::error::ExpressionError;
use super::limits::{ExpressionLimits, MAX_REGEX_BYTES, MAX_SOURCE_BYTES};
use super::values::footprint;

thread_local! {
    /// The thread's CPU time when the evaluation running on it started.
    static EVALUATION_STARTED: Cell<Option<Duration>> = const { Cell::new(None) };
}

/// The CPU time the calling thread has used.
#[cfg(unix)]
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid timespec to write to; the clock id is a constant.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Without a per-thread CPU clock, the wall clock since the process first asked.
#[cfg(not(unix))]
fn thread_cpu_time() -> Duration {
    static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();
    ORIGIN.get_or_init(std::time::Instant::now).elapsed()
}

/// An evaluation's running clock: when dropped, its CPU time is added to the budget.
pub(super) struct Clock {
    meter: Option<Arc<Meter>>,
}

impl Drop for Clock {
    fn drop(&mut self) {
        let Some(meter) = self.meter.take() else { return };
        if let Some(started) = EVALUATION_STARTED.take() {
            let spent = thread_cpu_time().saturating_sub(started);
            meter.spent_nanos.fetch_add(u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
    }
}

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
                spent_nanos: AtomicU64::new(0),
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
    /// CPU time the finished evaluations spent.
    spent_nanos: AtomicU64,
    allocated: AtomicU64,
    exceeded: OnceLock<ExpressionError>,
    patterns: Mutex<Vec<(String, Arc<Regex>)>>,
}

impl Meter {
    /// Starts counting this thread's CPU time against the budget until the returned
    /// clock is dropped (an evaluation nested in another counts as part of it).
    pub(super) fn start_clock(self: &Arc<Self>) -> Clock {
        let outermost = EVALUATION_STARTED.get().is_none();
        if outermost {
            EVALUATION_STARTED.set(Some(thread_cpu_time()));
        }
        Clock { meter: outermost.then(|| self.clone()) }
    }

    /// CPU time spent so far, including the running evaluation's.
    fn spent(&self) -> Duration {
        let running =
            EVALUATION_STARTED.get().map_or(Duration::ZERO, |started| thread_cpu_time().saturating_sub(started));
        Duration::from_nanos(self.spent_nanos.load(Ordering::Relaxed)) + running
    }

    /// Fails once the budget ran out, or the evaluations used their time.
    pub(super) fn check(&self) -> Result<(), ExecutionError> {
        if let Some(exceeded) = self.exceeded.get() {
            return Err(Self::stop(exceeded));
        }
        if self.spent() >= self.limits.timeout {
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
