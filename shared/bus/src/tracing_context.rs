//! Fresh trace and span IDs (random, from ULIDs) for W3C trace context.

use lading_events::TraceContext;

/// A new trace, for work that starts in this process (a poll, a CLI request).
pub fn new_root() -> TraceContext {
    let trace = ulid::Ulid::new().0;
    TraceContext::root(trace, new_span_id())
}

/// A new span continuing `parent`'s trace, or a new trace when there is none.
pub fn child_of(parent: Option<&TraceContext>) -> TraceContext {
    match parent {
        Some(p) => p.child(new_span_id()),
        None => new_root(),
    }
}

fn new_span_id() -> u64 {
    ulid::Ulid::new().0 as u64
}
