//! The OTLP wire mapping: a batch to `Metric`s (see the [module docs](super)), split into
//! requests of a bounded number of points. Pure functions, tested without a socket.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point::Buckets, metric, number_data_point,
    summary_data_point::ValueAtQuantile, AggregationTemporality, Exemplar, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use tallyho::{FamilySnapshot, MetricKind, Number, Series, SeriesValue, OVERFLOW_LABEL};

use crate::exporter::{Batch, Temporality};

/// One request carrying `metrics` under `resource` and `scope`.
pub(super) fn request(
    resource: &Resource,
    scope: &InstrumentationScope,
    metrics: Vec<Metric>,
) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource.clone()),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope.clone()),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// The label that names the service a series comes from (the agent's constant label);
/// left out of a point's attributes when it repeats the resource's `service.name`.
pub(super) const SERVICE_LABEL: &str = "service";

/// What the mapping needs besides the batch.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Points<'a> {
    /// `start_time_unix_nano` for sums and histograms whose series has no start (the Unix
    /// epoch), so that none is ever sent as 0; clamped to the point's time.
    pub unknown_start: u64,
    /// The resource's `service.name`: a [`SERVICE_LABEL`] attribute with this value is a
    /// duplicate of the resource and is not sent.
    pub service_name: Option<&'a str>,
}

/// Walks a batch's series in order, handing out at most `max` of them at a time as metrics.
pub(super) struct Chunks<'a> {
    batch: &'a Batch,
    max: usize,
    family: usize,
    series: usize,
    points: Points<'a>,
}

impl<'a> Chunks<'a> {
    pub(super) fn new(batch: &'a Batch, max: usize, points: Points<'a>) -> Self {
        Chunks {
            batch,
            max: max.max(1),
            family: 0,
            series: 0,
            points,
        }
    }

    /// Moves past `n` series.
    pub(super) fn skip(&mut self, mut n: usize) {
        let families = &self.batch.snapshot.families;
        while n > 0 && self.family < families.len() {
            let left = families[self.family].series.len() - self.series;
            if n < left {
                self.series += n;
                return;
            }
            n -= left;
            self.family += 1;
            self.series = 0;
        }
    }

    /// The metrics of the next `max` series, or `None` when none are left.
    pub(super) fn next_chunk(&mut self) -> Option<Vec<Metric>> {
        let families = &self.batch.snapshot.families;
        let mut metrics = Vec::new();
        let mut taken = 0;
        while taken < self.max && self.family < families.len() {
            let family = &families[self.family];
            let take = (family.series.len() - self.series).min(self.max - taken);
            if take > 0 {
                let series = &family.series[self.series..self.series + take];
                metrics.extend(metric(self.batch, family, self.series, series, self.points));
                taken += take;
                self.series += take;
            }
            if self.series >= family.series.len() {
                self.family += 1;
                self.series = 0;
            }
        }
        (taken > 0).then_some(metrics)
    }
}

