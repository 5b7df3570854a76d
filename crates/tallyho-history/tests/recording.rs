//! `History::record` (a registry collected on a timer) and the self-metrics collector.

use std::time::{Duration, SystemTime};

use tallyho::{MetricKind, Number, Registry, SeriesValue, Snapshot};
use tallyho_history::{History, HistoryOptions};
use tallyho_query::{MatchOp, Matcher, Storage, Value};

fn samples_of(h: &History, name: &str) -> Vec<(i64, f64)> {
    let m = Matcher::new("__name__", MatchOp::Equal, name).unwrap();
    let got = h.select(&[m], i64::MIN, i64::MAX).unwrap();
    assert!(got.len() <= 1, "{got:?}");
    got.first()
        .map(|s| s.samples.iter().map(|p| (p.t, p.v)).collect())
        .unwrap_or_default()
}

#[test]
fn a_recorder_appends_the_registry_every_interval_and_once_more_when_stopped() {
    let registry = Registry::new();
    let jobs = registry.counter("jobs", "Jobs done.").unwrap();
    let h = History::in_memory();
    let rec = h
        .record(registry.clone(), Duration::from_millis(40))
        .unwrap();
    jobs.add(5);
    assert!(rec.flush(Duration::from_secs(10)), "flushed in time");
    let after_flush = samples_of(&h, "jobs_total");
    assert_eq!(
        after_flush.last().map(|s| s.1),
        Some(5.0),
        "{after_flush:?}"
    );
    // The timer keeps collecting on its own.
    std::thread::sleep(Duration::from_millis(300));
    jobs.add(2);
    assert!(rec.stop(Duration::from_secs(10)), "stopped in time");
    let got = samples_of(&h, "jobs_total");
    assert!(
        got.len() >= after_flush.len() + 3,
        "collected on the timer: {} then {}",
        after_flush.len(),
        got.len()
    );
    assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "{got:?}");
    assert!(
        got.windows(2).all(|w| w[0].1 <= w[1].1),
        "a counter: {got:?}"
    );
    // The collection at stop carries the last increment.
    assert_eq!(got.last().map(|s| s.1), Some(7.0), "{got:?}");
    // Stopped: nothing more arrives.
    jobs.add(1);
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(samples_of(&h, "jobs_total").len(), got.len());
    let now = SystemTime::now();
    match h.query("jobs_total", now).unwrap() {
        Value::Vector(v) => assert_eq!(v[0].v, 7.0),
        other => panic!("want a vector, got {other:?}"),
    }
}

/// The value of the unlabelled (or `where`-labelled) series of `name` in `snap`.
fn value(snap: &Snapshot, name: &str, place: Option<&str>) -> Option<f64> {
    let f = snap.families.iter().find(|f| f.name == name)?;
    let s = f
        .series
        .iter()
        .find(|s| place.map_or(true, |p| s.label("where") == Some(p)))?;
    match &s.value {
        SeriesValue::Counter(n) | SeriesValue::Gauge(n) => Some(Number::as_f64(*n)),
        SeriesValue::Histogram(h) => Some(h.count as f64),
        SeriesValue::StateSet(_) | SeriesValue::Summary(_) => None,
    }
}

