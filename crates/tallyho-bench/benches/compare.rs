//! tallyho against its peers, one workload per criterion group.
//!
//! Every group runs the same workload for each contender that can express it: `tallyho`,
//! `metrics` (with `metrics-exporter-prometheus` as the recorder), `prometheus`,
//! `prometheus-client`, `opentelemetry_sdk` and `measured`, plus, where they make sense, two
//! baselines: `atomic` (a shared `AtomicU64::fetch_add(1, Relaxed)`, the floor for a counter
//! other threads can read) and `cell` (a thread-private `Cell<u64>`, the floor for counting at
//! all). Nothing opens a socket: the `metrics` recorder is built with `build_recorder()` and
//! never installed globally, and the OpenTelemetry SDK gets a `ManualReader` (a pull reader
//! with no thread and no exporter; without any reader the SDK would drop measurements).
//!
//! Handles are passed through `std::hint::black_box` on every call, so the compiler cannot
//! hoist a lookup or fold increments together; label values that are literals stay visible
//! as literals (that is what a literal call site gets).
//!
//! # Groups
//!
//! 1. `counter_inc`: one increment through a handle obtained before the loop, one thread
//!    (`tallyho-disabled`: the same through a disabled registry's no-op handle).
//! 2. `counter_inc_2threads`: the same counter incremented by two threads at once. Each
//!    thread waits on a barrier, then does `iters` increments; the time reported is from the
//!    first thread starting to the last one finishing (thread start and join are not timed),
//!    divided by `iters`. It therefore reads as the time of one increment *on one thread*
//!    while another thread hammers the same counter: a counter that scales perfectly shows
//!    the same number as in `counter_inc`; one that serialises the two threads shows about
//!    twice that (or much more, when the cache line bounces).
//! 3. `counter_inc_16threads`: the same with 16 threads, a machine with more cores than
//!    this one simulated: the time is again from the first thread starting to the last one
//!    finishing, divided by `iters`, so it reads as the time of 16 increments (one on each
//!    thread). On a 2-core machine the floor is 8 increments' time (16 threads over two
//!    cores); what it shows is how a crate copes with more writers than cores.
//! 4. `labels_2_literal`: every increment looks its series up by two label values written
//!    as `&'static str` literals (`method="GET"`, `code="200"`). tallyho uses
//!    `Family::with_static`, its literal fast path; `tallyho-with` is the ordinary `with`
//!    on the same literals. For `metrics` that is the
//!    `counter!` macro on every call (its key is a `static`; the recorder is installed for
//!    the thread with `with_local_recorder`); prometheus-client gets a derived label struct
//!    of `&'static str` fields.
//! 5. `labels_2_runtime`: the same, but the values are `String`s made before the loop, as
//!    when they come from a request. Where a crate takes borrowed values they are passed as
//!    `&str` (tallyho, prometheus, measured); where it needs owned values the call clones
//!    them, since that is what a user has to write (and pay) there (metrics' label values,
//!    prometheus-client's `'static` label set, OpenTelemetry's `Value`).
//!
//!    In both label groups measured uses `ParaCord` label sets, which intern each value on
//!    first use, as the other crates create series on first use. measured's fixed (dense)
//!    sets need every value declared up front; that case is `labels_typed`.
//! 6. `labels_typed`: labels whose values are enums known at compile time, cycling through
//!    8 (method, status) combinations: measured's `FixedCardinalityLabel`/`LabelGroup`
//!    (dense index), prometheus-client's derived `EncodeLabelSet` over enums (hashed
//!    lookup), tallyho's `typed_family` over `label_enum!` types (dense index).
//! 7. `histogram_observe`: one observation through a handle, one thread, Prometheus' default
//!    seconds buckets, values cycling through 8 fixed values spread over the buckets.
//!    metrics-exporter-prometheus stores raw samples and sorts them into buckets during
//!    upkeep; its timing includes an upkeep every 65,536 observations (see the group).
//! 8. `encode_10k`: one family of 10,000 counter series (two labels, 100 x 100 values,
//!    series `i` at `i + 1`, so values spread over 1..=10,000 and each series got one add), encoded to Prometheus text into a buffer reused across iterations
//!    (cleared each time), including whatever gathering each crate needs first
//!    (`Registry::gather` for prometheus). metrics uses `PrometheusHandle::render_to_write`
//!    (what `render()` does, without building the final `String`). Before timing, each
//!    contender's output is checked to hold all 10,000 samples, and its size is printed;
//!    names are chosen so that every contender writes `requests_total` samples.
//!
//! Run with `cargo bench -p tallyho-bench --bench compare`; append a group name to run
//! one group, and `--no-default-features` to leave tallyho out.
//!
//! # Contenders that sit out
//!
//! - `metrics` has no typed labels (`labels_typed`): its labels are strings.
//! - `opentelemetry_sdk` has no typed labels either (attributes are `KeyValue`s), and no
//!   Prometheus text encoder: that needs the separate `opentelemetry-prometheus` exporter,
//!   which hands the data to the `prometheus` crate to encode. So it sits out
//!   `labels_typed` and `encode_10k`.
//! - `prometheus` has no typed labels (label values are strings), so it sits out
//!   `labels_typed`.
//! - The `cell` baseline cannot be shared between threads, so it sits out
//!   `counter_inc_2threads`.

