//! Heap cost of series and counters, per crate, measured with a counting global allocator.
//!
//! For each crate, with label values made beforehand (so the caller's strings are not
//! counted):
//!
//! 1. **bytes/series**: the bytes still allocated after creating a counter family with two
//!    labels and 100,000 series in it (1,000 x 100 values), each series given **one add**
//!    of its own value, spread over 1..=100,000 (series `i` gets `i + 1`), minus the bytes
//!    allocated before, divided by 100,000. Registry and family overhead are included,
//!    spread over the series; so is any slack in tables that grow by doubling. These are
//!    the sizes asked of the allocator: malloc's own overhead (commonly 8-16 bytes a block)
//!    comes on top, so **live blocks/series**, the number of blocks those bytes are spread
//!    over, is printed too.
//! 2. **allocations per 1M increments**: how many times the allocator is called (alloc,
//!    alloc_zeroed, realloc) during 1,000,000 labelled increments of those existing series,
//!    the label values passed as runtime `&str` (cloned where the crate needs owned values,
//!    as a user would have to).
//! 3. **one unlabelled counter**: the bytes still allocated after registering one counter
//!    in a registry that already exists (so the registry itself is not counted) and adding
//!    to it once. measured has no registry (a counter is a field of the user's metric
//!    group), so its figure is the counter boxed on the heap.
//! 4. **16 threads, then idle** (tallyho only): a family series, a standalone counter and a
//!    histogram each recorded by 16 threads at once, after which the threads exit; the
//!    bytes they leave allocated. Asserted to stay within the stripes the machine's cores
//!    allow (not one cell per thread).
//!
//! Each crate is set up as in the `compare` bench (see `common`): no sockets, OpenTelemetry
//! with a `ManualReader` and a cardinality limit above 100,000.
//!
//! Run with `cargo bench -p tallyho-bench --bench memory`. The output is markdown tables.

use std::hint::black_box;
use std::sync::atomic::Ordering::Relaxed;

use tallyho_bench::counting::{Counting, ALLOCATIONS, CURRENT, LIVE};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;

mod common;
use common::{measured_str_vec, metrics_recorder, otel_provider, OwnedLabels, StrLabels};

/// Values of the first label; the family holds `METHODS * CODES` series.
const METHODS: usize = 1000;
/// Values of the second label.
const CODES: usize = 100;
/// Series in the family.
const SERIES: usize = METHODS * CODES;
/// Labelled increments in the allocation-count phase.
const INCREMENTS: usize = 1_000_000;

#[global_allocator]
static GLOBAL: Counting = Counting;

/// One crate's results.
struct Row {
    name: &'static str,
    bytes_per_series: f64,
    blocks_per_series: f64,
    allocations: usize,
}

/// Label values, made before anything is measured.
struct Values {
    methods: Vec<String>,
    codes: Vec<String>,
}

impl Values {
    fn new() -> Self {
        Values {
            methods: (0..METHODS).map(|i| format!("m{i}")).collect(),
            codes: (0..CODES).map(|i| format!("c{i}")).collect(),
        }
    }

    /// The label values of series `i` (any `i`; wraps around the series).
    fn pair(&self, i: usize) -> (&str, &str) {
        let i = i % SERIES;
        (&self.methods[i / CODES], &self.codes[i % CODES])
    }
}

/// Measures one crate: `build` makes its registry and family (state `S`), `add` does one
/// labelled add. Everything `build` and the first add to each series leave allocated
/// counts towards bytes/series; the state is dropped only after the allocation phase.
fn measure<S>(
    name: &'static str,
    values: &Values,
    build: impl FnOnce() -> S,
    add: impl Fn(&S, &str, &str, u64),
) -> Row {
    let series = SERIES;
    let before = CURRENT.load(Relaxed);
    let blocks_before = LIVE.load(Relaxed);
    let state = build();
    for i in 0..series {
        let (m, c) = values.pair(i);
        add(&state, m, c, i as u64 + 1);
    }
    let after = CURRENT.load(Relaxed);
    let blocks_after = LIVE.load(Relaxed);

    let allocations_before = ALLOCATIONS.load(Relaxed);
    for i in 0..INCREMENTS {
        let (m, c) = values.pair(black_box(i));
        add(&state, m, c, 1);
    }
    let allocations = ALLOCATIONS.load(Relaxed) - allocations_before;
    drop(black_box(state));

    Row {
        name,
        bytes_per_series: after.saturating_sub(before) as f64 / series as f64,
        blocks_per_series: blocks_after.saturating_sub(blocks_before) as f64 / series as f64,
        allocations,
    }
}