/// One family's `Metric` holding `series` (the family's series from index `first` on);
/// `None` when no series fits the family's kind.
fn metric(
    batch: &Batch,
    family: &FamilySnapshot,
    first: usize,
    series: &[Series],
    opts: Points<'_>,
) -> Option<Metric> {
    let with_exemplars = |k: usize| exemplars(family.exemplars_of(first + k));
    let time = nanos(batch.end);
    let temporality = match batch.temporality {
        Temporality::Cumulative => AggregationTemporality::Cumulative,
        Temporality::Delta => AggregationTemporality::Delta,
    } as i32;
    let exponential = series.iter().any(|s| {
        s.value
            .as_histogram()
            .is_some_and(|h| h.exponential.is_some())
    });
    let data = match family.kind {
        MetricKind::Histogram if exponential => {
            let data_points: Vec<_> = series
                .iter()
                .enumerate()
                .filter_map(|(k, s)| {
                    let mut p = exponential_point(s, time, opts)?;
                    p.exemplars = with_exemplars(k);
                    Some(p)
                })
                .collect();
            metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points,
                aggregation_temporality: temporality,
            })
        }
        MetricKind::Histogram => {
            let data_points: Vec<_> = series
                .iter()
                .enumerate()
                .filter_map(|(k, s)| {
                    let mut p = histogram_point(s, time, opts)?;
                    p.exemplars = with_exemplars(k);
                    Some(p)
                })
                .collect();
            if data_points.is_empty() {
                return None;
            }
            metric::Data::Histogram(Histogram {
                data_points,
                aggregation_temporality: temporality,
            })
        }
        // OTLP has no gauge histogram: a histogram point would claim totals.
        MetricKind::GaugeHistogram => return None,
        // Summaries are cumulative whatever the temporality (OTLP's Summary has none).
        MetricKind::Summary => {
            let data_points: Vec<_> = series
                .iter()
                .filter_map(|s| summary_point(s, time, opts))
                .collect();
            if data_points.is_empty() {
                return None;
            }
            metric::Data::Summary(Summary { data_points })
        }
        kind => {
            let sum = matches!(kind, MetricKind::Counter | MetricKind::UpDownCounter);
            let data_points: Vec<_> = if kind == MetricKind::StateSet {
                series
                    .iter()
                    .flat_map(|s| state_points(&family.name, s, time, opts))
                    .collect()
            } else {
                series
                    .iter()
                    .enumerate()
                    .filter_map(|(k, s)| {
                        let mut p = number_point(s, time, sum, opts)?;
                        p.exemplars = with_exemplars(k);
                        Some(p)
                    })
                    .collect()
            };
            if data_points.is_empty() {
                return None;
            }
            match kind {
                MetricKind::Counter => metric::Data::Sum(Sum {
                    data_points,
                    aggregation_temporality: temporality,
                    is_monotonic: true,
                }),
                // Up-down counters stay cumulative in delta batches too (the delta
                // state leaves them whole), as the specification's delta and lowmemory
                // preferences ask.
                MetricKind::UpDownCounter => metric::Data::Sum(Sum {
                    data_points,
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: false,
                }),
                _ => metric::Data::Gauge(Gauge { data_points }),
            }
        }
    };
    // Info and stateset are gauges (their values are states, not totals): an info point
    // of 1 named with its `_info`, as Prometheus writes it; a stateset's point per state.
    let name = match family.kind {
        MetricKind::Info => format!("{}_info", family.name),
        _ => family.name.clone(),
    };
    Some(Metric {
        name,
        description: family.help.clone(),
        unit: ucum(&family.unit).to_owned(),
        metadata: Vec::new(),
        data: Some(data),
    })
}

/// A sum's point when `sum` (its start never 0), else a gauge's (start as known, 0 if not).
fn number_point(
    series: &Series,
    time: u64,
    sum: bool,
    opts: Points<'_>,
) -> Option<NumberDataPoint> {
    let value = match series.value {
        SeriesValue::Counter(n) | SeriesValue::Gauge(n) => match n {
            Number::U64(v) => number_data_point::Value::AsInt(i64::try_from(v).unwrap_or(i64::MAX)),
            Number::I64(v) => number_data_point::Value::AsInt(v),
            Number::F64(v) => number_data_point::Value::AsDouble(v),
        },
        SeriesValue::Histogram(_) | SeriesValue::StateSet(_) | SeriesValue::Summary(_) => {
            return None
        }
    };
    let start = if sum {
        start(series, time, opts)
    } else {
        nanos(series.start).min(time)
    };
    Some(NumberDataPoint {
        attributes: attributes(&series.labels, opts),
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(value),
        ..NumberDataPoint::default()
    })
}

