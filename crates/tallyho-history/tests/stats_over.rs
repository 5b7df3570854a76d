//! The typed helpers of `History::stats_over`, checked against values computed by hand
//! (and against the PromQL they stand for).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tallyho::{FamilySnapshot, HistogramData, MetricKind, Series, SeriesValue, Snapshot};
use tallyho_history::History;
use tallyho_query::Value;

const T0: u64 = 1_700_000_040;

fn at(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s)
}

/// Bucket bounds of the latency histogram.
const BOUNDS: [f64; 3] = [0.1, 0.5, 1.0];

/// Per minute i (0..=5): cumulative (per-bucket counts, sum) of `latency_seconds{op}`, and
/// the request and error counters of `route`.
struct Minute {
    buckets_a: [u64; 4],
    sum_a: f64,
    buckets_b: [u64; 4],
    sum_b: f64,
    requests: [u64; 2],
    errors: [u64; 2],
}

fn minute(i: u64) -> Minute {
    // Each minute op=a observes 2 fast (0.05), 4 medium (0.3), 4 slow (0.8) requests:
    // per-bucket (non-cumulative) counts 2, 4, 4, 0; op=b observes 1 very slow (3.0).
    Minute {
        buckets_a: [2 * i, 4 * i, 4 * i, 0],
        sum_a: i as f64 * (2.0 * 0.05 + 4.0 * 0.3 + 4.0 * 0.8),
        buckets_b: [0, 0, 0, i],
        sum_b: i as f64 * 3.0,
        requests: [100 + 40 * i, 7 + 10 * i],
        errors: [3 + 2 * i, 5 * i],
    }
}

fn histogram(counts: [u64; 4], sum: f64, op: &str) -> Series {
    Series {
        labels: vec![("op".into(), op.into())],
        start: UNIX_EPOCH,
        value: SeriesValue::Histogram(HistogramData {
            bounds: BOUNDS.to_vec(),
            counts: counts.to_vec(),
            sum,
            count: counts.iter().sum(),
            exponential: None,
        }),
    }
}