fn main() {
    let values = Values::new();
    let mut rows = Vec::new();

    #[cfg(feature = "tallyho")]
    rows.push(measure(
        "tallyho",
        &values,
        || {
            let r = tallyho::Registry::new();
            let family = r
                .metric("requests", "Requests.")
                .cardinality_limit(SERIES)
                .counter_family(&["method", "code"])
                .expect("valid family");
            (r, family)
        },
        |(_, family), m, c, n| family.with(&[m, c]).add(n),
    ));

    rows.push(measure(
        "metrics",
        &values,
        metrics_recorder,
        |recorder, m, c, n| {
            metrics::with_local_recorder(recorder, || {
                // Label values must be `&'static str` or owned: clone.
                metrics::counter!("requests", "method" => m.to_owned(), "code" => c.to_owned())
                    .increment(n);
            })
        },
    ));

    rows.push(measure(
        "prometheus",
        &values,
        || {
            let registry = prometheus::Registry::new();
            let family = prometheus::IntCounterVec::new(
                prometheus::Opts::new("requests", "Requests."),
                &["method", "code"],
            )
            .expect("valid family");
            registry
                .register(Box::new(family.clone()))
                .expect("registers");
            (registry, family)
        },
        |(_, family), m, c, n| family.with_label_values(&[m, c]).inc_by(n),
    ));

    rows.push(measure(
        "prometheus-client",
        &values,
        || {
            use prometheus_client::metrics::{counter::Counter, family::Family};
            let mut registry = prometheus_client::registry::Registry::default();
            let family = Family::<OwnedLabels, Counter>::default();
            registry.register("requests", "Requests.", family.clone());
            (registry, family)
        },
        |(_, family), m, c, n| {
            // A registered family's label set must be `'static`: clone into it.
            family
                .get_or_create(&OwnedLabels {
                    method: m.to_owned(),
                    code: c.to_owned(),
                })
                .inc_by(n);
        },
    ));

    rows.push(measure(
        "opentelemetry_sdk",
        &values,
        || {
            let provider = otel_provider();
            let counter = provider.meter("bench").u64_counter("requests").build();
            (provider, counter)
        },
        |(_, counter), m, c, n| {
            // `Value` holds `&'static str` or owned strings: clone.
            counter.add(
                n,
                &[
                    KeyValue::new("method", m.to_owned()),
                    KeyValue::new("code", c.to_owned()),
                ],
            );
        },
    ));

    rows.push(measure(
        "measured",
        &values,
        measured_str_vec,
        |family, method, code, n| family.inc_by(StrLabels { method, code }, n),
    ));

    println!(
        "{SERIES} series in one 2-label counter family, one add per series (values 1..={SERIES}); \
         {INCREMENTS} labelled increments of existing series with runtime &str values.\n"
    );
    println!(
        "| crate | bytes/series | live blocks/series | allocations per {INCREMENTS} increments |"
    );
    println!("|---|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {:.0} | {:.2} | {} |",
            row.name, row.bytes_per_series, row.blocks_per_series, row.allocations
        );
    }

    println!("\nOne unlabelled counter, registered in an existing registry and added to once.\n");
    println!("| crate | bytes |");
    println!("|---|---:|");
    for (name, bytes) in single_counters() {
        println!("| {name} | {bytes} |");
    }

    #[cfg(feature = "tallyho")]
    idle_after_16_threads();
}

/// The bytes `make` leaves allocated; `setup` runs first and is not counted.
fn retained<S, T>(setup: impl FnOnce() -> S, make: impl FnOnce(&S) -> T) -> usize {
    let state = setup();
    let before = CURRENT.load(Relaxed);
    let kept = make(&state);
    let after = CURRENT.load(Relaxed);
    drop(black_box(kept));
    drop(state);
    after.saturating_sub(before)
}