/// A stateset's gauge points: one per state, 1 when true else 0, the state as the
/// attribute named like the family (OpenMetrics' rule, kept by the gauge formats).
fn state_points(
    family: &str,
    series: &Series,
    time: u64,
    opts: Points<'_>,
) -> Vec<NumberDataPoint> {
    let Some(states) = series.value.as_stateset() else {
        return Vec::new();
    };
    let attrs = attributes(&series.labels, opts);
    states
        .iter()
        .map(|(state, on)| {
            let mut attributes = attrs.clone();
            attributes.push(KeyValue {
                key: family.to_owned(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(state.to_owned())),
                }),
            });
            NumberDataPoint {
                attributes,
                start_time_unix_nano: nanos(series.start).min(time),
                time_unix_nano: time,
                value: Some(number_data_point::Value::AsInt(i64::from(on))),
                ..NumberDataPoint::default()
            }
        })
        .collect()
}

fn summary_point(series: &Series, time: u64, opts: Points<'_>) -> Option<SummaryDataPoint> {
    let s = series.value.as_summary()?;
    Some(SummaryDataPoint {
        attributes: attributes(&series.labels, opts),
        start_time_unix_nano: start(series, time, opts),
        time_unix_nano: time,
        count: s.count,
        sum: s.sum,
        quantile_values: s
            .quantiles
            .iter()
            .map(|&(quantile, value)| ValueAtQuantile { quantile, value })
            .collect(),
        ..SummaryDataPoint::default()
    })
}

fn histogram_point(series: &Series, time: u64, opts: Points<'_>) -> Option<HistogramDataPoint> {
    let h = series.value.as_histogram()?;
    Some(HistogramDataPoint {
        attributes: attributes(&series.labels, opts),
        start_time_unix_nano: start(series, time, opts),
        time_unix_nano: time,
        count: h.count,
        // "If count is zero then this field must be zero."
        sum: Some(if h.count == 0 { 0.0 } else { h.sum }),
        bucket_counts: h.counts.clone(),
        explicit_bounds: h.bounds.clone(),
        ..HistogramDataPoint::default()
    })
}

/// An exponential histogram's point, its buckets as recorded (OpenTelemetry's layout is
/// ours: same scale, same upper-inclusive buckets, same offsets).
fn exponential_point(
    series: &Series,
    time: u64,
    opts: Points<'_>,
) -> Option<ExponentialHistogramDataPoint> {
    let h = series.value.as_histogram()?;
    let e = h.exponential.as_ref()?;
    let known = h.count > 0 && e.min <= e.max;
    Some(ExponentialHistogramDataPoint {
        attributes: attributes(&series.labels, opts),
        start_time_unix_nano: start(series, time, opts),
        time_unix_nano: time,
        count: h.count,
        // The specification's sum is for non-negative measurements only.
        sum: e
            .negative
            .iter()
            .all(|&c| c == 0)
            .then_some(if h.count == 0 { 0.0 } else { h.sum }),
        scale: e.scale,
        zero_count: e.zero_count,
        positive: Some(Buckets {
            offset: e.positive_offset,
            bucket_counts: e.positive.clone(),
        }),
        negative: Some(Buckets {
            offset: e.negative_offset,
            bucket_counts: e.negative.clone(),
        }),
        min: known.then_some(e.min),
        max: known.then_some(e.max),
        zero_threshold: e.zero_threshold,
        ..ExponentialHistogramDataPoint::default()
    })
}

/// OTLP exemplars: each kept one with its trace and span ids, value and time (none carry
/// filtered attributes: tallyho keeps no labels beyond the point's own).
fn exemplars(kept: &[Option<tallyho::Exemplar>]) -> Vec<Exemplar> {
    kept.iter()
        .flatten()
        .map(|e| Exemplar {
            filtered_attributes: Vec::new(),
            time_unix_nano: nanos(e.time),
            span_id: e.trace.span_id().to_vec(),
            trace_id: e.trace.trace_id().to_vec(),
            value: Some(exemplar::Value::AsDouble(e.value)),
        })
        .collect()
}

