//! One batch as StatsD lines: what each kind of series becomes (see the module docs of
//! [`statsd`](super) for why).

use tallyho::{FamilySnapshot, HistogramData, MetricKind, Number, SeriesValue, Snapshot};

/// How names and labels are written.
#[derive(Debug, Clone, Default)]
pub(super) struct Naming {
    /// Put before every name, with a `.`; empty for none.
    pub(super) prefix: String,
    /// Labels as DogStatsD tags instead of name segments.
    pub(super) tags: bool,
}

/// What one series' value means in this batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    /// The value now: a gauge is set to it (`name:3|g`).
    Absolute,
    /// A change over the period: a gauge is adjusted by it (`name:+2|g`, `name:-2|g`).
    Change,
}

/// Lines counted as they are written, and values that cannot be written.
#[derive(Debug, Default)]
pub(super) struct Lines {
    /// The lines, in order (order matters: `x:0|g` must come before `x:-4|g`).
    pub(super) lines: Vec<String>,
    /// Values StatsD cannot carry (NaN, ±Inf), left out.
    pub(super) skipped: u64,
}

impl Naming {
    /// The lines for one collection.
    ///
    /// `values` holds gauges, up-down counters and histograms; `counters` the monotonic
    /// counters' changes over the period. With `changes` (a delta batch handed to
    /// [`export`](crate::Exporter::export) directly), up-down counters and histograms in
    /// `values` are changes too and become signed gauge adjustments; otherwise they are
    /// absolute values and set gauges.
    pub(super) fn encode(&self, values: &Snapshot, counters: &Snapshot, changes: bool) -> Lines {
        let mut out = Lines::default();
        for f in &counters.families {
            if f.kind == MetricKind::Counter {
                self.counter_family(f, &mut out);
            }
        }
        for f in &values.families {
            let meaning = match f.kind {
                MetricKind::Counter => continue,
                MetricKind::Gauge
                | MetricKind::Info
                | MetricKind::StateSet
                | MetricKind::GaugeHistogram
                | MetricKind::Summary => Meaning::Absolute,
                // Up-down counters and histograms (and any later kind): changed by the
                // pipeline's delta temporality, kept whole by the cumulative one.
                _ if changes => Meaning::Change,
                _ => Meaning::Absolute,
            };
            let family = match f.kind {
                MetricKind::Info => format!("{}_info", f.name),
                _ => f.name.clone(),
            };
            for s in &f.series {
                let (name, tags) = self.name_and_tags(&family, &s.labels);
                match &s.value {
                    SeriesValue::Counter(n) | SeriesValue::Gauge(n) => {
                        gauge(&mut out, &name, "", n.as_f64(), meaning, &tags);
                    }
                    SeriesValue::Histogram(h) => histogram(&mut out, &name, h, meaning, &tags),
                    SeriesValue::Summary(sm) => {
                        // `name.count`, `name.sum` and `name.quantile_<q>` gauges.
                        gauge(&mut out, &name, ".count", sm.count as f64, meaning, &tags);
                        gauge(&mut out, &name, ".sum", sm.sum, meaning, &tags);
                        for &(q, v) in &sm.quantiles {
                            let suffix = format!(".quantile_{}", bound_segment(q));
                            gauge(&mut out, &name, &suffix, v, meaning, &tags);
                        }
                    }
                    SeriesValue::StateSet(states) => {
                        // A gauge per state, tagged with the state as the gauge formats do.
                        for (state, on) in states.iter() {
                            let mut labels = s.labels.clone();
                            labels.push((f.name.clone(), state.to_owned()));
                            let (name, tags) = self.name_and_tags(&family, &labels);
                            let v = f64::from(u8::from(on));
                            gauge(&mut out, &name, "", v, meaning, &tags);
                        }
                    }
                }
            }
        }
        out
    }

    fn counter_family(&self, f: &FamilySnapshot, out: &mut Lines) {
        for s in &f.series {
            let SeriesValue::Counter(n) = &s.value else {
                continue;
            };
            let Some(text) = number(*n) else {
                out.skipped += 1;
                continue;
            };
            if n.as_f64() != 0.0 {
                let (name, tags) = self.name_and_tags(&f.name, &s.labels);
                out.lines.push(format!("{name}:{text}|c{tags}"));
            }
        }
    }

    /// The name with labels folded in (`jobs.outcome.ok`), or the name and `|#k:v,...`.
    fn name_and_tags(&self, family: &str, labels: &[(String, String)]) -> (String, String) {
        let mut name = String::new();
        if !self.prefix.is_empty() {
            name.push_str(&self.prefix);
            name.push('.');
        }
        name.push_str(family);
        let mut tags = String::new();
        for (k, v) in labels {
            if self.tags {
                tags.push_str(if tags.is_empty() { "|#" } else { "," });
                tags.push_str(&sanitize(k));
                tags.push(':');
                tags.push_str(&sanitize(v));
            } else {
                name.push('.');
                name.push_str(&sanitize(k));
                name.push('.');
                name.push_str(&sanitize(v));
            }
        }
        (name, tags)
    }
}

