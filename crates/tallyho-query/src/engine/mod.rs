//! The evaluator: PromQL AST → values, with Prometheus 2.42's semantics.
//!
//! Every node is evaluated over the whole grid of steps at once (`value::Grid`): a selector
//! reads its series from the storage once for `[first step - offset - range, last step]`
//! and slides along them; groups and match signatures are computed once per series.
//!
//! Output order: a range query's series are sorted by labels. An instant query's vector
//! keeps evaluation order (storage order for selectors, first appearance for groups),
//! except `sort`, `sort_desc`, `topk` and `bottomk`, which order by value.

mod aggregate;
mod binary;
mod call;
mod call_range;
mod eval;
mod selector;
mod strings;
mod subquery;
mod value;

use std::time::{Duration, Instant};

use promql_parser::parser::value::ValueType;
use promql_parser::parser::Expr;

use crate::error::{ErrorKind, QueryError};
use crate::storage::Storage;
use crate::types::{InstantSample, RangeSeries, Sample, Value};
use eval::Ctx;
use value::{Grid, Val};

/// Budgets and semantics of evaluation.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (Prometheus: 5 minutes).
    pub lookback: Duration,
    /// Most points (steps) a range query may ask for (Prometheus: 11,000).
    pub max_points: usize,
    /// Most samples a query may hold in memory at once (Prometheus: 50 million). Counted
    /// as samples read from the storage plus points of every intermediate result alive.
    pub max_samples: usize,
    /// Wall-clock limit of one query (Prometheus: 2 minutes).
    pub timeout: Duration,
    /// Step of a subquery written without one, `x[1h:]` (Prometheus: the global
    /// evaluation interval, 1 minute by default).
    pub default_subquery_step: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback: Duration::from_secs(300),
            max_points: 11_000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            default_subquery_step: Duration::from_secs(60),
        }
    }
}

/// What a query cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Samples the storage handed over.
    pub samples_read: usize,
    /// The most samples and points held at once.
    pub peak_samples: usize,
}

/// Evaluates PromQL over a [`Storage`].
#[derive(Debug, Clone, Default)]
pub struct Engine {
    opts: EngineOptions,
}

/// Parses a PromQL expression.
///
/// # Errors
/// [`QueryError`] of kind `BadData` with the parser's message.
pub fn parse(query: &str) -> Result<Expr, QueryError> {
    // The parser is a dependency: a panic inside it must not take the caller down.
    let parsed = std::panic::catch_unwind(|| promql_parser::parser::parse(query))
        .map_err(|_| QueryError::bad_data("parse error: the parser failed on this query"))?;
    parsed.map_err(|e| QueryError::bad_data(format!("parse error: {e}")))
}

impl Engine {
    /// An engine with these budgets.
    pub fn new(opts: EngineOptions) -> Self {
        Engine { opts }
    }

    /// The budgets.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Evaluates `query` at `at` (ms since the epoch).
    ///
    /// # Errors
    /// [`QueryError`] naming the parse error, unsupported construct or exhausted budget.
    pub fn instant(
        &self,
        storage: &dyn Storage,
        query: &str,
        at: i64,
    ) -> Result<Value, QueryError> {
        let expr = parse(query)?;
        self.instant_expr(storage, &expr, at).map(|(v, _)| v)
    }

    /// Evaluates a parsed expression at `at` (ms), with what it cost.
    ///
    /// # Errors
    /// As [`instant`](Self::instant).
    pub fn instant_expr(
        &self,
        storage: &dyn Storage,
        expr: &Expr,
        at: i64,
    ) -> Result<(Value, QueryStats), QueryError> {
        let mut ctx = Ctx::new(storage, &self.opts, at, at, Instant::now());
        let val = ctx.eval(expr, &Grid::instant(at))?;
        let stats = QueryStats {
            samples_read: ctx.samples_read,
            peak_samples: ctx.peak,
        };
        let value = match val {
            Val::Scalar(v) => Value::Scalar {
                t: at,
                v: v.first().copied().unwrap_or(f64::NAN),
            },
            Val::Str(s) => Value::String { t: at, s },
            Val::Vector(series) => Value::Vector(
                series
                    .into_iter()
                    .filter_map(|s| {
                        s.vals.first().copied().flatten().map(|v| InstantSample {
                            labels: s.labels,
                            t: at,
                            v,
                        })
                    })
                    .collect(),
            ),
            Val::Matrix(m) => Value::Matrix(m),
        };
        Ok((value, stats))
    }

