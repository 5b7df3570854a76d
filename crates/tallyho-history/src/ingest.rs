//! From a `Snapshot` to samples, named exactly as remote write names them
//! ([`tallyho_export::remote_write::write_request`]) but without building the request: label
//! pairs are borrowed into a buffer reused across a family, and only a series seen for the
//! first time allocates its labels. A unit test checks that both give the same series and
//! values.

use tallyho::{
    FamilySnapshot, HistogramData, HistogramValue, MetricKind, SeriesValue, Snapshot, SummaryData,
};
use tallyho_encode::number::write_prometheus_le;

/// The sample names of one family.
struct Names {
    sample: String,
    bucket: String,
    sum: String,
    count: String,
}

fn le_texts(bounds: &[f64]) -> Vec<String> {
    let mut buf = Vec::new();
    bounds
        .iter()
        .map(|&b| {
            buf.clear();
            // Writing to a Vec cannot fail.
            let _ = write_prometheus_le(&mut buf, b);
            String::from_utf8_lossy(&buf).into_owned()
        })
        .collect()
}

/// Calls `emit(pairs, value)` for every time series of `snapshot`: `pairs` sorted by name
/// (byte order), unique (the first of equal names wins, generated `__name__`/`le` first),
/// without empty values.
pub(crate) fn for_each_sample(snapshot: &Snapshot, mut emit: impl FnMut(&[(&str, &str)], f64)) {
    for family in &snapshot.families {
        let names = Names {
            sample: match family.kind {
                MetricKind::Counter | MetricKind::Info => {
                    format!("{}{}", family.name, family.kind.value_suffix())
                }
                _ => family.name.clone(),
            },
            bucket: format!("{}_bucket", family.name),
            sum: match family.kind {
                MetricKind::GaugeHistogram => format!("{}_gsum", family.name),
                _ => format!("{}_sum", family.name),
            },
            count: match family.kind {
                MetricKind::GaugeHistogram => format!("{}_gcount", family.name),
                _ => format!("{}_count", family.name),
            },
        };
        let bounds: &[f64] = family
            .series
            .iter()
            .find_map(|s| s.value.as_histogram())
            .map_or(&[], |h| &h.bounds);
        let les = le_texts(bounds);
        let quantiles: Vec<f64> = family
            .series
            .iter()
            .find_map(|s| s.value.as_summary())
            .map_or_else(Vec::new, |s| s.quantiles.iter().map(|q| q.0).collect());
        let qs = le_texts(&quantiles);
        let mut scratch = Scratch::default();
        let texts = Texts {
            bounds,
            les: &les,
            quantiles: &quantiles,
            qs: &qs,
        };
        family_samples(family, &names, &texts, &mut scratch, &mut emit);
    }
}

/// A series' own labels, sorted by name, first of equal names kept, empty values dropped.
fn sorted_own<'a>(own: &'a [(String, String)], out: &mut Vec<(&'a str, &'a str)>) {
    out.clear();
    out.extend(
        own.iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| (n.as_str(), v.as_str())),
    );
    if !out.windows(2).all(|w| w[0].0 < w[1].0) {
        // Stable, so the first of equal names stays first and survives the dedup.
        out.sort_by(|a, b| a.0.cmp(b.0));
        out.dedup_by(|later, earlier| later.0 == earlier.0);
    }
}

/// A family's bucket bounds and summary quantiles, with their `le`/`quantile` texts.
struct Texts<'a> {
    bounds: &'a [f64],
    les: &'a [String],
    quantiles: &'a [f64],
    qs: &'a [String],
}

