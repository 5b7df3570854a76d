//! Durability: `kill -9` while appending and while writing blocks, a truncated WAL, damaged
//! block files. Nothing may panic, and everything not damaged must still be there.

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tallyho_history::{History, HistoryOptions};
use tallyho_query::{Labels, MatchOp, Matcher, RangeSeries, Storage};

const STEP: i64 = 15_000;

fn opts(dir: &Path, block_ms: u64) -> HistoryOptions {
    HistoryOptions::default()
        .storage_path(dir)
        .block_duration(Duration::from_millis(block_ms))
        .retention(Duration::from_secs(365 * 86_400))
}

fn all(h: &History, name: &str) -> Vec<RangeSeries> {
    let m = Matcher::new("__name__", MatchOp::Equal, name).unwrap();
    h.select(&[m], i64::MIN, i64::MAX).unwrap()
}

/// Runs the helper until `after` has passed, kills it with SIGKILL, returns the last
/// timestamp it reported durable.
fn run_and_kill(dir: &Path, block_ms: u64, series: usize, after: Duration) -> Option<i64> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
        .arg(dir)
        .arg(block_ms.to_string())
        .arg(series.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the crash_writer helper starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(t) = line.trim().parse::<i64>() {
                let _ = tx.send(t);
            }
        }
    });
    std::thread::sleep(after);
    child.kill().expect("SIGKILL the helper");
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the helper was killed, not finished: {status:?}"
    );
    reader.join().unwrap();
    rx.try_iter().last()
}

#[test]
fn kill_9_during_appends_and_block_writes_loses_nothing_reported() {
    let dir = tempfile::tempdir().unwrap();
    // 2 minutes of synthetic time per block: a block is cut every ~12 appends, so kills
    // land during block writing too.
    let block_ms = 120_000;
    let series = 200;
    let mut first: Option<i64> = None;
    let mut last_reported = None;
    for (i, ms) in [150u64, 400, 90, 700, 250, 333].into_iter().enumerate() {
        let reported = run_and_kill(dir.path(), block_ms, series, Duration::from_millis(ms));
        if let Some(r) = reported {
            last_reported = Some(r);
        }
        let h = History::open(opts(dir.path(), block_ms)).expect("reopens after kill -9");
        let got = all(&h, "crash_metric");
        let Some(last) = last_reported else {
            continue;
        };
        assert_eq!(got.len(), series, "round {i}: every series is there");
        for s in &got {
            let k: i64 = s.labels.get("k").parse().unwrap();
            let f = *first.get_or_insert(s.samples[0].t);
            // Every reported timestamp, each value exact; beyond it only whole appends.
            let want_n = ((last - f) / STEP + 1) as usize;
            assert!(
                s.samples.len() >= want_n,
                "round {i} k={k}: {} samples, want ≥ {want_n}",
                s.samples.len()
            );
            for (j, p) in s.samples.iter().enumerate() {
                assert_eq!(p.t, f + j as i64 * STEP, "round {i} k={k}: sample {j}");
                assert_eq!(
                    p.v,
                    (p.t / STEP * (k + 1)) as f64,
                    "round {i} k={k} t={}",
                    p.t
                );
            }
        }
        let st = h.stats();
        assert!(st.blocks > 0, "round {i}: blocks were written: {st:?}");
        println!(
            "round {i}: last reported {last}, newest {:?}, {} blocks, damage {:?}",
            st.newest_ms, st.blocks, st.corrupt_messages
        );
    }
    assert!(last_reported.is_some(), "the helper reported appends");
}

fn write_hours(dir: &Path, hours: i64) -> i64 {
    let h = History::open(opts(dir, 3_600_000)).unwrap();
    // A multiple of the hour, so block k holds hour k.
    let t0 = 1_000_000_800_000;
    let l = |k: i64| {
        Labels::new([
            ("__name__".to_string(), "m".to_string()),
            ("k".to_string(), k.to_string()),
        ])
    };
    for i in 0..hours * 240 {
        let batch: Vec<(Labels, f64)> = (0..3).map(|k| (l(k), (i * 10 + k) as f64)).collect();
        h.append_samples(t0 + i * STEP, &batch).unwrap();
    }
    h.close().unwrap();
    t0
}

#[test]
fn a_truncated_wal_is_reported_and_the_rest_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = write_hours(dir.path(), 1);
    // One hour, no block yet: everything is in the WAL. Cut the last record short.
    let wal = dir.path().join("wal");
    let mut segs: Vec<_> = fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segs.sort();
    let last = segs
        .iter()
        .rev()
        .find(|p| fs::metadata(p).unwrap().len() > 0)
        .unwrap();
    let len = fs::metadata(last).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(last)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let h = History::open(opts(dir.path(), 3_600_000)).unwrap();
    let st = h.stats();
    assert_eq!(st.corrupt_files, 1, "{st:?}");
    assert!(
        st.corrupt_messages[0].contains("cut short or corrupted"),
        "{st:?}"
    );
    let got = all(&h, "m");
    assert_eq!(got.len(), 3);
    for s in &got {
        assert_eq!(s.samples.len(), 239, "all but the torn last append");
        assert_eq!(s.samples[0].t, t0);
    }
    // The tail was cut off: a second open finds nothing wrong, and appends continue.
    drop(h);
    let h = History::open(opts(dir.path(), 3_600_000)).unwrap();
    assert_eq!(h.stats().corrupt_files, 0);
    let l = Labels::new([
        ("__name__".to_string(), "m".to_string()),
        ("k".to_string(), "0".to_string()),
    ]);
    assert_eq!(
        h.append_samples(t0 + 239 * STEP, &[(l, 1.0)])
            .unwrap()
            .appended,
        1
    );
}

#[test]
fn a_damaged_block_is_reported_and_skipped_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = write_hours(dir.path(), 5);
    let blocks = dir.path().join("blocks");
    let mut files: Vec<_> = fs::read_dir(&blocks)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    // Block 1: flip bytes in its chunk data; block 2: cut its footer off.
    let mut data = fs::read(&files[0]).unwrap();
    for b in &mut data[20..40] {
        *b ^= 0x5a;
    }
    fs::write(&files[0], &data).unwrap();
    let data = fs::read(&files[1]).unwrap();
    fs::write(&files[1], &data[..data.len() - 10]).unwrap();
    let h = History::open(opts(dir.path(), 3_600_000)).unwrap();
    let st = h.stats();
    assert_eq!(st.corrupt_files, 2, "{st:?}");
    assert!(
        st.corrupt_messages
            .iter()
            .any(|m| m.contains("corrupted chunks skipped")),
        "{st:?}"
    );
    assert!(
        st.corrupt_messages
            .iter()
            .any(|m| m.contains("block skipped")),
        "{st:?}"
    );
    let got = all(&h, "m");
    assert_eq!(got.len(), 3);
    for s in &got {
        // Hour 1 lost (wholly for series with a damaged chunk), hour 2 lost, hours 3–5 kept.
        let from_hour_3 = s
            .samples
            .iter()
            .filter(|p| p.t >= t0 + 2 * 3_600_000)
            .count();
        assert_eq!(from_hour_3, 3 * 240, "{}", s.labels);
        assert!(s
            .samples
            .iter()
            .all(|p| p.t < t0 + 3_600_000 || p.t >= t0 + 2 * 3_600_000));
        for p in &s.samples {
            let k: i64 = s.labels.get("k").parse().unwrap();
            assert_eq!(p.v, ((p.t - t0) / STEP * 10 + k) as f64);
        }
    }
}
