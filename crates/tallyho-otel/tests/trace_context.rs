//! Exemplars carry the trace and span of the current `tracing` span, through a real
//! `tracing-opentelemetry` layer over the OpenTelemetry SDK's tracer.
#![cfg(feature = "tracing")]

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn exemplars_take_the_current_tracing_span() {
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let registry = tallyho::Registry::new();
    let jobs = registry.counter("jobs", "Jobs.").unwrap();
    tracing::subscriber::with_default(subscriber, || {
        assert_eq!(tallyho_otel::trace_context(), None, "outside any span");
        let outer = tracing::info_span!("outer");
        let _o = outer.enter();
        let inner = tracing::info_span!("inner");
        let _i = inner.enter();
        let want = inner.context().span().span_context().clone();
        assert!(want.is_valid());
        let got = tallyho_otel::trace_context().expect("a trace context inside a span");
        assert_eq!(got.trace_id(), want.trace_id().to_bytes());
        assert_eq!(got.span_id(), want.span_id().to_bytes());
        jobs.inc_with_exemplar(tallyho_otel::trace_context());
        let outer_trace = outer.context().span().span_context().trace_id();
        assert_eq!(outer_trace, want.trace_id(), "one trace, two spans");
    });
    let e = jobs.exemplar().expect("an exemplar");
    assert_eq!(e.value, 1.0);
    assert_ne!(e.trace.span_id(), [0; 8]);
}
