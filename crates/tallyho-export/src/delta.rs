//! Delta batches derived from cumulative state: the registry stays the source of truth, so a
//! failed push loses nothing and deltas are simply differences between collections.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use tallyho::{HistogramData, MetricKind, Number, SeriesValue, Snapshot};

type Key = (String, Vec<(String, String)>);

/// Remembers the last cumulative values an exporter saw, and when each series started.
#[derive(Default, Clone)]
pub(crate) struct DeltaState {
    last: HashMap<Key, (SeriesValue, SystemTime)>,
}

impl DeltaState {
    /// `current` as changes since the previous call. Counters, up-down counters and
    /// histograms become differences; gauges stay as they are.
    ///
    /// The first time a series is seen there is nothing to subtract. Following the OTLP
    /// data model ("Resets and Gaps": a first point whose start is before its time begins
    /// at a true reset at a *known* start time), a series with a known start (its
    /// instrument's creation, the process start, boot for host counters) is sent whole,
    /// over its own window `[start, now]`, so nothing is lost and nothing is stamped
    /// onto a window it did not happen in. A series with no known start (the Unix epoch),
    /// or one that claims to start after the collection, is kept only as the baseline for
    /// the next period and left out of this batch, as the collector's `cumulativetodelta`
    /// processor does (`initial_value: auto`).
    ///
    /// Later points cover `[period_start, now]`; a series that restarted (a later start than
    /// before) is sent whole over `[start, now]`, and a monotonic total that went down
    /// (a reset at an unknown time) whole over the period.
    pub(crate) fn delta(&mut self, current: &Snapshot, period_start: SystemTime) -> Snapshot {
        let mut out = current.clone();
        for family in &mut out.families {
            let kind = family.kind;
            // Values that are set, not totals: an info's 1, a stateset's states, a gauge
            // histogram's current buckets; summaries, whose window quantiles have no
            // difference (OTLP's Summary is cumulative); and up-down counters, which
            // OpenTelemetry's delta and lowmemory preferences keep cumulative (their sum is
            // a level, like a gauge's).
            if matches!(
                kind,
                MetricKind::Gauge
                    | MetricKind::UpDownCounter
                    | MetricKind::Info
                    | MetricKind::StateSet
                    | MetricKind::GaugeHistogram
                    | MetricKind::Summary
            ) {
                continue;
            }
            let mut kept = Vec::with_capacity(family.series.len());
            family.series.retain_mut(|series| {
                let key = (family.name.clone(), series.labels.clone());
                let now = series.value.clone();
                let start = series.start;
                let keep = match self.last.get(&key) {
                    Some((prev, prev_start)) if start <= *prev_start => {
                        series.value = diff(&now, prev);
                        series.start = start.max(period_start);
                        true
                    }
                    // Restarted since the previous period: all of it is new since `start`.
                    Some(_) => true,
                    None => start > UNIX_EPOCH && start <= current.time,
                };
                self.last.insert(key, (now, start));
                kept.push(keep);
                keep
            });
            family.exemplars = period_exemplars(&family.exemplars, &kept, period_start);
        }
        out
    }
}

/// The exemplars of the series `kept`, re-indexed to the series left, and only those
/// recorded in this period (a delta point's exemplars are its period's events).
fn period_exemplars(
    all: &[(usize, Vec<Option<tallyho::Exemplar>>)],
    kept: &[bool],
    period_start: SystemTime,
) -> Vec<(usize, Vec<Option<tallyho::Exemplar>>)> {
    let mut out = Vec::new();
    for (i, exemplars) in all {
        if !kept.get(*i).copied().unwrap_or(false) {
            continue;
        }
        let at = kept[..*i].iter().filter(|k| **k).count();
        let recent: Vec<_> = exemplars
            .iter()
            .map(|e| e.filter(|e| e.time >= period_start))
            .collect();
        if recent.iter().any(Option::is_some) {
            out.push((at, recent));
        }
    }
    out
}