#[test]
fn the_self_metrics_report_what_the_history_did() {
    let dir = tempfile::tempdir().unwrap();
    let opts = HistoryOptions::default()
        .storage_path(dir.path())
        .block_duration(Duration::from_secs(600));
    let h = History::open(opts).unwrap();
    let registry = Registry::new();
    registry.register_collector(h.metrics());
    let labels = |k: usize| {
        tallyho_query::Labels::new([
            ("__name__".to_string(), "m".to_string()),
            ("k".to_string(), k.to_string()),
        ])
    };
    let t0 = 1_700_000_400_000i64;
    // 4 series every 15 s for an hour: 960 samples, blocks every 10 minutes.
    for i in 0..240 {
        let batch: Vec<_> = (0..4).map(|k| (labels(k), (i * k as i64) as f64)).collect();
        h.append_samples(t0 + i * 15_000, &batch).unwrap();
    }
    // One out of order.
    let late = h.append_samples(t0, &[(labels(0), 1.0)]).unwrap();
    assert_eq!(late.out_of_order, 1);
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis((t0 + 239 * 15_000) as u64);
    for _ in 0..6 {
        h.query("sum(m)", at).unwrap();
    }
    h.wait_for_blocks();
    let st = h.stats();
    assert!(st.compactions >= 4, "{st:?}");
    let snap = registry.snapshot();
    let v = |name: &str| value(&snap, name, None);
    assert_eq!(v("tallyho_history_samples_appended"), Some(960.0));
    assert_eq!(v("tallyho_history_series"), Some(4.0));
    assert_eq!(v("tallyho_history_queries"), Some(6.0));
    assert_eq!(v("tallyho_history_query_duration_seconds"), Some(6.0));
    assert_eq!(v("tallyho_history_out_of_order_samples"), Some(1.0));
    assert_eq!(
        v("tallyho_history_compactions"),
        Some(st.compactions as f64)
    );
    assert_eq!(v("tallyho_history_blocks"), Some(st.blocks as f64));
    assert_eq!(v("tallyho_history_corrupt_files"), Some(0.0));
    let memory = value(&snap, "tallyho_history_bytes", Some("memory"));
    let disk = value(&snap, "tallyho_history_bytes", Some("disk"));
    assert_eq!(memory, Some(st.head_bytes as f64));
    assert_eq!(disk, Some(st.disk_bytes as f64));
    assert!(st.disk_bytes > 0 && st.head_bytes > 0, "{st:?}");
    let kinds: Vec<_> = snap
        .families
        .iter()
        .filter(|f| f.name.starts_with("tallyho_history_"))
        .map(|f| (f.name.as_str(), f.kind))
        .collect();
    assert!(
        kinds.contains(&(
            "tallyho_history_query_duration_seconds",
            MetricKind::Histogram
        )),
        "{kinds:?}"
    );
    // Once the history is gone, the collector reports nothing.
    drop(h);
    let snap = registry.snapshot();
    assert!(
        !snap
            .families
            .iter()
            .any(|f| f.name.starts_with("tallyho_history_") && !f.series.is_empty()),
        "{:?}",
        snap.families
    );
}

/// An exponential histogram reaches the history as its classic view (one `le` per
/// exponential bucket), so `histogram_quantile` over `_bucket` answers within one bucket.
#[test]
fn histogram_quantile_reads_an_exponential_histogram_through_its_classic_view() {
    let registry = Registry::new();
    let h = registry
        .metric("rtt", "Round trips.")
        .unit("seconds")
        .exponential_histogram()
        .unwrap();
    let mut values: Vec<f64> = (0..500)
        .map(|i| 0.010 + 0.010 * f64::from(i * 7919 % 500) / 500.0)
        .collect();
    for &v in &values {
        h.observe(v);
    }
    values.sort_by(f64::total_cmp);
    let history = History::in_memory();
    history.append(&registry.snapshot()).unwrap();
    let scale = registry.snapshot().family("rtt_seconds").unwrap().series[0]
        .value
        .as_histogram()
        .unwrap()
        .exponential
        .as_ref()
        .unwrap()
        .scale;
    let bound = 2f64.powf(2f64.powi(-scale)) - 1.0;
    for q in [0.1, 0.5, 0.9] {
        let got = match history
            .query(
                &format!("histogram_quantile({q}, rtt_seconds_bucket)"),
                SystemTime::now(),
            )
            .unwrap()
        {
            Value::Vector(v) => v[0].v,
            other => panic!("want a vector, got {other:?}"),
        };
        let want = values[(q * 499.0) as usize];
        let err = ((got - want) / want).abs();
        assert!(
            err <= bound,
            "q {q}: {got} against exact {want} (error {err}, scale {scale})"
        );
    }
}