use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use prometheus::Encoder as _;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};

mod common;
use common::{
    measured_str_vec, metrics_recorder, otel_provider, OwnedLabels, StrLabels, StrLabelsSet,
    BUCKETS,
};

/// Observed values, cycled through: one in most buckets, one past the last bound.
const VALUES: [f64; 8] = [0.003, 0.02, 0.04, 0.2, 0.7, 2.0, 7.0, 20.0];

/// How many series per label in `encode_10k` (the family holds `SIDE * SIDE`).
const SIDE: usize = 100;

/// Short enough that all groups finish in a few minutes on a small machine.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

// ---------------------------------------------------------------------------------------
// Set-up shared by several groups.
// ---------------------------------------------------------------------------------------

/// Two literal labels for prometheus-client: `&'static str` fields meet the `'static`
/// bound of a registered family's label set without allocating.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StaticLabels {
    method: &'static str,
    code: &'static str,
}

/// Times `iters` calls of `f` on each of two threads running at once (see the module docs).
fn two_threads(iters: u64, f: impl Fn() + Sync) -> Duration {
    threads(2, iters, f)
}

/// Times `iters` calls of `f` on each of `n` threads running at once (see the module docs).
fn threads(n: usize, iters: u64, f: impl Fn() + Sync) -> Duration {
    let f = &f;
    let barrier = Barrier::new(n);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        f();
                    }
                    (start, Instant::now())
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker panicked"))
            .collect()
    });
    let first = spans.iter().map(|s| s.0).min().expect("n spans");
    let last = spans.iter().map(|s| s.1).max().expect("n spans");
    last - first
}

/// Checks, once before timing, that an `encode_10k` contender wrote all `series` samples,
/// and says how big its output is.
fn check_encoding(name: &str, text: &[u8], series: usize) {
    let text = std::str::from_utf8(text).expect("UTF-8 text");
    let samples = text.lines().filter(|l| l.starts_with("requests")).count();
    assert_eq!(samples, series, "{name} wrote {samples} samples");
    eprintln!("encode_10k/{name}: {} bytes of text", text.len());
}

/// Times `iters` observations of `VALUES`, in turn, through `observe`.
fn observe_cycle(iters: u64, mut observe: impl FnMut(f64)) -> Duration {
    let start = Instant::now();
    for i in 0..iters {
        observe(black_box(VALUES[(i % 8) as usize]));
    }
    start.elapsed()
}

// ---------------------------------------------------------------------------------------
// 1. counter_inc
// ---------------------------------------------------------------------------------------

