//! Functions of a range vector (`rate(x[5m])`, `max_over_time(expr[1h:1m])`, ...): the
//! argument's series are loaded once and a window slides along each of them; the pure
//! computation of one window lives in `crate::functions::range`.

use promql_parser::parser::Expr;

use super::eval::{unparen, Ctx};
use super::selector::RangeInput;
use super::value::{check_unique_labels, Grid, Series, Val};
use crate::error::QueryError;
use crate::functions::range::{self as rf, OverTime};
use crate::types::{Labels, Sample};

/// Whether `name` takes a range vector.
pub(crate) fn is_range_fn(name: &str) -> bool {
    matches!(
        name,
        "rate"
            | "increase"
            | "delta"
            | "irate"
            | "idelta"
            | "changes"
            | "resets"
            | "deriv"
            | "predict_linear"
            | "holt_winters"
            | "quantile_over_time"
            | "absent_over_time"
    ) || over_time_kind(name).is_some()
}

fn over_time_kind(name: &str) -> Option<OverTime> {
    Some(match name {
        "avg_over_time" => OverTime::Avg,
        "min_over_time" => OverTime::Min,
        "max_over_time" => OverTime::Max,
        "sum_over_time" => OverTime::Sum,
        "count_over_time" => OverTime::Count,
        "last_over_time" => OverTime::Last,
        "present_over_time" => OverTime::Present,
        "stddev_over_time" => OverTime::Stddev,
        "stdvar_over_time" => OverTime::Stdvar,
        _ => return None,
    })
}

/// The computation of one window: `(step, window, window start, window end)`.
type WindowFn<'f> = Box<dyn Fn(usize, &[Sample], i64, i64) -> Result<Option<f64>, QueryError> + 'f>;

impl Ctx<'_> {
    /// Loads the range-vector argument `expr` (a range selector or a subquery).
    pub fn load_range_arg(&mut self, expr: &Expr, grid: &Grid) -> Result<RangeInput, QueryError> {
        match unparen(expr) {
            Expr::MatrixSelector(ms) => self.load_range(ms, grid),
            Expr::Subquery(sq) => self.load_subquery(sq, grid),
            other => Err(QueryError::bad_data(format!(
                "expected type range vector in call, got {}",
                type_word(other)
            ))),
        }
    }

    /// Evaluates a function of a range vector.
    pub fn eval_range_fn(
        &mut self,
        name: &str,
        args: &[&Expr],
        grid: &Grid,
    ) -> Result<Val, QueryError> {
        let matrix_at = usize::from(name == "quantile_over_time");
        let arg = |i: usize| {
            args.get(i).copied().ok_or_else(|| {
                QueryError::bad_data(format!("missing argument {} of {name}", i + 1))
            })
        };
        let mut scalars: Vec<Vec<f64>> = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if i != matrix_at {
                scalars.push(self.eval_scalar(a, grid)?);
            }
        }
        let input = self.load_range_arg(arg(matrix_at)?, grid)?;
        if name == "absent_over_time" {
            return Ok(Val::Vector(absent_over_time(&input, arg(0)?, grid)));
        }
        let f = window_fn(name, &scalars, grid)?;
        let keep_name = name == "last_over_time";
        let mut out = Vec::with_capacity(input.series.len());
        for s in &input.series {
            self.check_deadline()?;
            let mut vals = vec![None; grid.len];
            let mut err = None;
            input.for_each_window(&s.samples, |i, w, start, end| {
                if err.is_some() {
                    return;
                }
                match f(i, w, start, end) {
                    Ok(v) => vals[i] = v,
                    Err(e) => err = Some(e),
                }
            });
            if let Some(e) = err {
                return Err(e);
            }
            let labels = if keep_name {
                s.labels.clone()
            } else {
                s.labels.without_name()
            };
            let series = Series { labels, vals };
            if series.has_any() {
                self.charge(grid.len)?;
                out.push(series);
            }
        }
        check_unique_labels(&out)?;
        Ok(Val::Vector(out))
    }
}

