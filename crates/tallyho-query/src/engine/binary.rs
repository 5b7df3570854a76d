//! Binary operators: arithmetic, comparisons (filtering or `bool`), set operators, and
//! vector matching (`on`/`ignoring`, `group_left`/`group_right`) with Prometheus' errors.
//!
//! Match signatures are computed once per series; per step only presence is checked, with
//! step stamps instead of per-step hash maps.

use std::collections::HashMap;

use promql_parser::parser::{BinModifier, BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::eval::Ctx;
use super::value::{duplicate_labelset, merge_equal_labels, Grid, Series, Val};
use crate::error::QueryError;
use crate::types::Labels;

/// `(value, keep)` of `l op r` for one pair of samples, as Prometheus' `vectorElemBinop`.
fn elem(op: &str, l: f64, r: f64) -> Result<(f64, bool), QueryError> {
    Ok(match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        "%" => (l % r, true),
        "^" => (l.powf(r), true),
        "atan2" => (l.atan2(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        other => return Err(QueryError::unsupported(format!("binary operator {other}"))),
    })
}

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

/// Operators whose result drops the metric name (in 2.42 not `atan2`, nor a filtering
/// comparison).
fn drops_name(op: &str, return_bool: bool) -> bool {
    return_bool || matches!(op, "+" | "-" | "*" | "/" | "%" | "^")
}

/// Labels as Go's `labels.String()` prints them: `{__name__="x", a="b"}`.
pub(crate) fn go_labels(l: &Labels) -> String {
    let inner: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// The labels two series are matched on.
fn signature(labels: &Labels, matching: Option<&LabelModifier>) -> Labels {
    let pairs = labels.iter().filter(|(k, _)| match matching {
        Some(LabelModifier::Include(on)) => on.labels.iter().any(|l| l == k),
        Some(LabelModifier::Exclude(ign)) => *k != "__name__" && !ign.labels.iter().any(|l| l == k),
        None => *k != "__name__",
    });
    Labels::from_sorted(pairs.map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

/// Interns the signatures of `series` into `ids`, returning each series' id.
fn sig_ids(
    series: &[Series],
    matching: Option<&LabelModifier>,
    ids: &mut HashMap<Labels, usize>,
) -> Vec<usize> {
    series
        .iter()
        .map(|s| {
            let sig = signature(&s.labels, matching);
            let n = ids.len();
            *ids.entry(sig).or_insert(n)
        })
        .collect()
}

impl Ctx<'_> {
    /// Evaluates a binary expression.
    pub fn eval_binary(&mut self, b: &BinaryExpr, grid: &Grid) -> Result<Val, QueryError> {
        let op = b.op.to_string();
        let lhs = self.eval(&b.lhs, grid)?;
        let rhs = self.eval(&b.rhs, grid)?;
        let rb = b.return_bool();
        match (lhs, rhs) {
            (Val::Scalar(l), Val::Scalar(r)) => {
                let mut out = Vec::with_capacity(l.len());
                for (l, r) in l.into_iter().zip(r) {
                    let (v, keep) = elem(&op, l, r)?;
                    out.push(if is_comparison(&op) {
                        f64::from(u8::from(keep))
                    } else {
                        v
                    });
                }
                Ok(Val::Scalar(out))
            }
            (Val::Vector(v), Val::Scalar(s)) => vector_scalar(v, &s, &op, rb, false),
            (Val::Scalar(s), Val::Vector(v)) => vector_scalar(v, &s, &op, rb, true),
            (Val::Vector(l), Val::Vector(r)) => {
                let modifier = b.modifier.clone().unwrap_or(BinModifier {
                    card: VectorMatchCardinality::OneToOne,
                    matching: None,
                    return_bool: false,
                });
                match op.as_str() {
                    "and" | "or" | "unless" => {
                        set_op(l, r, &op, modifier.matching.as_ref(), grid).map(Val::Vector)
                    }
                    _ => {
                        self.check_deadline()?;
                        vector_vector(self, l, r, &op, &modifier, grid).map(Val::Vector)
                    }
                }
            }
            (l, r) => Err(QueryError::bad_data(format!(
                "binary operator {op:?} not allowed between {} and {}",
                l.type_name(),
                r.type_name()
            ))),
        }
    }
}

fn vector_scalar(
    series: Vec<Series>,
    s: &[f64],
    op: &str,
    return_bool: bool,
    swap: bool,
) -> Result<Val, QueryError> {
    elem(op, 0.0, 0.0)?;
    let drop = drops_name(op, return_bool);
    let cmp = is_comparison(op);
    let mut out = Vec::with_capacity(series.len());
    for mut x in series {
        for (slot, &sv) in x.vals.iter_mut().zip(s) {
            let Some(v) = *slot else { continue };
            let (l, r) = if swap { (sv, v) } else { (v, sv) };
            let (mut value, keep) = elem(op, l, r)?;
            if cmp && swap {
                value = v;
            }
            *slot = if return_bool {
                Some(f64::from(u8::from(keep)))
            } else if keep {
                Some(value)
            } else {
                None
            };
        }
        if drop {
            x.labels.remove("__name__");
        }
        out.push(x);
    }
    Ok(Val::Vector(if drop {
        merge_equal_labels(out)?
    } else {
        out.into_iter().filter(Series::has_any).collect()
    }))
}

fn set_op(
    lhs: Vec<Series>,
    rhs: Vec<Series>,
    op: &str,
    matching: Option<&LabelModifier>,
    grid: &Grid,
) -> Result<Vec<Series>, QueryError> {
    let mut ids = HashMap::new();
    let lsig = sig_ids(&lhs, matching, &mut ids);
    let rsig = sig_ids(&rhs, matching, &mut ids);
    // present[sig] == step + 1: a series of the other side with this signature has a value.
    let mut present = vec![0usize; ids.len()];
    let (mut lhs, mut rhs) = (lhs, rhs);
    for i in 0..grid.len {
        let (marker, marker_sig, target, target_sig) = match op {
            "or" => (&lhs, &lsig, &mut rhs, &rsig),
            _ => (&rhs, &rsig, &mut lhs, &lsig),
        };
        for (s, &g) in marker.iter().zip(marker_sig) {
            if s.vals[i].is_some() {
                present[g] = i + 1;
            }
        }
        let keep_matched = op == "and";
        for (s, &g) in target.iter_mut().zip(target_sig) {
            if s.vals[i].is_some() && (present[g] == i + 1) != keep_matched {
                s.vals[i] = None;
            }
        }
    }
    if op == "or" {
        lhs.extend(rhs);
        return merge_equal_labels(lhs);
    }
    Ok(lhs.into_iter().filter(Series::has_any).collect())
}

/// Arithmetic and comparisons between two vectors.
fn vector_vector(
    ctx: &mut Ctx<'_>,
    lhs: Vec<Series>,
    rhs: Vec<Series>,
    op: &str,
    modifier: &BinModifier,
    grid: &Grid,
) -> Result<Vec<Series>, QueryError> {
    elem(op, 0.0, 0.0)?;
    let matching = modifier.matching.as_ref();
    let (card_many, swapped, include): (bool, bool, &[String]) = match &modifier.card {
        VectorMatchCardinality::ManyToOne(l) => (true, false, &l.labels),
        VectorMatchCardinality::OneToMany(l) => (true, true, &l.labels),
        _ => (false, false, &[]),
    };
    let (many, one) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
    let mut ids = HashMap::new();
    let one_sig = sig_ids(&one, matching, &mut ids);
    let many_sig = sig_ids(&many, matching, &mut ids);
    let mut by_sig: Vec<Vec<usize>> = vec![Vec::new(); ids.len()];
    for (j, &g) in one_sig.iter().enumerate() {
        by_sig[g].push(j);
    }
    let one_side = if swapped { "left" } else { "right" };
    let mut m = Matcher {
        out: Vec::new(),
        out_index: HashMap::new(),
        pair_out: HashMap::new(),
        out_stamp: Vec::new(),
        sig_stamp: vec![0; ids.len()],
    };
    let rb = modifier.return_bool;
    let multi: Vec<usize> = (0..by_sig.len()).filter(|&g| by_sig[g].len() > 1).collect();
    for i in 0..grid.len {
        let any = |side: &[Series]| side.iter().any(|s| s.vals[i].is_some());
        if !any(&many) || !any(&one) {
            continue;
        }
        check_one_side(&one, &by_sig, &multi, i, matching, one_side)?;
        for (mi, ms) in many.iter().enumerate() {
            let Some(vm) = ms.vals[i] else { continue };
            let g = many_sig[mi];
            let Some(&oj) = by_sig[g].iter().find(|&&j| one[j].vals[i].is_some()) else {
                continue;
            };
            let vo = one[oj].vals[i].unwrap_or(f64::NAN);
            let (l, r) = if swapped { (vo, vm) } else { (vm, vo) };
            let (value, keep) = elem(op, l, r)?;
            let value = match (rb, keep) {
                (true, _) => f64::from(u8::from(keep)),
                (false, true) => value,
                (false, false) => continue,
            };
            let before = m.out.len();
            let out_idx = m.output(
                mi,
                oj,
                &many[mi].labels,
                &one[oj].labels,
                op,
                modifier,
                include,
                grid,
            );
            if m.out.len() > before {
                ctx.charge(grid.len)?;
            }
            m.record(out_idx, g, i, card_many)?;
            m.out[out_idx].vals[i] = Some(value);
        }
    }
    Ok(m.out.into_iter().filter(Series::has_any).collect())
}

/// Two series of the "one" side with the same signature at step `i` make the matching
/// many-to-many: an error.
fn check_one_side(
    one: &[Series],
    by_sig: &[Vec<usize>],
    multi: &[usize],
    i: usize,
    matching: Option<&LabelModifier>,
    side: &str,
) -> Result<(), QueryError> {
    for &g in multi {
        let mut found = by_sig[g].iter().filter(|&&j| one[j].vals[i].is_some());
        if let (Some(&first), Some(&dup)) = (found.next(), found.next()) {
            return Err(duplicate_series(
                &one[dup].labels,
                &one[first].labels,
                matching,
                side,
            ));
        }
    }
    Ok(())
}

/// Output series of a vector-vector operation, with the per-step uniqueness checks.
struct Matcher {
    out: Vec<Series>,
    out_index: HashMap<Labels, usize>,
    pair_out: HashMap<(usize, usize), usize>,
    /// Per output series: (step + 1, signature) of the last write.
    out_stamp: Vec<(usize, usize)>,
    /// Per signature: step + 1 of the last one-to-one match.
    sig_stamp: Vec<usize>,
}

impl Matcher {
    #[allow(clippy::too_many_arguments)]
    fn output(
        &mut self,
        mi: usize,
        oj: usize,
        many: &Labels,
        one: &Labels,
        op: &str,
        modifier: &BinModifier,
        include: &[String],
        grid: &Grid,
    ) -> usize {
        if let Some(&o) = self.pair_out.get(&(mi, oj)) {
            return o;
        }
        let labels = result_labels(many, one, op, modifier, include);
        let o = match self.out_index.get(&labels) {
            Some(&o) => o,
            None => {
                self.out_index.insert(labels.clone(), self.out.len());
                self.out.push(Series::empty(labels, grid.len));
                self.out_stamp.push((0, 0));
                self.out.len() - 1
            }
        };
        self.pair_out.insert((mi, oj), o);
        o
    }

    fn record(
        &mut self,
        out: usize,
        sig: usize,
        step: usize,
        card_many: bool,
    ) -> Result<(), QueryError> {
        if !card_many {
            if self.sig_stamp[sig] == step + 1 {
                return Err(QueryError::execution(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                ));
            }
            self.sig_stamp[sig] = step + 1;
        }
        let (s, g) = self.out_stamp[out];
        if s == step + 1 {
            if g == sig && card_many {
                return Err(QueryError::execution(
                    "multiple matches for labels: grouping labels must ensure unique matches",
                ));
            }
            return Err(duplicate_labelset());
        }
        self.out_stamp[out] = (step + 1, sig);
        Ok(())
    }
}

fn result_labels(
    many: &Labels,
    one: &Labels,
    op: &str,
    modifier: &BinModifier,
    include: &[String],
) -> Labels {
    let mut l = many.clone();
    if drops_name(op, modifier.return_bool) {
        l.remove("__name__");
    }
    if matches!(modifier.card, VectorMatchCardinality::OneToOne) {
        match &modifier.matching {
            Some(LabelModifier::Include(on)) => {
                l = Labels::from_sorted(
                    l.iter()
                        .filter(|(k, _)| on.labels.iter().any(|x| x == k))
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                );
            }
            Some(LabelModifier::Exclude(ign)) => {
                for name in &ign.labels {
                    l.remove(name);
                }
            }
            None => {}
        }
    }
    for name in include {
        l.set(name, one.get(name));
    }
    l
}

fn duplicate_series(
    later: &Labels,
    earlier: &Labels,
    matching: Option<&LabelModifier>,
    side: &str,
) -> QueryError {
    let group = signature(later, matching);
    QueryError::execution(format!(
        "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
        go_labels(&group),
        go_labels(later),
        go_labels(earlier),
    ))
}
