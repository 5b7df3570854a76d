//! `#[timed]` on an empty function against a hand-written timer guard around the same body.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::OnceLock;

use criterion::{criterion_group, criterion_main, Criterion};
use tallyho::{Histogram, Registry};
use tallyho_macros::timed;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::new)
}

#[timed(registry = registry)]
#[inline(never)]
fn macro_timed(x: u64) -> u64 {
    black_box(x)
}

#[inline(never)]
fn manual_timed(histogram: &Histogram, x: u64) -> u64 {
    let _timer = histogram.start_timer();
    black_box(x)
}

fn bench(c: &mut Criterion) {
    let histogram = registry()
        .metric("manual_duration", "Hand-written timer.")
        .unit("seconds")
        .histogram()
        .expect("registers");
    let mut group = c.benchmark_group("timed_empty_fn");
    group.bench_function("macro_timed", |b| b.iter(|| macro_timed(black_box(1))));
    group.bench_function("manual_start_timer", |b| {
        b.iter(|| manual_timed(&histogram, black_box(1)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
