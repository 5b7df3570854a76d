//! Aggregations: `sum`, `avg`, `min`, `max`, `count`, `group`, `stddev`, `stdvar`,
//! `quantile`, `topk`, `bottomk`, `count_values`, with `by`/`without`.
//!
//! Groups are computed once per input series; values are then folded step by step with
//! Prometheus 2.42's arithmetic (plain sum, incremental mean, Welford variance).

use std::collections::HashMap;

use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::eval::Ctx;
use super::value::{Grid, Series, Val};
use crate::error::QueryError;
use crate::functions::histogram::quantile;
use crate::types::Labels;

/// The labels a series is grouped by: `by` keeps the listed labels, `without` drops them
/// and the metric name, no modifier groups everything together.
pub(crate) fn group_key(labels: &Labels, modifier: &Option<LabelModifier>) -> Labels {
    match modifier {
        None => Labels::default(),
        Some(LabelModifier::Include(keep)) => Labels::from_sorted(
            labels
                .iter()
                .filter(|(k, _)| keep.labels.iter().any(|l| l == k))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        Some(LabelModifier::Exclude(drop)) => Labels::from_sorted(
            labels
                .iter()
                .filter(|(k, _)| *k != "__name__" && !drop.labels.iter().any(|l| l == k))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
    }
}

/// Whether `name` is a valid Prometheus label name.
pub(crate) fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Running state of one group at one step.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    n: u32,
    a: f64,
    b: f64,
}

impl Acc {
    fn add(&mut self, op: &str, v: f64) {
        if self.n == 0 {
            *self = Acc { n: 1, a: v, b: 0.0 };
            return;
        }
        self.n += 1;
        let n = f64::from(self.n);
        match op {
            "sum" => self.a += v,
            "min" if self.a > v || self.a.is_nan() => self.a = v,
            "max" if self.a < v || self.a.is_nan() => self.a = v,
            "avg" => {
                if self.a.is_infinite() {
                    if v.is_infinite() && (self.a > 0.0) == (v > 0.0) {
                        return;
                    }
                    if !v.is_infinite() && !v.is_nan() {
                        return;
                    }
                }
                self.a += v / n - self.a / n;
            }
            "stddev" | "stdvar" => {
                let delta = v - self.a;
                self.a += delta / n;
                self.b += delta * (v - self.a);
            }
            _ => {}
        }
    }

    fn result(&self, op: &str) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        Some(match op {
            "count" => f64::from(self.n),
            "group" => 1.0,
            "stdvar" => self.b / f64::from(self.n),
            "stddev" => (self.b / f64::from(self.n)).sqrt(),
            _ => self.a,
        })
    }
}

impl Ctx<'_> {
    /// Evaluates an aggregation.
    pub fn eval_aggregate(&mut self, a: &AggregateExpr, grid: &Grid) -> Result<Val, QueryError> {
        let op = a.op.to_string();
        let op = op.as_str();
        let param = match (&a.param, op) {
            (Some(p), "topk" | "bottomk" | "quantile") => Param::Num(self.eval_scalar(p, grid)?),
            (Some(p), "count_values") => {
                let label = self.eval_string(p, grid)?;
                if !valid_label_name(&label) {
                    return Err(QueryError::execution(format!(
                        "invalid label name {label:?}"
                    )));
                }
                Param::Label(label)
            }
            _ => Param::None,
        };
        let input = self.eval_vector(&a.expr, grid)?;
        let out = match (op, param) {
            ("count_values", Param::Label(l)) => count_values(self, &input, &a.modifier, &l, grid)?,
            ("topk" | "bottomk", Param::Num(k)) => {
                top_bottom(input, &a.modifier, &k, op == "topk", grid)
            }
            (_, param) => {
                let (keys, members) = groups(&input, &a.modifier);
                let mut out = Vec::with_capacity(keys.len());
                for (key, idxs) in keys.into_iter().zip(members) {
                    self.check_deadline()?;
                    let vals = match &param {
                        Param::Num(q) if op == "quantile" => group_quantile(&input, &idxs, q, grid),
                        _ => fold(&input, &idxs, op, grid)?,
                    };
                    out.push(Series { labels: key, vals });
                }
                out
            }
        };
        Ok(Val::Vector(out))
    }
}

enum Param {
    None,
    Num(Vec<f64>),
    Label(String),
}

/// Group keys in first-appearance order and each group's member indexes.
fn groups(input: &[Series], modifier: &Option<LabelModifier>) -> (Vec<Labels>, Vec<Vec<usize>>) {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut keys = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for (i, s) in input.iter().enumerate() {
        let key = group_key(&s.labels, modifier);
        let g = *index.entry(key.clone()).or_insert_with(|| {
            keys.push(key);
            members.push(Vec::new());
            members.len() - 1
        });
        members[g].push(i);
    }
    (keys, members)
}