/// The start of a sum's or histogram's point: the series' own, or `unknown_start` when it
/// has none; never after `time` and never 0.
fn start(series: &Series, time: u64, opts: Points<'_>) -> u64 {
    let own = nanos(series.start);
    let start = if own == 0 { opts.unknown_start } else { own };
    match start.min(time) {
        0 => time,
        s => s,
    }
}

fn attributes(labels: &[(String, String)], opts: Points<'_>) -> Vec<KeyValue> {
    labels
        .iter()
        .filter(|(k, v)| !(k == SERVICE_LABEL && Some(v.as_str()) == opts.service_name))
        .map(|(k, v)| {
            if k == OVERFLOW_LABEL && v == "true" {
                KeyValue {
                    key: "otel.metric.overflow".to_owned(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::BoolValue(true)),
                    }),
                }
            } else {
                string_attribute(k, v)
            }
        })
        .collect()
}

pub(super) fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
    }
}

/// The UCUM code for the units whose mapping is obvious; anything else as is.
fn ucum(unit: &str) -> &str {
    match unit {
        "seconds" | "second" => "s",
        "milliseconds" => "ms",
        "microseconds" => "us",
        "nanoseconds" => "ns",
        "minutes" => "min",
        "hours" => "h",
        "days" => "d",
        "bytes" | "byte" => "By",
        "kilobytes" => "kBy",
        "megabytes" => "MBy",
        "gigabytes" => "GBy",
        "bits" => "bit",
        "ratio" => "1",
        "percent" => "%",
        "meters" => "m",
        "grams" => "g",
        "volts" => "V",
        "amperes" => "A",
        "joules" => "J",
        "watts" => "W",
        "hertz" => "Hz",
        "celsius" => "Cel",
        other => other,
    }
}