fn family_samples<'a>(
    family: &'a FamilySnapshot,
    names: &'a Names,
    texts: &Texts<'a>,
    scratch: &mut Scratch<'a>,
    emit: &mut impl FnMut(&[(&str, &str)], f64),
) {
    let (bounds, les) = (texts.bounds, texts.les);
    for series in &family.series {
        sorted_own(&series.labels, &mut scratch.own);
        match &series.value {
            SeriesValue::Counter(n) | SeriesValue::Gauge(n) => {
                scratch.one(&names.sample, None, n.as_f64(), emit);
            }
            SeriesValue::Histogram(h) if h.bounds == bounds => {
                histogram(scratch, names, les, h, emit);
            }
            SeriesValue::Histogram(h) => {
                // Bounds unlike the family's first histogram: format them for this series.
                let les = le_texts(&h.bounds);
                let mut local = Scratch::default();
                sorted_own(&series.labels, &mut local.own);
                histogram(&mut local, names, &les, h, emit);
            }
            SeriesValue::Summary(sm) => {
                let same = sm
                    .quantiles
                    .iter()
                    .map(|q| q.0)
                    .eq(texts.quantiles.iter().copied());
                if same {
                    summary(scratch, names, texts.qs, sm, emit);
                } else {
                    // Quantiles unlike the family's first summary: spell them here.
                    let own: Vec<f64> = sm.quantiles.iter().map(|q| q.0).collect();
                    let qs = le_texts(&own);
                    let mut local = Scratch::default();
                    sorted_own(&series.labels, &mut local.own);
                    summary(&mut local, names, &qs, sm, emit);
                }
            }
            SeriesValue::StateSet(states) => {
                // A gauge per state, the state under a label named like the family.
                for (state, on) in states.iter() {
                    let extra = Some((family.name.as_str(), state));
                    scratch.one(&names.sample, extra, f64::from(u8::from(on)), emit);
                }
            }
        }
    }
}

fn summary<'a, 'b: 'a>(
    scratch: &mut Scratch<'a>,
    names: &'b Names,
    qs: &'b [String],
    s: &SummaryData,
    emit: &mut impl FnMut(&[(&str, &str)], f64),
) {
    for (&(_, v), q) in s.quantiles.iter().zip(qs) {
        scratch.one(&names.sample, Some(("quantile", q)), v, emit);
    }
    scratch.one(&names.sum, None, s.sum, emit);
    scratch.one(&names.count, None, s.count as f64, emit);
}

fn histogram<'a, 'b: 'a>(
    scratch: &mut Scratch<'a>,
    names: &'b Names,
    les: &'b [String],
    h: &HistogramData,
    emit: &mut impl FnMut(&[(&str, &str)], f64),
) {
    let value = HistogramValue {
        bounds: &h.bounds,
        counts: &h.counts,
        sum: h.sum,
        count: h.count,
        exponential: None,
    };
    // Finite buckets as counted; `+Inf` is always the count.
    for ((_, cumulative), le) in value.cumulative().zip(les) {
        scratch.one(&names.bucket, Some(("le", le)), cumulative as f64, emit);
    }
    scratch.one(&names.bucket, Some(("le", "+Inf")), h.count as f64, emit);
    scratch.one(&names.sum, None, h.sum, emit);
    scratch.one(&names.count, None, h.count as f64, emit);
}

