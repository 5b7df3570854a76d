//! Read-only opens: nothing in the directory changes, whatever the options; a writer that
//! holds the directory keeps writing undisturbed, and readers opened meanwhile see every
//! sample up to some point, with no gaps.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tallyho_history::{History, HistoryError, HistoryOptions};
use tallyho_query::{Labels, MatchOp, Matcher, RangeSeries, Storage};

const STEP: i64 = 15_000;
const T0: i64 = 1_000_000_800_000;

fn opts(dir: &Path, block_ms: u64) -> HistoryOptions {
    HistoryOptions::default()
        .storage_path(dir)
        .block_duration(Duration::from_millis(block_ms))
        .retention(Duration::from_secs(365 * 86_400))
}

fn labels(k: i64) -> Labels {
    Labels::new([
        ("__name__".to_string(), "m".to_string()),
        ("k".to_string(), k.to_string()),
    ])
}

fn append_step(h: &History, i: i64) {
    let batch: Vec<(Labels, f64)> = (0..3).map(|k| (labels(k), (i * 10 + k) as f64)).collect();
    h.append_samples(T0 + i * STEP, &batch).unwrap();
}

fn all(h: &History) -> Vec<RangeSeries> {
    let m = Matcher::new("__name__", MatchOp::Equal, "m").unwrap();
    h.select(&[m], i64::MIN, i64::MAX).unwrap()
}

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(name, fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Samples of every series are `T0 + j * STEP` for j in 0..n, values as `append_step`.
fn assert_contiguous(got: &[RangeSeries], what: &str) -> usize {
    assert_eq!(got.len(), 3, "{what}: three series");
    let n = got[0].samples.len();
    for s in got {
        let k: i64 = s.labels.get("k").parse().unwrap();
        assert_eq!(s.samples.len(), n, "{what}: same length for k={k}");
        for (j, p) in s.samples.iter().enumerate() {
            assert_eq!(p.t, T0 + j as i64 * STEP, "{what} k={k}: sample {j}");
            assert_eq!(p.v, (j as i64 * 10 + k) as f64, "{what} k={k}: sample {j}");
        }
    }
    n
}

#[test]
fn a_read_only_open_changes_nothing_and_refuses_appends() {
    let dir = tempfile::tempdir().unwrap();
    // Five hours in 1 h blocks; the writer stays open, as an agent would.
    let writer = History::open(opts(dir.path(), 3_600_000)).unwrap();
    for i in 0..5 * 240 {
        append_step(&writer, i);
    }
    // Blocks are written in the background: let the last one land before comparing files.
    writer.wait_for_blocks();
    writer.flush().unwrap();
    assert!(writer.stats().blocks >= 3, "{:?}", writer.stats());
    let before = files(dir.path());
    // Opened read-write with a 1 h retention and a tiny size bound, these options would
    // delete blocks; read-only they only hide what is older than the retention.
    let short = HistoryOptions::default()
        .storage_path(dir.path())
        .retention(Duration::from_secs(3600))
        .max_bytes(1)
        .read_only(true);
    let r = History::open(short).unwrap();
    let got = all(&r);
    assert_eq!(got.len(), 3);
    let newest = T0 + (5 * 240 - 1) * STEP;
    for s in &got {
        assert!(s.samples.iter().all(|p| p.t >= newest - 3_600_000));
        assert_eq!(s.samples.len(), 241, "the last hour, both ends included");
    }
    let err = r.append_samples(newest + STEP, &[(labels(0), 1.0)]);
    assert!(matches!(err, Err(HistoryError::ReadOnly { .. })), "{err:?}");
    let msg = err.unwrap_err().to_string();
    assert!(msg.contains("read-only"), "{msg}");
    r.close().unwrap();
    let full = History::open_read_only(dir.path()).unwrap();
    assert_eq!(assert_contiguous(&all(&full), "read-only"), 5 * 240);
    let st = full.stats();
    assert_eq!(st.corrupt_files, 0, "{st:?}");
    assert!(st.wal_bytes > 0, "{st:?}");
    drop(full);
    assert!(
        files(dir.path()) == before,
        "the directory is exactly as before"
    );
    // The writer goes on, and a read-write reopen finds everything.
    append_step(&writer, 5 * 240);
    writer.close().unwrap();
    let h = History::open(opts(dir.path(), 3_600_000)).unwrap();
    assert_eq!(assert_contiguous(&all(&h), "reopened"), 5 * 240 + 1);
}

#[test]
fn a_torn_wal_tail_is_read_around_and_left_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let w = History::open(opts(dir.path(), 3_600_000)).unwrap();
    for i in 0..100 {
        append_step(&w, i);
    }
    w.close().unwrap();
    let wal = dir.path().join("wal");
    let mut segs: Vec<_> = fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| fs::metadata(p).unwrap().len() > 0)
        .collect();
    segs.sort();
    let last = segs.last().unwrap();
    // Half a record at the end, as a writer in the middle of one leaves it.
    let mut data = fs::read(last).unwrap();
    data.extend_from_slice(&[40, 0, 0, 0, 1, 2]);
    fs::write(last, &data).unwrap();
    let r = History::open_read_only(dir.path()).unwrap();
    assert_eq!(assert_contiguous(&all(&r), "torn tail"), 100);
    let st = r.stats();
    assert_eq!(st.corrupt_files, 1, "{st:?}");
    assert!(st.corrupt_messages[0].contains("left as it is"), "{st:?}");
    assert_eq!(fs::read(last).unwrap(), data, "not truncated");
}