/// A histogram as the gauges `name.count`, `name.sum` and `name.bucket.le_<bound>` (the
/// cumulative count at or below each finite bound, Prometheus' `le`).
fn histogram(out: &mut Lines, name: &str, h: &HistogramData, meaning: Meaning, tags: &str) {
    gauge(out, name, ".count", h.count as f64, meaning, tags);
    gauge(out, name, ".sum", h.sum, meaning, tags);
    let mut below = 0u64;
    for (bound, count) in h.bounds.iter().zip(&h.counts) {
        below = below.saturating_add(*count);
        let suffix = format!(".bucket.le_{}", bound_segment(*bound));
        gauge(out, name, &suffix, below as f64, meaning, tags);
    }
}

/// One gauge line (two for a negative absolute value: a leading sign means "adjust", so
/// `x:-4|g` alone would subtract 4; `x:0|g` first makes it a value). A change of 0 is
/// left out; a value StatsD cannot carry is counted and left out.
fn gauge(out: &mut Lines, name: &str, suffix: &str, v: f64, meaning: Meaning, tags: &str) {
    let Some(text) = float(v) else {
        out.skipped += 1;
        return;
    };
    match meaning {
        Meaning::Absolute => {
            if v < 0.0 {
                out.lines.push(format!("{name}{suffix}:0|g{tags}"));
            }
            out.lines.push(format!("{name}{suffix}:{text}|g{tags}"));
        }
        Meaning::Change if v == 0.0 => {}
        Meaning::Change => {
            let sign = if v > 0.0 { "+" } else { "" };
            out.lines
                .push(format!("{name}{suffix}:{sign}{text}|g{tags}"));
        }
    }
}

/// A bucket bound as one name segment: `.` would start a new Graphite node, so
/// `0.25` is `0_25`; `-1` stays `-1`.
fn bound_segment(bound: f64) -> String {
    float(bound).map_or_else(|| "inf".to_owned(), |s| s.replace('.', "_"))
}

/// Characters that would break the line format (`:|@#,` and whitespace) become `_`.
fn sanitize(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if matches!(c, ':' | '|' | '@' | '#' | ',') || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if out.is_empty() {
        "_".to_owned()
    } else {
        out
    }
}

fn number(n: Number) -> Option<String> {
    match n {
        Number::U64(v) => Some(v.to_string()),
        Number::I64(v) => Some(v.to_string()),
        Number::F64(v) => float(v),
    }
}

/// The shortest text that reads back as `v` (Rust never writes an exponent, which
/// neither daemon would take in every position); `None` for NaN and ±Inf.
fn float(v: f64) -> Option<String> {
    v.is_finite().then(|| format!("{v}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tallyho::{Buckets, Registry};

    fn encode(naming: &Naming, s: &Snapshot, changes: bool) -> Vec<String> {
        naming.encode(s, s, changes).lines
    }

    #[test]
    fn absolute_gauges_and_cumulative_histograms() {
        let r = Registry::new();
        let inflight = r.metric("inflight", "").up_down_counter().unwrap();
        let temp = r.gauge("temp", "").unwrap();
        let lat = r
            .metric("lat", "")
            .buckets(Buckets::new([0.1, 0.25]).unwrap())
            .histogram()
            .unwrap();
        inflight.add(5);
        inflight.add(-7);
        temp.set(f64::NAN);
        for v in [0.05, 0.2, 0.2, 9.0] {
            lat.observe(v);
        }
        let naming = Naming {
            prefix: "app".into(),
            tags: false,
        };
        let out = naming.encode(&r.snapshot(), &r.snapshot(), false);
        assert_eq!(out.skipped, 1, "NaN is left out, not sent as 0");
        let sum = 0.05 + 0.2 + 0.2 + 9.0;
        assert_eq!(
            out.lines,
            [
                "app.inflight:0|g".to_owned(),
                "app.inflight:-2|g".to_owned(),
                "app.lat.count:4|g".to_owned(),
                format!("app.lat.sum:{sum}|g"),
                "app.lat.bucket.le_0_1:1|g".to_owned(),
                "app.lat.bucket.le_0_25:3|g".to_owned(),
            ]
        );
    }

    #[test]
    fn changes_become_signed_adjustments() {
        let r = Registry::new();
        let inflight = r.metric("inflight", "").up_down_counter().unwrap();
        let lat = r
            .metric("lat", "")
            .buckets(Buckets::new([-1.0, 1.0]).unwrap()) // a negative bound: negative values are recorded
            .histogram()
            .unwrap();
        inflight.add(-2);
        lat.observe(-0.5);
        let naming = Naming {
            prefix: String::new(),
            tags: true,
        };
        assert_eq!(
            encode(&naming, &r.snapshot(), true),
            [
                "inflight:-2|g",
                "lat.count:+1|g",
                "lat.sum:-0.5|g",
                "lat.bucket.le_1:+1|g"
            ]
        );
    }

    #[test]
    fn names_and_bounds_stay_one_segment() {
        assert_eq!(bound_segment(0.005), "0_005");
        assert_eq!(bound_segment(-1.0), "-1");
        assert_eq!(bound_segment(1e-7), "0_0000001");
        assert_eq!(sanitize("a b:c|d"), "a_b_c_d");
        assert_eq!(sanitize(""), "_");
    }
}
