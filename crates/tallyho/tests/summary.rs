//! Summaries against exact quantiles of the observations in their window, with a clock
//! moved by hand.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use tallyho::{
    Error, ExpConfig, ExponentialHistogram, MetricKind, Registry, Summary, SummaryConfig,
    REFUSED_METRIC,
};

/// A clock that stands still until `advance` moves it.
#[derive(Clone)]
struct ManualClock {
    base: Instant,
    secs: Arc<AtomicU64>,
}

impl ManualClock {
    fn new() -> Self {
        ManualClock {
            base: Instant::now(),
            secs: Arc::new(AtomicU64::new(0)),
        }
    }

    fn advance(&self, secs: u64) {
        self.secs.fetch_add(secs, Ordering::Relaxed);
    }

    fn clock(&self) -> tallyho::Clock {
        let me = self.clone();
        Arc::new(move || me.base + Duration::from_secs(me.secs.load(Ordering::Relaxed)))
    }
}

const QS: [f64; 7] = [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0];

fn config(clock: &ManualClock) -> SummaryConfig {
    SummaryConfig::default()
        .quantiles(&QS)
        .unwrap()
        .window(Duration::from_secs(600), 5)
        .unwrap()
        .clock(clock.clock())
}

/// The sample quantile the estimate aims at: the element of rank `floor(q * (n - 1))`.
fn exact(sorted: &[f64], q: f64) -> f64 {
    sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
}

/// The documented bound, at the scale a histogram of everything observed reaches.
fn bound(all: &[f64]) -> f64 {
    let h = ExponentialHistogram::new(ExpConfig::default());
    for &v in all {
        h.observe(v);
    }
    2f64.powf(2f64.powi(-h.buckets().scale)) - 1.0
}

/// Every quantile of `s` within `bound` of the exact quantile of `window`.
fn check(s: &Summary, window: &[f64], bound: f64) -> Result<(), TestCaseError> {
    let quantiles = s.read_now().unwrap().quantiles;
    let mut sorted = window.to_vec();
    sorted.sort_by(f64::total_cmp);
    for (q, got) in quantiles {
        let want = exact(&sorted, q);
        let err = ((got - want) / want).abs();
        prop_assert!(
            err <= bound * (1.0 + 1e-9),
            "q {}: {} against exact {} (error {}, bound {})",
            q,
            got,
            want,
            err,
            bound
        );
    }
    Ok(())
}

/// Deterministic data: `n` values spread over `[lo, lo * span)` on a log scale.
fn data(n: usize, lo: f64, span: f64, seed: u64) -> Vec<f64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            lo * span.powf(u)
        })
        .collect()
}

#[test]
fn quantiles_of_one_window_are_within_the_bound() {
    let clock = ManualClock::new();
    let s = Summary::new(config(&clock));
    let values = data(5000, 0.001, 2.0, 7);
    for &v in &values {
        s.observe(v);
    }
    let b = bound(&values);
    // Within a factor of 2 the default buckets keep the 1% promise.
    assert!(b < 0.01, "bound {b}");
    check(&s, &values, b).unwrap();
    let read = s.read_now().unwrap();
    assert_eq!(read.count, 5000);
    assert!((read.sum - values.iter().sum::<f64>()).abs() < 1e-9);
}

