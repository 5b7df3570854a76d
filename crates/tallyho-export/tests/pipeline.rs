//! The pipeline with in-process exporters: intervals, temporality, flush, shutdown,
//! retries, bounded queues, and files that parse back.

use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use tallyho::{Buckets, Registry};
use tallyho_export::{
    Batch, CallbackExporter, ConsoleExporter, ExportError, Exporter, FileExporter,
    InMemoryExporter, Pipeline, RetryPolicy, SpyExporter,
};

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn exports_every_interval_cumulative_and_delta_side_by_side() {
    let r = Registry::new();
    let c = r.counter("jobs", "Jobs.").unwrap();
    let h = r
        .histogram("took", "Took.", Buckets::new([1.0]).unwrap())
        .unwrap();
    let cumulative = InMemoryExporter::new();
    let delta = InMemoryExporter::delta();
    let p = Pipeline::builder(r)
        .interval(Duration::from_millis(20))
        .exporter(cumulative.clone())
        .exporter(delta.clone())
        .start()
        .unwrap();
    c.add(5);
    h.observe(0.5);
    wait_until("a batch with the first values", || {
        cumulative
            .batches()
            .iter()
            .any(|b| b.snapshot.value("jobs", &[]) == Some(5.0))
    });
    c.add(3);
    assert!(p.shutdown(Duration::from_secs(5)));
    let cum = cumulative.batches();
    assert_eq!(cum.last().unwrap().snapshot.value("jobs", &[]), Some(8.0));
    for pair in cum.windows(2) {
        assert!(pair[0].end <= pair[1].start || pair[0].end == pair[1].start);
        assert!(pair[1].snapshot.value("jobs", &[]) >= pair[0].snapshot.value("jobs", &[]));
    }
    // Deltas add up to the total, and periods tile time.
    let deltas = delta.batches();
    let sum: f64 = deltas
        .iter()
        .map(|b| b.snapshot.value("jobs", &[]).unwrap())
        .sum();
    assert_eq!(sum, 8.0);
    for pair in deltas.windows(2) {
        assert_eq!(pair[0].end, pair[1].start);
    }
    let observed: u64 = deltas
        .iter()
        .map(|b| {
            b.snapshot.family("took").unwrap().series[0]
                .value
                .as_histogram()
                .unwrap()
                .count
        })
        .sum();
    assert_eq!(observed, 1);
}

#[test]
fn flush_exports_now_and_shutdown_calls_exporters() {
    let r = Registry::new();
    r.counter("x", "X.").unwrap().inc();
    let spy = SpyExporter::new();
    let memory = InMemoryExporter::new();
    let p = Pipeline::builder(r)
        .interval(Duration::from_secs(3600))
        .exporter(spy.clone())
        .exporter(memory.clone())
        .start()
        .unwrap();
    assert!(p.flush(Duration::from_secs(5)));
    assert_eq!(memory.batches().len(), 1);
    assert_eq!(spy.calls().flushes, 1);
    assert!(p.shutdown(Duration::from_secs(5)));
    let calls = spy.calls();
    assert_eq!((calls.exports, calls.shutdowns), (2, 1));
    assert_eq!(memory.batches().len(), 2);
}

#[test]
fn retries_with_backoff_then_counts_outcomes() {
    let r = Registry::new();
    let spy = SpyExporter::new();
    spy.fail_next(2);
    let p = Pipeline::builder(r.clone())
        .interval(Duration::from_secs(3600))
        .retry(RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
        })
        .exporter(spy.clone())
        .start()
        .unwrap();
    assert!(p.flush(Duration::from_secs(5)));
    assert_eq!(spy.calls().exports, 3, "two failures, then success");
    let s = r.snapshot();
    assert_eq!(
        s.value("tallyho_exports", &[("exporter", "spy")]),
        Some(1.0)
    );
    assert_eq!(
        s.value("tallyho_export_failures", &[("exporter", "spy")]),
        Some(2.0)
    );
    // Exhausted retries drop the batch and count it.
    spy.fail_next(100);
    assert!(p.flush(Duration::from_secs(5)));
    let s = r.snapshot();
    assert_eq!(
        s.value("tallyho_export_dropped", &[("exporter", "spy")]),
        Some(1.0)
    );
    drop(p);
}