fn counter_inc(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter_inc");

    #[cfg(feature = "tallyho")]
    {
        let r = tallyho::Registry::new();
        let counter = r.counter("hits", "Hits.").expect("valid counter");
        g.bench_function("tallyho", |b| b.iter(|| black_box(&counter).inc()));
        // What instrumentation costs when the registry is disabled (no-op handles).
        let off = tallyho::Registry::disabled();
        let noop = off.counter("hits", "Hits.").expect("valid counter");
        g.bench_function("tallyho-disabled", |b| b.iter(|| black_box(&noop).inc()));
    }
    {
        let recorder = metrics_recorder();
        let counter = metrics::with_local_recorder(&recorder, || metrics::counter!("hits"));
        g.bench_function("metrics", |b| b.iter(|| black_box(&counter).increment(1)));
    }
    {
        let registry = prometheus::Registry::new();
        let counter = prometheus::IntCounter::new("hits", "Hits.").expect("valid counter");
        registry
            .register(Box::new(counter.clone()))
            .expect("registers");
        g.bench_function("prometheus", |b| b.iter(|| black_box(&counter).inc()));
    }
    {
        let mut registry = prometheus_client::registry::Registry::default();
        let counter = prometheus_client::metrics::counter::Counter::<u64>::default();
        registry.register("hits", "Hits.", counter.clone());
        g.bench_function("prometheus-client", |b| {
            b.iter(|| black_box(&counter).inc())
        });
    }
    {
        let provider = otel_provider();
        let counter = provider.meter("bench").u64_counter("hits").build();
        g.bench_function("opentelemetry_sdk", |b| {
            b.iter(|| black_box(&counter).add(1, &[]))
        });
    }
    {
        let counter = measured::Counter::new();
        g.bench_function("measured", |b| b.iter(|| black_box(&counter).inc()));
    }
    {
        let atomic = AtomicU64::new(0);
        g.bench_function("atomic", |b| {
            b.iter(|| black_box(&atomic).fetch_add(1, Relaxed))
        });
    }
    {
        let cell = Cell::new(0u64);
        g.bench_function("cell", |b| {
            b.iter(|| {
                let cell = black_box(&cell);
                cell.set(cell.get() + 1);
            })
        });
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------
// 2. counter_inc_2threads
// ---------------------------------------------------------------------------------------

fn counter_inc_2threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter_inc_2threads");

    #[cfg(feature = "tallyho")]
    {
        let r = tallyho::Registry::new();
        let counter = r.counter("hits", "Hits.").expect("valid counter");
        g.bench_function("tallyho", |b| {
            b.iter_custom(|iters| two_threads(iters, || black_box(&counter).inc()))
        });
    }
    {
        let recorder = metrics_recorder();
        let counter = metrics::with_local_recorder(&recorder, || metrics::counter!("hits"));
        g.bench_function("metrics", |b| {
            b.iter_custom(|iters| two_threads(iters, || black_box(&counter).increment(1)))
        });
    }
    {
        let registry = prometheus::Registry::new();
        let counter = prometheus::IntCounter::new("hits", "Hits.").expect("valid counter");
        registry
            .register(Box::new(counter.clone()))
            .expect("registers");
        g.bench_function("prometheus", |b| {
            b.iter_custom(|iters| two_threads(iters, || black_box(&counter).inc()))
        });
    }
    {
        let mut registry = prometheus_client::registry::Registry::default();
        let counter = prometheus_client::metrics::counter::Counter::<u64>::default();
        registry.register("hits", "Hits.", counter.clone());
        g.bench_function("prometheus-client", |b| {
            b.iter_custom(|iters| {
                two_threads(iters, || {
                    black_box(&counter).inc();
                })
            })
        });
    }
    {
        let provider = otel_provider();
        let counter = provider.meter("bench").u64_counter("hits").build();
        g.bench_function("opentelemetry_sdk", |b| {
            b.iter_custom(|iters| two_threads(iters, || black_box(&counter).add(1, &[])))
        });
    }
    {
        let counter = measured::Counter::new();
        g.bench_function("measured", |b| {
            b.iter_custom(|iters| two_threads(iters, || black_box(&counter).inc()))
        });
    }
    {
        let atomic = AtomicU64::new(0);
        g.bench_function("atomic", |b| {
            b.iter_custom(|iters| {
                two_threads(iters, || {
                    black_box(&atomic).fetch_add(1, Relaxed);
                })
            })
        });
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------
// 2b. counter_inc_16threads
// ---------------------------------------------------------------------------------------

fn counter_inc_16threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter_inc_16threads");
    const N: usize = 16;

    #[cfg(feature = "tallyho")]
    {
        let r = tallyho::Registry::new();
        let counter = r.counter("hits", "Hits.").expect("valid counter");
        g.bench_function("tallyho", |b| {
            b.iter_custom(|iters| threads(N, iters, || black_box(&counter).inc()))
        });
    }
    {
        let recorder = metrics_recorder();
        let counter = metrics::with_local_recorder(&recorder, || metrics::counter!("hits"));
        g.bench_function("metrics", |b| {
            b.iter_custom(|iters| threads(N, iters, || black_box(&counter).increment(1)))
        });
    }
    {
        let registry = prometheus::Registry::new();
        let counter = prometheus::IntCounter::new("hits", "Hits.").expect("valid counter");
        registry
            .register(Box::new(counter.clone()))
            .expect("registers");
        g.bench_function("prometheus", |b| {
            b.iter_custom(|iters| threads(N, iters, || black_box(&counter).inc()))
        });
    }
    {
        let mut registry = prometheus_client::registry::Registry::default();
        let counter = prometheus_client::metrics::counter::Counter::<u64>::default();
        registry.register("hits", "Hits.", counter.clone());
        g.bench_function("prometheus-client", |b| {
            b.iter_custom(|iters| {
                threads(N, iters, || {
                    black_box(&counter).inc();
                })
            })
        });
    }
    {
        let provider = otel_provider();
        let counter = provider.meter("bench").u64_counter("hits").build();
        g.bench_function("opentelemetry_sdk", |b| {
            b.iter_custom(|iters| threads(N, iters, || black_box(&counter).add(1, &[])))
        });
    }
    {
        let counter = measured::Counter::new();
        g.bench_function("measured", |b| {
            b.iter_custom(|iters| threads(N, iters, || black_box(&counter).inc()))
        });
    }
    {
        let atomic = AtomicU64::new(0);
        g.bench_function("atomic", |b| {
            b.iter_custom(|iters| {
                threads(N, iters, || {
                    black_box(&atomic).fetch_add(1, Relaxed);
                })
            })
        });
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------
// 3. labels_2_literal
// ---------------------------------------------------------------------------------------

fn labels_2_literal(c: &mut Criterion) {
    let mut g = c.benchmark_group("labels_2_literal");

    #[cfg(feature = "tallyho")]
    {
        let r = tallyho::Registry::new();
        let family = r
            .metric("requests", "Requests.")
            .counter_family(&["method", "code"])
            .expect("valid family");
        // `with_static`: the literal fast path (a cache keyed by the list's address).
        g.bench_function("tallyho", |b| {
            b.iter(|| black_box(&family).with_static(&["GET", "200"]).inc())
        });
        // The same literals through the ordinary lookup, for comparison.
        g.bench_function("tallyho-with", |b| {
            b.iter(|| black_box(&family).with(&["GET", "200"]).inc())
        });
    }
    {
        let recorder = metrics_recorder();
        g.bench_function("metrics", |b| {
            metrics::with_local_recorder(&recorder, || {
                b.iter(|| {
                    metrics::counter!("requests", "method" => "GET", "code" => "200").increment(1)
                })
            })
        });
    }
    {
        let registry = prometheus::Registry::new();
        let family = prometheus::IntCounterVec::new(
            prometheus::Opts::new("requests", "Requests."),
            &["method", "code"],
        )
        .expect("valid family");
        registry
            .register(Box::new(family.clone()))
            .expect("registers");
        g.bench_function("prometheus", |b| {
            b.iter(|| black_box(&family).with_label_values(&["GET", "200"]).inc())
        });
    }
    {
        use prometheus_client::metrics::{counter::Counter, family::Family};
        let mut registry = prometheus_client::registry::Registry::default();
        let family = Family::<StaticLabels, Counter>::default();
        registry.register("requests", "Requests.", family.clone());
        g.bench_function("prometheus-client", |b| {
            b.iter(|| {
                black_box(&family)
                    .get_or_create(&StaticLabels {
                        method: "GET",
                        code: "200",
                    })
                    .inc()
            })
        });
    }
    {
        let provider = otel_provider();
        let counter = provider.meter("bench").u64_counter("requests").build();
        g.bench_function("opentelemetry_sdk", |b| {
            b.iter(|| {
                black_box(&counter).add(
                    1,
                    &[KeyValue::new("method", "GET"), KeyValue::new("code", "200")],
                )
            })
        });
    }
    {
        let family = measured_str_vec();
        g.bench_function("measured", |b| {
            b.iter(|| {
                black_box(&family).inc(StrLabels {
                    method: "GET",
                    code: "200",
                })
            })
        });
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------
// 4. labels_2_runtime
// ---------------------------------------------------------------------------------------

fn labels_2_runtime(c: &mut Criterion) {
    let mut g = c.benchmark_group("labels_2_runtime");
    // Made at run time, as values taken from a request would be.
    let method: String = black_box(String::from("GET"));
    let code: String = black_box(200.to_string());
    let (method, code) = (&method, &code);

    #[cfg(feature = "tallyho")]
    {
        let r = tallyho::Registry::new();
        let family = r
            .metric("requests", "Requests.")
            .counter_family(&["method", "code"])
            .expect("valid family");
        g.bench_function("tallyho", |b| {
            b.iter(|| black_box(&family).with(&[method, code]).inc())
        });
        // The family whose series can be removed and expire: a shard's read lock and an
        // owned handle per lookup.
        let expiring = r
            .metric("requests_expiring", "Requests.")
            .expiring_family::<tallyho::Counter>(&["method", "code"], Duration::from_secs(300))
            .expect("valid family");
        g.bench_function("tallyho_expiring", |b| {
            b.iter(|| black_box(&expiring).with(&[method, code]).inc())
        });
    }
    {
        let recorder = metrics_recorder();
        g.bench_function("metrics", |b| {
            metrics::with_local_recorder(&recorder, || {
                b.iter(|| {
                    // Label values must be `&'static str` or owned: clone.
                    metrics::counter!("requests", "method" => method.clone(), "code" => code.clone())
                        .increment(1)
                })
            })
        });
    }
    {
        let registry = prometheus::Registry::new();
        let family = prometheus::IntCounterVec::new(
            prometheus::Opts::new("requests", "Requests."),
            &["method", "code"],
        )
        .expect("valid family");
        registry
            .register(Box::new(family.clone()))
            .expect("registers");
        g.bench_function("prometheus", |b| {
            b.iter(|| {
                black_box(&family)
                    .with_label_values(&[method.as_str(), code.as_str()])
                    .inc()
            })
        });
    }
    {
        use prometheus_client::metrics::{counter::Counter, family::Family};
        let mut registry = prometheus_client::registry::Registry::default();
        let family = Family::<OwnedLabels, Counter>::default();
        registry.register("requests", "Requests.", family.clone());
        g.bench_function("prometheus-client", |b| {
            b.iter(|| {
                // A registered family's label set must be `'static`: clone into it.
                black_box(&family)
                    .get_or_create(&OwnedLabels {
                        method: method.clone(),
                        code: code.clone(),
                    })
                    .inc()
            })
        });
    }
    {
        let provider = otel_provider();
        let counter = provider.meter("bench").u64_counter("requests").build();
        g.bench_function("opentelemetry_sdk", |b| {
            b.iter(|| {
                // `Value` holds `&'static str` or owned strings: clone.
                black_box(&counter).add(
                    1,
                    &[
                        KeyValue::new("method", method.clone()),
                        KeyValue::new("code", code.clone()),
                    ],
                )
            })
        });
    }
    {
        let family = measured_str_vec();
        g.bench_function("measured", |b| {
            b.iter(|| black_box(&family).inc(StrLabels { method, code }))
        });
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------
// 5. labels_typed
// ---------------------------------------------------------------------------------------

/// HTTP method as measured sees it.
#[derive(Clone, Copy, measured::FixedCardinalityLabel)]
enum MMethod {
    Get,
    Post,
    Put,
    Delete,
}

/// Response status as measured sees it.
#[derive(Clone, Copy, measured::FixedCardinalityLabel)]
enum MStatus {
    Ok,
    NotFound,
    Error,
}

#[derive(Clone, Copy, measured::LabelGroup)]
#[label(set = MRequestSet)]
struct MRequest {
    method: MMethod,
    status: MStatus,
}

/// HTTP method as prometheus-client sees it.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
enum PMethod {
    Get,
    Post,
    Put,
    Delete,
}

/// Response status as prometheus-client sees it.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
enum PStatus {
    Ok,
    NotFound,
    Error,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PRequest {
    method: PMethod,
    status: PStatus,
}

#[cfg(feature = "tallyho")]
tallyho::label_enum! {
    /// HTTP method as tallyho sees it.
    enum TMethod: "method" { Get = "GET", Post = "POST", Put = "PUT", Delete = "DELETE" }
}

#[cfg(feature = "tallyho")]
tallyho::label_enum! {
    /// Response status as tallyho sees it.
    enum TStatus: "status" { Ok = "ok", NotFound = "not_found", Error = "error" }
}

/// The (method, status) index pairs every contender cycles through.
const COMBOS: [(usize, usize); 8] = [
    (0, 0),
    (1, 0),
    (0, 1),
    (2, 0),
    (3, 2),
    (0, 0),
    (1, 2),
    (2, 1),
];

fn labels_typed(c: &mut Criterion) {
    let mut g = c.benchmark_group("labels_typed");

    #[cfg(feature = "tallyho")]
    {
        use TMethod as M;
        use TStatus as S;
        let methods = [M::Get, M::Post, M::Put, M::Delete];
        let statuses = [S::Ok, S::NotFound, S::Error];
        let combos = COMBOS.map(|(m, s)| (methods[m], statuses[s]));
        let r = tallyho::Registry::new();
        let family = r
            .metric("requests", "Requests.")
            .typed_family::<tallyho::Counter, (TMethod, TStatus)>()
            .expect("valid family");
        g.bench_function("tallyho", |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % combos.len();
                black_box(&family).get(black_box(combos[i])).inc()
            })
        });
    }
    {
        use prometheus_client::metrics::{counter::Counter, family::Family};
        use PMethod as M;
        use PStatus as S;
        let methods = [M::Get, M::Post, M::Put, M::Delete];
        let statuses = [S::Ok, S::NotFound, S::Error];
        let combos = COMBOS.map(|(m, s)| PRequest {
            method: methods[m],
            status: statuses[s],
        });
        let mut registry = prometheus_client::registry::Registry::default();
        let family = Family::<PRequest, Counter>::default();
        registry.register("requests", "Requests.", family.clone());
        g.bench_function("prometheus-client", |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % combos.len();
                black_box(&family)
                    .get_or_create(black_box(&combos[i]))
                    .inc()
            })
        });
    }
    {
        use MMethod as M;
        use MStatus as S;
        let methods = [M::Get, M::Post, M::Put, M::Delete];
        let statuses = [S::Ok, S::NotFound, S::Error];
        let combos = COMBOS.map(|(m, s)| MRequest {
            method: methods[m],
            status: statuses[s],
        });
        let family = measured::CounterVec::with_label_set(MRequestSet::new());
        g.bench_function("measured", |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % combos.len();
                black_box(&family).inc(black_box(combos[i]))
            })
        });
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------
// 6. histogram_observe
// ---------------------------------------------------------------------------------------

fn histogram_observe(c: &mut Criterion) {
    let mut g = c.benchmark_group("histogram_observe");

    #[cfg(feature = "tallyho")]
    {
        let r = tallyho::Registry::new();
        let h = r
            .histogram(
                "latency_seconds",
                "Latency.",
                tallyho::Buckets::default_seconds(),
            )
            .expect("valid histogram");
        g.bench_function("tallyho", |b| {
            b.iter_custom(|iters| observe_cycle(iters, |v| black_box(&h).observe(v)))
        });
    }
    {
        // metrics-exporter-prometheus stores raw samples and buckets them during upkeep
        // (normally a background task every few seconds, or at render). Upkeep runs every
        // 64k observations, inside the timing: it is the other half of the work, and
        // without it the sample buffer grows without bound.
        const UPKEEP_EVERY: u64 = 1 << 16;
        let recorder = metrics_recorder();
        let handle = recorder.handle();
        let h = metrics::with_local_recorder(&recorder, || metrics::histogram!("latency_seconds"));
        g.bench_function("metrics", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(UPKEEP_EVERY);
                    let start = Instant::now();
                    observe_cycle(n, |v| black_box(&h).record(v));
                    handle.run_upkeep();
                    total += start.elapsed();
                    left -= n;
                }
                total
            })
        });
    }
    {
        let registry = prometheus::Registry::new();
        // The default buckets are BUCKETS.
        let h = prometheus::Histogram::with_opts(prometheus::HistogramOpts::new(
            "latency_seconds",
            "Latency.",
        ))
        .expect("valid histogram");
        registry.register(Box::new(h.clone())).expect("registers");
        g.bench_function("prometheus", |b| {
            b.iter_custom(|iters| observe_cycle(iters, |v| black_box(&h).observe(v)))
        });
    }
    {
        let mut registry = prometheus_client::registry::Registry::default();
        let h = prometheus_client::metrics::histogram::Histogram::new(BUCKETS);
        registry.register("latency_seconds", "Latency.", h.clone());
        g.bench_function("prometheus-client", |b| {
            b.iter_custom(|iters| observe_cycle(iters, |v| black_box(&h).observe(v)))
        });
    }
    {
        let provider = otel_provider();
        let h = provider
            .meter("bench")
            .f64_histogram("latency_seconds")
            .with_boundaries(BUCKETS.to_vec())
            .build();
        g.bench_function("opentelemetry_sdk", |b| {
            b.iter_custom(|iters| observe_cycle(iters, |v| black_box(&h).record(v, &[])))
        });
    }
    {
        use measured::metric::histogram::Thresholds;
        let h = measured::Histogram::<11>::with_metadata(Thresholds::with_buckets(BUCKETS));
        g.bench_function("measured", |b| {
            b.iter_custom(|iters| observe_cycle(iters, |v| black_box(&h).observe(v)))
        });
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------
// 7. encode_10k
// ---------------------------------------------------------------------------------------

/// measured's family for `encode_10k`, in a group so the text carries `# HELP`.
///
/// tallyho and prometheus-client append `_total` to a counter's name; metrics, prometheus
/// and measured write the name as given, so there it is spelt with `_total` and every
/// contender writes the same text.
#[derive(measured::MetricGroup)]
struct MeasuredEncode {
    /// Requests.
    requests_total: measured::CounterVec<StrLabelsSet>,
}

fn encode_10k(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode_10k");
    let methods: Vec<String> = (0..SIDE).map(|i| format!("m{i}")).collect();
    let codes: Vec<String> = (0..SIDE).map(|i| format!("c{i}")).collect();
    // Series `i` gets one add of `i + 1`: values spread over 1..=10,000.
    let pairs = || {
        methods
            .iter()
            .flat_map(|m| codes.iter().map(move |c| (m.as_str(), c.as_str())))
            .zip(1u64..)
            .map(|((m, c), n)| (m, c, n))
    };
    let series = SIDE * SIDE;

    #[cfg(feature = "tallyho")]
    {
        let r = tallyho::Registry::new();
        let family = r
            .metric("requests", "Requests.")
            .cardinality_limit(series)
            .counter_family(&["method", "code"])
            .expect("valid family");
        for (m, c, n) in pairs() {
            family.with(&[m, c]).add(n);
        }
        assert_eq!(family.len(), series);
        let mut buf = Vec::new();
        tallyho_encode::prometheus::encode(&mut buf, &r).expect("encodes");
        check_encoding("tallyho", &buf, series);
        g.bench_function(BenchmarkId::new("tallyho", series), |b| {
            b.iter(|| {
                buf.clear();
                tallyho_encode::prometheus::encode(&mut buf, &r).expect("encodes");
                black_box(&buf);
            })
        });
    }
    {
        let recorder = metrics_recorder();
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_counter!("requests_total", "Requests.");
            for (m, c, n) in pairs() {
                metrics::counter!("requests_total", "method" => m.to_owned(), "code" => c.to_owned())
                    .increment(n);
            }
        });
        let handle = recorder.handle();
        let mut buf = Vec::new();
        handle.render_to_write(&mut buf).expect("renders");
        check_encoding("metrics", &buf, series);
        g.bench_function(BenchmarkId::new("metrics", series), |b| {
            b.iter(|| {
                buf.clear();
                handle.render_to_write(&mut buf).expect("renders");
                black_box(&buf);
            })
        });
    }
    {
        let registry = prometheus::Registry::new();
        let family = prometheus::IntCounterVec::new(
            prometheus::Opts::new("requests_total", "Requests."),
            &["method", "code"],
        )
        .expect("valid family");
        registry
            .register(Box::new(family.clone()))
            .expect("registers");
        for (m, c, n) in pairs() {
            family.with_label_values(&[m, c]).inc_by(n);
        }
        let mut buf = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&registry.gather(), &mut buf)
            .expect("encodes");
        check_encoding("prometheus", &buf, series);
        g.bench_function(BenchmarkId::new("prometheus", series), |b| {
            b.iter(|| {
                buf.clear();
                prometheus::TextEncoder::new()
                    .encode(&registry.gather(), &mut buf)
                    .expect("encodes");
                black_box(&buf);
            })
        });
    }
    {
        use prometheus_client::metrics::{counter::Counter, family::Family};
        let mut registry = prometheus_client::registry::Registry::default();
        let family = Family::<OwnedLabels, Counter>::default();
        registry.register("requests", "Requests.", family.clone());
        for (m, c, n) in pairs() {
            family
                .get_or_create(&OwnedLabels {
                    method: m.to_owned(),
                    code: c.to_owned(),
                })
                .inc_by(n);
        }
        // prometheus-client encodes into a `fmt::Write`.
        let mut buf = String::new();
        prometheus_client::encoding::text::encode(&mut buf, &registry).expect("encodes");
        check_encoding("prometheus-client", buf.as_bytes(), series);
        g.bench_function(BenchmarkId::new("prometheus-client", series), |b| {
            b.iter(|| {
                buf.clear();
                prometheus_client::encoding::text::encode(&mut buf, &registry).expect("encodes");
                black_box(&buf);
            })
        });
    }
    {
        use measured::MetricGroup as _;
        let group = MeasuredEncode {
            requests_total: measured_str_vec(),
        };
        for (method, code, n) in pairs() {
            group.requests_total.inc_by(StrLabels { method, code }, n);
        }
        let mut buf = Vec::new();
        group
            .collect_group_into(&mut measured::text::TextEncoder::new(&mut buf))
            .expect("encodes");
        check_encoding("measured", &buf, series);
        g.bench_function(BenchmarkId::new("measured", series), |b| {
            b.iter(|| {
                buf.clear();
                let mut enc = measured::text::TextEncoder::new(&mut buf);
                group.collect_group_into(&mut enc).expect("encodes");
                black_box(&buf);
            })
        });
    }
    // opentelemetry_sdk: no Prometheus text encoder without another crate (see module docs).
    g.finish();
}

