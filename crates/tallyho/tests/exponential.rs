//! Exponential histograms against exact quantiles of the same data, and through the
//! registry's collection.

use proptest::prelude::*;
use tallyho::{ExpConfig, ExponentialHistogram, Registry};

/// The sample quantile the estimate aims at: the element of rank `floor(q * (n - 1))`.
fn exact(sorted: &[f64], q: f64) -> f64 {
    sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
}

const QS: [f64; 9] = [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0];

fn check(values: &[f64], config: ExpConfig) -> Result<f64, TestCaseError> {
    let h = ExponentialHistogram::new(config);
    for &v in values {
        h.observe(v);
    }
    let b = h.buckets();
    prop_assert_eq!(b.count(), values.len() as u64);
    prop_assert!(b.positive.len() <= config.max_buckets_value());
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let bound = 2f64.powf(2f64.powi(-b.scale)) - 1.0;
    let mut worst = 0f64;
    for q in QS {
        let want = exact(&sorted, q);
        let got = b.quantile(q).unwrap();
        let err = ((got - want) / want).abs();
        prop_assert!(
            err <= bound * (1.0 + 1e-9),
            "q {}: {} against exact {} (error {}, bound {} at scale {})",
            q,
            got,
            want,
            err,
            bound,
            b.scale
        );
        worst = worst.max(err);
    }
    Ok(worst)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any positive data: each quantile within the documented bound, `2^(2^-scale) - 1`.
    #[test]
    fn quantiles_stay_within_the_bound_of_the_final_scale(
        logs in proptest::collection::vec(-20.0f64..20.0, 1..3000),
    ) {
        let values: Vec<f64> = logs.iter().map(|l| l.exp()).collect();
        check(&values, ExpConfig::default())?;
    }

    /// Data within a factor of two (latencies of one endpoint, sizes of one kind): at the
    /// default 160 buckets the scale stays at 7 or above and every quantile is within 1%.
    #[test]
    fn within_one_percent_at_the_default_settings(
        base in 1e-6f64..1e6,
        spread in proptest::collection::vec(0.0f64..1.0, 10..3000),
    ) {
        let values: Vec<f64> = spread.iter().map(|s| base * (1.0 + s)).collect();
        let worst = check(&values, ExpConfig::default())?;
        prop_assert!(worst <= 0.01, "worst relative error {}", worst);
    }
}

#[test]
fn a_registered_exponential_histogram_exports_its_buckets_and_a_classic_view() {
    let r = Registry::new();
    let h = r
        .metric("latency", "Latency.")
        .unit("seconds")
        .exponential_histogram()
        .unwrap();
    for v in [0.001, 0.002, 0.004, 0.5] {
        h.observe(v);
    }
    let snap = r.snapshot();
    let data = snap.family("latency_seconds").unwrap().series[0]
        .value
        .as_histogram()
        .unwrap()
        .clone();
    let e = data.exponential.as_ref().expect("exponential buckets");
    assert_eq!(e.count(), 4);
    assert_eq!(data.count, 4);
    assert!((data.sum - 0.507).abs() < 1e-12);
    assert_eq!(data.counts.len(), data.bounds.len() + 1);
    assert_eq!(data.counts.iter().sum::<u64>(), 4);
    // The classic view's cumulative counts agree with the values. Its bounds are bucket
    // boundaries, so check between them: 2 below 0.0039, 3 by 0.0045 and still at 0.4.
    let below = |x: f64| -> u64 {
        data.bounds
            .iter()
            .zip(&data.counts)
            .take_while(|(b, _)| **b <= x)
            .map(|(_, c)| c)
            .sum()
    };
    assert_eq!(below(0.0039), 2);
    assert_eq!(below(0.0045), 3);
    assert_eq!(below(0.4), 3);
    assert_eq!(below(0.51), 4);
    // The same name with explicit buckets is another shape: refused.
    assert!(r
        .metric("latency", "Latency.")
        .unit("seconds")
        .histogram()
        .is_err());
}

#[test]
fn a_family_of_exponential_histograms_keeps_each_series_apart() {
    let r = Registry::new();
    let f = r
        .metric("size", "Sizes.")
        .exponential(ExpConfig::default().max_buckets(40).unwrap())
        .exponential_histogram_family(&["kind"])
        .unwrap();
    for i in 1..=1000 {
        f.with(&["a"]).observe(f64::from(i));
        f.with(&["b"]).observe(1.0 / f64::from(i));
    }
    let snap = r.snapshot();
    let fam = snap.family("size").unwrap();
    for kind in ["a", "b"] {
        let h = fam
            .series_with(&[("kind", kind)])
            .unwrap()
            .value
            .as_histogram()
            .unwrap();
        let e = h.exponential.as_ref().unwrap();
        assert_eq!(e.count(), 1000, "{kind}");
        assert!(e.positive.len() <= 40, "{kind}: {}", e.positive.len());
    }
}
