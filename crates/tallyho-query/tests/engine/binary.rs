//! Binary operators, vector matching and its errors.

use crate::common::*;
use tallyho_query::{ErrorKind, RangeSeries};

fn store() -> Vec<RangeSeries> {
    vec![
        series("a", &[("job", "x"), ("inst", "1")], &[(0, 10.0)]),
        series("a", &[("job", "x"), ("inst", "2")], &[(0, 20.0)]),
        series("a", &[("job", "y"), ("inst", "1")], &[(0, 30.0)]),
        series("b", &[("job", "x"), ("inst", "1")], &[(0, 2.0)]),
        series("b", &[("job", "x"), ("inst", "2")], &[(0, 4.0)]),
        series("b", &[("job", "z"), ("inst", "1")], &[(0, 8.0)]),
        series("info", &[("job", "x"), ("team", "red")], &[(0, 1.0)]),
        series("info", &[("job", "y"), ("team", "blue")], &[(0, 1.0)]),
    ]
}

fn q(st: &Vec<RangeSeries>, query: &str) -> Vec<(String, f64)> {
    vector(st, query, 10)
}

#[test]
fn scalar_arithmetic_and_precedence() {
    let st = store();
    assert_eq!(scalar(&st, "1 + 2 * 3", 0), 7.0);
    assert_eq!(scalar(&st, "2 ^ 3 ^ 2", 0), 512.0);
    assert_eq!(scalar(&st, "-2 ^ 2", 0), -4.0);
    assert_eq!(scalar(&st, "7 % 4", 0), 3.0);
    assert_eq!(scalar(&st, "-7 % 4", 0), -3.0);
    assert_eq!(scalar(&st, "1 atan2 1", 0), std::f64::consts::FRAC_PI_4);
    assert_eq!(scalar(&st, "2 > bool 1", 0), 1.0);
    assert_eq!(scalar(&st, "2 < bool 1", 0), 0.0);
    assert!(scalar(&st, "0 / 0", 0).is_nan());
    assert_eq!(scalar(&st, "1 / 0", 0), f64::INFINITY);
}

#[test]
fn vector_scalar_drops_the_name_for_arithmetic_only() {
    let st = store();
    assert_eq!(
        q(&st, "a{inst=\"2\"} * 2"),
        vec![("{inst=\"2\", job=\"x\"}".into(), 40.0)]
    );
    assert_eq!(
        q(&st, "100 - a{inst=\"2\"}"),
        vec![("{inst=\"2\", job=\"x\"}".into(), 80.0)]
    );
    // Comparison filters and keeps the name and the vector's value.
    assert_eq!(
        q(&st, "a > 15"),
        vec![
            ("a{inst=\"1\", job=\"y\"}".into(), 30.0),
            ("a{inst=\"2\", job=\"x\"}".into(), 20.0),
        ]
    );
    assert_eq!(q(&st, "15 < a").len(), 2);
    assert_eq!(q(&st, "25 < a")[0].1, 30.0);
    // bool keeps every sample as 0/1 and drops the name.
    assert_eq!(
        q(&st, "a > bool 15"),
        vec![
            ("{inst=\"1\", job=\"x\"}".into(), 0.0),
            ("{inst=\"1\", job=\"y\"}".into(), 1.0),
            ("{inst=\"2\", job=\"x\"}".into(), 1.0),
        ]
    );
    assert_eq!(
        q(&st, "-a{inst=\"2\"}"),
        vec![("{inst=\"2\", job=\"x\"}".into(), -20.0)]
    );
}

#[test]
fn atan2_keeps_the_name_in_2_42() {
    let st = store();
    assert_eq!(
        q(&st, "a{inst=\"2\"} atan2 a{inst=\"2\"}"),
        vec![(
            "a{inst=\"2\", job=\"x\"}".into(),
            std::f64::consts::FRAC_PI_4
        )]
    );
    assert_eq!(
        q(&st, "a{inst=\"2\"} atan2 0")[0].0,
        "a{inst=\"2\", job=\"x\"}"
    );
}

