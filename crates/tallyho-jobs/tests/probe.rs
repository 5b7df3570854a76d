//! Its own test binary, so no other test changes this process's RSS meanwhile.

use tallyho::{Buckets, Registry};
use tallyho_jobs::{memory_probe, resident_bytes};

const MIB: usize = 1 << 20;

fn touch_64_mib() -> Vec<u8> {
    let mut v = vec![0u8; 64 * MIB];
    // Write one byte per page so every page becomes resident.
    for i in (0..v.len()).step_by(4096) {
        v[i] = 1;
    }
    std::hint::black_box(v)
}

#[test]
fn allocating_64_mib_shows_in_the_gauge_and_histogram() {
    if resident_bytes().is_none() {
        eprintln!("no /proc/self/statm here; skipping");
        return;
    }
    let registry = Registry::new();
    let gauge = registry
        .metric("load_rss_delta", "RSS change.")
        .unit("bytes")
        .gauge()
        .unwrap();
    let hist = registry
        .metric("step_rss_delta", "RSS change per step.")
        .unit("bytes")
        .buckets(Buckets::exponential(MIB as f64, 2.0, 10).unwrap())
        .histogram()
        .unwrap();

    let kept = memory_probe(&gauge, touch_64_mib);
    let delta = registry
        .snapshot()
        .value("load_rss_delta_bytes", &[])
        .unwrap();
    assert!(delta > 32.0 * MIB as f64, "delta {delta}");
    assert_eq!(kept.len(), 64 * MIB);

    let kept2 = memory_probe(&hist, touch_64_mib);
    let (count, sum) = hist.count_and_sum();
    assert_eq!(count, 1);
    assert!(sum > 32.0 * MIB as f64, "delta {sum}");

    // Releasing a large (mmap-backed) allocation shows as a negative change.
    memory_probe(&gauge, move || drop((kept, kept2)));
    let released = registry
        .snapshot()
        .value("load_rss_delta_bytes", &[])
        .unwrap();
    assert!(released < 0.0, "released {released}");
}

#[test]
fn resident_bytes_is_plausible() {
    if let Some(rss) = resident_bytes() {
        assert!(rss > 1 << 16, "{rss}");
        assert!(rss < 1 << 40, "{rss}");
    }
}
