//! Appending collections of 10,000 series: every sample lands, the second collection
//! creates nothing. How fast it is lives in the criterion bench
//! (`cargo bench -p tallyho-bench --bench history`, BENCHMARKS.md), not here.

mod common;

use tallyho_history::History;

#[test]
fn collections_of_10000_series_append_every_sample_and_create_series_once() {
    let mut w = common::Workload::new(5000, 3700, 100);
    assert_eq!(w.series(), 10_000);
    let h = History::in_memory();
    let t0 = 1_700_000_000_000i64;
    let first = h.append(&w.step(t0)).unwrap();
    assert_eq!(first.new_series, 10_000);
    for i in 1..=50 {
        let st = h.append(&w.step(t0 + i * 15_000)).unwrap();
        assert_eq!(st.appended, 10_000);
        assert_eq!(st.new_series, 0);
    }
    assert_eq!(h.stats().head_samples, 51 * 10_000);
}
