//! Delta batches derived from cumulative state: the registry stays the source of truth, so a
//! failed push loses nothing and deltas are simply differences between collections.

use std::collections::HashMap;
use std::time::SystemTime;

use tallyho::{HistogramData, MetricKind, Number, SeriesValue, Snapshot};

type Key = (String, Vec<(String, String)>);

/// Remembers the last cumulative values an exporter saw.
#[derive(Default, Clone)]
pub(crate) struct DeltaState {
    last: HashMap<Key, SeriesValue>,
}

impl DeltaState {
    /// `current` as changes since the previous call. Counters and histograms become
    /// differences (a total that went down, a reset, counts from zero); gauges stay as they
    /// are; up-down counters become differences too. Series start at `period_start`.
    pub(crate) fn delta(&mut self, current: &Snapshot, period_start: SystemTime) -> Snapshot {
        let mut out = current.clone();
        for family in &mut out.families {
            let kind = family.kind;
            for series in &mut family.series {
                let key = (family.name.clone(), series.labels.clone());
                let now = series.value.clone();
                if kind != MetricKind::Gauge {
                    if let Some(prev) = self.last.get(&key) {
                        series.value = diff(&now, prev);
                    }
                    if series.start < period_start {
                        series.start = period_start;
                    }
                }
                self.last.insert(key, now);
            }
        }
        out
    }
}

fn diff(now: &SeriesValue, prev: &SeriesValue) -> SeriesValue {
    match (now, prev) {
        (SeriesValue::Counter(n), SeriesValue::Counter(p)) => {
            SeriesValue::Counter(sub(*n, *p, true))
        }
        (SeriesValue::Gauge(n), SeriesValue::Gauge(p)) => SeriesValue::Gauge(sub(*n, *p, false)),
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
}
