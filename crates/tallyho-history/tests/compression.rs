//! Bytes per sample on a host-like + StatsD-like workload over 24 simulated hours:
//! gauges that wander, counters that grow, histograms that accumulate.

mod common;

use std::time::Duration;

use tallyho_history::{History, HistoryOptions};

/// Appends 24 h of `w` every 15 s; returns (head chunk, block file) bytes per sample.
fn day(mut w: common::Workload) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let opts = HistoryOptions::default()
        .storage_path(dir.path())
        .retention(Duration::from_secs(48 * 3600));
    let h = History::open(opts).unwrap();
    let t0 = 1_700_000_000_000 - 1_700_000_000_000 % 7_200_000;
    let steps = 24 * 240;
    for i in 0..steps {
        // Collection times jitter by a few ms around the 15 s grid, as a real ticker does.
        let jitter = (i * 7919 % 11) - 5;
        let st = h.append(&w.step(t0 + i * 15_000 + jitter)).unwrap();
        assert_eq!(st.appended, w.series());
    }
    h.wait_for_blocks();
    let st = h.stats();
    let samples = (w.series() as u64) * steps as u64;
    assert_eq!(st.head_samples + st.block_samples, samples, "{st:?}");
    let head = st.head_chunk_bytes as f64 / st.head_samples as f64;
    let blocks = st.block_bytes as f64 / st.block_samples as f64;
    let chunks_only = (st.head_chunk_bytes as f64 + st.block_bytes as f64) / samples as f64;
    println!(
        "{} series, {samples} samples: head chunks {head:.3} B/sample, block files (index included) \
         {blocks:.3} B/sample, overall {chunks_only:.3}; WAL {} B ({:.2} B/sample of the head)",
        w.series(),
        st.wal_bytes,
        st.wal_bytes as f64 / st.head_samples as f64
    );
    (head, blocks)
}

#[test]
fn a_day_of_host_and_statsd_metrics_takes_under_two_bytes_a_sample() {
    let (head, blocks) = day(common::Workload::new(200, 200, 20));
    // Blocks re-encode each series' head chunks into one, with a symbol table and a
    // compact index: no more than the head's chunks, index included.
    assert!(
        blocks <= 1.5,
        "block files take {blocks:.3} bytes per sample"
    );
    assert!(head <= 2.0, "head chunks take {head:.3} bytes per sample");
}

#[test]
fn a_day_where_every_series_changes_every_time_stays_bounded() {
    // The worst case for XOR floats: random fractions everywhere. Bounded, not small.
    let (head, blocks) = day(common::Workload::hot(200, 200, 20));
    assert!(
        blocks <= 4.0,
        "block files take {blocks:.3} bytes per sample"
    );
    assert!(head <= 4.0, "head chunks take {head:.3} bytes per sample");
}