/// Six snapshots a minute apart, the last at `T0 + 300`.
fn history() -> History {
    let h = History::in_memory();
    for i in 0..=5 {
        let m = minute(i);
        let mut lat = FamilySnapshot::new("latency_seconds", "", MetricKind::Histogram);
        lat.series.push(histogram(m.buckets_a, m.sum_a, "a"));
        lat.series.push(histogram(m.buckets_b, m.sum_b, "b"));
        let mut req = FamilySnapshot::new("requests", "", MetricKind::Counter);
        let mut err = FamilySnapshot::new("errors", "", MetricKind::Counter);
        for (k, route) in ["/x", "/y"].iter().enumerate() {
            req = req.with_point(&[("route", route)], m.requests[k]);
            err = err.with_point(&[("route", route)], m.errors[k]);
        }
        h.append(&Snapshot {
            time: at(T0 + 60 * i),
            families: vec![lat, req, err],
        })
        .unwrap();
    }
    h
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn increase_rate_average_error_ratio_and_quantile_match_hand_computed_values() {
    let h = history();
    // The 5-minute window [T0, T0 + 300] has a sample at each end: no extrapolation, so
    // increase is last minus first.
    let s = h.stats_over(Duration::from_secs(300), at(T0 + 300));
    let (first, last) = (minute(0), minute(5));
    let reqs = |m: &Minute, k: usize| m.requests[k] as f64;
    let errs = |m: &Minute, k: usize| m.errors[k] as f64;
    let inc_x = reqs(&last, 0) - reqs(&first, 0);
    assert_eq!(
        s.increase("requests_total", &[("route", "/x")]).unwrap(),
        Some(inc_x)
    );
    let inc_all = inc_x + reqs(&last, 1) - reqs(&first, 1);
    assert_eq!(s.increase("requests_total", &[]).unwrap(), Some(inc_all));
    let rate = s
        .rate("requests_total", &[("route", "/x")])
        .unwrap()
        .unwrap();
    assert!(close(rate, inc_x / 300.0), "{rate}");
    // Errors over requests, both routes and one.
    let err_all = errs(&last, 0) - errs(&first, 0) + errs(&last, 1) - errs(&first, 1);
    let ratio = s
        .error_ratio("errors_total", "requests_total", &[])
        .unwrap()
        .unwrap();
    assert!(close(ratio, err_all / inc_all), "{ratio}");
    let ratio_y = s
        .error_ratio("errors_total", "requests_total", &[("route", "/y")])
        .unwrap()
        .unwrap();
    let want_y = (errs(&last, 1) - errs(&first, 1)) / (reqs(&last, 1) - reqs(&first, 1));
    assert!(close(ratio_y, want_y), "{ratio_y}");
    // The mean observation: increase of _sum over increase of _count.
    let avg_a = s
        .average_from_histogram("latency_seconds", &[("op", "a")])
        .unwrap()
        .unwrap();
    let want_a = (last.sum_a - first.sum_a) / 50.0;
    assert!(close(avg_a, want_a), "{avg_a} vs {want_a}");
    let avg = s
        .average_from_histogram("latency_seconds", &[])
        .unwrap()
        .unwrap();
    let want = (last.sum_a + last.sum_b) / 55.0;
    assert!(close(avg, want), "{avg} vs {want}");
    // Quantiles of op=a's 50 observations: cumulative 10 (≤0.1), 30 (≤0.5), 50 (≤1).
    // The median's rank 25 is in (0.1, 0.5]: 0.1 + 0.4 * (25 - 10) / 20 = 0.4.
    let q50 = s
        .quantile(0.5, "latency_seconds", &[("op", "a")])
        .unwrap()
        .unwrap();
    assert!(close(q50, 0.4), "{q50}");
    // p90 of both ops: 55 observations, rank 49.5 in (0.5, 1]: 0.5 + 0.5 * 19.5 / 20.
    let q90 = s.quantile(0.9, "latency_seconds", &[]).unwrap().unwrap();
    assert!(close(q90, 0.5 + 0.5 * 19.5 / 20.0), "{q90}");
    // p99 falls in +Inf: histogram_quantile answers the highest finite bound.
    let q99 = s.quantile(0.99, "latency_seconds", &[]).unwrap().unwrap();
    assert_eq!(q99, 1.0);
    // Each equals the PromQL it stands for.
    let promql = "histogram_quantile(0.9, sum by (le) (increase(latency_seconds_bucket[5m])))";
    match h.query(promql, at(T0 + 300)).unwrap() {
        Value::Vector(v) => assert_eq!(v[0].v, q90),
        other => panic!("want a vector, got {other:?}"),
    }
}

#[test]
fn no_data_bad_names_and_bad_quantiles_are_told_apart() {
    let h = history();
    let s = h.stats_over(Duration::from_secs(300), at(T0 + 300));
    assert_eq!(s.increase("nothing_total", &[]).unwrap(), None);
    assert_eq!(
        s.error_ratio("errors_total", "requests_total", &[("route", "/none")])
            .unwrap(),
        None
    );
    assert_eq!(s.average_from_histogram("nothing", &[]).unwrap(), None);
    let e = s.quantile(1.5, "latency_seconds", &[]).unwrap_err();
    assert!(e.message.contains("between 0 and 1"), "{e:?}");
    let e = s
        .increase("requests_total", &[("bad-label", "x")])
        .unwrap_err();
    assert!(e.message.contains("bad-label"), "{e:?}");
    // Several series where one number is wanted: a clear error, not a guess.
    let e = s.scalar("requests_total").unwrap_err();
    assert!(e.message.contains("2 series"), "{e:?}");
    // A window before any data.
    let early = h.stats_over(Duration::from_secs(60), at(T0 - 600));
    assert_eq!(early.increase("requests_total", &[]).unwrap(), None);
}
