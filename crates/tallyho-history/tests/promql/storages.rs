//! The tallyho storages the corpus runs over, fed the dataset's samples.

use std::collections::BTreeMap;
use std::time::Duration;

use tallyho_history::{History, HistoryOptions};
use tallyho_query::{Labels, RangeSeries};

use super::server::TempDir;

/// The dataset's samples grouped by timestamp, oldest first: how a scraper appends.
fn by_time(series: &[RangeSeries]) -> BTreeMap<i64, Vec<(Labels, f64)>> {
    let mut at: BTreeMap<i64, Vec<(Labels, f64)>> = BTreeMap::new();
    for s in series {
        for p in &s.samples {
            at.entry(p.t).or_default().push((s.labels.clone(), p.v));
        }
    }
    at
}

/// Appends every sample, in time order, checking that none is refused.
pub fn feed(history: &History, series: &[RangeSeries]) {
    let mut appended = 0;
    for (t, samples) in by_time(series) {
        let stats = history
            .append_samples(t, &samples)
            .unwrap_or_else(|e| panic!("append_samples at {t}: {e}"));
        assert_eq!(
            stats.out_of_order, 0,
            "samples at {t} refused as out of order"
        );
        appended += stats.appended + stats.stale_markers;
    }
    let total: usize = series.iter().map(|s| s.samples.len()).sum();
    assert_eq!(
        appended, total,
        "the history took every sample (markers included)"
    );
}

/// An in-memory history holding the dataset.
pub fn in_memory(series: &[RangeSeries]) -> History {
    let h = History::in_memory();
    feed(&h, series);
    h
}

/// A history on disk with 30-minute blocks, written, closed and opened again: the corpus
/// then reads sealed blocks and the replayed WAL. The directory lives as long as the guard.
pub fn reopened(series: &[RangeSeries]) -> (History, TempDir) {
    let dir = TempDir::new("differential-history");
    let opts = || {
        HistoryOptions::default()
            .storage_path(dir.0.join("history"))
            .block_duration(Duration::from_secs(30 * 60))
    };
    let h = History::open(opts()).unwrap_or_else(|e| panic!("open the history: {e}"));
    feed(&h, series);
    h.close()
        .unwrap_or_else(|e| panic!("close the history: {e}"));
    let h = History::open(opts()).unwrap_or_else(|e| panic!("reopen the history: {e}"));
    let stats = h.stats();
    assert_eq!(
        stats.corrupt_files, 0,
        "reopened cleanly: {:?}",
        stats.corrupt_messages
    );
    (h, dir)
}
