//! What the provider does with what the API allows and tallyho does not: varying
//! attribute key sets, invalid names and boundaries, conflicting registrations, scopes,
//! concurrent first measurements, and a disabled registry.

use std::sync::{Arc, Barrier};
use std::thread;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::{InstrumentationScope, KeyValue};
use tallyho::{Registry, Snapshot, REFUSED_METRIC};
use tallyho_otel::{TallyhoMeterProvider, DROPPED_METRIC};

fn unscoped() -> (Registry, opentelemetry::metrics::Meter) {
    let registry = Registry::new();
    let provider = TallyhoMeterProvider::new(registry.clone()).without_scope_labels();
    let meter = provider.meter("test");
    (registry, meter)
}

fn dropped(snapshot: &Snapshot, instrument: &str, reason: &str) -> Option<f64> {
    snapshot.value(
        DROPPED_METRIC,
        &[("instrument", instrument), ("reason", reason)],
    )
}

/// The labels of every series of `family`, as `name=value` lists.
fn label_sets(snapshot: &Snapshot, family: &str) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = snapshot
        .family(family)
        .unwrap_or_else(|| panic!("no family {family}"))
        .series
        .iter()
        .map(|s| {
            let labels: Vec<String> = s.labels.iter().map(|(n, v)| format!("{n}={v}")).collect();
            (labels.join(","), s.value.as_f64().unwrap())
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn the_first_key_set_fixes_the_labels_subsets_fill_in_strangers_are_dropped() {
    let (registry, meter) = unscoped();
    let hits = meter.u64_counter("hits").build();
    hits.add(1, &[KeyValue::new("a", "x"), KeyValue::new("b.c", "y")]);
    // Same keys, other order: the same series.
    hits.add(2, &[KeyValue::new("b.c", "y"), KeyValue::new("a", "x")]);
    // A subset: the missing label is empty.
    hits.add(4, &[KeyValue::new("a", "x")]);
    // Non-string values are formatted.
    hits.add(8, &[KeyValue::new("a", 7), KeyValue::new("b.c", true)]);
    // A key the instrument does not have: dropped, twice.
    hits.add(16, &[KeyValue::new("a", "x"), KeyValue::new("zone", "eu")]);
    hits.add(32, &[KeyValue::new("zone", "eu")]);

    let snapshot = registry.snapshot();
    assert_eq!(
        label_sets(&snapshot, "hits"),
        [
            ("a=7,b_c=true".to_owned(), 8.0),
            ("a=x,b_c=".to_owned(), 4.0),
            ("a=x,b_c=y".to_owned(), 3.0),
        ]
    );
    assert_eq!(dropped(&snapshot, "hits", "attribute_keys"), Some(2.0));
}

#[test]
fn invalid_names_and_boundaries_are_refused_and_counted_without_panicking() {
    let (registry, meter) = unscoped();
    let bad_name = meter.u64_counter("9lives").build();
    bad_name.add(1, &[]);
    bad_name.add(1, &[KeyValue::new("k", "v")]);
    let spaced = meter.f64_gauge("a b").build();
    spaced.record(1.0, &[]);
    let unsorted = meter
        .f64_histogram("latency")
        .with_boundaries(vec![5.0, 1.0])
        .build();
    let not_finite = meter
        .u64_histogram("sizes")
        .with_boundaries(vec![1.0, f64::NAN])
        .build();
    not_finite.record(3, &[]);
    let _observed = meter
        .u64_observable_gauge("bad/name!")
        .with_callback(|o| o.observe(1, &[]))
        .build();

    let snapshot = registry.snapshot();
    assert_eq!(dropped(&snapshot, "9lives", "registration"), Some(2.0));
    assert_eq!(dropped(&snapshot, "a b", "registration"), Some(1.0));
    // Refused when built: the series shows before anything is recorded.
    assert_eq!(dropped(&snapshot, "latency", "registration"), Some(0.0));
    unsorted.record(0.5, &[]);
    assert_eq!(
        dropped(&registry.snapshot(), "latency", "registration"),
        Some(1.0)
    );
    assert_eq!(dropped(&snapshot, "sizes", "registration"), Some(1.0));
    assert_eq!(dropped(&snapshot, "bad/name!", "registration"), Some(1.0));
    for family in ["latency", "sizes", "bad_name_"] {
        assert!(snapshot.family(family).is_none(), "{family} registered");
    }
}

#[test]
fn a_name_taken_by_another_type_is_refused_at_the_first_measurement() {
    let (registry, meter) = unscoped();
    let counter = meter.u64_counter("jobs").build();
    counter.add(3, &[]);
    let gauge = meter.f64_gauge("jobs").build();
    gauge.record(1.0, &[]);
    gauge.record(2.0, &[]);
    // The same instrument again (same type and key set) shares the family.
    meter.u64_counter("jobs").build().add(1, &[]);

    let snapshot = registry.snapshot();
    assert_eq!(snapshot.value("jobs", &[]), Some(4.0));
    assert_eq!(dropped(&snapshot, "jobs", "registration"), Some(2.0));
}

#[test]
fn a_reserved_first_key_drops_that_measurement_and_a_later_one_binds() {
    let (registry, meter) = unscoped();
    let sizes = meter.u64_histogram("sizes").build();
    sizes.record(1, &[KeyValue::new("le", "1")]);
    sizes.record(2, &[KeyValue::new("path", "/")]);
    let snapshot = registry.snapshot();
    assert_eq!(dropped(&snapshot, "sizes", "attribute_keys"), Some(1.0));
    let h = snapshot.family("sizes").unwrap().series[0].clone();
    assert_eq!(h.labels, [("path".to_owned(), "/".to_owned())]);
    assert_eq!(h.value.as_histogram().unwrap().count, 1);
}

#[test]
fn scopes_become_constant_labels_and_share_one_family() {
    let registry = Registry::new();
    let provider = TallyhoMeterProvider::new(registry.clone());
    let a = provider.meter_with_scope(InstrumentationScope::builder("a").with_version("1").build());
    let b = provider.meter("b");
    a.u64_counter("requests")
        .build()
        .add(1, &[KeyValue::new("code", "200")]);
    b.u64_counter("requests")
        .build()
        .add(5, &[KeyValue::new("code", "200")]);
    assert_eq!(
        label_sets(&registry.snapshot(), "requests"),
        [
            (
                "otel_scope_name=a,otel_scope_version=1,code=200".to_owned(),
                1.0
            ),
            ("otel_scope_name=b,code=200".to_owned(), 5.0),
        ]
    );

    // Without scope labels two meters' instruments are one series.
    let registry = Registry::new();
    let provider = TallyhoMeterProvider::new(registry.clone()).without_scope_labels();
    provider
        .meter("a")
        .u64_counter("requests")
        .build()
        .add(1, &[]);
    provider
        .meter("b")
        .u64_counter("requests")
        .build()
        .add(5, &[]);
    assert_eq!(
        label_sets(&registry.snapshot(), "requests"),
        [(String::new(), 6.0)]
    );
}

#[test]
fn observable_points_with_strange_keys_are_dropped_at_each_collection() {
    let (registry, meter) = unscoped();
    let _pools = meter
        .i64_observable_up_down_counter("pool.open")
        .with_callback(|o| {
            o.observe(3, &[KeyValue::new("pool", "main")]);
            o.observe(
                1,
                &[KeyValue::new("pool", "aux"), KeyValue::new("extra", "x")],
            );
        })
        .build();
    let first = registry.snapshot();
    assert_eq!(
        label_sets(&first, "pool_open"),
        [("pool=main".to_owned(), 3.0)]
    );
    // Counted while the collection runs, the drops show from the next collection on
    // (the dropped-measurement family may be read before the callback runs).
    let second = registry.snapshot();
    assert_eq!(dropped(&second, "pool.open", "attribute_keys"), Some(2.0));
    let third = registry.snapshot();
    assert_eq!(dropped(&third, "pool.open", "attribute_keys"), Some(3.0));
}

#[test]
fn values_tallyho_refuses_are_counted_as_for_its_own_instruments() {
    let (registry, meter) = unscoped();
    let spent = meter.f64_counter("spent").build();
    spent.add(2.0, &[]);
    spent.add(-1.0, &[]);
    spent.add(f64::NAN, &[]);
    let snapshot = registry.snapshot();
    assert_eq!(snapshot.value("spent", &[]), Some(2.0));
    assert_eq!(
        snapshot.value(REFUSED_METRIC, &[("metric", "spent")]),
        Some(2.0)
    );
}

#[test]
fn concurrent_first_measurements_register_once_and_lose_nothing() {
    let (registry, meter) = unscoped();
    let hits = meter.u64_counter("hits").build();
    let start = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (hits, start) = (hits.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                for _ in 0..10_000 {
                    hits.add(1, &[KeyValue::new("k", "v")]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        registry.snapshot().value("hits", &[("k", "v")]),
        Some(40_000.0)
    );
}

#[test]
fn a_disabled_registry_records_nothing_and_does_not_fail() {
    let registry = Registry::disabled();
    let provider = TallyhoMeterProvider::new(registry.clone());
    let meter = provider.meter("off");
    meter
        .u64_counter("hits")
        .build()
        .add(1, &[KeyValue::new("k", "v")]);
    meter.f64_histogram("took").build().record(1.0, &[]);
    let _g = meter
        .f64_observable_gauge("temp")
        .with_callback(|o| o.observe(1.0, &[]))
        .build();
    assert!(registry.snapshot().families.is_empty());
}

#[test]
fn the_global_meter_provider_records_into_the_registry() {
    let registry = Registry::new();
    opentelemetry::global::set_meter_provider(TallyhoMeterProvider::new(registry.clone()));
    let meter = opentelemetry::global::meter("library");
    meter.u64_counter("calls").build().add(2, &[]);
    assert_eq!(
        registry
            .snapshot()
            .value("calls", &[("otel_scope_name", "library")]),
        Some(2.0)
    );
}
