//! Aggregation operators with `by`/`without`.

use crate::common::*;
use tallyho_query::{ErrorKind, RangeSeries};

/// `req{job, inst}` with values 1, 2, 3, 4 and a NaN series in job c.
fn store() -> Vec<RangeSeries> {
    vec![
        series("req", &[("job", "a"), ("inst", "1")], &[(0, 1.0)]),
        series("req", &[("job", "a"), ("inst", "2")], &[(0, 2.0)]),
        series("req", &[("job", "b"), ("inst", "1")], &[(0, 3.0)]),
        series("req", &[("job", "b"), ("inst", "2")], &[(0, 4.0)]),
        series("odd", &[("job", "c")], &[(0, f64::NAN)]),
        series("odd", &[("job", "d")], &[(0, f64::INFINITY)]),
        series("odd", &[("job", "d"), ("x", "1")], &[(0, 5.0)]),
    ]
}

fn one(st: &Vec<RangeSeries>, q: &str) -> Vec<(String, f64)> {
    vector(st, q, 10)
}

#[test]
fn sum_avg_count_min_max_group() {
    let st = store();
    assert_eq!(one(&st, "sum(req)"), vec![("{}".into(), 10.0)]);
    assert_eq!(
        one(&st, "sum by (job) (req)"),
        vec![("{job=\"a\"}".into(), 3.0), ("{job=\"b\"}".into(), 7.0)]
    );
    assert_eq!(
        one(&st, "avg without (inst) (req)"),
        vec![("{job=\"a\"}".into(), 1.5), ("{job=\"b\"}".into(), 3.5)]
    );
    assert_eq!(one(&st, "count(req)"), vec![("{}".into(), 4.0)]);
    assert_eq!(one(&st, "min(req)"), vec![("{}".into(), 1.0)]);
    assert_eq!(
        one(&st, "max by (inst) (req)")[1],
        ("{inst=\"2\"}".into(), 4.0)
    );
    assert_eq!(
        one(&st, "group by (job) (req)"),
        vec![("{job=\"a\"}".into(), 1.0), ("{job=\"b\"}".into(), 1.0)]
    );
}

#[test]
fn by_name_keeps_the_name_and_without_drops_it() {
    let st = store();
    assert_eq!(
        one(&st, "sum by (__name__) (req)"),
        vec![("req{}".into(), 10.0)]
    );
    assert_eq!(
        one(&st, "sum without (job) (req)"),
        vec![("{inst=\"1\"}".into(), 4.0), ("{inst=\"2\"}".into(), 6.0)]
    );
}

#[test]
fn nan_and_inf_rules() {
    let st = store();
    // max/min skip a leading NaN; avg of Inf and a finite value stays Inf.
    assert_eq!(
        one(&st, "max(odd{job=~\"c|d\", x=\"\"})")[0].1,
        f64::INFINITY
    );
    assert_eq!(
        one(&st, "min(odd{job=~\"c|d\", x=\"\"})")[0].1,
        f64::INFINITY
    );
    assert_eq!(one(&st, "avg(odd{job=\"d\"})")[0].1, f64::INFINITY);
    assert!(one(&st, "sum(odd)")[0].1.is_nan());
}

#[test]
fn stddev_and_stdvar() {
    let st = store();
    // Values 1,2,3,4: population variance 1.25.
    assert!(close(one(&st, "stdvar(req)")[0].1, 1.25));
    assert!(close(one(&st, "stddev(req)")[0].1, 1.25f64.sqrt()));
    assert_eq!(one(&st, "stddev by (job, inst) (req)")[0].1, 0.0);
}

#[test]
fn topk_and_bottomk_keep_labels_and_order_by_value() {
    let st = store();
    assert_eq!(
        vector_ordered(&st, "topk(2, req)", 10),
        vec![
            ("req{inst=\"2\", job=\"b\"}".into(), 4.0),
            ("req{inst=\"1\", job=\"b\"}".into(), 3.0)
        ]
    );
    assert_eq!(
        vector_ordered(&st, "bottomk by (job) (1, req)", 10),
        vec![
            ("req{inst=\"1\", job=\"a\"}".into(), 1.0),
            ("req{inst=\"1\", job=\"b\"}".into(), 3.0)
        ]
    );
    assert!(one(&st, "topk(0, req)").is_empty());
    assert_eq!(one(&st, "topk(100, req)").len(), 4);
    // NaN ranks last for both.
    assert_eq!(one(&st, "topk(1, odd{x=\"\"})")[0].1, f64::INFINITY);
    assert_eq!(one(&st, "bottomk(1, odd{x=\"\"})")[0].1, f64::INFINITY);
}

#[test]
fn topk_in_a_range_query_follows_the_values() {
    let st = vec![
        regular("m", &[("s", "up")], 0, 60, 10, |t| t as f64),
        regular("m", &[("s", "down")], 0, 60, 10, |t| 60.0 - t as f64),
    ];
    let r = range(&st, "topk(1, m)", 0, 60, 20);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].0, "m{s=\"down\"}");
    assert_eq!(r[0].1, vec![(0, 60.0), (20, 40.0)]);
    assert_eq!(r[1].1, vec![(40, 40.0), (60, 60.0)]);
}

#[test]
fn count_values_counts_equal_values() {
    let st = vec![
        series("v", &[("i", "1")], &[(0, 1.0)]),
        series("v", &[("i", "2")], &[(0, 1.0)]),
        series("v", &[("i", "3")], &[(0, 2.5)]),
        series("v", &[("i", "4")], &[(0, f64::INFINITY)]),
    ];
    assert_eq!(
        vector(&st, "count_values(\"val\", v)", 10),
        vec![
            ("{val=\"+Inf\"}".into(), 1.0),
            ("{val=\"1\"}".into(), 2.0),
            ("{val=\"2.5\"}".into(), 1.0)
        ]
    );
    let e = error(&st, "count_values(\"not a label\", v)", 10);
    assert_error(&e, ErrorKind::Execution, "invalid label name");
}

#[test]
fn quantile_aggregation() {
    let st = store();
    // Values 1..4: the median interpolates to 2.5.
    assert!(close(one(&st, "quantile(0.5, req)")[0].1, 2.5));
    assert!(close(one(&st, "quantile(1, req)")[0].1, 4.0));
}

#[test]
fn aggregation_per_step_in_range_query() {
    let st = vec![
        regular("c", &[("k", "1")], 0, 60, 15, |_| 1.0),
        regular("c", &[("k", "2")], 30, 60, 15, |_| 2.0),
    ];
    let r = range(&st, "sum(c)", 0, 60, 30);
    assert_eq!(
        r,
        vec![("{}".to_string(), vec![(0, 1.0), (30, 3.0), (60, 3.0)])]
    );
    let r = range(&st, "count(c)", 0, 60, 30);
    assert_eq!(r[0].1, vec![(0, 1.0), (30, 2.0), (60, 2.0)]);
}
