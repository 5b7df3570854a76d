//! Structured PromQL: queries built from the grammar (selectors, ranges, subqueries,
//! functions, aggregations, operators with matching, offsets, `@`), well typed or not,
//! through parse and evaluate over a small in-memory storage. Each either returns a result
//! that keeps PromQL's invariants (no two series of a vector share a label set, range
//! points inside the asked window and in order) or an error with a kind and a message;
//! none panics. `corpus/promql.txt` holds queries that once mattered and is replayed on
//! every run.

use crate::common::*;
use proptest::prelude::*;
use tallyho_query::{QueryError, RangeSeries, Value};

fn store() -> Vec<RangeSeries> {
    let mut st: Vec<RangeSeries> = (0..4)
        .map(|i| {
            regular(
                "m",
                &[("i", &i.to_string()), ("job", ["a", "b"][i % 2])],
                0,
                600,
                15,
                move |t| (t * (i as i64 + 1)) as f64,
            )
        })
        .collect();
    for le in ["0.1", "1", "+Inf"] {
        st.push(regular("h_bucket", &[("le", le)], 0, 600, 30, |t| t as f64));
    }
    st.push(series(
        "odd",
        &[("i", "x")],
        &[
            (0, f64::NAN),
            (30, f64::INFINITY),
            (60, -0.0),
            (90, stale()),
            (120, 1e308),
        ],
    ));
    st
}

fn selector() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("m".to_owned()),
        Just("m{i=\"1\"}".to_owned()),
        Just("m{job=~\"a|b\",i!=\"0\"}".to_owned()),
        Just("{__name__=~\"m|odd\"}".to_owned()),
        Just("h_bucket".to_owned()),
        Just("odd".to_owned()),
        Just("absent_metric".to_owned()),
    ]
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        (-5i32..10).prop_map(|n| n.to_string()),
        Just("0.5".to_owned()),
        Just("NaN".to_owned()),
        Just("Inf".to_owned()),
        Just("-Inf".to_owned()),
        Just("1e308".to_owned()),
        Just("0x10".to_owned()),
    ]
}

fn duration() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("1m"),
        Just("5m"),
        Just("30s"),
        Just("1h"),
        Just("100y")
    ]
}

/// An expression of any type, `depth` levels of nesting at most.
fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => selector(),
        2 => number(),
        1 => Just("time()".to_owned()),
        1 => Just("vector(1)".to_owned()),
        1 => Just("\"text\"".to_owned()),
    ];
    leaf.prop_recursive(4, 48, 3, |inner| {
        let range = (inner.clone(), duration()).prop_map(|(e, d)| format!("({e})[{d}]"));
        let sel_range = (selector(), duration()).prop_map(|(s, d)| format!("{s}[{d}]"));
        let any_range = prop_oneof![sel_range, range];
        prop_oneof![
            // Range functions over selectors or (ill-typed) expressions.
            (
                prop::sample::select(vec![
                    "rate",
                    "irate",
                    "increase",
                    "delta",
                    "deriv",
                    "avg_over_time",
                    "max_over_time",
                    "count_over_time",
                    "stddev_over_time",
                    "changes",
                    "resets",
                    "last_over_time",
                    "absent_over_time",
                ]),
                any_range
            )
                .prop_map(|(f, r)| format!("{f}({r})")),
            (
                inner.clone(),
                duration(),
                prop::sample::select(vec!["", "1m", "15s"])
            )
                .prop_map(|(e, d, step)| format!("({e})[{d}:{step}]")),
            // Instant functions.
            (
                prop::sample::select(vec![
                    "abs",
                    "ceil",
                    "floor",
                    "exp",
                    "ln",
                    "sqrt",
                    "sgn",
                    "round",
                    "scalar",
                    "timestamp",
                    "absent",
                    "sort",
                    "sort_desc",
                    "hour",
                    "month",
                ]),
                inner.clone()
            )
                .prop_map(|(f, e)| format!("{f}({e})")),
            (inner.clone(), number(), number())
                .prop_map(|(e, a, b)| format!("clamp({e}, {a}, {b})")),
            (number(), inner.clone()).prop_map(|(q, e)| format!("histogram_quantile({q}, {e})")),
            inner.clone().prop_map(|e| {
                format!("label_replace({e}, \"dst\", \"$1-x\", \"i\", \"(.*)\")")
            }),
            inner
                .clone()
                .prop_map(|e| format!("label_join({e}, \"j\", \",\", \"i\", \"job\")")),
            // Aggregations.
            (
                prop::sample::select(vec![
                    "sum", "avg", "min", "max", "count", "stddev", "stdvar", "group",
                ]),
                prop::sample::select(vec!["", " by (job)", " without (i)", " by ()"]),
                inner.clone()
            )
                .prop_map(|(a, g, e)| format!("{a}{g} ({e})")),
            (
                prop::sample::select(vec!["topk", "bottomk", "quantile", "limitk"]),
                number(),
                inner.clone()
            )
                .prop_map(|(a, k, e)| format!("{a}({k}, {e})")),
            inner
                .clone()
                .prop_map(|e| format!("count_values(\"v\", {e})")),
            // Binary operators, with and without matching.
            (
                inner.clone(),
                prop::sample::select(vec![
                    "+", "-", "*", "/", "%", "^", "==", "!=", "> bool", "<=", "and", "or",
                    "unless", "atan2",
                ]),
                prop::sample::select(vec![
                    "",
                    " on (i)",
                    " ignoring (job)",
                    " on (job) group_left",
                    " on (i) group_right (job)",
                ]),
                inner.clone()
            )
                .prop_map(|(a, op, m, b)| format!("({a}) {op}{m} ({b})")),
            inner.clone().prop_map(|e| format!("-({e})")),
            // Modifiers.
            (selector(), duration()).prop_map(|(s, d)| format!("{s} offset {d}")),
            (
                selector(),
                prop::sample::select(vec!["0", "300", "start()", "end()", "-1e12"])
            )
                .prop_map(|(s, at)| format!("{s} @ {at}")),
        ]
    })
}

