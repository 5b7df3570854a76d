//! Observable families, up-down counters and batch callbacks through the public API.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tallyho::{BatchObserver, Observer, Registry, OVERFLOW_LABEL, OVERFLOW_METRIC, REFUSED_METRIC};

#[test]
fn labelled_points_and_odd_values_read_back() {
    let r = Registry::builder()
        .constant_label("host", "h1")
        .build()
        .unwrap();
    r.metric("gpu_temp", "Temp.")
        .unit("celsius")
        .observable_gauge_family(&["gpu"], |o: &mut Observer| {
            o.observe(&["0"], 71.0);
            o.observe(&["q\"uote \\ back\nline"], 64.5);
        })
        .unwrap();
    let s = r.snapshot();
    let f = s.family("gpu_temp_celsius").unwrap();
    assert_eq!(f.series.len(), 2);
    assert_eq!(
        s.value("gpu_temp_celsius", &[("host", "h1"), ("gpu", "0")]),
        Some(71.0)
    );
    assert_eq!(f.series[1].label("gpu"), Some("q\"uote \\ back\nline"));
    assert_eq!(f.series[1].label("host"), Some("h1"));
}

#[test]
fn bad_points_are_counted_not_panicking() {
    let r = Registry::new();
    r.metric("c", "")
        .observable_counter_family(&["a", "b"], |o: &mut Observer| {
            o.observe(&["x", "y"], 2.0);
            o.observe(&["x", "y"], 3.0); // duplicate
            o.observe(&["x"], 1.0); // wrong count
            o.observe(&["p", "q"], f64::NAN);
            o.observe(&["p", "q"], -1.0); // counters go up
        })
        .unwrap();
    for round in 1..=2u32 {
        let s = r.snapshot();
        assert_eq!(s.value("c", &[("a", "x"), ("b", "y")]), Some(2.0));
        assert_eq!(s.family("c").unwrap().series.len(), 1);
        assert_eq!(
            s.value(REFUSED_METRIC, &[("metric", "c")]),
            Some(f64::from(4 * round))
        );
    }
}

#[test]
fn a_panicking_callback_loses_its_points_only() {
    let r = Registry::new();
    r.metric("bad", "")
        .observable_gauge_family(&["a"], |o: &mut Observer| {
            o.observe(&["1"], 1.0);
            panic!("callback bug");
        })
        .unwrap();
    r.metric("good", "")
        .observable_up_down_counter_family(&["a"], |o: &mut Observer| o.observe(&["1"], -4.0))
        .unwrap();
    let s = r.snapshot();
    assert!(s.family("bad").unwrap().series.is_empty());
    assert_eq!(s.value("good", &[("a", "1")]), Some(-4.0));
    assert_eq!(
        s.family("good").unwrap().kind,
        tallyho::MetricKind::UpDownCounter
    );
}

#[test]
fn overflow_goes_to_the_overflow_series() {
    let r = Registry::new();
    r.metric("q", "")
        .cardinality_limit(2)
        .observable_counter_family(&["id"], |o: &mut Observer| {
            for i in 0..5 {
                o.observe(&[&i.to_string()], 1.0);
            }
        })
        .unwrap();
    let s = r.snapshot();
    let f = s.family("q").unwrap();
    assert_eq!(f.series.len(), 3);
    assert_eq!(s.value("q", &[(OVERFLOW_LABEL, "true")]), Some(3.0));
    assert_eq!(s.value(OVERFLOW_METRIC, &[("metric", "q")]), Some(3.0));
}

#[test]
fn a_batch_runs_once_per_collection() {
    let r = Registry::new();
    let a = r.metric("a", "").batch_gauge_family(&["k"]).unwrap();
    let b = r.metric("b", "").batch_counter_family(&["k"]).unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let (a2, b2, c) = (a.clone(), b.clone(), calls.clone());
    r.observe_batch(&[&a, &b], move |o: &mut BatchObserver| {
        c.fetch_add(1, Ordering::Relaxed);
        o.observe(&a2, &["x"], 1.5);
        o.observe(&b2, &["y"], 7.0);
        o.observe(&b2, &["y"], 8.0); // duplicate
    })
    .unwrap();
    for n in 1..=3u64 {
        let s = r.snapshot();
        assert_eq!(calls.load(Ordering::Relaxed), n);
        assert_eq!(s.value("a", &[("k", "x")]), Some(1.5));
        assert_eq!(s.value("b", &[("k", "y")]), Some(7.0));
        assert_eq!(s.value(REFUSED_METRIC, &[("metric", "b")]), Some(n as f64));
    }
    // A family joins one batch.
    assert!(r.observe_batch(&[&a], |_: &mut BatchObserver| {}).is_err());
    // Registering again gives the same handle.
    let again = r.metric("a", "").batch_gauge_family(&["k"]).unwrap();
    assert!(r
        .observe_batch(&[&again], |_: &mut BatchObserver| {})
        .is_err());
}

#[test]
fn invalid_label_names_are_refused_at_registration() {
    let r = Registry::new();
    assert!(r
        .metric("x", "")
        .observable_gauge_family(&["le"], |_: &mut Observer| {})
        .is_err());
    assert!(r.metric("y", "").batch_gauge_family(&["a", "a"]).is_err());
}
