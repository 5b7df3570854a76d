//! Functions of a range vector: one window of samples in, one value (or none) out.
//! Windows never contain staleness markers (the evaluator removes them) and are in time
//! order. `None` means "no output element for this series at this step", exactly where
//! Prometheus 2.42 drops the element.
//!
//! Sums inside `*_over_time`, `deriv` and `predict_linear` use Kahan-Neumaier compensated
//! summation, as Prometheus 2.42 does for these functions (its aggregations do not).

use crate::error::QueryError;
use crate::types::Sample;

/// One step of Kahan-Neumaier summation: adds `inc` to `sum` with compensation `c`.
/// Returns the new sum and compensation; the compensated total is `sum + c`.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let lost = if sum.abs() >= inc.abs() {
        (sum - t) + inc
    } else {
        (inc - t) + sum
    };
    (t, c + lost)
}

/// Go's `time.Duration.Seconds()` of a duration of `ms` milliseconds: whole seconds plus
/// the remainder as a fraction, rounded the same way.
fn duration_seconds(ms: i64) -> f64 {
    let whole = ms / 1000;
    let nanos = (ms % 1000) * 1_000_000;
    whole as f64 + nanos as f64 / 1e9
}

/// `rate`, `increase` and `delta` with Prometheus' extrapolation. `range_start` and
/// `range_end` are the window's bounds in ms (`eval time - range`, `eval time`, both
/// shifted by any offset); `is_counter` handles resets (rate, increase), `is_rate` divides
/// by the range in seconds. `None` when the window has fewer than two samples.
///
/// The raw difference (plus the value before each reset for counters) is extrapolated
/// towards each end of the range: all the way when the gap to the boundary is under 1.1×
/// the average sample interval, otherwise by half an interval. A counter is never
/// extrapolated below zero: the start gap is cut at the point where the line through the
/// samples reaches zero.
pub(crate) fn extrapolated_rate(
    window: &[Sample],
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    let (first, last) = match window {
        [first, .., last] => (*first, *last),
        _ => return None,
    };
    let mut result = last.v - first.v;
    if is_counter {
        for pair in window.windows(2) {
            if pair[1].v < pair[0].v {
                result += pair[0].v;
            }
        }
    }

    let mut to_start = (first.t - range_start) as f64 / 1000.0;
    let to_end = (range_end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let avg_interval = sampled / (window.len() - 1) as f64;

    if is_counter && result > 0.0 && first.v >= 0.0 {
        let to_zero = sampled * (first.v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }

    let threshold = avg_interval * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        avg_interval / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        avg_interval / 2.0
    };
    let mut factor = interval / sampled;
    if is_rate {
        factor /= duration_seconds(range_end - range_start);
    }
    Some(result * factor)
}

/// `irate` (`is_rate`: counter-aware, per second) and `idelta`: from the last two samples
/// of the window. `None` with fewer than two samples or when both share a timestamp.
pub(crate) fn instant_delta(window: &[Sample], is_rate: bool) -> Option<f64> {
    let (prev, last) = match window {
        [.., prev, last] => (*prev, *last),
        _ => return None,
    };
    let mut result = if is_rate && last.v < prev.v {
        last.v
    } else {
        last.v - prev.v
    };
    let interval_ms = last.t - prev.t;
    if interval_ms == 0 {
        return None;
    }
    if is_rate {
        result /= interval_ms as f64 / 1000.0;
    }
    Some(result)
}

/// Which `*_over_time` aggregation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OverTime {
    /// `avg_over_time`: incremental mean (no overflow on large values).
    Avg,
    /// `min_over_time`: NaN only when every value is NaN.
    Min,
    /// `max_over_time`: NaN only when every value is NaN.
    Max,
    /// `sum_over_time`: compensated sum.
    Sum,
    /// `count_over_time`
    Count,
    /// `last_over_time`
    Last,
    /// `present_over_time`: 1.
    Present,
    /// `stddev_over_time`: population standard deviation.
    Stddev,
    /// `stdvar_over_time`: population variance.
    Stdvar,
}

/// `*_over_time` of a window. `None` for an empty window (Prometheus outputs nothing).
pub(crate) fn over_time(kind: OverTime, window: &[Sample]) -> Option<f64> {
    let last = window.last()?;
    let v = match kind {
        OverTime::Avg => avg(window),
        OverTime::Min => extreme(window, |v, best| v < best),
        OverTime::Max => extreme(window, |v, best| v > best),
        OverTime::Sum => sum(window),
        OverTime::Count => window.len() as f64,
        OverTime::Last => last.v,
        OverTime::Present => 1.0,
        OverTime::Stddev => variance(window).sqrt(),
        OverTime::Stdvar => variance(window),
    };
    Some(v)
}

/// Minimum or maximum: the first value replaced whenever `better` says so or it is NaN.
fn extreme(window: &[Sample], better: impl Fn(f64, f64) -> bool) -> f64 {
    let mut best = window.first().map_or(f64::NAN, |s| s.v);
    for s in window {
        if better(s.v, best) || best.is_nan() {
            best = s.v;
        }
    }
    best
}

fn sum(window: &[Sample]) -> f64 {
    let (mut total, mut c) = (0.0, 0.0);
    for s in window {
        (total, c) = kahan_inc(s.v, total, c);
    }
    if total.is_infinite() {
        total
    } else {
        total + c
    }
}