    /// Evaluates `query` at every `step` from `start` to `end` (ms, inclusive), giving one
    /// series per distinct label set (scalars become one series without labels), sorted
    /// by labels.
    ///
    /// # Errors
    /// As [`instant`](Self::instant); also when `step` is not positive, `end < start`, or
    /// the query would have more than `max_points` steps.
    pub fn range(
        &self,
        storage: &dyn Storage,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Vec<RangeSeries>, QueryError> {
        let grid = self.range_grid(start, end, step)?;
        let expr = parse(query)?;
        self.range_expr_on(storage, &expr, grid, end)
            .map(|(v, _)| v)
    }

    /// Evaluates a parsed expression as a range query, with what it cost.
    ///
    /// # Errors
    /// As [`range`](Self::range).
    pub fn range_expr(
        &self,
        storage: &dyn Storage,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<(Vec<RangeSeries>, QueryStats), QueryError> {
        let grid = self.range_grid(start, end, step)?;
        // `@ end()` means the `end` asked for, which a step that does not divide the span
        // leaves after the last step.
        self.range_expr_on(storage, expr, grid, end)
    }

    fn range_grid(&self, start: i64, end: i64, step: i64) -> Result<Grid, QueryError> {
        if step <= 0 {
            return Err(QueryError::bad_data(
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        if end < start {
            return Err(QueryError::bad_data(
                "end timestamp must not be before start time",
            ));
        }
        let steps = (i128::from(end) - i128::from(start)) / i128::from(step);
        if steps > self.opts.max_points as i128 {
            return Err(QueryError::bad_data(format!(
                "exceeded maximum resolution of {} points per timeseries. Try decreasing the query resolution (?step=XX)",
                thousands(self.opts.max_points)
            )));
        }
        Ok(Grid {
            start,
            step,
            // steps <= max_points, so this fits.
            len: usize::try_from(steps).unwrap_or(0) + 1,
        })
    }

    fn range_expr_on(
        &self,
        storage: &dyn Storage,
        expr: &Expr,
        grid: Grid,
        end: i64,
    ) -> Result<(Vec<RangeSeries>, QueryStats), QueryError> {
        match expr.value_type() {
            ValueType::Scalar | ValueType::Vector => {}
            other => {
                let word = if other == ValueType::Matrix {
                    "range vector"
                } else {
                    "string"
                };
                return Err(QueryError::bad_data(format!(
                    "invalid expression type \"{word}\" for range query, must be Scalar or instant Vector"
                )));
            }
        }
        let mut ctx = Ctx::new(storage, &self.opts, grid.start, end, Instant::now());
        let val = ctx.eval(expr, &grid)?;
        let stats = QueryStats {
            samples_read: ctx.samples_read,
            peak_samples: ctx.peak,
        };
        let points = |vals: &[Option<f64>]| -> Vec<Sample> {
            vals.iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| Sample { t: grid.ts(i), v }))
                .collect()
        };
        let mut out: Vec<RangeSeries> = match val {
            Val::Scalar(v) => {
                let vals: Vec<Option<f64>> = v.into_iter().map(Some).collect();
                vec![RangeSeries {
                    labels: crate::types::Labels::default(),
                    samples: points(&vals),
                }]
            }
            Val::Vector(series) => series
                .into_iter()
                .map(|s| RangeSeries {
                    samples: points(&s.vals),
                    labels: s.labels,
                })
                .filter(|s| !s.samples.is_empty())
                .collect(),
            other => {
                return Err(QueryError::new(
                    ErrorKind::BadData,
                    format!(
                        "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                        other.type_name()
                    ),
                ))
            }
        };
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok((out, stats))
    }
}

/// `11000` as `11,000`.
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