/// Nanoseconds since the Unix epoch (0 before it, saturating far after it).
fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tallyho::{FamilySnapshot, HistogramData, Snapshot};

    use super::*;

    const T0: u64 = 1_700_000_000_000_000_000;

    fn at(nanos: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(nanos)
    }

    fn batch(temporality: Temporality) -> Batch {
        let start = at(T0);
        let end = at(T0 + 5_000_000_000);
        let histogram = FamilySnapshot {
            series: vec![Series {
                labels: vec![],
                start,
                value: SeriesValue::Histogram(HistogramData {
                    bounds: vec![0.5],
                    counts: vec![2, 1],
                    sum: 1.25,
                    count: 3,
                    exponential: None,
                }),
            }],
            ..FamilySnapshot::new("latency", "Latency.", MetricKind::Histogram).with_unit("seconds")
        };
        let mut jobs = FamilySnapshot::new("jobs", "Jobs.", MetricKind::Counter)
            .with_point(&[("q", "a")], u64::MAX)
            .with_point(&[(OVERFLOW_LABEL, "true")], 1u64);
        for s in &mut jobs.series {
            // A start after the end is clamped to the end.
            s.start = at(T0 + 9_000_000_000);
        }
        Batch {
            snapshot: Snapshot {
                time: end,
                families: vec![
                    jobs,
                    FamilySnapshot::new("temp", "Temp.", MetricKind::Gauge).with_point(&[], -1.5),
                    histogram,
                ],
            },
            start,
            end,
            temporality,
        }
    }

    fn point(
        attributes: Vec<KeyValue>,
        start: u64,
        value: number_data_point::Value,
    ) -> NumberDataPoint {
        NumberDataPoint {
            attributes,
            start_time_unix_nano: start,
            time_unix_nano: T0 + 5_000_000_000,
            value: Some(value),
            ..NumberDataPoint::default()
        }
    }

    #[test]
    fn golden_metrics() {
        let end = T0 + 5_000_000_000;
        let b = batch(Temporality::Delta);
        let got = Chunks::new(&b, 100, Points::default())
            .next_chunk()
            .unwrap();
        let overflow = KeyValue {
            key: "otel.metric.overflow".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::BoolValue(true)),
            }),
        };
        let want = vec![
            Metric {
                name: "jobs".into(),
                description: "Jobs.".into(),
                unit: String::new(),
                metadata: vec![],
                data: Some(metric::Data::Sum(Sum {
                    data_points: vec![
                        point(
                            vec![string_attribute("q", "a")],
                            end,
                            number_data_point::Value::AsInt(i64::MAX),
                        ),
                        point(vec![overflow], end, number_data_point::Value::AsInt(1)),
                    ],
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                    is_monotonic: true,
                })),
            },
            Metric {
                name: "temp".into(),
                description: "Temp.".into(),
                unit: String::new(),
                metadata: vec![],
                data: Some(metric::Data::Gauge(Gauge {
                    data_points: vec![point(
                        vec![],
                        nanos(b.snapshot.families[1].series[0].start).min(end),
                        number_data_point::Value::AsDouble(-1.5),
                    )],
                })),
            },
            Metric {
                name: "latency".into(),
                description: "Latency.".into(),
                unit: "s".into(),
                metadata: vec![],
                data: Some(metric::Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        start_time_unix_nano: T0,
                        time_unix_nano: end,
                        count: 3,
                        sum: Some(1.25),
                        bucket_counts: vec![2, 1],
                        explicit_bounds: vec![0.5],
                        ..HistogramDataPoint::default()
                    }],
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                })),
            },
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn chunks_split_families_and_skip_resumes() {
        let b = batch(Temporality::Cumulative);
        let mut chunks = Chunks::new(&b, 2, Points::default());
        let names = |m: Vec<Metric>| m.into_iter().map(|m| m.name).collect::<Vec<_>>();
        assert_eq!(names(chunks.next_chunk().unwrap()), ["jobs"]);
        assert_eq!(names(chunks.next_chunk().unwrap()), ["temp", "latency"]);
        assert!(chunks.next_chunk().is_none());
        let mut resumed = Chunks::new(&b, 2, Points::default());
        resumed.skip(3);
        assert_eq!(names(resumed.next_chunk().unwrap()), ["latency"]);
    }

    #[test]
    fn units_map_to_ucum() {
        assert_eq!(ucum("seconds"), "s");
        assert_eq!(ucum("bytes"), "By");
        assert_eq!(ucum("widgets"), "widgets");
    }

    #[test]
    fn sums_never_start_at_zero_and_the_service_label_is_not_repeated() {
        let end = T0 + 5_000_000_000;
        let mut b = batch(Temporality::Cumulative);
        let mut inflight = FamilySnapshot::new("inflight", "", MetricKind::UpDownCounter)
            .with_point(&[("service", "checkout"), ("q", "a")], 3i64)
            .with_point(&[("service", "other")], 1i64);
        for s in &mut inflight.series {
            s.start = UNIX_EPOCH;
        }
        b.snapshot.families = vec![inflight];
        let points = |opts: Points<'_>| match Chunks::new(&b, 100, opts).next_chunk().unwrap()[0]
            .data
            .clone()
        {
            Some(metric::Data::Sum(s)) => s.data_points,
            other => panic!("{other:?}"),
        };
        let known = points(Points {
            unknown_start: T0 + 1,
            service_name: Some("checkout"),
        });
        assert_eq!(known[0].start_time_unix_nano, T0 + 1);
        assert_eq!(known[0].attributes, vec![string_attribute("q", "a")]);
        assert_eq!(
            known[1].attributes,
            vec![string_attribute("service", "other")]
        );
        // No fallback either: a zero-length window at the point's time, never 0.
        let unknown = points(Points::default());
        assert_eq!(unknown[0].start_time_unix_nano, end);
        assert_eq!(unknown[0].attributes.len(), 2);
    }
}
