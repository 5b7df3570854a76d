//! Exemplars from the current `tracing` span (feature `tracing`): its OpenTelemetry
//! context, as `tracing-opentelemetry`'s layer keeps it, else the current OpenTelemetry
//! context itself.

use opentelemetry::trace::TraceContextExt;
use tallyho::TraceContext;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The trace and span to record an exemplar in: those of the current `tracing` span when a
/// `tracing_opentelemetry` layer gives it an OpenTelemetry context, else those of the
/// current OpenTelemetry context ([`TraceContext::current`]); `None` outside any sampled
/// or remote span.
///
/// ```
/// # let registry = tallyho::Registry::new();
/// let jobs = registry.counter("jobs", "Jobs.")?;
/// jobs.inc_with_exemplar(tallyho_otel::trace_context());
/// # Ok::<(), tallyho::Error>(())
/// ```
pub fn trace_context() -> Option<TraceContext> {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    if sc.is_valid() {
        return TraceContext::new(sc.trace_id().to_bytes(), sc.span_id().to_bytes());
    }
    TraceContext::current()
}