#[test]
fn a_missing_directory_is_an_error_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = History::open_read_only(&missing).unwrap_err();
    assert!(matches!(err, HistoryError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("nope"), "{err}");
    assert!(!missing.exists());
    let err = History::open(HistoryOptions::default().read_only(true)).unwrap_err();
    assert!(err.to_string().contains("storage_path"), "{err}");
}

#[test]
fn readers_opened_while_a_writer_cuts_blocks_see_no_gaps() {
    let dir = tempfile::tempdir().unwrap();
    // Two-minute blocks: the writer cuts a block and trims its WAL every few appends.
    let writer = History::open(opts(dir.path(), 120_000)).unwrap();
    append_step(&writer, 0);
    let stop = Arc::new(AtomicBool::new(false));
    let w = {
        let (writer, stop) = (writer.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 1;
            while !stop.load(Ordering::Relaxed) && i < 20_000 {
                append_step(&writer, i);
                i += 1;
                // Paced, so the readers' opens interleave with appends and block cuts.
                std::thread::sleep(Duration::from_millis(2));
            }
            i
        })
    };
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    // Read until the writer has cut several blocks (and trimmed its WAL) meanwhile.
    while (seen.len() < 40 || writer.stats().blocks < 6) && std::time::Instant::now() < deadline {
        // Durable before the open began: the reader must see at least that much.
        let durable = writer.stats().newest_ms.unwrap_or(T0);
        let r = History::open_read_only(dir.path()).unwrap();
        let n = assert_contiguous(&all(&r), "concurrent read");
        let want = ((durable - T0) / STEP + 1) as usize;
        assert!(
            n >= want,
            "a reader saw {n} samples, {want} were durable: {:?}",
            r.stats()
        );
        seen.push(n);
    }
    stop.store(true, Ordering::Relaxed);
    let written = w.join().unwrap();
    let st = writer.stats();
    assert!(st.blocks >= 6, "blocks were cut meanwhile: {st:?}");
    assert!(seen.windows(2).all(|p| p[0] <= p[1]), "{seen:?}");
    let mut distinct = seen.clone();
    distinct.dedup();
    assert!(
        distinct.len() >= 5,
        "readers saw the writer move on: {seen:?}"
    );
    println!(
        "{written} appends; {} readers saw {:?}..{:?} samples per series",
        seen.len(),
        seen.first(),
        seen.last()
    );
}