/// One observation into a base-2 exponential histogram at OpenTelemetry's defaults (160
/// buckets, scale 20), values spread over four decades so the scale settles; tallyho's
/// classic histogram beside it for the price of adaptivity.
fn exp_histogram_observe(c: &mut Criterion) {
    let mut g = c.benchmark_group("exp_histogram_observe");
    #[cfg(feature = "tallyho")]
    {
        let r = tallyho::Registry::new();
        let h = r
            .metric("latency", "Latency.")
            .unit("seconds")
            .exponential_histogram()
            .expect("valid histogram");
        g.bench_function("tallyho", |b| {
            b.iter_custom(|iters| observe_cycle(iters, |v| black_box(&h).observe(v)))
        });
    }
    {
        use opentelemetry_sdk::metrics::{
            Aggregation, Instrument, ManualReader, SdkMeterProvider, Stream,
        };
        let provider = SdkMeterProvider::builder()
            .with_reader(ManualReader::builder().build())
            .with_view(|_: &Instrument| {
                Stream::builder()
                    .with_aggregation(Aggregation::Base2ExponentialHistogram {
                        max_size: 160,
                        max_scale: 20,
                        record_min_max: true,
                    })
                    .build()
                    .ok()
            })
            .build();
        let h = provider
            .meter("bench")
            .f64_histogram("latency_seconds")
            .build();
        g.bench_function("opentelemetry_sdk", |b| {
            b.iter_custom(|iters| observe_cycle(iters, |v| black_box(&h).record(v, &[])))
        });
    }
    g.finish();
}

