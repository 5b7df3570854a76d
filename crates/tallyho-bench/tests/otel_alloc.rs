//! Recording through the OpenTelemetry API backed by tallyho allocates nothing once a
//! series exists: the provider's instruments hold their tallyho families, and string,
//! integer and boolean attribute values are matched without being copied.

use std::sync::atomic::Ordering;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use tallyho_bench::counting::{Counting, ALLOCATIONS};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn recording_an_existing_series_through_the_api_allocates_nothing() {
    let registry = tallyho::Registry::new();
    let meter = tallyho_otel::TallyhoMeterProvider::new(registry.clone()).meter("alloc");
    let hits = meter.u64_counter("hits").build();
    let took = meter.f64_histogram("took").with_unit("s").build();
    let load = meter.i64_gauge("load").build();
    let record = |i: i64| {
        hits.add(
            1,
            &[KeyValue::new("route", "/a"), KeyValue::new("code", 200)],
        );
        // Other order, and a subset: the slower matching paths.
        hits.add(
            1,
            &[KeyValue::new("code", 200), KeyValue::new("route", "/a")],
        );
        hits.add(1, &[KeyValue::new("route", "/a")]);
        took.record(0.25, &[KeyValue::new("ok", true)]);
        load.record(i, &[]);
    };
    // The first measurements register the families and make the series.
    record(0);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for i in 0..10_000 {
        record(i);
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(after - before, 0, "allocations while recording");
    let snapshot = registry.snapshot();
    assert_eq!(
        snapshot.value("hits", &[("route", "/a"), ("code", "200")]),
        Some(20_002.0)
    );
    assert_eq!(
        snapshot.value("hits", &[("route", "/a"), ("code", "")]),
        Some(10_001.0)
    );
    assert_eq!(snapshot.value("load", &[]), Some(9_999.0));
}
