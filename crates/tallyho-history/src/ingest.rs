//! From a `Snapshot` to samples, named exactly as remote write names them
//! ([`tallyho_export::remote_write::write_request`]) but without building the request: label
//! pairs are borrowed into a buffer reused across a family, and only a series seen for the
//! first time allocates its labels. A unit test checks that both give the same series and
//! values.

use tallyho::{FamilySnapshot, HistogramData, HistogramValue, MetricKind, SeriesValue, Snapshot};
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
                MetricKind::Counter => format!("{}_total", family.name),
                _ => family.name.clone(),
            },
            bucket: format!("{}_bucket", family.name),
            sum: format!("{}_sum", family.name),
            count: format!("{}_count", family.name),
        };
        let bounds: &[f64] = family
            .series
            .iter()
            .find_map(|s| s.value.as_histogram())
            .map_or(&[], |h| &h.bounds);
        let les = le_texts(bounds);
        let mut scratch = Scratch::default();
        family_samples(family, &names, bounds, &les, &mut scratch, &mut emit);
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

fn family_samples<'a>(
    family: &'a FamilySnapshot,
    names: &'a Names,
    bounds: &[f64],
    les: &'a [String],
    scratch: &mut Scratch<'a>,
    emit: &mut impl FnMut(&[(&str, &str)], f64),
) {
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
        }
    }
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
        scratch.one(&names.bucket, Some(le), cumulative as f64, emit);
    }
    scratch.one(&names.bucket, Some("+Inf"), h.count as f64, emit);
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
    /// Emits one time series: the generated `__name__` (and `le`) merged into the sorted
    /// own labels, replacing own labels of the same name.
    fn one(
        &mut self,
        name: &'a str,
        le: Option<&'a str>,
        v: f64,
        emit: &mut impl FnMut(&[(&str, &str)], f64),
    ) {
        // "__name__" < "le" in byte order, so the generated labels are sorted.
        let generated = [("__name__", name), ("le", le.unwrap_or(""))];
        let generated = &generated[..if le.is_some() { 2 } else { 1 }];
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
        assert_eq!(got.len(), 2 + 2 + 5 + 4);
    }
}
