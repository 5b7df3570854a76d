//! The OpenTelemetry metrics API through two providers, same run, same machine:
//! `tallyho_otel::TallyhoMeterProvider` (tallyho's families behind the API) and
//! `opentelemetry_sdk`'s own `SdkMeterProvider` (with a `ManualReader` nothing reads, so
//! nothing is exported and only recording is measured). The calls are the API's, with the
//! attributes built at each call as instrumented code writes them:
//! `counter.add(1, &[KeyValue::new("k", "v")])`. `tallyho-family` is the same recording
//! through tallyho's own family API, the floor the provider adds its attribute matching to.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

fn sdk_meter() -> (SdkMeterProvider, Meter) {
    let provider = SdkMeterProvider::builder()
        .with_reader(ManualReader::builder().build())
        .build();
    let meter = provider.meter("bench");
    (provider, meter)
}

fn tallyho_meter() -> (tallyho::Registry, Meter) {
    let registry = tallyho::Registry::new();
    let meter = tallyho_otel::TallyhoMeterProvider::new(registry.clone()).meter("bench");
    (registry, meter)
}

fn counter_add_1_attribute(c: &mut Criterion) {
    let mut g = c.benchmark_group("otel_api/counter_add_1_attribute");
    {
        let (_registry, meter) = tallyho_meter();
        let counter = meter.u64_counter("hits").build();
        g.bench_function("tallyho-otel", |b| {
            b.iter(|| black_box(&counter).add(1, &[KeyValue::new("k", "v")]))
        });
    }
    {
        let (_provider, meter) = sdk_meter();
        let counter = meter.u64_counter("hits").build();
        g.bench_function("opentelemetry_sdk", |b| {
            b.iter(|| black_box(&counter).add(1, &[KeyValue::new("k", "v")]))
        });
    }
    {
        let registry = tallyho::Registry::new();
        let family = registry
            .metric("hits", "Hits.")
            .counter_family(&["k"])
            .expect("valid family");
        g.bench_function("tallyho-family", |b| {
            b.iter(|| black_box(&family).with(&[black_box("v")]).add(1))
        });
        // The same, with the `KeyValue` built and dropped as the API call does.
        g.bench_function("tallyho-family-with-keyvalue", |b| {
            b.iter(|| {
                let attrs = black_box([KeyValue::new("k", "v")]);
                let v = attrs[0].value.as_str();
                black_box(&family).with(&[&v]).add(1)
            })
        });
    }
    g.finish();
}

fn histogram_record_1_attribute(c: &mut Criterion) {
    let mut g = c.benchmark_group("otel_api/histogram_record_1_attribute");
    {
        let (_registry, meter) = tallyho_meter();
        let h = meter.f64_histogram("took").build();
        g.bench_function("tallyho-otel", |b| {
            b.iter(|| black_box(&h).record(black_box(42.0), &[KeyValue::new("k", "v")]))
        });
    }
    {
        let (_provider, meter) = sdk_meter();
        let h = meter.f64_histogram("took").build();
        g.bench_function("opentelemetry_sdk", |b| {
            b.iter(|| black_box(&h).record(black_box(42.0), &[KeyValue::new("k", "v")]))
        });
    }
    g.finish();
}

fn counter_add_3_attributes(c: &mut Criterion) {
    let mut g = c.benchmark_group("otel_api/counter_add_3_attributes");
    let attrs = || {
        [
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", "/users/:id"),
            KeyValue::new("http.response.status_code", 200),
        ]
    };
    {
        let (_registry, meter) = tallyho_meter();
        let counter = meter.u64_counter("requests").build();
        g.bench_function("tallyho-otel", |b| {
            b.iter(|| black_box(&counter).add(1, &attrs()))
        });
    }
    {
        let (_provider, meter) = sdk_meter();
        let counter = meter.u64_counter("requests").build();
        g.bench_function("opentelemetry_sdk", |b| {
            b.iter(|| black_box(&counter).add(1, &attrs()))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = counter_add_1_attribute, histogram_record_1_attribute, counter_add_3_attributes
}
criterion_main!(benches);
