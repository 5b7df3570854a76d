//! Function calls: range-vector functions go to `call_range`; the rest are evaluated here,
//! with the per-value computations from `crate::functions`.
//!
//! Like Prometheus 2.42, functions that change values drop `__name__`; `sort`,
//! `sort_desc`, `label_replace`, `label_join` and `last_over_time` keep it.

use promql_parser::parser::{Call, Expr};

use super::call_range::{absent_labels, is_range_fn};
use super::eval::{unparen, Ctx};
use super::value::{merge_equal_labels, Grid, Series, Val};
use crate::error::QueryError;
use crate::functions::{histogram, instant, labels as lf};
use crate::types::Labels;

impl Ctx<'_> {
    /// Evaluates a function call.
    pub fn eval_call(&mut self, c: &Call, grid: &Grid) -> Result<Val, QueryError> {
        let name = c.func.name;
        let args: Vec<&Expr> = c.args.args.iter().map(|a| unparen(a)).collect();
        if is_range_fn(name) {
            return self.eval_range_fn(name, &args, grid);
        }
        let times = || (0..grid.len).map(|i| grid.ts(i) as f64 / 1000.0);
        match name {
            "time" => Ok(Val::Scalar(times().collect())),
            "pi" => Ok(Val::Scalar(vec![std::f64::consts::PI; grid.len])),
            "vector" => {
                let v = self.eval_scalar(arg(&args, 0, name)?, grid)?;
                let s = Series {
                    labels: Labels::default(),
                    vals: v.into_iter().map(Some).collect(),
                };
                Ok(Val::Vector(vec![s]))
            }
            "scalar" => {
                let v = self.eval_vector(arg(&args, 0, name)?, grid)?;
                Ok(Val::Scalar(to_scalar(&v, grid)))
            }
            "timestamp" => self.eval_timestamp(arg(&args, 0, name)?, grid),
            "absent" => {
                let a = arg(&args, 0, name)?;
                let v = self.eval_vector(a, grid)?;
                let labels = match a {
                    Expr::VectorSelector(vs) => absent_labels(vs),
                    _ => Labels::default(),
                };
                let vals = (0..grid.len)
                    .map(|i| (!v.iter().any(|s| s.vals[i].is_some())).then_some(1.0))
                    .collect();
                Ok(Val::Vector(
                    vec![Series { labels, vals }]
                        .into_iter()
                        .filter(Series::has_any)
                        .collect(),
                ))
            }
            "sort" | "sort_desc" => {
                let mut v = self.eval_vector(arg(&args, 0, name)?, grid)?;
                if grid.len == 1 {
                    sort_by_value(&mut v, name == "sort_desc");
                }
                Ok(Val::Vector(v))
            }
            "label_replace" | "label_join" => self.eval_label_fn(name, &args, grid),
            "histogram_quantile" => self.eval_histogram_quantile(&args, grid),
            "round" | "clamp" | "clamp_min" | "clamp_max" => {
                self.eval_clamp_round(name, &args, grid)
            }
            _ => {
                if let Some(f) = instant::date_fn(name) {
                    if args.is_empty() {
                        let vals = times().map(|t| Some(f(t))).collect();
                        return Ok(Val::Vector(vec![Series {
                            labels: Labels::default(),
                            vals,
                        }]));
                    }
                    return self.map_values(args[0], grid, |_, v| Some(f(v)));
                }
                if let Some(f) = instant::math_fn(name) {
                    return self.map_values(arg(&args, 0, name)?, grid, |_, v| Some(f(v)));
                }
                Err(QueryError::unsupported(format!("function {name}")))
            }
        }
    }

    /// Evaluates the vector `expr` and maps every value with `f(step, value)` (none
    /// removes it), dropping `__name__`.
    fn map_values(
        &mut self,
        expr: &Expr,
        grid: &Grid,
        f: impl Fn(usize, f64) -> Option<f64>,
    ) -> Result<Val, QueryError> {
        let mut v = self.eval_vector(expr, grid)?;
        for s in &mut v {
            s.labels.remove("__name__");
            for (i, slot) in s.vals.iter_mut().enumerate() {
                if let Some(x) = *slot {
                    *slot = f(i, x);
                }
            }
        }
        Ok(Val::Vector(merge_equal_labels(v)?))
    }

    fn eval_timestamp(&mut self, a: &Expr, grid: &Grid) -> Result<Val, QueryError> {
        // Of a selector: the sample's own time; of anything else: the evaluation time.
        let v = match a {
            Expr::VectorSelector(vs) => self.eval_vector_selector(vs, grid, true)?,
            other => {
                let mut v = self.eval_vector(other, grid)?;
                for s in &mut v {
                    for (i, slot) in s.vals.iter_mut().enumerate() {
                        if slot.is_some() {
                            *slot = Some(grid.ts(i) as f64 / 1000.0);
                        }
                    }
                }
                Val::Vector(v)
            }
        };
        let Val::Vector(mut v) = v else {
            return Err(QueryError::bad_data("timestamp() needs an instant vector"));
        };
        for s in &mut v {
            s.labels.remove("__name__");
        }
        Ok(Val::Vector(merge_equal_labels(v)?))
    }

    fn eval_clamp_round(
        &mut self,
        name: &str,
        args: &[&Expr],
        grid: &Grid,
    ) -> Result<Val, QueryError> {
        let a0 = arg(args, 0, name)?;
        let mut sc = Vec::new();
        for a in args.iter().skip(1) {
            sc.push(self.eval_scalar(a, grid)?);
        }
        let p = |k: usize, i: usize| sc.get(k).and_then(|v| v.get(i)).copied();
        match name {
            "round" => self.map_values(a0, grid, |i, v| {
                Some(instant::round(v, p(0, i).unwrap_or(1.0)))
            }),
            "clamp" => self.map_values(a0, grid, |i, v| {
                let (lo, hi) = (p(0, i)?, p(1, i)?);
                (hi >= lo || lo.is_nan() || hi.is_nan()).then(|| instant::clamp(v, lo, hi))
            }),
            "clamp_min" => self.map_values(a0, grid, |i, v| {
                Some(instant::clamp(v, p(0, i)?, f64::INFINITY))
            }),
            _ => self.map_values(a0, grid, |i, v| {
                Some(instant::clamp(v, f64::NEG_INFINITY, p(0, i)?))
            }),
        }
    }

    fn eval_label_fn(
        &mut self,
        name: &str,
        args: &[&Expr],
        grid: &Grid,
    ) -> Result<Val, QueryError> {
        let v = self.eval_vector(arg(args, 0, name)?, grid)?;
        let mut strs = Vec::new();
        for a in args.iter().skip(1) {
            strs.push(self.eval_string(a, grid)?);
        }
        let relabel = |l: &Labels| -> Result<Labels, QueryError> {
            if name == "label_replace" {
                match strs.as_slice() {
                    [dst, repl, src, re] => lf::label_replace(l, dst, repl, src, re),
                    _ => Err(QueryError::bad_data("label_replace needs 5 arguments")),
                }
            } else {
                match strs.split_first() {
                    Some((dst, rest)) if !rest.is_empty() => {
                        lf::label_join(l, dst, &rest[0], &rest[1..])
                    }
                    _ => Err(QueryError::bad_data(
                        "label_join needs at least 3 arguments",
                    )),
                }
            }
        };
        // Arguments are checked even when the vector is empty, as in Prometheus.
        relabel(&Labels::default())?;
        let mut out = Vec::with_capacity(v.len());
        for mut s in v {
            s.labels = relabel(&s.labels)?;
            out.push(s);
        }
        Ok(Val::Vector(merge_equal_labels(out)?))
    }

    fn eval_histogram_quantile(&mut self, args: &[&Expr], grid: &Grid) -> Result<Val, QueryError> {
        let q = self.eval_scalar(arg(args, 0, "histogram_quantile")?, grid)?;
        let v = self.eval_vector(arg(args, 1, "histogram_quantile")?, grid)?;
        // Buckets group by all labels but `le`; the result also drops the name.
        let mut index: std::collections::HashMap<Labels, usize> = std::collections::HashMap::new();
        let mut groups: Vec<(Labels, Vec<(f64, usize)>)> = Vec::new();
        for (si, s) in v.iter().enumerate() {
            let Some(le) = parse_go_float(s.labels.get("le")) else {
                continue;
            };
            let mut key = s.labels.clone();
            key.remove("le");
            let g = *index.entry(key.clone()).or_insert_with(|| {
                groups.push((key.without_name(), Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push((le, si));
        }
        let mut out = Vec::with_capacity(groups.len());
        let mut buckets = Vec::new();
        for (labels, members) in groups {
            self.check_deadline()?;
            let mut vals = vec![None; grid.len];
            for (i, slot) in vals.iter_mut().enumerate() {
                buckets.clear();
                buckets.extend(
                    members
                        .iter()
                        .filter_map(|&(le, si)| v[si].vals[i].map(|c| (le, c))),
                );
                if !buckets.is_empty() {
                    *slot = Some(histogram::histogram_quantile(q[i], &mut buckets));
                }
            }
            out.push(Series { labels, vals });
        }
        Ok(Val::Vector(merge_equal_labels(out)?))
    }
}

/// `scalar()`: the value of the only element at each step, NaN unless there is exactly one.
fn to_scalar(v: &[Series], grid: &Grid) -> Vec<f64> {
    (0..grid.len)
        .map(|i| {
            let mut present = v.iter().filter_map(|s| s.vals[i]);
            match (present.next(), present.next()) {
                (Some(x), None) => x,
                _ => f64::NAN,
            }
        })
        .collect()
}

/// The `i`th argument, or an error naming the function.
fn arg<'e>(args: &[&'e Expr], i: usize, name: &str) -> Result<&'e Expr, QueryError> {
    args.get(i)
        .copied()
        .ok_or_else(|| QueryError::bad_data(format!("missing argument {} of {name}", i + 1)))
}

/// A bucket bound as Go's `strconv.ParseFloat` reads it (`+Inf`, `1e3`, ...).
fn parse_go_float(s: &str) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    s.parse::<f64>().ok()
}

/// `sort`/`sort_desc` of an instant result: by value, NaN last, ties in input order.
fn sort_by_value(v: &mut [Series], desc: bool) {
    v.sort_by(|a, b| {
        let (x, y) = (a.vals[0].unwrap_or(f64::NAN), b.vals[0].unwrap_or(f64::NAN));
        match (x.is_nan(), y.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ if desc => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
            _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        }
    });
}
