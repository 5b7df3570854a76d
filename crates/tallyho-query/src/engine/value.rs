//! The evaluator's working values: every node is evaluated over a whole grid of steps at
//! once, so a series' labels (and everything derived from them: groups, match signatures)
//! are computed once per query instead of once per step.

use std::collections::HashMap;

use crate::error::QueryError;
use crate::types::{Labels, RangeSeries};

/// The evaluation times of one (sub)query: `start, start + step, ..., end` (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grid {
    /// First step.
    pub start: i64,
    /// Distance between steps (> 0).
    pub step: i64,
    /// Number of steps (>= 1).
    pub len: usize,
}

impl Grid {
    /// One step at `t`: an instant query.
    pub fn instant(t: i64) -> Self {
        Grid {
            start: t,
            step: 1,
            len: 1,
        }
    }

    /// The time of step `i`.
    pub fn ts(&self, i: usize) -> i64 {
        // `i < len` and `start + (len-1)*step` was checked to fit when the grid was made.
        self.start
            .saturating_add((i as i64).saturating_mul(self.step))
    }
}

/// One series of an instant-vector node: a value (or none) at every step of the grid.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    /// Labels (constant over the grid).
    pub labels: Labels,
    /// `vals[i]` is the value at step `i`.
    pub vals: Vec<Option<f64>>,
}

impl Series {
    /// A series without values.
    pub fn empty(labels: Labels, len: usize) -> Self {
        Series {
            labels,
            vals: vec![None; len],
        }
    }

    /// Whether the series has a value at any step.
    pub fn has_any(&self) -> bool {
        self.vals.iter().any(Option::is_some)
    }
}

/// What a node evaluates to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    /// A number at every step.
    Scalar(Vec<f64>),
    /// A string (the same at every step).
    Str(String),
    /// An instant vector over the grid.
    Vector(Vec<Series>),
    /// A range vector: only an instant query's result or a range function's argument.
    Matrix(Vec<RangeSeries>),
}

impl Val {
    /// Points this value holds (for the samples budget).
    pub fn points(&self) -> usize {
        match self {
            Val::Scalar(v) => v.len(),
            Val::Str(_) => 1,
            Val::Vector(s) => s.iter().map(|s| s.vals.len()).sum(),
            Val::Matrix(m) => m.iter().map(|s| s.samples.len()).sum(),
        }
    }

    /// Prometheus' name of the type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Scalar(_) => "scalar",
            Val::Str(_) => "string",
            Val::Vector(_) => "instant vector",
            Val::Matrix(_) => "range vector",
        }
    }
}

/// The error Prometheus gives when one step's vector holds two series with the same labels.
pub(crate) fn duplicate_labelset() -> QueryError {
    QueryError::execution("vector cannot contain metrics with the same labelset")
}

/// Merges series with equal labels (after an operation that changed labels) into one,
/// keeping first-appearance order. Two of them with a value at the same step is an error,
/// as in Prometheus.
pub(crate) fn merge_equal_labels(series: Vec<Series>) -> Result<Vec<Series>, QueryError> {
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    let mut out: Vec<Series> = Vec::with_capacity(series.len());
    for s in series {
        if !s.has_any() {
            continue;
        }
        match index.get(&s.labels) {
            Some(&i) => {
                let dst = &mut out[i];
                for (d, v) in dst.vals.iter_mut().zip(s.vals) {
                    if v.is_some() {
                        if d.is_some() {
                            return Err(duplicate_labelset());
                        }
                        *d = v;
                    }
                }
            }
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// Errors when two series have the same labels at all (range functions' rule).
pub(crate) fn check_unique_labels(series: &[Series]) -> Result<(), QueryError> {
    let mut seen = std::collections::HashSet::with_capacity(series.len());
    for s in series {
        if !seen.insert(&s.labels) {
            return Err(duplicate_labelset());
        }
    }
    Ok(())
}
