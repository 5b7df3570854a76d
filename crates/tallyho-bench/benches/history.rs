//! The history, in the same run as a real Prometheus 2.42 where one exists to compare with:
//!
//! - `history_append_10k`: appending one collection of 10,000 series (a `Snapshot` of a real
//!   registry) to the history, in memory and with a directory (WAL synced per append).
//!   Target ≤ 2 ms.
//! - `query_rate_sum_by_1k`: `sum by (route) (rate(http_requests_total[5m]))` over 1,000
//!   counters for 1 h at 15 s steps (241 points), through HTTP: tallyho's endpoint with the
//!   query API against a real Prometheus holding the same samples (fed by remote write),
//!   the same minimal HTTP client for both. Target: tallyho faster.
//!
//! Run with `cargo bench -p tallyho-bench --bench history`.

mod history_common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use history_common::{enc, http, labels, now_ms, GenSeries, Prometheus, Rng, Workload};
use tallyho::{Number, SeriesValue};
use tallyho_history::{History, HistoryOptions};

const APPEND_SERIES: usize = 10_000;

fn snapshot_10k() -> tallyho::Snapshot {
    let r = tallyho::Registry::new();
    let family = r
        .metric("jobs_processed", "Jobs.")
        .cardinality_limit(APPEND_SERIES)
        .counter_family(&["queue", "worker"])
        .expect("valid family");
    for i in 0..APPEND_SERIES {
        family
            .with(&[&format!("q{}", i % 100), &format!("w{}", i / 100)])
            .add(i as u64);
    }
    r.snapshot()
}

fn append_10k(c: &mut Criterion) {
    let mut g = c.benchmark_group("history_append_10k");
    g.sample_size(20);
    let base = snapshot_10k();
    let dir = tempfile::tempdir().expect("temp dir");
    let on_disk = HistoryOptions {
        storage_path: Some(dir.path().join("history")),
        ..HistoryOptions::default()
    };
    let contenders = [
        ("memory", History::in_memory()),
        ("disk", History::open(on_disk).expect("opens the history")),
    ];
    for (name, history) in contenders {
        let mut snap = base.clone();
        let mut step = 0u64;
        g.bench_function(BenchmarkId::new("tallyho", name), |b| {
            b.iter(|| {
                step += 1;
                snap.time += Duration::from_secs(15);
                for s in &mut snap.families[0].series {
                    if let SeriesValue::Counter(Number::U64(v)) = &mut s.value {
                        *v += step % 7;
                    }
                }
                black_box(history.append(&snap).expect("appends"));
            });
        });
    }
    g.finish();
}

/// 1,000 counters `http_requests_total{route, instance}` (20 routes × 50 instances) over
/// 1 h 5 m at 15 s, with a reset in a few of them.
fn requests_workload() -> Workload {
    let step_ms = 15_000;
    let steps = 261;
    let start_ms = (now_ms() - steps as i64 * step_ms) / 60_000 * 60_000;
    let mut rng = Rng::new(7);
    let mut series = Vec::new();
    for i in 0..1000 {
        let route = format!("/api/r{}", i % 20);
        let instance = format!("10.0.{}.{}:9100", i / 250, i % 50);
        let mut v = 0.0;
        let values = (0..steps)
            .map(|k| {
                if i % 97 == 0 && k == steps / 2 {
                    v = 0.0; // a process restart
                }
                v += (rng.unit() * 20.0).floor();
                v
            })
            .collect();
        series.push(GenSeries {
            labels: labels(&[
                ("__name__", "http_requests_total"),
                ("route", &route),
                ("instance", &instance),
            ]),
            values,
        });
    }
    Workload {
        start_ms,
        step_ms,
        series,
    }
}

fn query_rate_sum_by(c: &mut Criterion) {
    let w = requests_workload();
    let history = History::in_memory();
    for i in 0..w.steps() {
        let (t, samples) = w.at(i);
        history.append_samples(t, &samples).expect("appends");
    }
    let api = tallyho_http::QueryApi::new(Arc::new(history.clone()), history.engine().clone());
    let tallyho = tallyho_http::Endpoint::new(tallyho::Registry::new())
        .query_api(api)
        .spawn("127.0.0.1:0")
        .expect("binds loopback");
    let prometheus = Prometheus::start();
    prometheus.remote_write(&w);

    let end_ms = w.start_ms + (w.steps() as i64 - 1) * w.step_ms;
    let start_ms = end_ms - 3_600_000;
    let path = format!(
        "/api/v1/query_range?query={}&start={}&end={}&step=15",
        enc("sum by (route) (rate(http_requests_total[5m]))"),
        start_ms as f64 / 1000.0,
        end_ms as f64 / 1000.0
    );
    // Both must answer the same before their speed means anything.
    let (s1, a) = http(tallyho.local_addr(), "GET", &path, &[], &[]).expect("tallyho answers");
    let (s2, b) = http(prometheus.addr, "GET", &path, &[], &[]).expect("prometheus answers");
    assert_eq!((s1, s2), (200, 200), "tallyho: {a}\nprometheus: {b}");
    assert_eq!(
        a.matches("\"route\"").count(),
        20,
        "tallyho gives 20 series: {a}"
    );
    assert_eq!(
        b.matches("\"route\"").count(),
        20,
        "prometheus gives 20 series: {b}"
    );

    let mut g = c.benchmark_group("query_rate_sum_by_1k");
    g.sample_size(30);
    for (name, addr) in [
        ("tallyho", tallyho.local_addr()),
        ("prometheus", prometheus.addr),
    ] {
        g.bench_function(name, |bench| {
            bench.iter(|| black_box(http(addr, "GET", &path, &[], &[]).expect("answers")));
        });
    }
    g.finish();
}

criterion_group!(benches, append_10k, query_rate_sum_by);
criterion_main!(benches);