/// One histogram observation that keeps an exemplar (trace and span ids, the value and
/// the time) in its bucket, beside the same observation without one; prometheus-client's
/// `HistogramWithExemplars` (the one Rust peer with exemplars) takes the exemplar as an
/// owned label set, so the bench hands it one per call as its users must.
fn histogram_observe_exemplar(c: &mut Criterion) {
    let mut g = c.benchmark_group("histogram_observe_exemplar");
    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN: &str = "00f067aa0ba902b7";
    #[cfg(feature = "tallyho")]
    {
        let r = tallyho::Registry::new();
        let h = r
            .histogram(
                "latency_seconds",
                "Latency.",
                tallyho::Buckets::default_seconds(),
            )
            .expect("valid histogram");
        let trace = tallyho::TraceContext::from_hex(TRACE, SPAN).expect("valid ids");
        g.bench_function("tallyho_plain", |b| {
            b.iter_custom(|iters| observe_cycle(iters, |v| black_box(&h).observe(v)))
        });
        g.bench_function("tallyho", |b| {
            b.iter_custom(|iters| {
                observe_cycle(iters, |v| {
                    black_box(&h).observe_with_exemplar(v, Some(black_box(trace)))
                })
            })
        });
    }
    {
        use prometheus_client::metrics::exemplar::HistogramWithExemplars;
        type Ids = Vec<(String, String)>;
        let h = HistogramWithExemplars::<Ids>::new(
            [
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]
            .into_iter(),
        );
        let ids: Ids = vec![
            ("trace_id".to_owned(), TRACE.to_owned()),
            ("span_id".to_owned(), SPAN.to_owned()),
        ];
        g.bench_function("prometheus_client", |b| {
            b.iter_custom(|iters| {
                observe_cycle(iters, |v| {
                    black_box(&h).observe(v, Some(ids.clone()), Some(std::time::SystemTime::now()))
                })
            })
        });
    }
    g.finish();
}

