//! The Prometheus protobuf exposition (`io.prometheus.client.MetricFamily`, length-
//! delimited), the only format that carries native histograms to a Prometheus scrape.
//!
//! Prometheus asks for it with `Accept: application/vnd.google.protobuf;
//! proto=io.prometheus.client.MetricFamily;encoding=delimited` when run with
//! `--enable-feature=native-histograms`. Exponential histograms are written as native
//! histograms (OpenTelemetry's scale is Prometheus' schema; a scale above 8, the most
//! Prometheus takes, is lowered first), histograms with explicit buckets as classic ones.
//!
//! The messages are the few of `metrics.proto` this needs, declared here with prost.

use std::io::{self, Write};

use prost::Message;
use tallyho::{ExpBuckets, FamilyInfo, MetricKind, Number, Point, PointValue, Source, Visitor};

/// The `Content-Type` of this format.
pub const CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// The finest schema Prometheus accepts.
const MAX_SCHEMA: i32 = 8;

#[derive(Clone, PartialEq, Message)]
struct LabelPair {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, Message)]
struct Gauge {
    #[prost(double, tag = "1")]
    value: f64,
}

#[derive(Clone, PartialEq, Message)]
struct Counter {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(message, optional, tag = "2")]
    exemplar: Option<Exemplar>,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, PartialEq, Message)]
struct Timestamp {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

#[derive(Clone, PartialEq, Message)]
struct Exemplar {
    #[prost(message, repeated, tag = "1")]
    label: Vec<LabelPair>,
    #[prost(double, tag = "2")]
    value: f64,
    #[prost(message, optional, tag = "3")]
    timestamp: Option<Timestamp>,
}

#[derive(Clone, PartialEq, Message)]
struct Bucket {
    #[prost(uint64, tag = "1")]
    cumulative_count: u64,
    #[prost(double, tag = "2")]
    upper_bound: f64,
    #[prost(message, optional, tag = "3")]
    exemplar: Option<Exemplar>,
}

#[derive(Clone, PartialEq, Message)]
struct BucketSpan {
    #[prost(sint32, tag = "1")]
    offset: i32,
    #[prost(uint32, tag = "2")]
    length: u32,
}

#[derive(Clone, PartialEq, Message)]
struct Histogram {
    #[prost(uint64, tag = "1")]
    sample_count: u64,
    #[prost(double, tag = "2")]
    sample_sum: f64,
    #[prost(message, repeated, tag = "3")]
    bucket: Vec<Bucket>,
    #[prost(sint32, tag = "5")]
    schema: i32,
    #[prost(double, tag = "6")]
    zero_threshold: f64,
    #[prost(uint64, tag = "7")]
    zero_count: u64,
    #[prost(message, repeated, tag = "9")]
    negative_span: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "10")]
    negative_delta: Vec<i64>,
    #[prost(message, repeated, tag = "12")]
    positive_span: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "13")]
    positive_delta: Vec<i64>,
    /// A native histogram's exemplars (its buckets carry none of their own).
    #[prost(message, repeated, tag = "16")]
    exemplars: Vec<Exemplar>,
}

#[derive(Clone, PartialEq, Message)]
struct Quantile {
    #[prost(double, tag = "1")]
    quantile: f64,
    #[prost(double, tag = "2")]
    value: f64,
}

#[derive(Clone, PartialEq, Message)]
struct Summary {
    #[prost(uint64, tag = "1")]
    sample_count: u64,
    #[prost(double, tag = "2")]
    sample_sum: f64,
    #[prost(message, repeated, tag = "3")]
    quantile: Vec<Quantile>,
}

#[derive(Clone, PartialEq, Message)]
struct Metric {
    #[prost(message, repeated, tag = "1")]
    label: Vec<LabelPair>,
    #[prost(message, optional, tag = "2")]
    gauge: Option<Gauge>,
    #[prost(message, optional, tag = "3")]
    counter: Option<Counter>,
    #[prost(message, optional, tag = "4")]
    summary: Option<Summary>,
    #[prost(message, optional, tag = "7")]
    histogram: Option<Histogram>,
}

#[derive(Clone, PartialEq, Message)]
struct MetricFamily {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    help: String,
    /// COUNTER = 0, GAUGE = 1, SUMMARY = 2, HISTOGRAM = 4, GAUGE_HISTOGRAM = 5.
    #[prost(int32, tag = "3")]
    kind: i32,
    #[prost(message, repeated, tag = "4")]
    metric: Vec<Metric>,
}

/// Writes every family and point of `source` to `w` as length-delimited `MetricFamily`
/// messages.
///
/// # Errors
/// The first error from `w` (or from the source).
pub fn encode(w: &mut dyn Write, source: &dyn Source) -> io::Result<()> {
    let mut e = Encoder {
        w,
        family: None,
        buf: Vec::new(),
    };
    source.visit(&mut e)?;
    e.flush_family()
}