/// Blocks in `export` until released.
struct Stuck(Arc<Barrier>, Arc<Mutex<usize>>);

impl Exporter for Stuck {
    fn name(&self) -> &str {
        "stuck"
    }
    fn export(&mut self, _: &Batch) -> Result<(), ExportError> {
        let first = {
            let mut n = self.1.lock().unwrap();
            *n += 1;
            *n == 1
        };
        if first {
            self.0.wait();
        }
        Ok(())
    }
}

#[test]
fn a_stuck_exporter_never_blocks_recording_and_its_queue_stays_bounded() {
    let r = Registry::new();
    let c = r.counter("hot", "Hot.").unwrap();
    let release = Arc::new(Barrier::new(2));
    let exports = Arc::new(Mutex::new(0));
    let memory = InMemoryExporter::new();
    let p = Pipeline::builder(r.clone())
        .interval(Duration::from_millis(2))
        .queue_capacity(3)
        .exporter(Stuck(release.clone(), exports.clone()))
        .exporter(memory.clone())
        .start()
        .unwrap();
    // Recording goes on at full speed while one exporter is stuck.
    let started = Instant::now();
    for _ in 0..1_000_000 {
        c.inc();
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // The healthy exporter keeps receiving batches meanwhile.
    wait_until("the healthy exporter to see the total", || {
        memory
            .batches()
            .iter()
            .any(|b| b.snapshot.value("hot", &[]) == Some(1_000_000.0))
    });
    wait_until("drops on the stuck exporter", || {
        r.snapshot()
            .value("tallyho_export_dropped", &[("exporter", "stuck")])
            .is_some_and(|d| d > 5.0)
    });
    release.wait();
    assert!(p.shutdown(Duration::from_secs(5)));
    // The stuck exporter got its first batch, at most 3 queued ones, and the final one.
    let n = *exports.lock().unwrap();
    assert!(n >= 2, "{n}");
}

#[test]
fn json_and_csv_files_parse_back_and_are_pruned() {
    let dir = std::env::temp_dir().join(format!("tallyho-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let r = Registry::new();
    let f = r
        .metric("jobs", "Jobs.")
        .counter_family(&["outcome"])
        .unwrap();
    f.with(&["ok, \"fine\""]).add(7);
    r.metric("depth", "Depth.").gauge().unwrap().set(2.5);
    let p = Pipeline::builder(r)
        .interval(Duration::from_secs(3600))
        .exporter(FileExporter::json(dir.join("json"), 2))
        .exporter(FileExporter::csv(dir.join("csv"), 2))
        .start()
        .unwrap();
    for _ in 0..4 {
        assert!(p.flush(Duration::from_secs(5)));
    }
    drop(p);
    for sub in ["json", "csv"] {
        let mut names: Vec<String> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names.len(), 2, "{sub}: kept {names:?}");
        assert!(names.iter().all(|n| !n.ends_with(".tmp")));
    }
    let newest = std::fs::read_dir(dir.join("json"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(newest).unwrap()).unwrap();
    let fams = json["families"].as_array().unwrap();
    let jobs = fams.iter().find(|f| f["name"] == "jobs").unwrap();
    assert_eq!(json["temporality"], "cumulative");
    assert!(json["period_start_ms"].as_i64().unwrap() <= json["period_end_ms"].as_i64().unwrap());
    assert_eq!(jobs["series"][0]["labels"]["outcome"], "ok, \"fine\"");
    assert_eq!(jobs["series"][0]["value"], 7);
    let csv_file = std::fs::read_dir(dir.join("csv"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let csv = std::fs::read_to_string(csv_file).unwrap();
    assert!(
        csv.starts_with("period_start_ms,period_end_ms,timestamp_ms,name,type,labels,value"),
        "{csv}"
    );
    // Every row says its period, which ends at the collection.
    let row = csv.lines().find(|l| l.contains(",depth,gauge,")).unwrap();
    let cells: Vec<i64> = row.split(',').take(3).map(|c| c.parse().unwrap()).collect();
    assert!(cells[0] <= cells[1] && cells[1] == cells[2], "{row}");
    assert!(
        csv.lines()
            .any(|l| l.contains(",depth,gauge,") && l.contains(",2.5,")),
        "{csv}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn callback_and_console() {
    let r = Registry::new();
    let c = r.counter("reqs", "Requests.").unwrap();
    let h = r
        .histogram(
            "lat",
            "Latency.",
            Buckets::new([0.1, 0.5, 1.0, 5.0]).unwrap(),
        )
        .unwrap();
    for v in [0.05, 0.05, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 2.0] {
        h.observe(v);
    }
    c.add(10);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let p = Pipeline::builder(r.clone())
        .interval(Duration::from_secs(3600))
        .exporter(CallbackExporter::new(move |b: &Batch| {
            s2.lock()
                .unwrap()
                .push(b.snapshot.value("reqs", &[]).unwrap());
        }))
        .start()
        .unwrap();
    assert!(p.flush(Duration::from_secs(5)));
    c.add(5);
    assert!(p.shutdown(Duration::from_secs(5)));
    assert_eq!(*seen.lock().unwrap(), vec![10.0, 15.0]);

    let mut console = ConsoleExporter::to_writer(Box::new(std::io::sink()));
    let snap = r.snapshot();
    let start = snap.time - Duration::from_secs(10);
    let batch = |snapshot, start, end| Batch {
        snapshot,
        start,
        end,
        temporality: tallyho_export::Temporality::Cumulative,
    };
    console.render(&batch(snap.clone(), start, snap.time));
    c.add(20);
    let later = r.snapshot();
    let table = console.render(&batch(
        later.clone(),
        snap.time,
        snap.time + Duration::from_secs(10),
    ));
    assert!(
        table.contains("reqs") && table.contains("35 (2.000/s)"),
        "{table}"
    );
    assert!(
        table.contains("count=10 mean=0.6000 p50=0.5000 p90=1 p99=4.6000"),
        "{table}"
    );
}

// ---------------------------------------------------------------------------------------
// The environment seam and surfaced errors
// ---------------------------------------------------------------------------------------

#[test]
fn interval_from_the_environment_unless_set_in_code() {
    let env =
        |v: &'static str| move |n: &str| (n == "OTEL_METRIC_EXPORT_INTERVAL").then(|| v.to_owned());
    let r = Registry::new();
    let p = Pipeline::builder(r.clone())
        .env_with(env("1234"))
        .start()
        .unwrap();
    assert_eq!(p.interval(), Duration::from_millis(1234));
    drop(p);
    let p = Pipeline::builder(r.clone())
        .env_with(env("1234"))
        .interval(Duration::from_secs(2))
        .start()
        .unwrap();
    assert_eq!(p.interval(), Duration::from_secs(2));
    drop(p);
    let p = Pipeline::builder(r.clone())
        .env_with(env(" "))
        .start()
        .unwrap();
    assert_eq!(p.interval(), tallyho_export::DEFAULT_INTERVAL);
    drop(p);
    // A malformed value is an error naming the variable and the value, not ignored.
    let err = Pipeline::builder(r)
        .env_with(env("10s"))
        .start()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(
        err.to_string(),
        "OTEL_METRIC_EXPORT_INTERVAL=\"10s\": expected a whole number of milliseconds"
    );
}

/// Fails every export with a permanent error whose reason is a status.
struct Refused;

impl Exporter for Refused {
    fn name(&self) -> &str {
        "refused"
    }
    fn export(&mut self, _batch: &Batch) -> Result<(), ExportError> {
        Err(
            ExportError::permanent("refused", "HTTP 400 Bad Request: nope")
                .with_reason(tallyho_export::FailureReason::Status(400)),
        )
    }
}

#[test]
fn failures_keep_their_cause_in_stats_and_are_logged_once_per_interval() {
    let logged: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let spy = SpyExporter::new();
    spy.fail_next(2);
    let p = Pipeline::builder(Registry::new())
        .interval(Duration::from_secs(3600))
        .retry(RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        })
        .error_log({
            let logged = logged.clone();
            move |e, suppressed| logged.lock().unwrap().push((e.to_string(), suppressed))
        })
        .exporter(spy.clone())
        .exporter(Refused)
        .start()
        .unwrap();
    assert!(p.flush(Duration::from_secs(10)));
    assert!(p.flush(Duration::from_secs(10)));
    let stats = p.stats();
    assert_eq!(stats.len(), 2);
    let (spy_stats, refused) = (&stats[0], &stats[1]);
    assert_eq!(spy_stats.name, "spy");
    assert_eq!(spy_stats.exports, 2);
    assert_eq!(spy_stats.failures, 2);
    assert_eq!(
        spy_stats.failures_by_reason,
        [(tallyho_export::FailureReason::Other, 2)].into()
    );
    assert_eq!(
        spy_stats.last_error.as_deref(),
        Some("spy: told to fail (will retry)")
    );
    assert!(spy_stats.last_error_at.is_some());
    assert_eq!(refused.exports, 0);
    assert_eq!(refused.failures, 2);
    assert_eq!(
        refused.failures_by_reason,
        [(tallyho_export::FailureReason::Status(400), 2)].into()
    );
    assert_eq!(
        refused.last_error.as_deref(),
        Some("refused: HTTP 400 Bad Request: nope")
    );
    // Four failures in all, but the interval (an hour) lets each exporter log only once.
    let mut logged = logged.lock().unwrap().clone();
    logged.sort();
    assert_eq!(
        logged,
        [
            ("refused: HTTP 400 Bad Request: nope".to_owned(), 0),
            ("spy: told to fail (will retry)".to_owned(), 0),
        ]
    );
    assert_eq!(
        tallyho_export::FailureReason::Status(503).to_string(),
        "http_503"
    );
}

#[test]
fn a_later_report_counts_the_failures_it_suppressed() {
    let logged: Arc<Mutex<Vec<u64>>> = Arc::default();
    let p = Pipeline::builder(Registry::new())
        .interval(Duration::from_secs(1))
        .retry(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        })
        .error_log({
            let logged = logged.clone();
            move |_, suppressed| logged.lock().unwrap().push(suppressed)
        })
        .exporter(Refused)
        .start()
        .unwrap();
    // Three failures within far less than an interval: one report; the collector's own
    // export a second later is reported with the count of those suppressed.
    for _ in 0..3 {
        assert!(p.flush(Duration::from_secs(10)));
    }
    wait_until("a second report", || logged.lock().unwrap().len() >= 2);
    let logged = logged.lock().unwrap().clone();
    assert_eq!(logged[0], 0);
    assert!(logged[1] >= 2, "{logged:?}");
    assert!(p.stats()[0].failures >= 4);
}

/// `FileExporter::delta(true)`: each file holds its period's changes, says so, and the
/// periods follow each other.
#[test]
fn delta_files_hold_each_periods_changes() {
    let dir = std::env::temp_dir().join(format!("tallyho-files-delta-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let r = Registry::new();
    let c = r.counter("jobs", "Jobs.").unwrap();
    let open = r.metric("open", "Open.").up_down_counter().unwrap();
    c.add(5);
    open.add(3);
    let p = Pipeline::builder(r)
        .interval(Duration::from_secs(3600))
        .exporter(FileExporter::json(&dir, 10).delta(true))
        .start()
        .unwrap();
    assert!(p.flush(Duration::from_secs(5)));
    c.add(2);
    open.add(1);
    assert!(p.flush(Duration::from_secs(5)));
    drop(p);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let read = |f: &std::path::PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap()
    };
    let value = |j: &serde_json::Value, name: &str| {
        j["families"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["series"][0]["value"].clone())
    };
    let (first, second) = (read(&files[0]), read(&files[1]));
    assert_eq!(first["temporality"], "delta");
    assert_eq!(value(&first, "jobs"), Some(5.into()));
    assert_eq!(
        value(&second, "jobs"),
        Some(2.into()),
        "the second period's change"
    );
    assert_eq!(
        value(&second, "open"),
        Some(4.into()),
        "up-down counters stay levels"
    );
    assert_eq!(
        second["period_start_ms"], first["period_end_ms"],
        "periods follow each other"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
