//! Subqueries `expr[range:step]`: the inner expression is evaluated once, as a range query
//! over every inner step any outer step needs, and the result is read like a range selector.
//!
//! Inner steps are absolute multiples of the subquery step (Prometheus 2.42): the first is
//! the first multiple at or after `outer start - offset - range`, the last is at or before
//! `outer end - offset`. An omitted step is `EngineOptions::default_subquery_step`.

use promql_parser::parser::SubqueryExpr;

use super::eval::{too_many_samples, Ctx};
use super::selector::{duration_ms, RangeInput};
use super::value::{Grid, Val};
use crate::error::QueryError;
use crate::types::{Labels, RangeSeries, Sample};

impl Ctx<'_> {
    /// Evaluates the subquery for all steps of the outer `grid`.
    pub fn load_subquery(
        &mut self,
        sq: &SubqueryExpr,
        grid: &Grid,
    ) -> Result<RangeInput, QueryError> {
        let times = self.effective_times(&sq.at, &sq.offset, grid);
        let range = duration_ms(&sq.range);
        let step = match &sq.step {
            Some(d) => duration_ms(d),
            None => duration_ms(&self.opts.default_subquery_step),
        };
        if step <= 0 {
            return Err(QueryError::bad_data(
                "subquery step must be positive (got zero)",
            ));
        }
        let lo = times.iter().copied().min().unwrap_or(0);
        let hi = times.iter().copied().max().unwrap_or(0);
        let first = align_up(lo.saturating_sub(range), step);
        let series = if first > hi {
            Vec::new()
        } else {
            let steps = (hi.saturating_sub(first) / step) as u64 + 1;
            if steps > self.opts.max_samples as u64 {
                return Err(too_many_samples());
            }
            let inner = Grid {
                start: first,
                step,
                len: steps as usize,
            };
            let val = self.eval(&sq.expr, &inner)?;
            to_range_series(val, &inner)?
        };
        Ok(RangeInput {
            series,
            times,
            range,
        })
    }

    /// A subquery's points as an instant query's matrix result at `t`.
    pub fn subquery_raw(
        &mut self,
        sq: &SubqueryExpr,
        t: i64,
    ) -> Result<Vec<RangeSeries>, QueryError> {
        Ok(self.load_subquery(sq, &Grid::instant(t))?.series)
    }
}

/// The first multiple of `step` at or after `t`.
fn align_up(t: i64, step: i64) -> i64 {
    let down = t.div_euclid(step).saturating_mul(step);
    if down < t {
        down.saturating_add(step)
    } else {
        down
    }
}

/// An inner result as series of points at the inner steps.
fn to_range_series(val: Val, grid: &Grid) -> Result<Vec<RangeSeries>, QueryError> {
    let points = |vals: &[Option<f64>]| -> Vec<Sample> {
        vals.iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| Sample { t: grid.ts(i), v }))
            .collect()
    };
    match val {
        Val::Vector(series) => Ok(series
            .into_iter()
            .filter_map(|s| {
                let samples = points(&s.vals);
                (!samples.is_empty()).then_some(RangeSeries {
                    labels: s.labels,
                    samples,
                })
            })
            .collect()),
        Val::Scalar(v) => {
            let vals: Vec<Option<f64>> = v.into_iter().map(Some).collect();
            Ok(vec![RangeSeries {
                labels: Labels::default(),
                samples: points(&vals),
            }])
        }
        other => Err(QueryError::bad_data(format!(
            "subquery is only allowed on instant vector, got {} instead",
            other.type_name()
        ))),
    }
}
