//! Unit tests of `range.rs`; expected values are worked out by hand in the comments.

use super::*;
use crate::error::ErrorKind;
use proptest::prelude::*;

/// A sample at `secs` seconds.
fn s(secs: f64, v: f64) -> Sample {
    Sample {
        t: (secs * 1000.0) as i64,
        v,
    }
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

#[track_caller]
fn assert_close(got: Option<f64>, want: f64) {
    let got = got.expect("a value");
    assert!(close(got, want), "got {got}, want {want}");
}

#[test]
fn rate_and_increase_add_the_value_before_a_reset() {
    // Raw: 12 - 5 = 7, plus 10 before the drop to 2: 17. Gaps to the range ends are 10 s,
    // under 1.1 x the 10 s interval, so extrapolate fully: 17 * 60 / 40 = 25.5.
    // The zero point (40 * 5/17 = 11.8 s before the first sample) is beyond the start.
    let w = [s(10., 5.), s(20., 10.), s(30., 2.), s(40., 7.), s(50., 12.)];
    assert_close(extrapolated_rate(&w, 0, 60_000, true, false), 25.5);
    assert_close(extrapolated_rate(&w, 0, 60_000, true, true), 25.5 / 60.0);
    // delta ignores the reset: (12 - 5) * 1.5.
    assert_close(extrapolated_rate(&w, 0, 60_000, false, false), 10.5);
}

#[test]
fn series_starting_inside_the_range_extrapolates_half_an_interval() {
    // Starts 30 s after the range start (>= 11 s threshold): add 5 s; ends at the end.
    // 30 * 35 / 30 = 35.
    let w = [s(30., 100.), s(40., 110.), s(50., 120.), s(60., 130.)];
    assert_close(extrapolated_rate(&w, 0, 60_000, true, false), 35.0);
    assert_close(extrapolated_rate(&w, 0, 60_000, true, true), 35.0 / 60.0);
}

#[test]
fn series_ending_inside_the_range_extrapolates_half_an_interval() {
    let w = [s(0., 0.), s(10., 10.), s(20., 20.), s(30., 30.)];
    assert_close(extrapolated_rate(&w, 0, 60_000, true, false), 35.0);
}

#[test]
fn counter_is_not_extrapolated_below_zero() {
    // The line through the samples hits zero 1 s before the first one: start gap 1 s,
    // not 30 s (nor the 5 s half interval): 30 * 31 / 30 = 31.
    let w = [s(30., 1.), s(40., 11.), s(50., 21.), s(60., 31.)];
    assert_close(extrapolated_rate(&w, 0, 60_000, true, false), 31.0);
    // To the last bit, as Prometheus 2.42 answers (promtool, `increase(z[60s])`).
    assert_eq!(
        extrapolated_rate(&w, 0, 60_000, true, false),
        Some(31.000000000000004)
    );
    // A gauge (delta) has no such clamp: 30 * 35 / 30.
    assert_close(extrapolated_rate(&w, 0, 60_000, false, false), 35.0);
}

#[test]
fn delta_on_a_gauge() {
    // -9 over 30 s of samples, 5 s gaps on both sides (< 11 s): -9 * 40 / 30 = -12.
    let w = [s(10., 10.), s(20., 4.), s(30., 8.), s(40., 1.)];
    assert_close(extrapolated_rate(&w, 5_000, 45_000, false, false), -12.0);
    // The same samples read as a counter: 1 - 10 + 10 + 8 = 9 (two resets), * 4/3.
    assert_close(extrapolated_rate(&w, 5_000, 45_000, true, false), 12.0);
}

#[test]
fn rate_needs_two_samples() {
    assert_eq!(extrapolated_rate(&[], 0, 60_000, true, true), None);
    assert_eq!(
        extrapolated_rate(&[s(10., 1.)], 0, 60_000, true, true),
        None
    );
    assert_eq!(instant_delta(&[s(10., 1.)], true), None);
    assert_eq!(instant_delta(&[], false), None);
}

#[test]
fn rate_divides_by_go_duration_seconds() {
    // A 1.5 s range: 2 samples 1 s apart, both gaps 0.25 s: 1 * 1.5 / 1 / 1.5 = 1.
    let w = [s(0.25, 0.), s(1.25, 1.)];
    assert_close(extrapolated_rate(&w, 0, 1_500, false, true), 1.0);
    assert_eq!(duration_seconds(1_500), 1.5);
    assert_eq!(duration_seconds(300_000), 300.0);
}

#[test]
fn irate_handles_a_reset_and_idelta_does_not() {
    let w = [s(0., 5.), s(10., 10.), s(20., 3.)];
    // Reset: the last value is the increase, over 10 s.
    assert_close(instant_delta(&w, true), 0.3);
    assert_close(instant_delta(&w, false), -7.0);
    let up = [s(10., 10.), s(15., 20.)];
    assert_close(instant_delta(&up, true), 2.0);
    assert_close(instant_delta(&up, false), 10.0);
    // Same timestamp: nothing, rather than a division by zero.
    assert_eq!(instant_delta(&[s(1., 1.), s(1., 2.)], false), None);
}

#[test]
fn over_time_aggregations() {
    let w: Vec<Sample> = [2., 4., 4., 4., 5., 5., 7., 9.]
        .iter()
        .enumerate()
        .map(|(i, v)| s(i as f64, *v))
        .collect();
    assert_close(over_time(OverTime::Avg, &w), 5.0);
    assert_close(over_time(OverTime::Sum, &w), 40.0);
    assert_close(over_time(OverTime::Count, &w), 8.0);
    assert_close(over_time(OverTime::Min, &w), 2.0);
    assert_close(over_time(OverTime::Max, &w), 9.0);
    assert_close(over_time(OverTime::Last, &w), 9.0);
    assert_close(over_time(OverTime::Present, &w), 1.0);
    // Deviations -3,-1,-1,-1,0,0,2,4: squares sum to 32, / 8 = 4.
    assert_close(over_time(OverTime::Stdvar, &w), 4.0);
    assert_close(over_time(OverTime::Stddev, &w), 2.0);
    assert_eq!(over_time(OverTime::Count, &[]), None);
    assert_eq!(over_time(OverTime::Present, &[]), None);
}

#[test]
fn stddev_of_one_sample_is_zero() {
    assert_close(over_time(OverTime::Stddev, &[s(0., 42.)]), 0.0);
}

#[test]
fn min_and_max_skip_nan_unless_all_are_nan() {
    let w = [s(0., f64::NAN), s(1., 3.), s(2., 1.)];
    assert_close(over_time(OverTime::Min, &w), 1.0);
    assert_close(over_time(OverTime::Max, &w), 3.0);
    let w = [s(0., 1.), s(1., f64::NAN)];
    assert_close(over_time(OverTime::Max, &w), 1.0);
    let w = [s(0., f64::NAN), s(1., f64::NAN)];
    assert!(over_time(OverTime::Min, &w).is_some_and(f64::is_nan));
}

#[test]
fn sum_is_compensated_and_avg_does_not_overflow() {
    // Plain summation loses the 1 (1e16 + 1 == 1e16); Kahan-Neumaier keeps it.
    let w = [s(0., 1e16), s(1., 1.), s(2., -1e16)];
    assert_close(over_time(OverTime::Sum, &w), 1.0);
    // Two f64::MAX: a plain sum overflows to +Inf, the incremental mean does not.
    let w = [s(0., f64::MAX), s(1., f64::MAX)];
    assert_close(over_time(OverTime::Avg, &w), f64::MAX);
    // An infinity stays the mean; finite values after it do not turn it into NaN.
    let w = [s(0., 1.), s(1., f64::INFINITY), s(2., 3.)];
    assert_close(over_time(OverTime::Avg, &w), f64::INFINITY);
    let w = [s(0., f64::INFINITY), s(1., f64::NEG_INFINITY)];
    assert!(over_time(OverTime::Avg, &w).is_some_and(f64::is_nan));
    let w = [s(0., f64::INFINITY), s(1., 1.)];
    assert_close(over_time(OverTime::Sum, &w), f64::INFINITY);
}

#[test]
fn quantile_over_time_edges() {
    let w = [s(0., 4.), s(1., 1.), s(2., 3.), s(3., 2.)];
    // Sorted 1,2,3,4; rank 0.5 * 3 = 1.5: halfway between 2 and 3.
    assert_close(quantile_over_time(0.5, &w), 2.5);
    assert_close(quantile_over_time(0.0, &w), 1.0);
    assert_close(quantile_over_time(1.0, &w), 4.0);
    assert_close(quantile_over_time(-0.1, &w), f64::NEG_INFINITY);
    assert_close(quantile_over_time(1.1, &w), f64::INFINITY);
    assert!(quantile_over_time(f64::NAN, &w).is_some_and(f64::is_nan));
    assert_close(quantile_over_time(0.9, &[s(0., 7.)]), 7.0);
    assert_eq!(quantile_over_time(0.5, &[]), None);
}

#[test]
fn changes_and_resets() {
    let vals = [1., 1., 2., 2., 1., f64::NAN, f64::NAN, 3.];
    let w: Vec<Sample> = vals
        .iter()
        .enumerate()
        .map(|(i, v)| s(i as f64, *v))
        .collect();
    // 1->2, 2->1, 1->NaN, NaN->3; NaN->NaN is no change.
    assert_close(changes(&w), 4.0);
    // Only 2->1 drops; comparisons with NaN are false.
    assert_close(resets(&w), 1.0);
    let w = [
        s(0., 5.),
        s(1., 3.),
        s(2., 4.),
        s(3., 1.),
        s(4., 1.),
        s(5., 2.),
    ];
    assert_close(resets(&w), 2.0);
    assert_close(changes(&w), 4.0);
    assert_close(changes(&[s(0., 1.)]), 0.0);
    assert_eq!(changes(&[]), None);
    assert_eq!(resets(&[]), None);
}

#[test]
fn deriv_and_predict_linear_on_a_line() {
    // v = 3 + 0.5 t at t = 100 s .. 150 s.
    let w: Vec<Sample> = (0..6)
        .map(|i| {
            let t = 100.0 + 10.0 * f64::from(i);
            s(t, 3.0 + 0.5 * t)
        })
        .collect();
    assert_close(deriv(&w), 0.5);
    // At 150 s the line is 78; 60 s later 108.
    assert_close(predict_linear(&w, 150_000, 60.0), 108.0);
    // Evaluated at 200 s, predicting 0 s ahead: 103.
    assert_close(predict_linear(&w, 200_000, 0.0), 103.0);
    assert_eq!(deriv(&w[..1]), None);
    assert_eq!(predict_linear(&w[..1], 150_000, 60.0), None);
}

#[test]
fn regression_of_a_constant() {
    let w = [s(0., 7.), s(10., 7.), s(20., 7.)];
    assert_close(deriv(&w), 0.0);
    assert_close(predict_linear(&w, 20_000, 100.0), 7.0);
    let w = [s(0., f64::INFINITY), s(10., f64::INFINITY)];
    assert!(deriv(&w).is_some_and(f64::is_nan));
}

#[test]
fn holt_winters_smooths_with_trend() {
    // s=1, b=2; step 1: 0.5*3 + 0.5*(1+2) = 3; step 2: b = 0.5*(3-1) + 0.5*2 = 2,
    // 0.5*4 + 0.5*(3+2) = 4.5.
    let w = [s(0., 1.), s(1., 3.), s(2., 4.)];
    assert_close(holt_winters(&w, 0.5, 0.5), 4.5);
    // Two samples: 0.5*3 + 0.5*(1+2).
    assert_close(holt_winters(&w[..2], 0.5, 0.5), 3.0);
    assert_eq!(holt_winters(&w[..1], 0.5, 0.5), None);
}

#[test]
fn holt_winters_factors_out_of_range() {
    let w = [s(0., 1.), s(1., 3.), s(2., 4.)];
    for (sf, tf) in [(0.0, 0.5), (1.0, 0.5), (-1.0, 0.5), (0.5, 0.0), (0.5, 1.5)] {
        assert_eq!(holt_winters(&w, sf, tf), None, "sf {sf} tf {tf}");
        let err = check_holt_winters_factors(sf, tf).expect_err("out of range");
        assert_eq!(err.kind, ErrorKind::Execution);
    }
    let err = check_holt_winters_factors(1.0, 0.5).expect_err("sf = 1");
    assert_eq!(
        err.message,
        "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000"
    );
    let err = check_holt_winters_factors(0.5, f64::INFINITY).expect_err("tf = +Inf");
    assert_eq!(
        err.message,
        "invalid trend factor. Expected: 0 < tf < 1, got: +Inf"
    );
    // NaN compares false with both bounds, so Prometheus lets it through.
    assert!(check_holt_winters_factors(f64::NAN, 0.5).is_ok());
    assert!(check_holt_winters_factors(0.1, 0.9).is_ok());
}

#[test]
fn kahan_inc_recovers_lost_low_bits() {
    let (sum, c) = kahan_inc(1.0, 1e16, 0.0);
    assert_eq!(sum, 1e16);
    assert_eq!(c, 1.0);
}

/// Samples 1 s apart starting at 1 s, with the given values.
fn series(vals: &[f64]) -> Vec<Sample> {
    vals.iter()
        .enumerate()
        .map(|(i, v)| s(1.0 + i as f64, *v))
        .collect()
}

proptest! {
    #[test]
    fn rate_of_nonnegative_counter_is_nonnegative(
        vals in prop::collection::vec(0.0f64..1e9, 2..50),
        extra_range_s in 0u32..100,
    ) {
        let w = series(&vals);
        let end = w[w.len() - 1].t + 1_000;
        let start = -i64::from(extra_range_s) * 1_000;
        let r = extrapolated_rate(&w, start, end, true, true).expect("two samples");
        prop_assert!(r >= 0.0, "rate {r}");
        let inc = extrapolated_rate(&w, start, end, true, false).expect("two samples");
        let secs = (end - start) as f64 / 1000.0;
        prop_assert!(close(r * secs, inc) || (r * secs - inc).abs() < 1e-6);
    }

    #[test]
    fn increase_of_monotonic_counter_covers_raw_difference(
        steps in prop::collection::vec(0.0f64..1e6, 1..50),
    ) {
        let mut vals = vec![0.0];
        for d in &steps {
            let next = vals[vals.len() - 1] + d;
            vals.push(next);
        }
        let w = series(&vals);
        let raw = vals[vals.len() - 1] - vals[0];
        let inc = extrapolated_rate(&w, 0, w[w.len() - 1].t + 500, true, false)
            .expect("two samples");
        // Extrapolation only widens the sampled interval.
        prop_assert!(inc >= raw * (1.0 - 1e-12), "increase {inc} raw {raw}");
    }

    #[test]
    fn avg_lies_between_min_and_max(vals in prop::collection::vec(-1e12f64..1e12, 1..60)) {
        let w = series(&vals);
        let lo = over_time(OverTime::Min, &w).expect("non-empty");
        let hi = over_time(OverTime::Max, &w).expect("non-empty");
        let mean = over_time(OverTime::Avg, &w).expect("non-empty");
        let slack = 1e-9 * lo.abs().max(hi.abs());
        prop_assert!(lo - slack <= mean && mean <= hi + slack, "{lo} {mean} {hi}");
        prop_assert!(over_time(OverTime::Stdvar, &w).expect("non-empty") >= 0.0);
    }
}