fn fold(
    input: &[Series],
    idxs: &[usize],
    op: &str,
    grid: &Grid,
) -> Result<Vec<Option<f64>>, QueryError> {
    if !matches!(
        op,
        "sum" | "avg" | "min" | "max" | "count" | "group" | "stddev" | "stdvar"
    ) {
        return Err(QueryError::unsupported(format!("aggregation {op}")));
    }
    let mut acc = vec![Acc::default(); grid.len];
    for &m in idxs {
        for (a, v) in acc.iter_mut().zip(&input[m].vals) {
            if let Some(v) = v {
                a.add(op, *v);
            }
        }
    }
    Ok(acc.iter().map(|a| a.result(op)).collect())
}

fn group_quantile(input: &[Series], idxs: &[usize], q: &[f64], grid: &Grid) -> Vec<Option<f64>> {
    let mut buf = Vec::with_capacity(idxs.len());
    (0..grid.len)
        .map(|i| {
            buf.clear();
            buf.extend(idxs.iter().filter_map(|&m| input[m].vals[i]));
            (!buf.is_empty()).then(|| quantile(q[i], &mut buf))
        })
        .collect()
}

/// `topk`/`bottomk`: the series keep their labels; in an instant query the result is
/// ordered by group, then by rank (largest first for topk, smallest first for bottomk).
fn top_bottom(
    input: Vec<Series>,
    modifier: &Option<LabelModifier>,
    k: &[f64],
    top: bool,
    grid: &Grid,
) -> Vec<Series> {
    let (_, members) = groups(&input, modifier);
    let mut chosen: Vec<Vec<Option<f64>>> = vec![vec![None; grid.len]; input.len()];
    let mut order: Vec<usize> = Vec::new();
    let mut cand: Vec<(usize, f64)> = Vec::new();
    for (i, &kf) in k.iter().enumerate().take(grid.len) {
        let k = if kf.is_nan() { 0 } else { kf as i64 };
        if k < 1 {
            continue;
        }
        for idxs in &members {
            cand.clear();
            cand.extend(
                idxs.iter()
                    .filter_map(|&m| input[m].vals[i].map(|v| (m, v))),
            );
            cand.sort_by(|a, b| rank(a.1, b.1, top));
            for &(m, v) in cand.iter().take(usize::try_from(k).unwrap_or(usize::MAX)) {
                chosen[m][i] = Some(v);
                if grid.len == 1 {
                    order.push(m);
                }
            }
        }
    }
    if grid.len != 1 {
        order = (0..input.len()).collect();
    }
    let mut labels: Vec<Option<Labels>> = input.into_iter().map(|s| Some(s.labels)).collect();
    order
        .into_iter()
        .filter_map(|m| {
            let vals = std::mem::take(&mut chosen[m]);
            labels[m].take().map(|labels| Series { labels, vals })
        })
        .filter(Series::has_any)
        .collect()
}

/// Order for topk (descending) or bottomk (ascending); NaN always last.
fn rank(a: f64, b: f64, top: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ if top => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// A value as `count_values` writes it (Go's `FormatFloat(v, 'f', -1, 64)`).
pub(crate) fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{v}")
    }
}

fn count_values(
    ctx: &mut Ctx<'_>,
    input: &[Series],
    modifier: &Option<LabelModifier>,
    label: &str,
    grid: &Grid,
) -> Result<Vec<Series>, QueryError> {
    // The value label joins the grouping labels of `by`; with `without` it stays unless listed.
    let modifier = match modifier {
        Some(LabelModifier::Include(l)) => {
            let mut l = l.clone();
            l.labels.push(label.to_string());
            Some(LabelModifier::Include(l))
        }
        None => Some(LabelModifier::Include(promql_parser::label::Labels::new(
            vec![label],
        ))),
        other => other.clone(),
    };
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<Series> = Vec::new();
    for s in input {
        for (i, v) in s.vals.iter().enumerate() {
            let Some(v) = v else { continue };
            let mut l = s.labels.clone();
            l.set(label, &format_value(*v));
            let key = group_key(&l, &modifier);
            let g = match index.get(&key) {
                Some(&g) => g,
                None => {
                    ctx.charge(grid.len)?;
                    index.insert(key.clone(), out.len());
                    out.push(Series::empty(key, grid.len));
                    out.len() - 1
                }
            };
            let slot = &mut out[g].vals[i];
            *slot = Some(slot.unwrap_or(0.0) + 1.0);
        }
    }
    Ok(out)
}