/// Across a scale change: when a far value makes the exponential histogram lower its
/// scale, every `le` of the coarser view inside the finer view's range was already an
/// `le` of the finer one (bucket boundaries at scale s-1 are every other boundary at scale
/// s), so those series carry on with exact cumulative counts; the in-between ones end and
/// new ones start only above the old range. One rate window after
/// the change, `histogram_quantile` over `rate(_bucket[5m])` answers within one bucket of
/// the coarser scale, against the exact quantiles of the window's observations.
#[test]
fn histogram_quantile_over_rate_holds_across_a_scale_change() {
    let registry = Registry::new();
    let h = registry
        .metric("rtt", "Round trips.")
        .unit("seconds")
        .exponential_histogram()
        .unwrap();
    let history = History::in_memory();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let le_set = |s: &Snapshot| -> Vec<u64> {
        let hv = s.family("rtt_seconds").unwrap().series[0]
            .value
            .as_histogram()
            .unwrap()
            .clone();
        hv.bounds.iter().map(|b| b.to_bits()).collect()
    };
    let scale_of = |s: &Snapshot| {
        s.family("rtt_seconds").unwrap().series[0]
            .value
            .as_histogram()
            .unwrap()
            .exponential
            .as_ref()
            .unwrap()
            .scale
    };
    // 20 minutes at 15 s: 10 values a step in [10 ms, 20 ms]; at minute 10 one 300 s
    // value makes the scale drop.
    let mut window: Vec<(u64, f64)> = Vec::new();
    let (mut before, mut after) = (None, None);
    for step in 0..80u64 {
        let t = t0 + Duration::from_secs(15 * step);
        for k in 0..10u64 {
            let v = 0.010 + 0.010 * ((step * 10 + k) * 7919 % 1000) as f64 / 1000.0;
            h.observe(v);
            window.push((step, v));
        }
        if step == 40 {
            h.observe(300.0);
            window.push((step, 300.0));
        }
        let mut snap = registry.snapshot();
        snap.time = t;
        if step == 39 {
            before = Some((le_set(&snap), scale_of(&snap)));
        }
        if step == 40 {
            after = Some((le_set(&snap), scale_of(&snap)));
        }
        history.append(&snap).unwrap();
    }
    let (before, s_before) = before.unwrap();
    let (after, s_after) = after.unwrap();
    assert!(
        s_after < s_before,
        "the scale dropped: {s_before} -> {s_after}"
    );
    let top = f64::from_bits(*before.last().unwrap());
    let inside: Vec<f64> = after
        .iter()
        .map(|b| f64::from_bits(*b))
        .filter(|b| *b <= top)
        .collect();
    assert!(inside.len() > 2, "{inside:?}");
    for b in &inside {
        assert!(
            before.contains(&b.to_bits()),
            "le {b} after the change (scale {s_after}) was not an le at scale {s_before}"
        );
    }
    // At the last step, the 5 m window holds steps 60..=79 (the rate's samples at steps
    // 59..79 see the observations of steps 60..=79), none of them the far value.
    let end = t0 + Duration::from_secs(15 * 79);
    let mut values: Vec<f64> = window
        .iter()
        .filter(|(s, _)| *s >= 60)
        .map(|(_, v)| *v)
        .collect();
    values.sort_by(f64::total_cmp);
    let bound = 2f64.powf(2f64.powi(-s_after)) - 1.0;
    for q in [0.1, 0.5, 0.9] {
        let got = match history
            .query(
                &format!("histogram_quantile({q}, rate(rtt_seconds_bucket[5m]))"),
                end,
            )
            .unwrap()
        {
            Value::Vector(v) => v[0].v,
            other => panic!("want a vector, got {other:?}"),
        };
        let want = values[(q * (values.len() - 1) as f64) as usize];
        let err = ((got - want) / want).abs();
        assert!(
            err <= bound,
            "q {q}: {got} against exact {want} (error {err}, scale {s_after})"
        );
    }
}