/// The per-window computation of `name`, with its scalar arguments (one value per step).
fn window_fn<'f>(
    name: &str,
    scalars: &'f [Vec<f64>],
    grid: &'f Grid,
) -> Result<WindowFn<'f>, QueryError> {
    let sc = move |k: usize, i: usize| {
        scalars
            .get(k)
            .and_then(|v| v.get(i))
            .copied()
            .unwrap_or(f64::NAN)
    };
    if let Some(kind) = over_time_kind(name) {
        return Ok(Box::new(move |_, w, _, _| Ok(rf::over_time(kind, w))));
    }
    Ok(match name {
        "rate" => Box::new(|_, w, s, e| Ok(rf::extrapolated_rate(w, s, e, true, true))),
        "increase" => Box::new(|_, w, s, e| Ok(rf::extrapolated_rate(w, s, e, true, false))),
        "delta" => Box::new(|_, w, s, e| Ok(rf::extrapolated_rate(w, s, e, false, false))),
        "irate" => Box::new(|_, w, _, _| Ok(rf::instant_delta(w, true))),
        "idelta" => Box::new(|_, w, _, _| Ok(rf::instant_delta(w, false))),
        "changes" => Box::new(|_, w, _, _| Ok(rf::changes(w))),
        "resets" => Box::new(|_, w, _, _| Ok(rf::resets(w))),
        "deriv" => Box::new(|_, w, _, _| Ok(rf::deriv(w))),
        "quantile_over_time" => Box::new(move |i, w, _, _| Ok(rf::quantile_over_time(sc(0, i), w))),
        "predict_linear" => {
            Box::new(move |i, w, _, _| Ok(rf::predict_linear(w, grid.ts(i), sc(0, i))))
        }
        "holt_winters" => Box::new(move |i, w, _, _| {
            let (sf, tf) = (sc(0, i), sc(1, i));
            if sf <= 0.0 || sf >= 1.0 {
                return Err(QueryError::execution(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
                )));
            }
            if tf <= 0.0 || tf >= 1.0 {
                return Err(QueryError::execution(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
                )));
            }
            Ok(rf::holt_winters(w, sf, tf))
        }),
        other => return Err(QueryError::unsupported(format!("function {other}"))),
    })
}

/// `absent_over_time`: 1 at the steps where no series had a sample in its window.
fn absent_over_time(input: &RangeInput, arg: &Expr, grid: &Grid) -> Vec<Series> {
    let mut covered = vec![false; grid.len];
    for s in &input.series {
        input.for_each_window(&s.samples, |i, _, _, _| covered[i] = true);
    }
    let vals: Vec<Option<f64>> = covered.iter().map(|&c| (!c).then_some(1.0)).collect();
    let labels = match unparen(arg) {
        Expr::MatrixSelector(ms) => absent_labels(&ms.vs),
        _ => Labels::default(),
    };
    let s = Series { labels, vals };
    if s.has_any() {
        vec![s]
    } else {
        Vec::new()
    }
}

/// The labels `absent` gives: those of the selector's equality matchers, except names
/// matched more than once or by another operator.
pub(crate) fn absent_labels(vs: &promql_parser::parser::VectorSelector) -> Labels {
    use promql_parser::label::MatchOp;
    let mut l = Labels::default();
    let mut drop = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == "__name__" {
            continue;
        }
        if matches!(m.op, MatchOp::Equal) && l.get(&m.name).is_empty() {
            l.set(&m.name, &m.value);
        } else {
            drop.push(m.name.clone());
        }
    }
    for name in drop {
        l.remove(&name);
    }
    l
}

fn type_word(e: &Expr) -> &'static str {
    match e.value_type() {
        promql_parser::parser::value::ValueType::Vector => "instant vector",
        promql_parser::parser::value::ValueType::Scalar => "scalar",
        promql_parser::parser::value::ValueType::Matrix => "range vector",
        promql_parser::parser::value::ValueType::String => "string",
    }
}
