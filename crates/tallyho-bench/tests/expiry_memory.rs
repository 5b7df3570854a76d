//! Memory follows the live series: after a churn of a million label sets through an
//! expiring family, the heap is back where it started.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tallyho::{Counter, Registry};
use tallyho_bench::counting::{Counting, CURRENT};

#[global_allocator]
static GLOBAL: Counting = Counting;

const IDLE: Duration = Duration::from_secs(60);

#[test]
fn a_million_label_sets_churned_leave_the_heap_at_its_baseline() {
    let r = Registry::new();
    let f = r
        .metric("sessions", "Per-session requests.")
        .cardinality_limit(100_000)
        .expiring_family::<Counter>(&["session"], IDLE)
        .unwrap();
    // Warm up: one round, so lazily made things (the thread's slot, the shards' first
    // tables) exist before the baseline.
    let t0 = Instant::now() + Duration::from_secs(3600);
    let mut t = t0;
    let round = |base: u64, n: u64, t: &mut Instant| {
        for i in base..base + n {
            f.with(&[&i.to_string()]).inc();
        }
        f.sweep_at(*t);
        *t += IDLE;
        f.sweep_at(*t);
        assert!(f.is_empty(), "round from {base}: {} series left", f.len());
        drop(r.snapshot());
    };
    round(0, 1000, &mut t);
    let baseline = CURRENT.load(Ordering::Relaxed);
    let mut peak = baseline;
    const ROUND: u64 = 20_000;
    for k in 0..50 {
        for i in 0..ROUND {
            f.with(&[&format!("s-{k}-{i}")]).inc();
        }
        peak = peak.max(CURRENT.load(Ordering::Relaxed));
        f.sweep_at(t);
        t += IDLE;
        assert_eq!(f.sweep_at(t) as u64, ROUND, "round {k}");
    }
    assert_eq!(f.expired_count(), 1000 + 50 * ROUND);
    println!(
        "heap: {baseline} B before, {peak} B at the peak, {} B after",
        CURRENT.load(Ordering::Relaxed)
    );
    let after = CURRENT.load(Ordering::Relaxed);
    assert!(
        peak - baseline > 1_000_000,
        "20,000 live series should have cost over 1 MB (baseline {baseline}, peak {peak})"
    );
    assert!(
        after.saturating_sub(baseline) < 16 * 1024,
        "heap {after} B after the churn against {baseline} B before (peak {peak})"
    );
}
