//! Instant and range selectors, lookback, staleness, offset, `@`, subqueries.

use crate::common::*;
use tallyho_query::{ErrorKind, Value};

fn store() -> Vec<tallyho_query::RangeSeries> {
    vec![
        // One sample at 0s.
        series("lone", &[("job", "a")], &[(0, 5.0)]),
        // Goes stale at 30s.
        series(
            "gone",
            &[("job", "a")],
            &[(0, 1.0), (15, 2.0), (30, stale())],
        ),
        // Every 15s from 0 to 600s, value = t.
        regular("ramp", &[("job", "a")], 0, 600, 15, |t| t as f64),
        regular("ramp", &[("job", "b")], 0, 600, 15, |t| 2.0 * t as f64),
    ]
}

#[test]
fn lookback_window_is_closed_at_both_ends() {
    let st = store();
    assert_eq!(
        vector(&st, "lone", 0),
        vec![("lone{job=\"a\"}".into(), 5.0)]
    );
    assert_eq!(
        vector(&st, "lone", 300),
        vec![("lone{job=\"a\"}".into(), 5.0)]
    );
    assert!(vector(&st, "lone", 301).is_empty());
    // Before the sample: nothing.
    assert!(vector(&st, "lone", -1).is_empty());
    // One ms past the lookback.
    match engine().instant(&st, "lone", 300_001).unwrap() {
        Value::Vector(v) => assert!(v.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn staleness_marker_ends_the_series() {
    let st = store();
    assert_eq!(
        vector(&st, "gone", 29),
        vec![("gone{job=\"a\"}".into(), 2.0)]
    );
    assert!(vector(&st, "gone", 30).is_empty());
    assert!(vector(&st, "gone", 200).is_empty());
    // A range selector drops the marker but keeps the real samples.
    match engine().instant(&st, "gone[1m]", s(40)).unwrap() {
        Value::Matrix(m) => {
            assert_eq!(m.len(), 1);
            let vals: Vec<f64> = m[0].samples.iter().map(|p| p.v).collect();
            assert_eq!(vals, vec![1.0, 2.0]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn range_selector_window_is_closed_and_keeps_timestamps() {
    let st = store();
    match engine().instant(&st, "ramp{job=\"a\"}[1m]", s(60)).unwrap() {
        Value::Matrix(m) => {
            assert_eq!(m.len(), 1);
            let ts: Vec<i64> = m[0].samples.iter().map(|p| p.t / 1000).collect();
            assert_eq!(ts, vec![0, 15, 30, 45, 60]);
            assert_eq!(m[0].labels.name(), "ramp");
        }
        other => panic!("{other:?}"),
    }
    match engine()
        .instant(&st, "ramp{job=\"a\"}[1m] offset 1m", s(120))
        .unwrap()
    {
        Value::Matrix(m) => {
            let ts: Vec<i64> = m[0].samples.iter().map(|p| p.t / 1000).collect();
            assert_eq!(ts, vec![0, 15, 30, 45, 60]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn matchers_select_series() {
    let st = store();
    assert_eq!(vector(&st, "ramp{job=\"b\"}", 30).len(), 1);
    assert_eq!(vector(&st, "ramp{job!=\"b\"}", 30).len(), 1);
    assert_eq!(vector(&st, "ramp{job=~\"a|b\"}", 30).len(), 2);
    // Regexes are anchored.
    assert_eq!(vector(&st, "ramp{job=~\"a.*|x\"}", 30).len(), 1);
    assert_eq!(
        vector(&st, "{__name__=~\"ramp|lone\", job=\"a\"}", 30).len(),
        2
    );
    assert!(vector(&st, "ramp{job=~\"\"}", 30).is_empty());
    assert_eq!(vector(&st, "ramp{missing=\"\"}", 30).len(), 2);
    let e = error(&st, "ramp{job=~\"(\"}", 30);
    assert_eq!(e.kind, ErrorKind::BadData, "{e}");
}

#[test]
fn offset_shifts_back_and_negative_offset_forward() {
    let st = store();
    assert_eq!(vector(&st, "ramp{job=\"a\"} offset 1m", 300)[0].1, 240.0);
    assert_eq!(vector(&st, "ramp{job=\"a\"} offset -1m", 300)[0].1, 360.0);
    // Between samples: the latest before the shifted time.
    assert_eq!(vector(&st, "ramp{job=\"a\"} offset 10s", 300)[0].1, 285.0);
}

#[test]
fn at_modifier_pins_time_in_instant_and_range_queries() {
    let st = store();
    assert_eq!(vector(&st, "ramp{job=\"a\"} @ 100", 500)[0].1, 90.0);
    assert_eq!(
        vector(&st, "ramp{job=\"a\"} @ 100 offset 10s", 500)[0].1,
        90.0
    );
    assert_eq!(
        vector(&st, "ramp{job=\"a\"} @ 100 offset 11s", 500)[0].1,
        75.0
    );
    let r = range(&st, "ramp{job=\"a\"} @ start()", 60, 120, 30);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].1, vec![(60, 60.0), (90, 60.0), (120, 60.0)]);
    let r = range(&st, "ramp{job=\"a\"} @ end()", 60, 120, 30);
    assert_eq!(r[0].1, vec![(60, 120.0), (90, 120.0), (120, 120.0)]);
}

#[test]
fn range_query_steps_and_sorted_series() {
    let st = store();
    let r = range(&st, "ramp", 0, 60, 20);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].0, "ramp{job=\"a\"}");
    assert_eq!(r[0].1, vec![(0, 0.0), (20, 15.0), (40, 30.0), (60, 60.0)]);
    assert_eq!(r[1].1, vec![(0, 0.0), (20, 30.0), (40, 60.0), (60, 120.0)]);
    // A series present for part of the range only has the points it has.
    let r = range(&st, "gone", 0, 60, 10);
    assert_eq!(r[0].1, vec![(0, 1.0), (10, 1.0), (20, 2.0)]);
    // A scalar is one series without labels.
    let r = range(&st, "1 + 1", 0, 20, 10);
    assert_eq!(
        r,
        vec![("{}".to_string(), vec![(0, 2.0), (10, 2.0), (20, 2.0)])]
    );
}

#[test]
fn range_query_of_a_range_vector_is_bad_data() {
    let st = store();
    let e = engine()
        .range(&st, "ramp[5m]", 0, s(60), s(15))
        .unwrap_err();
    assert_error(
        &e,
        ErrorKind::BadData,
        "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector",
    );
    let e = engine()
        .range(&st, "ramp[5m:1m]", 0, s(60), s(15))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadData);
    let e = engine()
        .range(&st, "\"text\"", 0, s(60), s(15))
        .unwrap_err();
    assert_error(&e, ErrorKind::BadData, "\"string\"");
}

#[test]
fn subquery_steps_are_aligned_to_absolute_multiples() {
    let st = store();
    // Window [5s, 65s], step 20s: inner steps 20, 40, 60.
    match engine()
        .instant(&st, "ramp{job=\"a\"}[1m:20s]", s(65))
        .unwrap()
    {
        Value::Matrix(m) => {
            assert_eq!(m.len(), 1);
            let pts: Vec<(i64, f64)> = m[0].samples.iter().map(|p| (p.t / 1000, p.v)).collect();
            assert_eq!(pts, vec![(20, 15.0), (40, 30.0), (60, 60.0)]);
        }
        other => panic!("{other:?}"),
    }
    // The start is included when it is a multiple: [0s, 60s] → 0, 20, 40, 60.
    match engine()
        .instant(&st, "ramp{job=\"a\"}[1m:20s]", s(60))
        .unwrap()
    {
        Value::Matrix(m) => assert_eq!(m[0].samples.len(), 4),
        other => panic!("{other:?}"),
    }
    // With offset, times shift: [0s, 60s] again at 90s with offset 30s.
    match engine()
        .instant(&st, "ramp{job=\"a\"}[1m:20s] offset 30s", s(90))
        .unwrap()
    {
        Value::Matrix(m) => {
            let ts: Vec<i64> = m[0].samples.iter().map(|p| p.t / 1000).collect();
            assert_eq!(ts, vec![0, 20, 40, 60]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn subquery_without_step_uses_the_default_interval() {
    let st = store();
    match engine()
        .instant(&st, "ramp{job=\"a\"}[3m:]", s(200))
        .unwrap()
    {
        Value::Matrix(m) => {
            let ts: Vec<i64> = m[0].samples.iter().map(|p| p.t / 1000).collect();
            assert_eq!(ts, vec![60, 120, 180]);
        }
        other => panic!("{other:?}"),
    }
    let opts = tallyho_query::EngineOptions {
        default_subquery_step: std::time::Duration::from_secs(90),
        ..Default::default()
    };
    match tallyho_query::Engine::new(opts)
        .instant(&st, "ramp{job=\"a\"}[3m:]", s(200))
        .unwrap()
    {
        Value::Matrix(m) => {
            let ts: Vec<i64> = m[0].samples.iter().map(|p| p.t / 1000).collect();
            assert_eq!(ts, vec![90, 180]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn nested_subquery_and_aggregation_inside() {
    let st = store();
    // sum over both jobs at 20, 40, 60: (15+30), (30+60), (60+120).
    match engine().instant(&st, "sum(ramp)[1m:20s]", s(65)).unwrap() {
        Value::Matrix(m) => {
            let pts: Vec<f64> = m[0].samples.iter().map(|p| p.v).collect();
            assert_eq!(pts, vec![45.0, 90.0, 180.0]);
            assert!(m[0].labels.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn timestamp_of_a_selector_is_the_sample_time() {
    let st = store();
    assert_eq!(
        vector(&st, "timestamp(ramp{job=\"a\"})", 100),
        vec![("{job=\"a\"}".into(), 90.0)]
    );
    assert_eq!(
        vector(&st, "timestamp(ramp{job=\"a\"} offset 1m)", 100)[0].1,
        30.0
    );
    // Of anything else: the evaluation time.
    assert_eq!(vector(&st, "timestamp(-ramp{job=\"a\"})", 100)[0].1, 100.0);
}
