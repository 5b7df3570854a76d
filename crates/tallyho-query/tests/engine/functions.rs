//! Function dispatch: range functions over selectors and subqueries, the functions the
//! evaluator implements itself, and name dropping.

use crate::common::*;
use tallyho_query::{ErrorKind, RangeSeries};

fn counters() -> Vec<RangeSeries> {
    vec![
        // A counter that resets between 30s and 45s.
        series(
            "c_total",
            &[("job", "a")],
            &[(0, 0.0), (15, 10.0), (30, 20.0), (45, 5.0), (60, 15.0)],
        ),
        regular("g", &[("job", "a")], 0, 600, 15, |t| t as f64),
    ]
}

#[test]
fn rate_handles_a_counter_reset_and_drops_the_name() {
    let st = counters();
    // Increase: 20 before the reset, 15 after; window [0, 60] covers the samples exactly.
    let v = vector(&st, "increase(c_total[1m])", 60);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].0, "{job=\"a\"}");
    assert!(close(v[0].1, 35.0), "{}", v[0].1);
    let v = vector(&st, "rate(c_total[1m])", 60);
    assert!(close(v[0].1, 35.0 / 60.0), "{}", v[0].1);
    // resets and changes.
    assert_eq!(vector(&st, "resets(c_total[1m])", 60)[0].1, 1.0);
    assert_eq!(vector(&st, "changes(c_total[1m])", 60)[0].1, 4.0);
}

#[test]
fn over_time_functions_and_last_over_time_keeps_the_name() {
    let st = counters();
    assert_eq!(
        vector(&st, "max_over_time(g[1m])", 60),
        vec![("{job=\"a\"}".into(), 60.0)]
    );
    assert_eq!(vector(&st, "count_over_time(g[1m])", 60)[0].1, 5.0);
    assert_eq!(
        vector(&st, "last_over_time(g[1m])", 60),
        vec![("g{job=\"a\"}".into(), 60.0)]
    );
    assert_eq!(
        vector(&st, "sum_over_time(g[1m] offset 1m)", 120)[0].1,
        150.0
    );
}

#[test]
fn range_function_over_a_subquery() {
    let st = counters();
    // Inner points at 20, 40, 60: g = 15, 30, 60.
    assert_eq!(vector(&st, "max_over_time(g[1m:20s])", 65)[0].1, 60.0);
    assert_eq!(vector(&st, "count_over_time(g[1m:20s])", 65)[0].1, 3.0);
    assert_eq!(
        vector(&st, "count_over_time((g * 2)[1m:20s])", 60)[0].1,
        4.0
    );
    // Range query over a subquery: one inner evaluation, windows slide.
    let r = range(&st, "count_over_time(g[1m:20s])", 60, 100, 20);
    assert_eq!(r[0].1, vec![(60, 4.0), (80, 4.0), (100, 4.0)]);
}

#[test]
fn range_function_in_a_range_query_slides_its_window() {
    let st = counters();
    let r = range(&st, "count_over_time(g[30s])", 0, 90, 30);
    assert_eq!(r[0].1, vec![(0, 1.0), (30, 3.0), (60, 3.0), (90, 3.0)]);
    let r = range(&st, "sum by (job) (max_over_time(g[1m]))", 60, 120, 60);
    assert_eq!(
        r,
        vec![("{job=\"a\"}".to_string(), vec![(60, 60.0), (120, 120.0)])]
    );
}

#[test]
fn absent_and_absent_over_time() {
    let st = counters();
    assert!(vector(&st, "absent(g)", 60).is_empty());
    assert_eq!(
        vector(&st, "absent(nope{job=\"x\", env=~\"p.*\", team=\"t\"})", 60),
        vec![("{job=\"x\", team=\"t\"}".into(), 1.0)]
    );
    assert_eq!(
        vector(&st, "absent(sum(nope))", 60),
        vec![("{}".into(), 1.0)]
    );
    assert_eq!(
        vector(&st, "absent_over_time(nope{a=\"b\"}[1m])", 60),
        vec![("{a=\"b\"}".into(), 1.0)]
    );
    assert!(vector(&st, "absent_over_time(g[1m])", 60).is_empty());
    // In a range query: only the steps without data.
    let r = range(&st, "absent(c_total)", 0, 600, 300);
    assert_eq!(r[0].1, vec![(600, 1.0)]);
}