/// One observation into a summary (quantiles over a sliding window): the exponential
/// histogram's observe plus a sign check, since the window slides only when read.
#[cfg(feature = "tallyho")]
fn summary_observe(c: &mut Criterion) {
    let mut g = c.benchmark_group("summary_observe");
    let r = tallyho::Registry::new();
    let s = r
        .metric("latency", "Latency.")
        .unit("seconds")
        .summary()
        .expect("valid summary");
    g.bench_function("tallyho", |b| {
        b.iter_custom(|iters| observe_cycle(iters, |v| black_box(&s).observe(v)))
    });
    g.finish();
}

#[cfg(not(feature = "tallyho"))]
fn summary_observe(_: &mut Criterion) {}

/// What an idle sweep costs over 100,000 series of an expiring family: the steady state
/// (every series seen, none idle long enough) and a sweep that expires all of them.
#[cfg(feature = "tallyho")]
fn expiry_sweep_100k(c: &mut Criterion) {
    const N: usize = 100_000;
    const IDLE: Duration = Duration::from_secs(60);
    let mut g = c.benchmark_group("expiry_sweep_100k");
    let values: Vec<String> = (0..N).map(|i| format!("s{i}")).collect();
    let make = || {
        let r = tallyho::Registry::builder()
            .cardinality_limit(N)
            .build()
            .expect("valid registry");
        let f = r
            .metric("sessions", "Sessions.")
            .expiring_family::<tallyho::Counter>(&["session"], IDLE)
            .expect("valid family");
        for v in &values {
            f.with(&[v]).inc();
        }
        f
    };
    let t0 = Instant::now() + Duration::from_secs(3600);
    let f = make();
    f.sweep_at(t0);
    g.bench_function("tallyho_none_idle", |b| {
        b.iter(|| assert_eq!(black_box(&f).sweep_at(t0), 0))
    });
    g.sample_size(10);
    g.bench_function("tallyho_all_idle", |b| {
        b.iter_batched(
            || {
                let f = make();
                f.sweep_at(t0);
                f
            },
            |f| assert_eq!(f.sweep_at(t0 + IDLE), N),
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
}

#[cfg(not(feature = "tallyho"))]
fn expiry_sweep_100k(_: &mut Criterion) {}

criterion_group! {
    name = benches;
    config = config();
    targets = counter_inc, counter_inc_2threads, counter_inc_16threads, labels_2_literal, labels_2_runtime,
        labels_typed, histogram_observe, encode_10k, expiry_sweep_100k, exp_histogram_observe,
        histogram_observe_exemplar, summary_observe
}
criterion_main!(benches);