#[test]
fn old_observations_leave_the_window_and_count_and_sum_stay() {
    let clock = ManualClock::new();
    let s = Summary::new(config(&clock));
    let old = data(2000, 1.0, 2.0, 1);
    for &v in &old {
        s.observe(v);
    }
    // Read every 30 s (a scrape): copies every step of 120 s.
    for _ in 0..20 {
        clock.advance(30);
        s.read_now();
    }
    let new = data(3000, 100.0, 2.0, 2);
    for &v in &new {
        s.observe(v);
    }
    let mut all = old.clone();
    all.extend(&new);
    let b = bound(&all);
    // 600 s after the first copy, the old values are still in the window...
    check(&s, &all, b).unwrap();
    // ...and once every copy holding them is past `max_age + step`, they are gone.
    for _ in 0..10 {
        clock.advance(30);
        s.read_now();
    }
    check(&s, &new, b).unwrap();
    let read = s.read_now().unwrap();
    assert_eq!(read.count, 5000);
    assert!((read.sum - all.iter().sum::<f64>()).abs() < 1e-6);
    // Nothing new for a whole window: the quantiles are NaN, the totals stay.
    for _ in 0..30 {
        clock.advance(30);
        s.read_now();
    }
    let read = s.read_now().unwrap();
    assert!(read.quantiles.iter().all(|(_, v)| v.is_nan()), "{read:?}");
    assert_eq!(read.count, 5000);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any positive data, read at any times: a reading `max_age + step` after the last
    /// read before the new observations (none in between) is the exact quantiles of the
    /// new ones within the bound, while the count is of every observation.
    #[test]
    fn the_window_holds_exactly_the_recent_observations(
        old in proptest::collection::vec(-10.0f64..10.0, 1..500),
        new in proptest::collection::vec(-10.0f64..10.0, 1..500),
        reads in proptest::collection::vec(1u64..200, 1..40),
    ) {
        let clock = ManualClock::new();
        let s = Summary::new(config(&clock));
        let old: Vec<f64> = old.iter().map(|l| l.exp()).collect();
        let new: Vec<f64> = new.iter().map(|l| l.exp()).collect();
        for &v in &old {
            s.observe(v);
        }
        s.read_now();
        for gap in &reads {
            clock.advance(*gap);
            s.read_now();
        }
        for &v in &new {
            s.observe(v);
        }
        let mut all = old.clone();
        all.extend(&new);
        let b = bound(&all);
        // The last copy was taken within a step of now and holds only `old`: a read
        // `max_age + step` later finds a copy that old holding all of `old`, and none of
        // `new`, as the window's start.
        prop_assert_eq!(s.read_now().unwrap().count, all.len() as u64);
        clock.advance(720);
        check(&s, &new, b)?;
    }
}

#[test]
fn through_the_registry_and_its_rules() {
    let r = Registry::new();
    let s = r
        .metric("rpc", "RPC time.")
        .unit("seconds")
        .summary_family(&["method"])
        .unwrap();
    for v in [0.1, 0.2, 0.3, -1.0, f64::NAN, f64::INFINITY] {
        s.with(&["get"]).observe(v);
    }
    let snap = r.snapshot();
    let fam = snap.family("rpc_seconds").unwrap();
    assert_eq!(fam.kind, MetricKind::Summary);
    let sm = fam.series[0].value.as_summary().unwrap();
    assert_eq!(sm.count, 3);
    assert_eq!(
        sm.quantiles.iter().map(|q| q.0).collect::<Vec<_>>(),
        [0.5, 0.9, 0.99]
    );
    assert!((sm.quantiles[0].1 - 0.2).abs() / 0.2 < 0.01, "{sm:?}");
    assert_eq!(
        snap.value(REFUSED_METRIC, &[("metric", "rpc_seconds")]),
        Some(3.0)
    );
    for taken in [
        "rpc_seconds_sum",
        "rpc_seconds_count",
        "rpc_seconds_created",
    ] {
        assert!(
            matches!(r.gauge(taken, "G."), Err(Error::NameCollision { .. })),
            "{taken}"
        );
    }
    // Other settings under the same name conflict.
    let other = SummaryConfig::default().quantiles(&[0.5]).unwrap();
    assert!(matches!(
        r.metric("rpc", "RPC time.")
            .unit("seconds")
            .summary_config(other)
            .summary_family(&["method"]),
        Err(Error::Conflict { .. })
    ));
}

#[test]
fn bad_settings_are_refused_naming_the_problem() {
    let c = SummaryConfig::default();
    let msg = |e: Error| e.to_string();
    assert!(msg(c.clone().quantiles(&[0.5, 1.5]).unwrap_err()).contains("quantile 1.5"));
    assert!(msg(c.clone().quantiles(&[f64::NAN]).unwrap_err()).contains("quantile NaN"));
    assert!(msg(c.clone().quantiles(&[0.9, 0.5]).unwrap_err()).contains("strictly increasing"));
    assert!(msg(c.clone().window(Duration::ZERO, 5).unwrap_err()).contains("max_age"));
    assert!(msg(c.window(Duration::from_secs(1), 0).unwrap_err()).contains("age_buckets"));
}