fn check_value(q: &str, v: &Value) -> Result<(), TestCaseError> {
    if let Value::Vector(samples) = v {
        let mut seen = std::collections::HashSet::new();
        for s in samples {
            prop_assert!(
                seen.insert(s.labels.to_string()),
                "{q}: label set {} twice in one vector",
                s.labels
            );
        }
    }
    Ok(())
}

fn check_error(q: &str, e: &QueryError) -> Result<(), TestCaseError> {
    prop_assert!(!e.message.trim().is_empty(), "{q}: error without a message");
    prop_assert!(!e.kind.error_type().is_empty(), "{q}: error without a type");
    Ok(())
}

/// Evaluates `q` as an instant and as a range query and checks whatever comes back.
fn evaluate(st: &Vec<RangeSeries>, q: &str) -> Result<(), TestCaseError> {
    match engine().instant(st, q, s(300)) {
        Ok(v) => check_value(q, &v)?,
        Err(e) => check_error(q, &e)?,
    }
    let (start, end, step) = (s(0), s(600), s(60));
    match engine().range(st, q, start, end, step) {
        Ok(matrix) => {
            let mut seen = std::collections::HashSet::new();
            for r in &matrix {
                prop_assert!(seen.insert(r.labels.to_string()), "{q}: {} twice", r.labels);
                prop_assert!(
                    r.samples.windows(2).all(|w| w[0].t < w[1].t),
                    "{q}: points out of order"
                );
                prop_assert!(
                    r.samples
                        .iter()
                        .all(|p| p.t >= start && p.t <= end && (p.t - start) % step == 0),
                    "{q}: a point off the grid"
                );
            }
        }
        Err(e) => check_error(q, &e)?,
    }
    Ok(())
}

#[test]
fn promql_corpus_is_handled() {
    let st = store();
    let queries: Vec<&str> = include_str!("corpus/promql.txt")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(queries.len() >= 20);
    for q in queries {
        evaluate(&st, q).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn structured_queries_return_a_result_or_an_error(q in expr()) {
        let st = store();
        evaluate(&st, &q)?;
    }

    #[test]
    fn structured_queries_with_a_byte_changed_never_panic(
        q in expr(),
        at in any::<prop::sample::Index>(),
        c in prop::sample::select(vec!['(', ')', '[', ']', '{', '}', '"', ',', ':', ' ', '@', '\\', 'é']),
    ) {
        let st = store();
        let mut chars: Vec<char> = q.chars().collect();
        let i = at.index(chars.len());
        chars[i] = c;
        let q: String = chars.into_iter().collect();
        evaluate(&st, &q)?;
    }
}

/// The generator must reach evaluation, not only the parser's errors: a good share of its
/// queries succeed, and each error kind seen carries a message (checked above).
#[test]
fn structured_queries_mostly_evaluate() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let st = store();
    let mut runner = TestRunner::deterministic();
    let strategy = expr();
    let (mut ok, mut parsed, n) = (0, 0, 300);
    for _ in 0..n {
        let q = strategy.new_tree(&mut runner).unwrap().current();
        parsed += usize::from(tallyho_query::parse(&q).is_ok());
        ok += usize::from(engine().instant(&st, &q, s(300)).is_ok());
    }
    eprintln!("{parsed} of {n} parsed, {ok} evaluated");
    assert!(parsed * 3 > n, "only {parsed} of {n} parsed");
    assert!(ok * 4 > n, "only {ok} of {n} evaluated");
}