fn diff(now: &SeriesValue, prev: &SeriesValue) -> SeriesValue {
    match (now, prev) {
        (SeriesValue::Counter(n), SeriesValue::Counter(p)) => {
            SeriesValue::Counter(sub(*n, *p, true))
        }
        (SeriesValue::Gauge(n), SeriesValue::Gauge(p)) => SeriesValue::Gauge(sub(*n, *p, false)),
        (SeriesValue::Histogram(n), SeriesValue::Histogram(p))
            if n.exponential.is_some() || p.exponential.is_some() =>
        {
            // Exponential buckets: subtracted at the lower of the two scales.
            let delta = n
                .exponential
                .as_ref()
                .zip(p.exponential.as_ref())
                .filter(|_| n.count >= p.count)
                .and_then(|(a, b)| a.minus(b));
            match delta {
                Some(d) => {
                    let (bounds, counts) = d.classic();
                    SeriesValue::Histogram(HistogramData {
                        bounds,
                        counts,
                        sum: n.sum - p.sum,
                        count: n.count - p.count,
                        exponential: Some(d),
                    })
                }
                None => now.clone(),
            }
        }
        (SeriesValue::Histogram(n), SeriesValue::Histogram(p))
            if n.bounds == p.bounds && n.count >= p.count =>
        {
            SeriesValue::Histogram(HistogramData {
                bounds: n.bounds.clone(),
                counts: n
                    .counts
                    .iter()
                    .zip(&p.counts)
                    .map(|(a, b)| a.saturating_sub(*b))
                    .collect(),
                sum: n.sum - p.sum,
                count: n.count - p.count,
                exponential: None,
            })
        }
        // A reset or a changed shape: everything now is new.
        _ => now.clone(),
    }
}

