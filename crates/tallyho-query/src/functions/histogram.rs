//! `histogram_quantile` over classic buckets and the `quantile` used by the aggregation
//! and `quantile_over_time`, with Prometheus 2.42's rules.

use std::cmp::Ordering;

/// `histogram_quantile(q, ...)` of one series' classic buckets: `(le, cumulative count)`
/// pairs in any order (sorted here).
///
/// NaN when `q` is NaN, when there is no `+Inf` bucket, fewer than two distinct bounds
/// or no observations; `-Inf` for `q < 0` and `+Inf` for `q > 1`. Buckets with the same
/// bound are merged (counts added) and counts are made non-decreasing (a lower count
/// after a higher one is raised to it), as Prometheus does for buckets scraped at slightly
/// different times. Inside the bucket where the rank falls the value is interpolated
/// linearly; the lowest bucket starts at 0 when its bound is positive and returns its bound
/// otherwise; a rank in the `+Inf` bucket returns the highest finite bound.
pub(crate) fn histogram_quantile(q: f64, buckets: &mut Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    match buckets.last() {
        Some(&(le, _)) if le == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    coalesce(buckets);
    ensure_monotonic(buckets);
    let n = buckets.len();
    if n < 2 {
        return f64::NAN;
    }
    let observations = buckets[n - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = search(n - 1, |i| buckets[i].1 >= rank);
    if b == n - 1 {
        return buckets[n - 2].0;
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return buckets[0].0;
    }
    let (bucket_end, mut count) = buckets[b];
    let mut bucket_start = 0.0;
    if b > 0 {
        let (prev_le, prev_count) = buckets[b - 1];
        bucket_start = prev_le;
        count -= prev_count;
        rank -= prev_count;
    }
    bucket_start + (bucket_end - bucket_start) * (rank / count)
}

/// Merges adjacent buckets (already sorted) with the same bound, adding their counts.
fn coalesce(buckets: &mut Vec<(f64, f64)>) {
    buckets.dedup_by(|later, kept| {
        if later.0 == kept.0 {
            kept.1 += later.1;
            true
        } else {
            false
        }
    });
}

/// Raises every count that is lower than an earlier one to the running maximum.
fn ensure_monotonic(buckets: &mut [(f64, f64)]) {
    let Some(&(_, mut max)) = buckets.first() else {
        return;
    };
    for b in buckets.iter_mut().skip(1) {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
}

/// The smallest `i` in `0..n` for which `pred(i)` holds, `n` when none does, probing in
/// the same order as Go's `sort.Search` (so a predicate that is not monotonic, e.g. with
/// NaN counts, gives the same answer as Prometheus).
fn search(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// The `quantile` rule (aggregation and `quantile_over_time`): NaN for no values or a NaN
/// `q`, `-Inf` for `q < 0`, `+Inf` for `q > 1`; otherwise the values are sorted (NaN
/// first) and the quantile is interpolated linearly between the two nearest ranks,
/// rank = q × (n − 1).
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(nan_first);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    // Both indexes are in 0..len: rank is in [0, n - 1].
    let lo = values[lower as usize];
    let hi = values[upper as usize];
    lo * (1.0 - weight) + hi * weight
}

/// Ascending order with every NaN before every number.
fn nan_first(a: &f64, b: &f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

#[cfg(test)]
#[path = "histogram_tests.rs"]
mod tests;
