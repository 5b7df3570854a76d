//! Unit tests of `histogram.rs`; expected values are worked out by hand in the comments.

use super::*;
use proptest::prelude::*;

const INF: f64 = f64::INFINITY;

fn hq(q: f64, buckets: &[(f64, f64)]) -> f64 {
    histogram_quantile(q, &mut buckets.to_vec())
}

#[track_caller]
fn assert_close(got: f64, want: f64) {
    let ok = got == want || (got - want).abs() <= 1e-12 * got.abs().max(want.abs());
    assert!(ok, "got {got}, want {want}");
}

#[test]
fn unsorted_buckets_are_sorted_first() {
    // Sorted: 0.1:2, 0.5:5, 1:8, +Inf:10.
    let b = [(INF, 10.), (0.5, 5.), (0.1, 2.), (1., 8.)];
    // rank 2.5 falls in (0.1, 0.5] holding 3: 0.1 + 0.4 * 0.5/3.
    assert_close(hq(0.25, &b), 0.1 + 0.4 * (0.5 / 3.0));
    // rank 1 in the lowest bucket, interpolated from 0: 0.1 * 1/2.
    assert_close(hq(0.1, &b), 0.05);
    // rank 9 is beyond the last finite bucket (8): the highest finite bound.
    assert_close(hq(0.9, &b), 1.0);
    assert_close(hq(1.0, &b), 1.0);
    assert_close(hq(0.0, &b), 0.0);
}

#[test]
fn missing_inf_bucket_gives_nan() {
    assert!(hq(0.5, &[(0.1, 1.), (1., 2.)]).is_nan());
    assert!(hq(0.5, &[]).is_nan());
}

#[test]
fn non_monotonic_counts_are_raised() {
    // 0.5:3 after 0.1:5 becomes 5. rank 6 then falls in (0.5, 1] holding 3: 0.5 + 0.5/3.
    let b = [(0.1, 5.), (0.5, 3.), (1., 8.), (INF, 8.)];
    assert_close(hq(0.75, &b), 0.5 + 0.5 / 3.0);
    // rank 4 in the lowest bucket: 0.1 * 4/5.
    assert_close(hq(0.5, &b), 0.08);
}

#[test]
fn q_outside_zero_one() {
    let b = [(1., 1.), (INF, 2.)];
    assert_eq!(hq(-0.5, &b), f64::NEG_INFINITY);
    assert_eq!(hq(1.5, &b), INF);
    assert!(hq(f64::NAN, &b).is_nan());
    // The q checks come before the bucket checks.
    assert_eq!(hq(2.0, &[(1., 1.)]), INF);
}

#[test]
fn zero_observations_or_one_bucket_give_nan() {
    assert!(hq(0.5, &[(1., 0.), (INF, 0.)]).is_nan());
    assert!(hq(0.5, &[(INF, 5.)]).is_nan());
    // Two +Inf buckets merge into one.
    assert!(hq(0.5, &[(INF, 5.), (INF, 1.)]).is_nan());
}

#[test]
fn equal_bounds_are_merged() {
    // 1: 2 + 3 = 5, 2: 6, +Inf: 10. rank 5.5 falls in (1, 2] holding 1: 1 + 0.5.
    let b = [(1., 2.), (1., 3.), (INF, 10.), (2., 6.)];
    assert_close(hq(0.55, &b), 1.5);
    assert_close(hq(0.5, &b), 1.0);
}

#[test]
fn lowest_bucket_with_non_positive_bound_returns_the_bound() {
    let b = [(-1., 2.), (0., 4.), (INF, 4.)];
    assert_close(hq(0.25, &b), -1.0);
    // rank 3 in (-1, 0] holding 2: -1 + 1 * 1/2.
    assert_close(hq(0.75, &b), -0.5);
}

#[test]
fn quantile_rule() {
    assert_close(quantile(0.5, &mut [3., 1., 2.]), 2.0);
    // rank 0.5 between 1 and 2.
    assert_close(quantile(0.25, &mut [3., 1., 2.]), 1.5);
    assert_close(quantile(0.3, &mut [5.]), 5.0);
    // NaN sorts first.
    assert!(quantile(0.0, &mut [2., f64::NAN, 1.]).is_nan());
    assert_close(quantile(1.0, &mut [2., f64::NAN, 1.]), 2.0);
    assert_close(quantile(0.75, &mut [2., f64::NAN, 1.]), 1.5);
    assert_eq!(quantile(-1.0, &mut [1., 2.]), f64::NEG_INFINITY);
    assert_eq!(quantile(1.01, &mut [1., 2.]), INF);
    assert!(quantile(f64::NAN, &mut [1., 2.]).is_nan());
    // Empty is NaN whatever q is.
    assert!(quantile(-1.0, &mut []).is_nan());
    assert!(quantile(0.5, &mut []).is_nan());
}

#[test]
fn search_matches_go_sort_search() {
    assert_eq!(search(5, |i| i >= 3), 3);
    assert_eq!(search(5, |_| false), 5);
    assert_eq!(search(0, |_| true), 0);
    assert_eq!(search(4, |_| true), 0);
}

proptest! {
    #[test]
    fn quantile_lies_within_min_and_max(
        vals in prop::collection::vec(-1e12f64..1e12, 1..50),
        q in 0.0f64..=1.0,
    ) {
        let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let got = quantile(q, &mut vals.clone());
        let slack = 1e-9 * lo.abs().max(hi.abs());
        prop_assert!(lo - slack <= got && got <= hi + slack, "{lo} <= {got} <= {hi}");
    }

    #[test]
    fn quantile_is_monotonic_in_q(
        vals in prop::collection::vec(-1e6f64..1e6, 1..50),
        a in 0.0f64..=1.0,
        b in 0.0f64..=1.0,
    ) {
        let (qa, qb) = if a <= b { (a, b) } else { (b, a) };
        let va = quantile(qa, &mut vals.clone());
        let vb = quantile(qb, &mut vals.clone());
        prop_assert!(va <= vb + 1e-6, "q {qa} -> {va}, q {qb} -> {vb}");
    }

    #[test]
    fn histogram_quantile_lies_within_the_bounds(
        mut bounds in prop::collection::vec(0.001f64..1e6, 1..20),
        mut counts in prop::collection::vec(0.0f64..1e6, 21),
        q in 0.0f64..=1.0,
    ) {
        bounds.sort_by(f64::total_cmp);
        counts.sort_by(f64::total_cmp);
        let mut b: Vec<(f64, f64)> = bounds.iter().copied().zip(counts.iter().copied()).collect();
        b.push((INF, counts[20]));
        let hi = bounds[bounds.len() - 1];
        let got = histogram_quantile(q, &mut b);
        if counts[20] == 0.0 {
            prop_assert!(got.is_nan());
        } else {
            prop_assert!((0.0..=hi).contains(&got), "{got} outside [0, {hi}]");
        }
    }
}