#[test]
fn scalar_vector_time() {
    let st = counters();
    assert_eq!(scalar(&st, "scalar(g)", 60), 60.0);
    assert!(scalar(&st, "scalar({job=\"a\"})", 30).is_nan());
    assert_eq!(vector(&st, "vector(3)", 60), vec![("{}".into(), 3.0)]);
    assert_eq!(scalar(&st, "time()", 60), 60.0);
    assert_eq!(scalar(&st, "pi()", 60), std::f64::consts::PI);
    let r = range(&st, "time()", 0, 20, 10);
    assert_eq!(r[0].1, vec![(0, 0.0), (10, 10.0), (20, 20.0)]);
}

#[test]
fn sort_orders_instant_results_with_nan_last() {
    let st = vec![
        series("s", &[("i", "1")], &[(0, 3.0)]),
        series("s", &[("i", "2")], &[(0, f64::NAN)]),
        series("s", &[("i", "3")], &[(0, 1.0)]),
        series("s", &[("i", "4")], &[(0, 2.0)]),
    ];
    let vals = |q: &str| -> Vec<String> {
        vector_ordered(&st, q, 10)
            .into_iter()
            .map(|x| x.0)
            .collect()
    };
    assert_eq!(
        vals("sort(s)"),
        ["s{i=\"3\"}", "s{i=\"4\"}", "s{i=\"1\"}", "s{i=\"2\"}"]
    );
    assert_eq!(
        vals("sort_desc(s)"),
        ["s{i=\"1\"}", "s{i=\"4\"}", "s{i=\"3\"}", "s{i=\"2\"}"]
    );
}

#[test]
fn math_and_clamp_drop_the_name() {
    let st = vec![series("m", &[("k", "v")], &[(0, -2.5)])];
    assert_eq!(vector(&st, "abs(m)", 10), vec![("{k=\"v\"}".into(), 2.5)]);
    assert_eq!(
        vector(&st, "clamp_min(m, 0)", 10),
        vec![("{k=\"v\"}".into(), 0.0)]
    );
    assert_eq!(vector(&st, "clamp_max(m, -3)", 10)[0].1, -3.0);
    assert_eq!(vector(&st, "clamp(m, -1, 1)", 10)[0].1, -1.0);
    assert!(vector(&st, "clamp(m, 1, -1)", 10).is_empty());
    assert_eq!(vector(&st, "round(m)", 10)[0].1, -2.0);
    assert_eq!(vector(&st, "year()", 10), vec![("{}".into(), 1970.0)]);
    assert_eq!(vector(&st, "hour(m * 0 + 7200)", 10)[0].1, 2.0);
}

#[test]
fn histogram_quantile_groups_buckets_by_the_other_labels() {
    let st = vec![
        series("h_bucket", &[("le", "1"), ("job", "a")], &[(0, 5.0)]),
        series("h_bucket", &[("le", "2"), ("job", "a")], &[(0, 10.0)]),
        series("h_bucket", &[("le", "+Inf"), ("job", "a")], &[(0, 10.0)]),
        series("h_bucket", &[("le", "1"), ("job", "b")], &[(0, 0.0)]),
        series("h_bucket", &[("le", "+Inf"), ("job", "b")], &[(0, 0.0)]),
    ];
    let v = vector(&st, "histogram_quantile(0.5, h_bucket)", 10);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0], ("{job=\"a\"}".into(), 1.0));
    assert!(v[1].1.is_nan());
}

#[test]
fn label_replace_and_join_keep_the_name() {
    let st = vec![series("l", &[("src", "ab-cd")], &[(0, 1.0)])];
    assert_eq!(
        vector(
            &st,
            "label_replace(l, \"dst\", \"$1\", \"src\", \"(.*)-.*\")",
            10
        ),
        vec![("l{dst=\"ab\", src=\"ab-cd\"}".into(), 1.0)]
    );
    assert_eq!(
        vector(&st, "label_join(l, \"dst\", \"+\", \"src\", \"src\")", 10),
        vec![("l{dst=\"ab-cd+ab-cd\", src=\"ab-cd\"}".into(), 1.0)]
    );
}

#[test]
fn holt_winters_factors_are_checked() {
    let st = counters();
    let e = error(&st, "holt_winters(g[1m], 1, 0.5)", 60);
    assert_error(
        &e,
        ErrorKind::Execution,
        "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000",
    );
}

#[test]
fn unsupported_functions_say_so() {
    let st = counters();
    for q in [
        "histogram_count(g)",
        "histogram_sum(g)",
        "histogram_fraction(0, 1, g)",
        "sort_by_label(g, \"a\")",
    ] {
        let e = error(&st, q, 60);
        assert_eq!(e.kind, ErrorKind::Unsupported, "{q}: {e}");
        assert!(e.message.starts_with("unsupported: function"), "{q}: {e}");
    }
}
