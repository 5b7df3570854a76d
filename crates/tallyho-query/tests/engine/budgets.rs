//! Budgets (points, samples, time) and malformed input: errors, never panics.

use std::time::Duration;

use crate::common::*;
use proptest::prelude::*;
use tallyho_query::{Engine, EngineOptions, ErrorKind, RangeSeries};

fn store() -> Vec<RangeSeries> {
    (0..10)
        .map(|i| regular("m", &[("i", &i.to_string())], 0, 3600, 15, |t| t as f64))
        .collect()
}

#[test]
fn too_many_points_is_bad_data_with_prometheus_message() {
    let st = store();
    let e = engine().range(&st, "m", 0, s(11_001), 1000).unwrap_err();
    assert_error(
        &e,
        ErrorKind::BadData,
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
    );
    // Exactly 11,000 intervals is allowed.
    assert!(engine().range(&st, "vector(1)", 0, s(11_000), 1000).is_ok());
}

#[test]
fn bad_steps_and_ranges() {
    let st = store();
    let e = engine().range(&st, "m", 0, s(10), 0).unwrap_err();
    assert_error(
        &e,
        ErrorKind::BadData,
        "zero or negative query resolution step",
    );
    let e = engine().range(&st, "m", s(10), 0, 1000).unwrap_err();
    assert_error(
        &e,
        ErrorKind::BadData,
        "end timestamp must not be before start time",
    );
}

#[test]
fn samples_budget_is_enforced() {
    let st = store();
    let opts = EngineOptions {
        max_samples: 1000,
        ..EngineOptions::default()
    };
    let e = Engine::new(opts.clone())
        .instant(&st, "sum(count_over_time(m[1h]))", s(3600))
        .unwrap_err();
    assert_error(
        &e,
        ErrorKind::TooLarge,
        "query processing would load too many samples into memory in query execution",
    );
    assert_eq!(e.kind.error_type(), "execution");
    // A small query fits.
    assert!(Engine::new(opts.clone()).instant(&st, "m", s(3600)).is_ok());
    // A huge subquery is refused before it allocates.
    let e = Engine::new(opts)
        .instant(&st, "max_over_time(m[1y:1ms])", s(3600))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooLarge);
}

#[test]
fn stats_count_samples_read() {
    let st = store();
    let expr = tallyho_query::parse("m[1m]").unwrap();
    let (_, stats) = engine().instant_expr(&st, &expr, s(60)).unwrap();
    // 10 series, samples at 0..60 every 15s.
    assert_eq!(stats.samples_read, 50);
    assert!(stats.peak_samples >= 50);
}

#[test]
fn deadline_is_enforced() {
    let st = store();
    let opts = EngineOptions {
        timeout: Duration::ZERO,
        ..EngineOptions::default()
    };
    std::thread::sleep(Duration::from_millis(2));
    let e = Engine::new(opts)
        .instant(&st, "sum(rate(m[5m]))", s(3600))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert_eq!(e.message, "query timed out in query execution");
}

#[test]
fn malformed_queries_are_bad_data() {
    let st = store();
    for q in [
        "",
        "sum(",
        "m[5m",
        "rate(m)",
        "m{",
        "1 +",
        "{a=~\".*\"}",
        "m and 1",
        "foo(m)",
        "m offset",
        "topk(m)",
        "\"unterminated",
    ] {
        let e = engine().instant(&st, q, 0).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadData, "{q:?}: {e}");
    }
}

#[test]
fn extreme_times_and_offsets_do_not_panic() {
    let st = store();
    for q in [
        "m offset 100000y",
        "m offset -100000y",
        "m @ 9999999999999",
        "m @ -9999999999999",
        "rate(m[100000y])",
        "m[1h:1h] offset 100000y",
    ] {
        for t in [i64::MIN / 2, 0, i64::MAX / 2] {
            let _ = engine().instant(&st, q, t);
        }
    }
    let _ = engine().range(&st, "m", i64::MIN, i64::MAX, i64::MAX);
    let _ = engine().range(&st, "m", i64::MAX - 1, i64::MAX, 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_strings_never_panic(q in "\\PC{0,40}") {
        let st = store();
        let _ = engine().instant(&st, &q, s(100));
    }

    #[test]
    fn random_promql_like_strings_never_panic(
        q in "(sum|rate|m|\\(|\\)|\\[|\\]|5m|1m:|\\{|\\}|i=\"1\"|,|by|on|group_left|offset|@|[0-9]|\\+|/|>|bool|and|or|topk|\\s){0,16}"
    ) {
        let st = store();
        let _ = engine().instant(&st, &q, s(100));
        let _ = engine().range(&st, &q, 0, s(300), s(60));
    }
}