/// Buffers reused across a family: the series' sorted own labels and the pairs handed out.
#[derive(Default)]
struct Scratch<'a> {
    own: Vec<(&'a str, &'a str)>,
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Scratch<'a> {
    /// Emits one time series: the generated `__name__` (and `extra`: a bucket's `le`, a
    /// stateset's state) merged into the sorted own labels, replacing own labels of the
    /// same name.
    fn one(
        &mut self,
        name: &'a str,
        extra: Option<(&'a str, &'a str)>,
        v: f64,
        emit: &mut impl FnMut(&[(&str, &str)], f64),
    ) {
        let mut generated = [("__name__", name), extra.unwrap_or(("", ""))];
        if extra.is_some() && generated[1].0.as_bytes() < generated[0].0.as_bytes() {
            generated.swap(0, 1);
        }
        let generated = match extra {
            Some(_) => &generated[..],
            None => &generated[..1],
        };
        self.pairs.clear();
        let mut own = self.own.iter().copied().peekable();
        for &(g, gv) in generated {
            while let Some(&(n, _)) = own.peek() {
                if n.as_bytes() >= g.as_bytes() {
                    break;
                }
                self.pairs.extend(own.next());
            }
            if own.peek().is_some_and(|&(n, _)| n == g) {
                own.next();
            }
            self.pairs.push((g, gv));
        }
        self.pairs.extend(own);
        emit(&self.pairs, v);
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use tallyho::Series;

    use super::*;

    fn hist(bounds: &[f64], counts: &[u64]) -> SeriesValue {
        SeriesValue::Histogram(HistogramData {
            bounds: bounds.to_vec(),
            counts: counts.to_vec(),
            sum: 4.5,
            count: counts.iter().sum(),
            exponential: None,
        })
    }

    fn series(labels: &[(&str, &str)], value: SeriesValue) -> Series {
        Series {
            labels: labels
                .iter()
                .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
                .collect(),
            start: UNIX_EPOCH,
            value,
        }
    }

    #[test]
    fn names_labels_and_values_match_remote_write_exactly() {
        let mut h = FamilySnapshot::new("lat_seconds", "h", MetricKind::Histogram);
        h.series.push(series(
            &[("z", "1"), ("a", "2")],
            hist(&[0.1, 1e6], &[1, 2, 3]),
        ));
        h.series
            .push(series(&[("le", "own"), ("B", "x")], hist(&[0.5], &[4, 5])));
        let snapshot = Snapshot {
            time: UNIX_EPOCH,
            families: vec![
                FamilySnapshot::new("jobs", "c", MetricKind::Counter)
                    .with_point(&[("b", "1"), ("a", ""), ("b", "2")], 7u64)
                    .with_point(&[("__name__", "evil"), ("Z", "upper")], 8u64),
                FamilySnapshot::new("temp", "g", MetricKind::Gauge)
                    .with_point(&[], -0.0)
                    .with_point(&[("x", "y")], f64::NAN),
                h,
                FamilySnapshot::new("build", "i", MetricKind::Info).with_point(&[("v", "1")], 1u64),
                stateset(),
                summaries(),
            ],
        };
        let want: Vec<(Vec<(String, String)>, u64)> =
            tallyho_export::remote_write::write_request(&snapshot, 5, false)
                .timeseries
                .into_iter()
                .map(|ts| {
                    let labels = ts.labels.into_iter().map(|l| (l.name, l.value)).collect();
                    (labels, ts.samples[0].value.to_bits())
                })
                .collect();
        let mut got = Vec::new();
        for_each_sample(&snapshot, |pairs, v| {
            let labels = pairs
                .iter()
                .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
                .collect();
            got.push((labels, v.to_bits()));
        });
        assert_eq!(got, want);
        assert_eq!(got.len(), 2 + 2 + 5 + 4 + 1 + 2 * 2 + 4 + 3);
    }

    /// Two summaries with different quantiles in one family (as a collector may give),
    /// one with an own `quantile` label that the generated one replaces.
    fn summaries() -> FamilySnapshot {
        let mut f = FamilySnapshot::new("rpc", "s", MetricKind::Summary);
        let summary = |quantiles: Vec<(f64, f64)>| {
            SeriesValue::Summary(SummaryData {
                quantiles,
                count: 3,
                sum: 1.5,
            })
        };
        f.series.push(series(
            &[("m", "a")],
            summary(vec![(0.5, 0.4), (0.99, 0.9)]),
        ));
        f.series
            .push(series(&[("quantile", "own")], summary(vec![(1.0, 1.0)])));
        f
    }

    /// A stateset named `_`, whose state label sorts before `__name__`; one series has an
    /// own label of that name, which the state label replaces.
    fn stateset() -> FamilySnapshot {
        let mut f = FamilySnapshot::new("_", "s", MetricKind::StateSet);
        let value = SeriesValue::StateSet(tallyho::StateSetData {
            states: vec!["on".into(), "off".into()],
            set: 0b01,
        });
        f.series
            .push(series(&[("_", "own"), ("a", "b")], value.clone()));
        f.series.push(series(&[("z", "y")], value));
        f
    }
}