/// Heap bytes of one unlabelled counter per crate (see the module docs).
fn single_counters() -> Vec<(&'static str, usize)> {
    let mut rows = Vec::new();
    #[cfg(feature = "tallyho")]
    {
        rows.push((
            "tallyho",
            retained(tallyho::Registry::new, |r| {
                let c = r.counter("hits", "Hits.").expect("valid counter");
                c.add(5);
                c
            }),
        ));
        rows.push((
            "tallyho (`Counter::new`, no registry)",
            retained(
                || (),
                |_| {
                    let c = tallyho::Counter::new();
                    c.add(5);
                    c
                },
            ),
        ));
    }
    rows.push((
        "metrics",
        retained(metrics_recorder, |recorder| {
            metrics::with_local_recorder(recorder, || {
                let c = metrics::counter!("hits");
                c.increment(5);
                c
            })
        }),
    ));
    rows.push((
        "prometheus",
        retained(prometheus::Registry::new, |registry| {
            let c = prometheus::IntCounter::new("hits", "Hits.").expect("valid counter");
            registry.register(Box::new(c.clone())).expect("registers");
            c.inc_by(5);
            c
        }),
    ));
    rows.push((
        "prometheus-client",
        retained(
            || std::cell::RefCell::new(prometheus_client::registry::Registry::default()),
            |registry| {
                let c = prometheus_client::metrics::counter::Counter::<u64>::default();
                registry.borrow_mut().register("hits", "Hits.", c.clone());
                c.inc_by(5);
                c
            },
        ),
    ));
    rows.push((
        "opentelemetry_sdk",
        retained(otel_provider, |provider| {
            let c = provider.meter("bench").u64_counter("hits").build();
            c.add(5, &[]);
            c
        }),
    ));
    rows.push((
        "measured (boxed; it has no registry)",
        retained(
            || (),
            |_| {
                let c = Box::new(measured::Counter::new());
                c.inc_by(5);
                c
            },
        ),
    ));
    rows
}

/// Records from 16 threads at once, then lets them exit; the bytes left allocated.
#[cfg(feature = "tallyho")]
fn after_16_threads(record: impl Fn() + Sync) -> usize {
    const THREADS: usize = 16;
    let barrier = std::sync::Barrier::new(THREADS);
    let before = CURRENT.load(Relaxed);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..100_000 {
                    record();
                }
            });
        }
    });
    CURRENT.load(Relaxed).saturating_sub(before)
}

/// tallyho's memory after 16 recording threads went idle (see the module docs).
#[cfg(feature = "tallyho")]
fn idle_after_16_threads() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // tallyho's stripe count: twice the cores rounded up to a power of two, at most 64.
    let stripes = (cores * 2).next_power_of_two().min(64).min(16);
    let r = tallyho::Registry::new();
    let family = r
        .metric("requests", "Requests.")
        .counter_family(&["method"])
        .expect("valid family");
    family.with(&["GET"]).inc();
    let counter = r.counter("hits", "Hits.").expect("valid counter");
    counter.inc();
    let buckets = tallyho::Buckets::default_seconds();
    let hist = r
        .histogram("latency_seconds", "Latency.", buckets.clone())
        .expect("valid histogram");
    hist.observe(0.1);

    // What 16 threads that record nothing leave behind (the runtime's own bookkeeping).
    let noise = (0..3).map(|_| after_16_threads(|| ())).max().unwrap_or(0);
    let series = after_16_threads(|| family.with(&["GET"]).inc());
    let standalone = after_16_threads(|| counter.inc());
    let histogram = after_16_threads(|| hist.observe(0.2));
    assert_eq!(family.with(&["GET"]).get(), 1 + 16 * 100_000);
    assert_eq!(counter.get(), 1 + 16 * 100_000);

    println!(
        "\ntallyho, recorded by 16 threads at once which then exit ({cores} cores, so at most \
         {stripes} stripe cells): bytes left allocated.\n"
    );
    println!("| instrument | bytes kept | one cache-padded cell per thread would be |");
    println!("|---|---:|---:|");
    let cell = 128;
    let shard = 128 + (buckets.bounds().len() + 1 + 8) * 8;
    println!("| (16 threads recording nothing) | {noise} | – |");
    println!("| family series | {series} | {} |", 16 * cell);
    println!("| counter | {standalone} | {} |", 16 * cell);
    println!("| histogram | {histogram} | {} |", 16 * shard);
    // A stripe's cell plus its slot in the table, the table's header and the shared word
    // or pair, on top of what idle threads leave anyway.
    let bound = stripes * (cell + 16) + 64 + noise;
    assert!(
        series <= bound && standalone <= bound,
        "{series} / {standalone} B kept"
    );
    let hist_bound = stripes * (shard + 16) + 2 * shard + noise;
    assert!(histogram <= hist_bound, "{histogram} B kept");
}
