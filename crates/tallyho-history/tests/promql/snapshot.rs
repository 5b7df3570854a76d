//! End to end from a real `tallyho::Registry`: the same snapshots appended to a
//! [`History`] and remote-written to Prometheus must give the same series (names, labels,
//! timestamps, values) on both.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tallyho::{Buckets, Registry};
use tallyho_export::remote_write::write_request;
use tallyho_history::History;
use tallyho_query::{Engine, MatchOp, Matcher, Storage, Value};

use super::compare;
use super::dataset::MIN;
use super::server::Prometheus;

/// A label value with quotes, a backslash and UTF-8.
const ODD: &str = "say \"hi\" \\ 온도 ✓";

/// Snapshots of a registry with a counter, a gauge, an up-down counter, a counter family
/// and a histogram, one every 15 s from `base` (ms), values changing in between.
pub fn snapshots(base: i64, n: usize) -> Vec<tallyho::Snapshot> {
    let registry = Registry::builder()
        .constant_label("service", "billing")
        .build()
        .expect("a registry");
    let jobs = registry.counter("e2e_jobs", "Jobs run.").expect("counter");
    let temperature = registry
        .gauge("e2e_temperature", "Temperature.")
        .expect("gauge");
    let queue = registry
        .metric("e2e_queue_depth", "Items waiting.")
        .up_down_counter()
        .expect("up-down counter");
    let requests = registry
        .metric("e2e_requests", "Requests, by path.")
        .counter_family(&["path"])
        .expect("family");
    let latency = registry
        .metric("e2e_latency", "Latency.")
        .unit("seconds")
        .buckets(Buckets::new([0.25, 0.5, 1.0, 1e6]).expect("buckets"))
        .histogram()
        .expect("histogram");
    let mut out = Vec::new();
    for i in 0..n {
        jobs.add(i as u64 % 3);
        temperature.set(-3.5 + i as f64 * 0.75);
        queue.add(if i % 2 == 0 { 3 } else { -5 });
        requests.with(&[ODD]).add(2);
        requests.with(&["/plain"]).add(i as u64);
        latency.observe(0.0625 * i as f64);
        let mut snap = registry.snapshot();
        snap.time = UNIX_EPOCH + Duration::from_millis((base + i as i64 * 15_000) as u64);
        out.push(snap);
    }
    out
}

/// Appends and remote-writes every snapshot, then compares the raw series (Storage::select
/// against Prometheus' range selector) and one instant query through the engine.
pub fn check(prom: &Prometheus) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let base = (now - 30 * MIN) / MIN * MIN;
    let history = History::in_memory();
    let snaps = snapshots(base, 20);
    for (i, snap) in snaps.iter().enumerate() {
        let t = base + i as i64 * 15_000;
        history
            .append(snap)
            .unwrap_or_else(|e| panic!("History::append: {e}"));
        prom.write(&write_request(snap, t, true));
    }
    let last = base + 19 * 15_000;
    let name = Matcher::new("__name__", MatchOp::Regex, "e2e_.+").expect("matcher");
    let ours = history
        .select(&[name], last - 10 * MIN, last)
        .unwrap_or_else(|e| panic!("select: {e}"));
    assert!(
        ours.len() >= 10,
        "the history holds the registry's series: {}",
        ours.len()
    );
    let theirs = prom
        .instant(r#"{__name__=~"e2e_.+"}[10m]"#, last)
        .unwrap_or_else(|e| panic!("prometheus: {}", e.message));
    let ours = Value::Matrix(ours);
    if let Err(d) = compare::values(&theirs, &ours, false) {
        panic!("History::append and remote write disagree: {d}");
    }
    let q = "sum by (path) (rate(e2e_requests_total[2m])) or histogram_quantile(0.5, rate(e2e_latency_seconds_bucket[2m]))";
    let theirs = prom
        .instant(q, last)
        .unwrap_or_else(|e| panic!("prometheus: {}", e.message));
    let ours = Engine::default()
        .instant(&history, q, last)
        .unwrap_or_else(|e| panic!("tallyho: {e}"));
    if let Err(d) = compare::values(&theirs, &ours, false) {
        panic!("{q}: {d}");
    }
}
