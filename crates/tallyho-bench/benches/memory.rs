//! Heap cost of labelled series, per crate, measured with a counting global allocator.
//!
//! For each crate, with label values made beforehand (so the caller's strings are not
//! counted):
//!
//! 1. **bytes/series**: the bytes still allocated after creating a counter family with two
//!    labels and 10,000 series in it (100 x 100 values, each series incremented once), minus
//!    the bytes allocated before, divided by 10,000. Registry and family overhead are
//!    included, spread over the series; so is any slack in tables that grow by doubling.
//!    These are the sizes asked of the allocator: malloc's own overhead (commonly 8-16
//!    bytes a block) comes on top, so **live blocks/series**, the number of blocks those
//!    bytes are spread over, is printed too.
//! 2. **allocations per 1M increments**: how many times the allocator is called (alloc,
//!    alloc_zeroed, realloc) during 1,000,000 labelled increments of those existing series,
//!    the label values passed as runtime `&str` (cloned where the crate needs owned values,
//!    as a user would have to).
//!
//! Each crate is set up as in the `compare` bench (see `common`): no sockets, OpenTelemetry
//! with a `ManualReader` and a cardinality limit above 10,000.
//!
//! Run with `cargo bench -p tallyho-bench --bench memory`. The output is a markdown table.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;

mod common;
use common::{measured_str_vec, metrics_recorder, otel_provider, OwnedLabels, StrLabels};

/// Values per label; the family holds `SIDE * SIDE` series.
const SIDE: usize = 100;
/// Labelled increments in the allocation-count phase.
const INCREMENTS: usize = 1_000_000;

/// Bytes currently allocated through the global allocator.
static CURRENT: AtomicUsize = AtomicUsize::new(0);
/// Blocks currently allocated (a realloc moves a block, it does not add one).
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Allocator calls that hand out memory (alloc, alloc_zeroed, realloc) since start.
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting what passes through it.
struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is `System`'s; the counters are plain atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract (non-zero size), passed on as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            CURRENT.fetch_add(layout.size(), Relaxed);
            LIVE.fetch_add(1, Relaxed);
            ALLOCATIONS.fetch_add(1, Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            CURRENT.fetch_add(layout.size(), Relaxed);
            LIVE.fetch_add(1, Relaxed);
            ALLOCATIONS.fetch_add(1, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator (so by `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Relaxed);
        LIVE.fetch_sub(1, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller upholds the rest.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            CURRENT.fetch_add(new_size, Relaxed);
            CURRENT.fetch_sub(layout.size(), Relaxed);
            ALLOCATIONS.fetch_add(1, Relaxed);
        }
        p
    }
}

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
            methods: (0..SIDE).map(|i| format!("m{i}")).collect(),
            codes: (0..SIDE).map(|i| format!("c{i}")).collect(),
        }
    }

    /// The label values of series `i` (any `i`; wraps around the 10,000 series).
    fn pair(&self, i: usize) -> (&str, &str) {
        let i = i % (SIDE * SIDE);
        (&self.methods[i / SIDE], &self.codes[i % SIDE])
    }
}

/// Measures one crate: `build` makes its registry and family (state `S`), `inc` does one
/// labelled increment. Everything `build` and the first 10,000 increments leave allocated
/// counts towards bytes/series; the state is dropped only after the allocation phase.
fn measure<S>(
    name: &'static str,
    values: &Values,
    build: impl FnOnce() -> S,
    inc: impl Fn(&S, &str, &str),
) -> Row {
    let series = SIDE * SIDE;
    let before = CURRENT.load(Relaxed);
    let blocks_before = LIVE.load(Relaxed);
    let state = build();
    for i in 0..series {
        let (m, c) = values.pair(i);
        inc(&state, m, c);
    }
    let after = CURRENT.load(Relaxed);
    let blocks_after = LIVE.load(Relaxed);

    let allocations_before = ALLOCATIONS.load(Relaxed);
    for i in 0..INCREMENTS {
        let (m, c) = values.pair(black_box(i));
        inc(&state, m, c);
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
                .cardinality_limit(SIDE * SIDE)
                .counter_family(&["method", "code"])
                .expect("valid family");
            (r, family)
        },
        |(_, family), m, c| family.with(&[m, c]).inc(),
    ));

    rows.push(measure(
        "metrics",
        &values,
        metrics_recorder,
        |recorder, m, c| {
            metrics::with_local_recorder(recorder, || {
                // Label values must be `&'static str` or owned: clone.
                metrics::counter!("requests", "method" => m.to_owned(), "code" => c.to_owned())
                    .increment(1);
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
        |(_, family), m, c| family.with_label_values(&[m, c]).inc(),
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
        |(_, family), m, c| {
            // A registered family's label set must be `'static`: clone into it.
            family
                .get_or_create(&OwnedLabels {
                    method: m.to_owned(),
                    code: c.to_owned(),
                })
                .inc();
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
        |(_, counter), m, c| {
            // `Value` holds `&'static str` or owned strings: clone.
            counter.add(
                1,
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
        |family, method, code| family.inc(StrLabels { method, code }),
    ));

    println!(
        "{} series in one 2-label counter family; {INCREMENTS} labelled increments of existing series with runtime &str values.\n",
        SIDE * SIDE
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
}
