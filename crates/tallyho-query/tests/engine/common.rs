//! Fixtures and helpers for the engine tests.
#![allow(dead_code)]

use tallyho_query::{
    Engine, EngineOptions, ErrorKind, Labels, QueryError, RangeSeries, Sample, Value, STALE_NAN,
};

/// Seconds to ms.
pub fn s(secs: i64) -> i64 {
    secs * 1000
}

/// Labels from `name{k="v",...}`-style pairs; `name` may be empty.
pub fn labels(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut v: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if !name.is_empty() {
        v.push(("__name__".to_string(), name.to_string()));
    }
    Labels::new(v)
}

/// A series with samples `(seconds, value)`.
pub fn series(name: &str, pairs: &[(&str, &str)], samples: &[(i64, f64)]) -> RangeSeries {
    RangeSeries {
        labels: labels(name, pairs),
        samples: samples
            .iter()
            .map(|&(t, v)| Sample { t: s(t), v })
            .collect(),
    }
}

/// A series with a sample every `every` seconds from `from` to `to`, value `f(t_secs)`.
pub fn regular(
    name: &str,
    pairs: &[(&str, &str)],
    from: i64,
    to: i64,
    every: i64,
    f: impl Fn(i64) -> f64,
) -> RangeSeries {
    let samples: Vec<(i64, f64)> = (0..)
        .map(|i| from + i * every)
        .take_while(|&t| t <= to)
        .map(|t| (t, f(t)))
        .collect();
    series(name, pairs, &samples)
}

/// The staleness marker as a value.
pub fn stale() -> f64 {
    f64::from_bits(STALE_NAN)
}

/// An engine with default options.
pub fn engine() -> Engine {
    Engine::new(EngineOptions::default())
}

/// An instant query's vector as `(labels as text, value)`, sorted by labels.
pub fn vector(store: &Vec<RangeSeries>, q: &str, at_secs: i64) -> Vec<(String, f64)> {
    match engine().instant(store, q, s(at_secs)) {
        Ok(Value::Vector(v)) => {
            let mut out: Vec<(String, f64)> =
                v.into_iter().map(|x| (x.labels.to_string(), x.v)).collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        }
        other => panic!("{q}: expected a vector, got {other:?}"),
    }
}

/// An instant query's vector in result order.
pub fn vector_ordered(store: &Vec<RangeSeries>, q: &str, at_secs: i64) -> Vec<(String, f64)> {
    match engine().instant(store, q, s(at_secs)) {
        Ok(Value::Vector(v)) => v.into_iter().map(|x| (x.labels.to_string(), x.v)).collect(),
        other => panic!("{q}: expected a vector, got {other:?}"),
    }
}

/// An instant query's scalar.
pub fn scalar(store: &Vec<RangeSeries>, q: &str, at_secs: i64) -> f64 {
    match engine().instant(store, q, s(at_secs)) {
        Ok(Value::Scalar { v, .. }) => v,
        other => panic!("{q}: expected a scalar, got {other:?}"),
    }
}

/// A range query as `(labels as text, [(seconds, value)])`.
pub fn range(
    store: &Vec<RangeSeries>,
    q: &str,
    start: i64,
    end: i64,
    step: i64,
) -> Vec<(String, Vec<(i64, f64)>)> {
    match engine().range(store, q, s(start), s(end), s(step)) {
        Ok(m) => m
            .into_iter()
            .map(|r| {
                (
                    r.labels.to_string(),
                    r.samples.iter().map(|p| (p.t / 1000, p.v)).collect(),
                )
            })
            .collect(),
        Err(e) => panic!("{q}: {e}"),
    }
}

/// The error of an instant query.
pub fn error(store: &Vec<RangeSeries>, q: &str, at_secs: i64) -> QueryError {
    match engine().instant(store, q, s(at_secs)) {
        Err(e) => e,
        Ok(v) => panic!("{q}: expected an error, got {v:?}"),
    }
}

/// Asserts an error's kind and that its message contains `needle`.
pub fn assert_error(e: &QueryError, kind: ErrorKind, needle: &str) {
    assert_eq!(e.kind, kind, "{e}");
    assert!(
        e.message.contains(needle),
        "{:?} lacks {needle:?}",
        e.message
    );
}

/// Float comparison with a relative tolerance.
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}
