//! Appends while a block is cut: 10,000 series with a directory. Writing a block (encoding,
//! fsync, reading it back) must not make the append that triggers it, or the ones after it,
//! wait for the file.

mod common;

use std::time::{Duration, Instant};

use tallyho_history::{History, HistoryOptions};

#[test]
fn cutting_a_block_does_not_stall_appends() {
    let mut w = common::Workload::new(5000, 3700, 100);
    assert_eq!(w.series(), 10_000);
    let dir = tempfile::tempdir().unwrap();
    // 20-minute blocks at 15 s steps: a block is cut every 80 appends.
    let block = Duration::from_secs(20 * 60);
    let opts = HistoryOptions::default()
        .storage_path(dir.path())
        .block_duration(block)
        .retention(Duration::from_secs(7 * 86_400));
    let h = History::open(opts).unwrap();
    let t0 = 1_700_000_000_000 - 1_700_000_000_000 % 1_200_000;
    let steps = 290;
    let snaps: Vec<_> = (0..steps).map(|i| w.step(t0 + i * 15_000)).collect();
    let mut times = Vec::with_capacity(snaps.len());
    for s in &snaps {
        let started = Instant::now();
        let st = h.append(s).unwrap();
        times.push(started.elapsed());
        assert_eq!(st.appended, 10_000);
    }
    h.close().unwrap();
    let reopened = History::open(
        HistoryOptions::default()
            .storage_path(dir.path())
            .block_duration(block)
            .retention(Duration::from_secs(7 * 86_400)),
    )
    .unwrap();
    let st = reopened.stats();
    assert!(st.blocks >= 3, "three blocks were cut: {st:?}");
    assert_eq!(
        st.head_samples + st.block_samples,
        10_000 * steps as u64,
        "{st:?}"
    );
    // 20-minute blocks, cut once half a block has passed their end: the appends at steps
    // 120, 200 and 280 find a block due.
    let triggers = [120usize, 200, 280];
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let mut before: Vec<Duration> = triggers
        .iter()
        .flat_map(|&i| times[i - 20..i].to_vec())
        .collect();
    let mut during: Vec<Duration> = triggers
        .iter()
        .flat_map(|&i| times[i + 1..i + 9].to_vec())
        .collect();
    let at: Vec<Duration> = triggers.iter().map(|&i| times[i]).collect();
    let (before, during) = (median(&mut before), median(&mut during));
    let cheapest = at.iter().min().copied().unwrap_or_default();
    println!(
        "append of 10,000 series with a directory, {} blocks: median before a cut {before:?}, \
         appends that cut {at:?}, median of the 8 after {during:?}",
        st.blocks
    );
    // Every append syncs the WAL and the machine is shared, so single appends jitter; a
    // block written inside the append (or under its lock) shows in all three.
    let limit = before * 2 + Duration::from_millis(5);
    assert!(
        cheapest <= limit,
        "the appends that found a block due stalled: {at:?}, median before {before:?}"
    );
    assert!(
        during <= limit,
        "appends while the block is written stalled: median {during:?}, before {before:?}"
    );
}
