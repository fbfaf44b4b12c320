//! W3C trace context on NATS messages, with OpenTelemetry: [`inject`] writes a
//! message's `traceparent` (and `tracestate`) with the W3C propagator, [`extract`] reads
//! it back, and [`of_span`] gives the trace position of a `tracing` span, so the events
//! a span publishes name it as their parent and one trace follows a freight across
//! services. Where spans are not exported (no OTLP endpoint), positions are made up
//! from fresh random IDs instead.

use async_nats::HeaderMap;
use lading_events::TraceContext;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

struct HeaderWriter<'a>(&'a mut HeaderMap);

impl Injector for HeaderWriter<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key, value.as_str());
    }
}

struct HeaderReader<'a>(&'a HeaderMap);

impl Extractor for HeaderReader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_ref()).collect()
    }
}

/// Writes `trace` into `headers` as W3C trace context.
pub fn inject(trace: &TraceContext, headers: &mut HeaderMap) {
    let flags = if trace.sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
    let span = SpanContext::new(
        TraceId::from_bytes(trace.trace_id.to_be_bytes()),
        SpanId::from_bytes(trace.span_id.to_be_bytes()),
        flags,
        true,
        TraceState::default(),
    );
    let context = opentelemetry::Context::new().with_remote_span_context(span);
    TraceContextPropagator::new().inject_context(&context, &mut HeaderWriter(headers));
}

/// The W3C trace context of a message, as an OpenTelemetry context (empty when the
/// message carries none, or a malformed one).
pub fn extract(headers: &HeaderMap) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&HeaderReader(headers))
}

fn from_span_context(span: &SpanContext) -> Option<TraceContext> {
    span.is_valid().then(|| TraceContext {
        trace_id: u128::from_be_bytes(span.trace_id().to_bytes()),
        span_id: u64::from_be_bytes(span.span_id().to_bytes()),
        sampled: span.is_sampled(),
    })
}

/// The trace position a context names, if any.
pub fn of_context(context: &opentelemetry::Context) -> Option<TraceContext> {
    from_span_context(context.span().span_context())
}

/// The trace position of `span` when spans are exported; `None` otherwise.
pub fn of_span(span: &tracing::Span) -> Option<TraceContext> {
    of_context(&span.context())
}

/// A new trace, for work that starts in this process (a poll, a CLI request): the
/// current span's when spans are exported.
pub fn new_root() -> TraceContext {
    of_span(&tracing::Span::current()).unwrap_or_else(|| {
        let trace = ulid::Ulid::new().0;
        TraceContext::root(trace, new_span_id())
    })
}

/// A position continuing `parent`'s trace: the current span when it is exported and in
/// that trace, else a new span ID in it (or a new trace when there is no parent).
pub fn child_of(parent: Option<&TraceContext>) -> TraceContext {
    if let Some(current) = of_span(&tracing::Span::current())
        && parent.is_none_or(|p| p.trace_id == current.trace_id)
    {
        return current;
    }
    match parent {
        Some(p) => p.child(new_span_id()),
        None => new_root(),
    }
}

fn new_span_id() -> u64 {
    ulid::Ulid::new().0 as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_goes_into_headers_and_comes_back() {
        let trace = TraceContext::root(0x4bf92f3577b34da6a3ce929d0e0e4736, 0x00f067aa0ba902b7);
        let mut headers = HeaderMap::new();
        inject(&trace, &mut headers);
        assert_eq!(
            headers.get("traceparent").map(|v| v.as_str()),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        assert_eq!(of_context(&extract(&headers)), Some(trace));
    }

    #[test]
    fn a_malformed_traceparent_is_no_parent() {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01");
        assert_eq!(of_context(&extract(&headers)), None);
        assert_eq!(of_context(&extract(&HeaderMap::new())), None);
    }

    #[test]
    fn without_exported_spans_a_child_keeps_the_trace_with_a_new_span() {
        let parent = TraceContext::root(42, 7);
        let child = child_of(Some(&parent));
        assert_eq!(child.trace_id, 42);
        assert_ne!(child.span_id, 7);
        assert_ne!(new_root().trace_id, new_root().trace_id);
    }
}
