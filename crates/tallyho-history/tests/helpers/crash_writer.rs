//! Test helper for `tests/persistence.rs`: appends to a history until killed, printing the
//! timestamp of every append after it returned (so after its WAL sync).
//!
//! `crash_writer DIR BLOCK_MS SERIES`: continues after the newest sample already in DIR,
//! every 15 s of synthetic time, as fast as it can; series `k` has value `t / 15000 * (k + 1)`.

use std::io::Write;
use std::time::Duration;

use tallyho_history::{History, HistoryOptions};
use tallyho_query::Labels;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, block_ms, series] = args.as_slice() else {
        eprintln!("usage: crash_writer DIR BLOCK_MS SERIES");
        std::process::exit(2);
    };
    let (Ok(block_ms), Ok(series)) = (block_ms.parse::<u64>(), series.parse::<usize>()) else {
        eprintln!("BLOCK_MS and SERIES must be numbers");
        std::process::exit(2);
    };
    let opts = HistoryOptions::default()
        .storage_path(dir)
        .block_duration(Duration::from_millis(block_ms))
        .retention(Duration::from_secs(365 * 86_400));
    let h = match History::open(opts) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("open: {e}");
            std::process::exit(1);
        }
    };
    let labels: Vec<Labels> = (0..series)
        .map(|k| {
            Labels::new([
                ("__name__".to_string(), "crash_metric".to_string()),
                ("k".to_string(), k.to_string()),
            ])
        })
        .collect();
    let mut t = h
        .stats()
        .newest_ms
        .map_or(1_000_000_000_000, |n| n + 15_000);
    let mut out = std::io::stdout().lock();
    loop {
        let step = t / 15_000;
        let batch: Vec<(Labels, f64)> = labels
            .iter()
            .enumerate()
            .map(|(k, l)| (l.clone(), (step * (k as i64 + 1)) as f64))
            .collect();
        if let Err(e) = h.append_samples(t, &batch) {
            eprintln!("append: {e}");
            std::process::exit(1);
        }
        let _ = writeln!(out, "{t}");
        let _ = out.flush();
        t += 15_000;
    }
}
