//! Exemplars through the collection seam: what the registry's points carry for counters,
//! family series and histogram buckets, what a snapshot keeps, and the trace context taken
//! from OpenTelemetry's current span.

use tallyho::{Buckets, Registry, TraceContext};

fn ctx(n: u8) -> TraceContext {
    TraceContext::new([n; 16], [n; 8]).unwrap()
}

#[test]
fn points_carry_the_latest_exemplar_per_counter_and_bucket() {
    let r = Registry::new();
    let c = r.counter("jobs", "Jobs.").unwrap();
    let fam = r
        .metric("calls", "Calls.")
        .counter_family(&["route"])
        .unwrap();
    let h = r
        .histogram("took_seconds", "Took.", Buckets::new([0.1, 1.0]).unwrap())
        .unwrap();
    c.add_with_exemplar(2, Some(ctx(1)));
    c.add_with_exemplar(5, Some(ctx(2)));
    c.add_with_exemplar(9, None);
    fam.with(&["a"]).inc_with_exemplar(Some(ctx(3)));
    fam.with(&["b"]).inc();
    h.observe_with_exemplar(0.05, Some(ctx(4)));
    h.observe_with_exemplar(0.07, Some(ctx(5)));
    h.observe_with_exemplar(50.0, Some(ctx(6)));
    // NaN is refused, and so is its exemplar.
    h.observe_with_exemplar(f64::NAN, Some(ctx(7)));

    assert_eq!(
        c.get(),
        16,
        "the increments all count, with or without exemplar"
    );
    let e = c.exemplar().unwrap();
    assert_eq!(
        (e.trace, e.value),
        (ctx(2), 5.0),
        "the latest exemplar wins"
    );
    let kept = h.exemplars();
    assert_eq!(kept.len(), 3);
    assert_eq!(kept[0].map(|e| (e.trace, e.value)), Some((ctx(5), 0.07)));
    assert!(kept[1].is_none());
    assert_eq!(kept[2].map(|e| (e.trace, e.value)), Some((ctx(6), 50.0)));
    assert_eq!(h.count_and_sum().0, 3);

    let s = r.snapshot();
    let calls = s.family("calls").unwrap();
    let a = calls
        .series
        .iter()
        .position(|x| x.labels == [("route".to_owned(), "a".to_owned())])
        .unwrap();
    assert_eq!(calls.exemplars_of(a)[0].unwrap().trace, ctx(3));
    assert!(calls.exemplars_of(1 - a).is_empty());
    let took = s.family("took_seconds").unwrap();
    assert_eq!(took.exemplars_of(0), &kept[..]);
    assert_eq!(s.family("jobs").unwrap().exemplars_of(0)[0], Some(e));

    // A snapshot re-walked gives the same points as the registry.
    let again = tallyho::Snapshot::collect(&s);
    assert_eq!(again.families, s.families);
}

#[test]
fn instruments_without_exemplars_report_none() {
    let r = Registry::new();
    let c = r.counter("plain", "Plain.").unwrap();
    c.inc();
    let h = r
        .histogram("plain_seconds", "Plain.", Buckets::new([1.0]).unwrap())
        .unwrap();
    h.observe(0.5);
    assert!(c.exemplar().is_none());
    assert!(h.exemplars().is_empty());
    let s = r.snapshot();
    assert!(s.families.iter().all(|f| f.exemplars.is_empty()));
    // No-op handles take exemplars and keep nothing.
    let noop = tallyho::Counter::noop();
    noop.inc_with_exemplar(Some(ctx(1)));
    assert!(noop.exemplar().is_none());
}

#[test]
fn expiring_family_series_carry_exemplars() {
    let r = Registry::new();
    let fam = r
        .metric("statsd_like", "Expiring.")
        .expiring_family::<tallyho::Counter>(&["k"], std::time::Duration::from_secs(60))
        .unwrap();
    fam.with(&["x"]).add_with_exemplar(3, Some(ctx(8)));
    let s = r.snapshot();
    let f = s.family("statsd_like").unwrap();
    assert_eq!(f.exemplars_of(0)[0].unwrap().value, 3.0);
}

#[cfg(feature = "opentelemetry")]
#[test]
fn the_current_opentelemetry_span_gives_the_trace_context() {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    assert_eq!(TraceContext::current(), None, "no span, no context");
    let trace = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    let span = SpanId::from_hex("00f067aa0ba902b7").unwrap();
    let sc = SpanContext::new(
        trace,
        span,
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let _guard = opentelemetry::Context::current()
        .with_remote_span_context(sc)
        .attach();
    let got = TraceContext::current().unwrap();
    assert_eq!(got.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(got.span_id_hex(), "00f067aa0ba902b7");
    let c = tallyho::Counter::new();
    c.inc_with_exemplar(TraceContext::current());
    assert_eq!(c.exemplar().unwrap().trace, got);
}

#[test]
fn exponential_histogram_exemplars_land_in_the_classic_bucket_holding_them() {
    let r = Registry::new();
    let h = r
        .metric("rtt", "Round trips.")
        .unit("seconds")
        .exponential_histogram()
        .unwrap();
    // Values over ten octaves: at most 8 kept, one per octave slot, the latest winning.
    for (i, v) in [0.001, 0.003, 0.01, 0.02, 0.05, 0.1, 0.3, 0.7, 1.5, 4.0]
        .into_iter()
        .enumerate()
    {
        h.observe_with_exemplar(v, Some(ctx(i as u8 + 1)));
    }
    let kept = h.exemplars();
    assert!(!kept.is_empty() && kept.len() <= 8, "{kept:?}");
    let s = r.snapshot();
    let f = s.family("rtt_seconds").unwrap();
    let hv = f.series[0].value.as_histogram().unwrap();
    let placed = f.exemplars_of(0);
    assert_eq!(placed.len(), hv.counts.len());
    let mut seen = 0;
    for (i, e) in placed.iter().enumerate() {
        let Some(e) = e else { continue };
        seen += 1;
        let upper = hv.bounds.get(i).copied().unwrap_or(f64::INFINITY);
        let lower = if i == 0 {
            f64::NEG_INFINITY
        } else {
            hv.bounds[i - 1]
        };
        assert!(
            lower < e.value && e.value <= upper,
            "{e:?} in ({lower}, {upper}]"
        );
        assert!(hv.counts[i] > 0, "an exemplar's bucket counted it");
        assert!(kept.contains(e));
    }
    assert_eq!(
        seen,
        kept.len(),
        "every kept exemplar has its own bucket here"
    );
}
