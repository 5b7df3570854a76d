//! `metrics::counter!("hits", "k" => "v").increment(1)` through TallyhoRecorder and
//! through metrics-exporter-prometheus's recorder, each installed with
//! `metrics::with_local_recorder`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use metrics_exporter_prometheus::PrometheusBuilder;
use tallyho::Registry;
use tallyho_jobs::TallyhoRecorder;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter_macro");

    let registry = Registry::new();
    let tallyho = TallyhoRecorder::new(&registry);
    metrics::with_local_recorder(&tallyho, || {
        g.bench_function("tallyho", |b| {
            b.iter(|| metrics::counter!("hits", "k" => "v").increment(black_box(1)))
        });
        g.bench_function("tallyho_cached_handle", |b| {
            let h = metrics::counter!("hits", "k" => "v");
            b.iter(|| h.increment(black_box(1)))
        });
    });

    let prometheus = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&prometheus, || {
        g.bench_function("prometheus_exporter", |b| {
            b.iter(|| metrics::counter!("hits", "k" => "v").increment(black_box(1)))
        });
        g.bench_function("prometheus_exporter_cached_handle", |b| {
            let h = metrics::counter!("hits", "k" => "v");
            b.iter(|| h.increment(black_box(1)))
        });
    });
    g.finish();

    assert!(
        registry
            .snapshot()
            .value("hits", &[("k", "v")])
            .unwrap_or(0.0)
            > 0.0
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