struct Encoder<'w> {
    w: &'w mut dyn Write,
    family: Option<MetricFamily>,
    buf: Vec<u8>,
}

impl Encoder<'_> {
    fn flush_family(&mut self) -> io::Result<()> {
        let Some(f) = self.family.take() else {
            return Ok(());
        };
        if f.metric.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        f.encode_length_delimited(&mut self.buf)
            .map_err(|e| io::Error::other(e.to_string()))?;
        self.w.write_all(&self.buf)
    }
}

impl Visitor for Encoder<'_> {
    fn family(&mut self, info: &FamilyInfo<'_>) -> io::Result<()> {
        self.flush_family()?;
        let (name, kind) = match info.kind {
            MetricKind::Counter => (format!("{}_total", info.name), 0),
            MetricKind::Info => (format!("{}_info", info.name), 1),
            MetricKind::Histogram => (info.name.to_owned(), 4),
            MetricKind::GaugeHistogram => (info.name.to_owned(), 5),
            MetricKind::Summary => (info.name.to_owned(), 2),
            _ => (info.name.to_owned(), 1),
        };
        self.family = Some(MetricFamily {
            name,
            help: info.help.to_owned(),
            kind,
            metric: Vec::new(),
        });
        Ok(())
    }

    fn point(&mut self, point: &Point<'_>) -> io::Result<()> {
        let Some(family) = &mut self.family else {
            return Ok(());
        };
        let mut label = Vec::new();
        point.labels.for_each(|name, value| {
            label.push(LabelPair {
                name: name.to_owned(),
                value: value.to_owned(),
            })
        });
        if let PointValue::StateSet(s) = point.value {
            // A gauge per state, the state under a label named like the family.
            for (state, on) in s.iter() {
                let mut label = label.clone();
                label.push(LabelPair {
                    name: family.name.clone(),
                    value: state.to_owned(),
                });
                family.metric.push(Metric {
                    label,
                    gauge: Some(Gauge {
                        value: f64::from(u8::from(on)),
                    }),
                    ..Metric::default()
                });
            }
            return Ok(());
        }
        let mut m = Metric {
            label,
            ..Metric::default()
        };
        let f = |n: Number| n.as_f64();
        match point.value {
            PointValue::Counter(n) if family.kind == 0 => {
                m.counter = Some(Counter {
                    value: f(n),
                    exemplar: point.exemplars.first().copied().flatten().map(exemplar),
                })
            }
            PointValue::Counter(n) | PointValue::Gauge(n) => m.gauge = Some(Gauge { value: f(n) }),
            PointValue::Histogram(h) => {
                let native = h.exponential.and_then(native);
                m.histogram = Some(match native {
                    Some(mut n) => {
                        n.sample_count = h.count;
                        n.sample_sum = h.sum;
                        n.exemplars = point
                            .exemplars
                            .iter()
                            .flatten()
                            .map(|e| exemplar(*e))
                            .collect();
                        n
                    }
                    None => Histogram {
                        sample_count: h.count,
                        sample_sum: h.sum,
                        bucket: h
                            .cumulative()
                            .take(h.bounds.len())
                            .enumerate()
                            .map(|(i, (upper_bound, cumulative_count))| Bucket {
                                cumulative_count,
                                upper_bound,
                                exemplar: point.exemplars.get(i).copied().flatten().map(exemplar),
                            })
                            .collect(),
                        ..Histogram::default()
                    },
                });
            }
            PointValue::Summary(s) => {
                m.summary = Some(Summary {
                    sample_count: s.count,
                    sample_sum: s.sum,
                    quantile: s
                        .quantiles
                        .iter()
                        .map(|&(quantile, value)| Quantile { quantile, value })
                        .collect(),
                });
            }
            PointValue::StateSet(_) => {}
        }
        family.metric.push(m);
        Ok(())
    }

    fn end_family(&mut self) -> io::Result<()> {
        self.flush_family()
    }
}

/// An exemplar: `trace_id` and `span_id` labels as OpenMetrics writes them.
fn exemplar(e: tallyho::Exemplar) -> Exemplar {
    let d = e
        .time
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Exemplar {
        label: vec![
            LabelPair {
                name: "trace_id".into(),
                value: e.trace.trace_id_hex(),
            },
            LabelPair {
                name: "span_id".into(),
                value: e.trace.span_id_hex(),
            },
        ],
        value: e.value,
        timestamp: Some(Timestamp {
            seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
        }),
    }
}

