//! Retention by time and by size over 48 simulated hours (snapshots every 15 s).

mod common;

use std::time::Duration;

use tallyho_history::{History, HistoryOptions, HistoryStats};
use tallyho_query::{MatchOp, Matcher, Storage};

const HOUR: i64 = 3_600_000;

/// Appends 48 h of a 70-series workload, checking after every append; returns the final
/// stats and the largest (head + disk) bytes seen.
fn two_days(
    opts: HistoryOptions,
    mut check: impl FnMut(&History, &HistoryStats),
) -> (History, u64) {
    let h = History::open(opts).unwrap();
    let mut w = common::Workload::new(30, 27, 1);
    let t0 = 1_700_000_000_000 - 1_700_000_000_000 % (2 * HOUR);
    let mut max_total = 0;
    for i in 0..48 * 240 {
        h.append(&w.step(t0 + i * 15_000)).unwrap();
        let st = h.stats();
        max_total = max_total.max(st.head_bytes + st.disk_bytes);
        if i % 60 == 0 {
            check(&h, &st);
        }
    }
    // Blocks are cut on a background thread: let the last one finish (and retention run
    // after it) before the callers read the final state.
    h.wait_for_blocks();
    let st = h.stats();
    max_total = max_total.max(st.head_bytes + st.disk_bytes);
    (h, max_total)
}

fn oldest_selected(h: &History) -> i64 {
    let all = Matcher::new("__name__", MatchOp::Regex, ".+").unwrap();
    let got = h.select(&[all], i64::MIN, i64::MAX).unwrap();
    assert!(!got.is_empty());
    got.iter().map(|s| s.samples[0].t).min().unwrap()
}

#[test]
fn time_retention_keeps_the_newest_24_hours_in_memory() {
    let retention = Duration::from_secs(24 * 3600);
    let (h, _) = two_days(HistoryOptions::default().retention(retention), |h, st| {
        let newest = st.newest_ms.unwrap();
        assert!(oldest_selected(h) >= newest - 24 * HOUR);
    });
    let st = h.stats();
    let newest = st.newest_ms.unwrap();
    let oldest = oldest_selected(&h);
    assert!(
        oldest >= newest - 24 * HOUR,
        "oldest {oldest}, newest {newest}"
    );
    assert!(
        oldest <= newest - 23 * HOUR,
        "a day is kept: oldest {oldest}, newest {newest}"
    );
    // Memory holds at most the retention plus one chunk (120 samples = 30 min) per series.
    let per_series = (24 * 240 + 120) as u64;
    assert!(st.head_samples <= per_series * st.series as u64, "{st:?}");
    assert!(st.retention_dropped_bytes > 0, "{st:?}");
}

#[test]
fn time_retention_drops_whole_blocks_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let opts = HistoryOptions::default()
        .storage_path(dir.path())
        .retention(Duration::from_secs(24 * 3600));
    let (h, _) = two_days(opts, |_, _| {});
    let st = h.stats();
    let newest = st.newest_ms.unwrap();
    assert!(oldest_selected(&h) >= newest - 24 * HOUR);
    // 24 h of 2 h blocks, plus the one straddling the cut-off; the head holds the rest.
    assert!((11..=13).contains(&st.blocks), "{st:?}");
    assert!(st.retention_dropped_blocks >= 10, "{st:?}");
    let files = std::fs::read_dir(dir.path().join("blocks"))
        .unwrap()
        .count();
    assert_eq!(files, st.blocks, "dropped blocks are deleted");
}

#[test]
fn size_retention_keeps_bytes_under_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let max = 300 << 10;
    let opts = HistoryOptions::default()
        .storage_path(dir.path())
        .retention(Duration::from_secs(24 * 3600))
        .max_bytes(max);
    let mut largest_block = 0u64;
    let (h, max_total) = two_days(opts, |_, st| {
        if st.blocks > 0 {
            largest_block = largest_block.max(st.block_bytes / st.blocks as u64);
        }
    });
    let st = h.stats();
    println!("max bytes {max}, most held {max_total}, final {st:?}");
    // Documented slack: one block (the limit is enforced right after each block is cut).
    assert!(
        max_total <= max + largest_block,
        "held {max_total} > {max} + {largest_block}"
    );
    assert!(st.head_bytes + st.disk_bytes <= max, "{st:?}");
    assert!(
        st.retention_dropped_blocks > 0,
        "size, not time, dropped blocks: {st:?}"
    );
    let newest = st.newest_ms.unwrap();
    let oldest = oldest_selected(&h);
    assert!(
        oldest > newest - 24 * HOUR + 2 * HOUR,
        "size limit binds before time: {oldest} {newest}"
    );
}