#[test]
fn one_to_one_matching() {
    let st = store();
    assert_eq!(
        q(&st, "a / b"),
        vec![
            ("{inst=\"1\", job=\"x\"}".into(), 5.0),
            ("{inst=\"2\", job=\"x\"}".into(), 5.0),
        ]
    );
    // on() keeps only the listed labels.
    assert_eq!(
        q(&st, "a{job=\"y\"} - on(inst) b{job=\"z\"}"),
        vec![("{inst=\"1\"}".into(), 22.0)]
    );
    // ignoring() drops them.
    assert_eq!(
        q(&st, "a{job=\"y\"} - ignoring(job) b{job=\"z\"}"),
        vec![("{inst=\"1\"}".into(), 22.0)]
    );
    // Comparison between vectors keeps the left value and name.
    assert_eq!(
        q(&st, "a > b + 9"),
        vec![("a{inst=\"2\", job=\"x\"}".into(), 20.0)]
    );
    assert_eq!(q(&st, "a == bool b").len(), 2);
}

#[test]
fn many_to_one_needs_group_left() {
    let st = store();
    let e = error(&st, "a * on(job) info", 10);
    assert_error(
        &e,
        ErrorKind::Execution,
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
    );
    assert_eq!(
        q(&st, "a * on(job) group_left(team) info"),
        vec![
            ("{inst=\"1\", job=\"x\", team=\"red\"}".into(), 10.0),
            ("{inst=\"1\", job=\"y\", team=\"blue\"}".into(), 30.0),
            ("{inst=\"2\", job=\"x\", team=\"red\"}".into(), 20.0),
        ]
    );
    // group_right: the right side is the "many" side and keeps its labels.
    assert_eq!(
        q(&st, "info * on(job) group_right b"),
        vec![
            ("{inst=\"1\", job=\"x\"}".into(), 2.0),
            ("{inst=\"2\", job=\"x\"}".into(), 4.0),
        ]
    );
}

#[test]
fn duplicate_on_the_one_side_is_many_to_many() {
    let st = store();
    let e = error(&st, "info * on(job) group_left a", 10);
    assert_error(&e, ErrorKind::Execution, "found duplicate series for the match group {job=\"x\"} on the right hand-side of the operation");
    assert_error(
        &e,
        ErrorKind::Execution,
        "many-to-many matching not allowed: matching labels must be unique on one side",
    );
    let e = error(&st, "a * on(job) group_right info", 10);
    assert_error(&e, ErrorKind::Execution, "on the left hand-side");
}

#[test]
fn set_operators() {
    let st = store();
    assert_eq!(
        q(&st, "a and b"),
        vec![
            ("a{inst=\"1\", job=\"x\"}".into(), 10.0),
            ("a{inst=\"2\", job=\"x\"}".into(), 20.0),
        ]
    );
    assert_eq!(
        q(&st, "a unless b"),
        vec![("a{inst=\"1\", job=\"y\"}".into(), 30.0)]
    );
    assert_eq!(q(&st, "a or b").len(), 4);
    assert_eq!(
        q(&st, "a or b")[3],
        ("b{inst=\"1\", job=\"z\"}".into(), 8.0)
    );
    assert_eq!(q(&st, "a and on(job) info").len(), 3);
    assert_eq!(
        q(&st, "a unless on(inst) b{job=\"z\"}"),
        vec![("a{inst=\"2\", job=\"x\"}".into(), 20.0)]
    );
    assert_eq!(q(&st, "b and ignoring(job) a{job=\"y\"}").len(), 2);
}

#[test]
fn set_operators_per_step() {
    let st = vec![
        regular("p", &[("k", "1")], 0, 60, 15, |_| 1.0),
        regular("q", &[("k", "1")], 30, 60, 15, |_| 2.0),
    ];
    let r = range(&st, "p unless ignoring(__name__) q", 0, 60, 30);
    assert_eq!(r, vec![("p{k=\"1\"}".to_string(), vec![(0, 1.0)])]);
    let r = range(&st, "q or p", 0, 60, 30);
    assert_eq!(r[0].0, "p{k=\"1\"}");
    assert_eq!(r[0].1, vec![(0, 1.0)]);
    assert_eq!(r[1].1, vec![(30, 2.0), (60, 2.0)]);
}

#[test]
fn name_collisions_after_dropping_the_name_are_errors() {
    let st = vec![
        series("m1", &[("k", "1")], &[(0, 1.0)]),
        series("m2", &[("k", "1")], &[(0, 2.0)]),
    ];
    let e = error(&st, "{k=\"1\"} * 2", 10);
    assert_error(
        &e,
        ErrorKind::Execution,
        "vector cannot contain metrics with the same labelset",
    );
}