/// Incremental mean `mean += v/n - mean/n`, compensated; an infinite mean stays as it is
/// unless a NaN or an infinity of the other sign arrives.
fn avg(window: &[Sample]) -> f64 {
    let (mut mean, mut c, mut count) = (0.0f64, 0.0, 0.0);
    for s in window {
        count += 1.0;
        if mean.is_infinite() {
            let same_inf = s.v.is_infinite() && (mean > 0.0) == (s.v > 0.0);
            let finite = s.v.is_finite();
            if same_inf || finite {
                continue;
            }
        }
        (mean, c) = kahan_inc(s.v / count - mean / count, mean, c);
    }
    if mean.is_infinite() {
        mean
    } else {
        mean + c
    }
}

/// Population variance by Welford's method with compensated running sums.
fn variance(window: &[Sample]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for s in window {
        count += 1.0;
        let delta = s.v - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (s.v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// `quantile_over_time(q, window)`: [`super::histogram::quantile`] of the window's values.
/// `None` for an empty window.
pub(crate) fn quantile_over_time(q: f64, window: &[Sample]) -> Option<f64> {
    if window.is_empty() {
        return None;
    }
    let mut values: Vec<f64> = window.iter().map(|s| s.v).collect();
    Some(super::histogram::quantile(q, &mut values))
}

/// `changes`: how often the value differs from the one before (NaN to NaN is no change).
/// `None` for an empty window.
pub(crate) fn changes(window: &[Sample]) -> Option<f64> {
    window.first()?;
    let n = window
        .windows(2)
        .filter(|p| p[1].v != p[0].v && !(p[1].v.is_nan() && p[0].v.is_nan()))
        .count();
    Some(n as f64)
}

/// `resets`: how often the value drops below the one before. `None` for an empty window.
pub(crate) fn resets(window: &[Sample]) -> Option<f64> {
    window.first()?;
    let n = window.windows(2).filter(|p| p[1].v < p[0].v).count();
    Some(n as f64)
}

/// Least-squares line through the samples, x in seconds relative to `intercept_t` (ms).
/// Returns (slope per second, value at `intercept_t`). A constant series has slope 0
/// (NaN, NaN when the constant is infinite). `window` must not be empty.
fn linear_regression(window: &[Sample], intercept_t: i64) -> (f64, f64) {
    let init_y = window.first().map_or(f64::NAN, |s| s.v);
    let mut const_y = true;
    let mut n = 0.0;
    let (mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    for (i, s) in window.iter().enumerate() {
        if const_y && i > 0 && s.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (s.t - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(s.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * s.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov_xy = sxy - sx * sy / n;
    let var_x = sx2 - sx * sx / n;
    let slope = cov_xy / var_x;
    let intercept = sy / n - slope * sx / n;
    (slope, intercept)
}

/// `deriv`: the per-second slope of the least-squares line. `None` with fewer than two
/// samples.
pub(crate) fn deriv(window: &[Sample]) -> Option<f64> {
    let first = window.first()?;
    if window.len() < 2 {
        return None;
    }
    // Relative to the first sample, to keep x small (Prometheus issue 2674).
    Some(linear_regression(window, first.t).0)
}

/// `predict_linear`: the least-squares line's value `duration_s` seconds after `eval_t`
/// (the evaluation time, ms). `None` with fewer than two samples.
pub(crate) fn predict_linear(window: &[Sample], eval_t: i64, duration_s: f64) -> Option<f64> {
    if window.len() < 2 {
        return None;
    }
    let (slope, intercept) = linear_regression(window, eval_t);
    Some(slope * duration_s + intercept)
}

/// Checks `holt_winters`' factors as Prometheus does: both must be in (0, 1) (a NaN passes,
/// as in Prometheus). The error is an evaluation error (`execution`), with Prometheus'
/// message; the evaluator calls this before [`holt_winters`].
pub(crate) fn check_holt_winters_factors(sf: f64, tf: f64) -> Result<(), QueryError> {
    if sf <= 0.0 || sf >= 1.0 {
        return Err(QueryError::execution(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {}",
            go_fixed(sf)
        )));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return Err(QueryError::execution(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {}",
            go_fixed(tf)
        )));
    }
    Ok(())
}

/// Go's `%f` of a float: six decimals, `+Inf`, `-Inf`, `NaN`.
fn go_fixed(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v:.6}")
    }
}

/// `holt_winters` (double exponential smoothing) with smoothing factor `sf` and trend
/// factor `tf`: the last smoothed value. `None` with fewer than two samples, and `None`
/// when a factor is outside (0, 1): the evaluator reports that error first with
/// [`check_holt_winters_factors`].
pub(crate) fn holt_winters(window: &[Sample], sf: f64, tf: f64) -> Option<f64> {
    if check_holt_winters_factors(sf, tf).is_err() || window.len() < 2 {
        return None;
    }
    let mut smoothed_prev = 0.0;
    let mut smoothed = window[0].v;
    let mut trend = window[1].v - window[0].v;
    for (i, s) in window.iter().enumerate().skip(1) {
        let x = sf * s.v;
        // The first step keeps the initial trend; later steps blend in the new slope.
        if i > 1 {
            trend = tf * (smoothed - smoothed_prev) + (1.0 - tf) * trend;
        }
        let y = (1.0 - sf) * (smoothed + trend);
        smoothed_prev = smoothed;
        smoothed = x + y;
    }
    Some(smoothed)
}

#[cfg(test)]
#[path = "range_tests.rs"]
mod tests;