/// `n - p`; for monotonic totals a decrease means a reset, so the delta is `n`.
fn sub(n: Number, p: Number, monotonic: bool) -> Number {
    match (n, p) {
        (Number::U64(a), Number::U64(b)) => Number::U64(if a >= b { a - b } else { a }),
        (Number::I64(a), Number::I64(b)) => Number::I64(a.wrapping_sub(b)),
        (a, b) => {
            let (a, b) = (a.as_f64(), b.as_f64());
            Number::F64(if monotonic && a < b { a } else { a - b })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tallyho::{Buckets, Registry};

    #[test]
    fn counters_histograms_and_gauges() {
        let r = Registry::new();
        let c = r.counter("c", "").unwrap();
        let g = r.gauge("g", "").unwrap();
        let h = r.histogram("h", "", Buckets::new([1.0]).unwrap()).unwrap();
        let mut d = DeltaState::default();
        c.add(5);
        g.set(3.0);
        h.observe(0.5);
        let t0 = SystemTime::now();
        let first = d.delta(&r.snapshot(), t0);
        assert_eq!(first.value("c", &[]), Some(5.0));
        c.add(2);
        h.observe(2.0);
        let second = d.delta(&r.snapshot(), t0);
        assert_eq!(second.value("c", &[]), Some(2.0));
        assert_eq!(second.value("g", &[]), Some(3.0));
        let hd = second.family("h").unwrap().series[0]
            .value
            .as_histogram()
            .unwrap()
            .clone();
        assert_eq!((hd.count, hd.sum, hd.counts), (1, 2.0, vec![0, 1]));
        let third = d.delta(&r.snapshot(), t0);
        assert_eq!(third.value("c", &[]), Some(0.0));
    }

    #[test]
    fn up_down_counters_stay_cumulative() {
        let r = Registry::new();
        let open = r.metric("open", "").up_down_counter().unwrap();
        let mut d = DeltaState::default();
        let t0 = SystemTime::now() - std::time::Duration::from_secs(1);
        open.add(5);
        assert_eq!(d.delta(&r.snapshot(), t0).value("open", &[]), Some(5.0));
        open.add(-2);
        assert_eq!(
            d.delta(&r.snapshot(), t0).value("open", &[]),
            Some(3.0),
            "the level, not the change of -2"
        );
    }

    #[test]
    fn exemplars_follow_their_series_and_stay_in_their_period() {
        use tallyho::TraceContext;
        let r = Registry::new();
        let fam = r.metric("c", "").counter_family(&["k"]).unwrap();
        let ctx = TraceContext::new([7; 16], [7; 8]);
        let mut d = DeltaState::default();
        // First period: "a" is new (sent whole), "b" gets an exemplar.
        fam.with(&["a"]).inc();
        fam.with(&["b"]).add_with_exemplar(4, ctx);
        let t0 = SystemTime::now() - std::time::Duration::from_secs(1);
        let first = d.delta(&r.snapshot(), t0);
        let f = first.family("c").unwrap();
        let b = f.series.iter().position(|s| s.labels[0].1 == "b").unwrap();
        assert_eq!(f.exemplars_of(b)[0].unwrap().value, 4.0);
        // Second period: nothing new recorded on "b": its old exemplar is not sent again.
        fam.with(&["a"]).inc();
        let t1 = SystemTime::now();
        let second = d.delta(&r.snapshot(), t1);
        assert!(second.family("c").unwrap().exemplars.is_empty());
    }

    #[test]
    fn exponential_histograms_subtract_across_a_scale_change() {
        let r = Registry::new();
        let h = r
            .metric("e", "")
            .exponential(tallyho::ExpConfig::default().max_buckets(8).unwrap())
            .exponential_histogram()
            .unwrap();
        let mut d = DeltaState::default();
        let t0 = SystemTime::now();
        h.observe(1.5);
        h.observe(1.6);
        let _ = d.delta(&r.snapshot(), t0);
        // A value far away lowers the scale; the delta holds it alone.
        h.observe(300.0);
        let second = d.delta(&r.snapshot(), t0);
        let hd = second.family("e").unwrap().series[0]
            .value
            .as_histogram()
            .unwrap()
            .clone();
        let e = hd.exponential.expect("still exponential");
        assert_eq!((hd.count, hd.sum), (1, 300.0));
        assert_eq!(e.count(), 1);
        assert_eq!(e.positive.iter().filter(|&&c| c > 0).count(), 1);
        assert_eq!(
            hd.counts.iter().sum::<u64>(),
            1,
            "the classic view of the delta"
        );
    }

    #[test]
    fn first_points_start_at_the_series_start_or_are_the_baseline() {
        use std::time::Duration;
        use tallyho::FamilySnapshot;

        let boot = SystemTime::now() - Duration::from_secs(86_400);
        let period = SystemTime::now() - Duration::from_secs(1);
        let snapshot = |cpu: f64, unknown: u64| {
            let mut since_boot = FamilySnapshot::new("cpu", "", MetricKind::Counter)
                .with_point(&[("state", "user")], cpu);
            since_boot.series[0].start = boot;
            let mut no_start =
                FamilySnapshot::new("x", "", MetricKind::Counter).with_point(&[], unknown);
            no_start.series[0].start = UNIX_EPOCH;
            Snapshot {
                time: SystemTime::now(),
                families: vec![since_boot, no_start],
            }
        };
        let mut d = DeltaState::default();
        let first = d.delta(&snapshot(1093.0, 40), period);
        let cpu = &first.family("cpu").unwrap().series[0];
        assert_eq!(
            (cpu.start, cpu.value.clone()),
            (boot, SeriesValue::Counter(1093.0.into()))
        );
        assert!(
            first.family("x").unwrap().series.is_empty(),
            "baseline only"
        );
        let second = d.delta(&snapshot(1094.5, 47), period);
        assert_eq!(second.value("cpu", &[("state", "user")]), Some(1.5));
        assert_eq!(second.family("cpu").unwrap().series[0].start, period);
        assert_eq!(second.value("x", &[]), Some(7.0));

        // A series that restarted is sent whole from its new start.
        let restart = SystemTime::now() - Duration::from_millis(10);
        let mut third = snapshot(2.0, 47);
        third.families[0].series[0].start = restart;
        let third = d.delta(&third, period);
        let cpu = &third.family("cpu").unwrap().series[0];
        assert_eq!((cpu.start, cpu.value.as_f64()), (restart, Some(2.0)));
    }
}