/// The native-histogram fields of exponential buckets; `None` when their scale is below
/// what Prometheus takes (then the classic view is sent).
fn native(e: &ExpBuckets) -> Option<Histogram> {
    let n = e.native(MAX_SCHEMA)?;
    let spans = |s: &[(i32, u32)]| {
        s.iter()
            .map(|&(offset, length)| BucketSpan { offset, length })
            .collect()
    };
    Some(Histogram {
        schema: n.schema,
        zero_threshold: n.zero_threshold,
        zero_count: n.zero_count,
        positive_span: spans(&n.positive_spans),
        positive_delta: n.positive_deltas,
        negative_span: spans(&n.negative_spans),
        negative_delta: n.negative_deltas,
        ..Histogram::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_round_trips_through_the_messages() {
        let r = tallyho::Registry::new();
        r.counter("jobs", "Jobs.").unwrap().add(3);
        let h = r
            .metric("rtt", "Round trips.")
            .exponential_histogram()
            .unwrap();
        for v in [0.5, 1.5, 3.0] {
            h.observe(v);
        }
        let mut out = Vec::new();
        encode(&mut out, &r).unwrap();
        let mut at = &out[..];
        let jobs = MetricFamily::decode_length_delimited(&mut at).unwrap();
        assert_eq!((jobs.name.as_str(), jobs.kind), ("jobs_total", 0));
        assert_eq!(jobs.metric[0].counter.as_ref().unwrap().value, 3.0);
        let rtt = MetricFamily::decode_length_delimited(&mut at).unwrap();
        let n = rtt.metric[0].histogram.as_ref().unwrap();
        // 160 buckets over 0.5..3 (2.6 doublings) leave scale 5.
        assert_eq!(n.schema, 5);
        assert_eq!(n.sample_count, 3);
        let total: i64 = n
            .positive_delta
            .iter()
            .scan(0, |c, d| {
                *c += d;
                Some(*c)
            })
            .sum();
        assert_eq!(total, 3);
    }

    #[test]
    fn info_and_stateset_are_gauges() {
        let r = tallyho::Registry::new();
        r.info("build", "Build.", &[("version", "1.2")]).unwrap();
        let phase = r
            .metric("phase", "Phase.")
            .stateset(&["up", "down"])
            .unwrap();
        phase.set("down");
        let mut out = Vec::new();
        encode(&mut out, &r).unwrap();
        let mut at = &out[..];
        let build = MetricFamily::decode_length_delimited(&mut at).unwrap();
        assert_eq!((build.name.as_str(), build.kind), ("build_info", 1));
        assert_eq!(build.metric[0].gauge.as_ref().unwrap().value, 1.0);
        assert_eq!(build.metric[0].label[0].name, "version");
        let phase = MetricFamily::decode_length_delimited(&mut at).unwrap();
        assert_eq!((phase.name.as_str(), phase.kind), ("phase", 1));
        let states: Vec<(String, String, f64)> = phase
            .metric
            .iter()
            .map(|m| {
                let l = &m.label[0];
                (
                    l.name.clone(),
                    l.value.clone(),
                    m.gauge.as_ref().unwrap().value,
                )
            })
            .collect();
        assert_eq!(
            states,
            [
                ("phase".to_owned(), "up".to_owned(), 0.0),
                ("phase".to_owned(), "down".to_owned(), 1.0)
            ]
        );
    }

    #[test]
    fn summaries_and_gauge_histograms_have_their_types() {
        let r = tallyho::Registry::new();
        let s = r.metric("rpc", "RPC.").summary().unwrap();
        for v in [1.0, 2.0, 3.0] {
            s.observe(v);
        }
        let g = r
            .metric("queue", "Queue.")
            .buckets(tallyho::Buckets::new([1.0]).unwrap())
            .gauge_histogram()
            .unwrap();
        g.add(0.5);
        g.add(2.0);
        let mut out = Vec::new();
        encode(&mut out, &r).unwrap();
        let mut at = &out[..];
        let rpc = MetricFamily::decode_length_delimited(&mut at).unwrap();
        assert_eq!((rpc.name.as_str(), rpc.kind), ("rpc", 2));
        let sm = rpc.metric[0].summary.as_ref().unwrap();
        assert_eq!((sm.sample_count, sm.sample_sum), (3, 6.0));
        let qs: Vec<f64> = sm.quantile.iter().map(|q| q.quantile).collect();
        assert_eq!(qs, [0.5, 0.9, 0.99]);
        assert!((sm.quantile[0].value - 2.0).abs() / 2.0 < 0.01);
        let queue = MetricFamily::decode_length_delimited(&mut at).unwrap();
        assert_eq!((queue.name.as_str(), queue.kind), ("queue", 5));
        let h = queue.metric[0].histogram.as_ref().unwrap();
        assert_eq!((h.sample_count, h.sample_sum), (2, 2.5));
        assert_eq!(h.bucket[0].cumulative_count, 1);
    }
}
