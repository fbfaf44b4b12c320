//! Expressions are parsed and evaluated on a thread of their own with a large stack.
//!
//! CEL's parser and interpreter recurse once per level of an expression, with frames of
//! tens of kilobytes in unoptimized builds: a 100-deep `1 + 1 + …` overflows the 2 MiB
//! stack of a Tokio blocking thread, and an overflow aborts the process. Parsing is
//! bounded by [`super::limits::MAX_SOURCE_BYTES`] (at most a few thousand levels), and a
//! parsed expression deeper than [`super::limits::MAX_DEPTH`] is refused before it is
//! evaluated; [`STACK_BYTES`] holds either with room to spare. The thread also keeps the
//! caller's thread free: a panic in the interpreter is returned as an error, and the
//! caller (never an async runtime's worker) just waits for the answer.

use std::cell::Cell;

use super::error::ExpressionError;

/// The stack of an expression thread: reserved address space, touched only as deep as
/// an expression goes.
pub const STACK_BYTES: usize = 32 * 1024 * 1024;

thread_local! {
    static ON_EXPRESSION_STACK: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` on an expression thread (or right here when already on one), waiting for
/// it. A panic in `work` comes back as [`ExpressionError::Internal`].
pub fn on_expression_stack<R: Send>(work: impl FnOnce() -> R + Send) -> Result<R, ExpressionError> {
    if ON_EXPRESSION_STACK.get() {
        return Ok(work());
    }
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("lading-expression".to_owned())
            .stack_size(STACK_BYTES)
            .spawn_scoped(scope, || {
                ON_EXPRESSION_STACK.set(true);
                work()
            })
            .map_err(|e| ExpressionError::Internal(format!("no thread to evaluate on: {e}")))?;
        thread.join().map_err(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "the interpreter panicked".to_owned());
            ExpressionError::Internal(message)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_runs_once_on_a_large_stack_and_nested_calls_stay_there() {
        let outer = on_expression_stack(|| {
            let here = std::thread::current().id();
            let nested = on_expression_stack(|| std::thread::current().id()).unwrap();
            (here, nested)
        })
        .unwrap();
        assert_eq!(outer.0, outer.1, "a nested call runs on the same thread");
        assert_ne!(outer.0, std::thread::current().id());
    }

    #[test]
    fn a_panic_is_an_error_not_a_crash() {
        let error = on_expression_stack(|| -> u8 { panic!("boom") }).unwrap_err();
        assert_eq!(error, ExpressionError::Internal("boom".to_owned()));
    }
}
