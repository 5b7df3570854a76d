//! The wire mapping of remote write: a snapshot to a `WriteRequest`, split and compressed.
//! Pure functions, tested with golden payloads and no socket.

use prost::Message as _;
use tallyho::{HistogramValue, MetricKind, SeriesValue, Snapshot};
use tallyho_encode::number::write_prometheus_le;

use super::proto::{
    BucketSpan, Exemplar, Histogram, Label, MetricMetadata, MetricType, Sample, TimeSeries,
    WriteRequest,
};
use super::NAME;
use crate::exporter::{ExportError, FailureReason};

/// Builds the `WriteRequest` for a snapshot, every sample stamped `timestamp_ms`, with
/// family metadata when `metadata` is set. See the [module docs](super) for the mapping.
pub fn write_request(snapshot: &Snapshot, timestamp_ms: i64, metadata: bool) -> WriteRequest {
    write_request_with(snapshot, timestamp_ms, metadata, false)
}

/// [`write_request`], with exponential histograms sent as native histograms when
/// `native` is set (a receiver must accept them: Prometheus with
/// `--enable-feature=native-histograms`, Mimir), else as their classic view.
pub fn write_request_with(
    snapshot: &Snapshot,
    timestamp_ms: i64,
    metadata: bool,
    native: bool,
) -> WriteRequest {
    let mut out = WriteRequest::default();
    let mut le = Vec::new();
    for family in &snapshot.families {
        let sample_name = match family.kind {
            MetricKind::Counter | MetricKind::Info => {
                format!("{}{}", family.name, family.kind.value_suffix())
            }
            _ => family.name.clone(),
        };
        if metadata {
            out.metadata.push(MetricMetadata {
                r#type: metric_type(family.kind) as i32,
                metric_family_name: sample_name.clone(),
                help: family.help.clone(),
                unit: family.unit.clone(),
            });
        }
        for (i, series) in family.series.iter().enumerate() {
            let kept = family.exemplars_of(i);
            // `at`: the index of the exemplar this sample carries (a counter's 0, a
            // bucket's own), if any.
            let mut push =
                |name: &str, extra: Option<(&str, &str)>, value: f64, at: Option<usize>| {
                    let exemplar = at.and_then(|k| kept.get(k).copied().flatten());
                    out.timeseries.push(TimeSeries {
                        labels: labels(name, extra, &series.labels),
                        samples: vec![Sample {
                            value,
                            timestamp: timestamp_ms,
                        }],
                        histograms: Vec::new(),
                        exemplars: exemplar.iter().map(exemplar_of).collect(),
                    });
                };
            let as_native = native
                .then(|| series.value.as_histogram())
                .flatten()
                .and_then(|h| Some((h, h.exponential.as_ref()?.native(8)?)));
            if let Some((h, n)) = as_native {
                let spans = |s: &[(i32, u32)]| {
                    s.iter()
                        .map(|&(offset, length)| BucketSpan { offset, length })
                        .collect()
                };
                out.timeseries.push(TimeSeries {
                    labels: labels(&family.name, None, &series.labels),
                    samples: Vec::new(),
                    histograms: vec![Histogram {
                        count_int: h.count,
                        sum: h.sum,
                        schema: n.schema,
                        zero_threshold: n.zero_threshold,
                        zero_count_int: n.zero_count,
                        negative_spans: spans(&n.negative_spans),
                        negative_deltas: n.negative_deltas,
                        positive_spans: spans(&n.positive_spans),
                        positive_deltas: n.positive_deltas,
                        reset_hint: 0,
                        timestamp: timestamp_ms,
                    }],
                    exemplars: Vec::new(),
                });
                continue;
            }
            match &series.value {
                SeriesValue::Counter(n) | SeriesValue::Gauge(n) => {
                    push(&sample_name, None, n.as_f64(), Some(0));
                }
                SeriesValue::Histogram(h) => {
                    let bucket = format!("{}_bucket", family.name);
                    let value = HistogramValue {
                        bounds: &h.bounds,
                        counts: &h.counts,
                        sum: h.sum,
                        count: h.count,
                        exponential: None,
                    };
                    // Finite buckets as counted; `+Inf` is always the count.
                    for (k, (bound, cumulative)) in
                        value.cumulative().take(h.bounds.len()).enumerate()
                    {
                        le.clear();
                        // Writing to a Vec cannot fail.
                        let _ = write_prometheus_le(&mut le, bound);
                        let le = std::str::from_utf8(&le).unwrap_or("NaN");
                        push(&bucket, Some(("le", le)), cumulative as f64, Some(k));
                    }
                    let inf = Some(h.bounds.len());
                    push(&bucket, Some(("le", "+Inf")), h.count as f64, inf);
                    let (sum, count) = match family.kind {
                        MetricKind::GaugeHistogram => ("_gsum", "_gcount"),
                        _ => ("_sum", "_count"),
                    };
                    push(&format!("{}{sum}", family.name), None, h.sum, None);
                    push(
                        &format!("{}{count}", family.name),
                        None,
                        h.count as f64,
                        None,
                    );
                }
                SeriesValue::Summary(s) => {
                    for &(q, v) in &s.quantiles {
                        le.clear();
                        // Writing to a Vec cannot fail.
                        let _ = write_prometheus_le(&mut le, q);
                        let q = std::str::from_utf8(&le).unwrap_or("NaN");
                        push(&family.name, Some(("quantile", q)), v, None);
                    }
                    push(&format!("{}_sum", family.name), None, s.sum, None);
                    push(
                        &format!("{}_count", family.name),
                        None,
                        s.count as f64,
                        None,
                    );
                }
                SeriesValue::StateSet(states) => {
                    // A gauge per state, the state under a label named like the family.
                    for (state, on) in states.iter() {
                        push(
                            &family.name,
                            Some((&family.name, state)),
                            f64::from(u8::from(on)),
                            None,
                        );
                    }
                }
            }
        }
    }
    out
}

/// An exemplar on the wire: `trace_id` and `span_id` labels (lowercase hex), as
/// OpenMetrics writes them, and the time in milliseconds.
fn exemplar_of(e: &tallyho::Exemplar) -> Exemplar {
    let ms = e
        .time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Exemplar {
        labels: vec![
            Label {
                name: "span_id".into(),
                value: e.trace.span_id_hex(),
            },
            Label {
                name: "trace_id".into(),
                value: e.trace.trace_id_hex(),
            },
        ],
        value: e.value,
        timestamp: ms,
    }
}

/// Serializes a `WriteRequest` and compresses it with block snappy: a request body.
pub fn encode(request: &WriteRequest) -> Vec<u8> {
    // Compressing a Vec of protobuf never fails short of a 4 GiB body.
    encode_with(&mut snap::raw::Encoder::new(), request).unwrap_or_default()
}

pub(super) fn encode_with(
    encoder: &mut snap::raw::Encoder,
    request: &WriteRequest,
) -> Result<Vec<u8>, ExportError> {
    let raw = request.encode_to_vec();
    encoder.compress_vec(&raw).map_err(|e| {
        ExportError::permanent(NAME, format!("snappy compression failed: {e}"))
            .with_reason(FailureReason::Encoding)
    })
}

fn metric_type(kind: MetricKind) -> MetricType {
    match kind {
        MetricKind::Counter => MetricType::Counter,
        MetricKind::Gauge | MetricKind::UpDownCounter | MetricKind::Info | MetricKind::StateSet => {
            MetricType::Gauge
        }
        MetricKind::Histogram => MetricType::Histogram,
        MetricKind::GaugeHistogram => MetricType::Gaugehistogram,
        MetricKind::Summary => MetricType::Summary,
        _ => MetricType::Unknown,
    }
}

/// `__name__`, then `extra` (a bucket's `le`, a stateset's state), then the series' labels;
/// sorted by name, first of a name kept, empty values dropped.
fn labels(name: &str, extra: Option<(&str, &str)>, own: &[(String, String)]) -> Vec<Label> {
    let mut out = Vec::with_capacity(own.len() + 2);
    out.push(Label {
        name: "__name__".to_owned(),
        value: name.to_owned(),
    });
    if let Some((n, v)) = extra {
        out.push(Label {
            name: n.to_owned(),
            value: v.to_owned(),
        });
    }
    out.extend(
        own.iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| Label {
                name: n.clone(),
                value: v.clone(),
            }),
    );
    // Stable: among equal names the generated label (pushed first) stays first.
    out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    out.dedup_by(|later, earlier| later.name == earlier.name);
    out
}

/// Adds each of `target` (the pusher's `instance`, `job`) to every series that has no label
/// of that name, keeping the labels sorted: a series' own label wins.
pub(super) fn add_target_labels(request: &mut WriteRequest, target: &[Label]) {
    for series in &mut request.timeseries {
        for label in target {
            let labels = &mut series.labels;
            if let Err(at) =
                labels.binary_search_by(|l| l.name.as_bytes().cmp(label.name.as_bytes()))
            {
                labels.insert(at, label.clone());
            }
        }
    }
}

/// Splits a request into parts of at most `max` samples; metadata goes with the first.
pub(super) fn split(mut request: WriteRequest, max: usize) -> Vec<WriteRequest> {
    if request.timeseries.is_empty() && request.metadata.is_empty() {
        return Vec::new();
    }
    // One sample per series here, so samples and series count alike.
    if request.timeseries.len() <= max {
        return vec![request];
    }
    let mut parts = Vec::new();
    let mut rest = std::mem::take(&mut request.timeseries);
    let mut first = true;
    while !rest.is_empty() {
        let tail = rest.split_off(max.min(rest.len()));
        let metadata = if first {
            std::mem::take(&mut request.metadata)
        } else {
            Vec::new()
        };
        first = false;
        parts.push(WriteRequest {
            timeseries: rest,
            metadata,
        });
        rest = tail;
    }
    parts
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use tallyho::{FamilySnapshot, HistogramData, Series};

    use super::*;

    fn label(name: &str, value: &str) -> Label {
        Label {
            name: name.to_owned(),
            value: value.to_owned(),
        }
    }

    fn series(labels: Vec<Label>, value: f64) -> TimeSeries {
        TimeSeries {
            labels,
            samples: vec![Sample {
                value,
                timestamp: 1_700_000_000_123,
            }],
            histograms: Vec::new(),
            exemplars: Vec::new(),
        }
    }

    fn snapshot() -> Snapshot {
        let time = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let histogram = FamilySnapshot {
            series: vec![Series {
                labels: vec![("route".into(), "/a".into())],
                start: time,
                value: SeriesValue::Histogram(HistogramData {
                    bounds: vec![0.5, 1e6],
                    counts: vec![1, 2, 4],
                    sum: 12.5,
                    count: 7,
                    exponential: None,
                }),
            }],
            ..FamilySnapshot::new("latency_seconds", "Latency.", MetricKind::Histogram)
                .with_unit("seconds")
        };
        Snapshot {
            time,
            families: vec![
                FamilySnapshot::new("jobs", "Jobs run.", MetricKind::Counter)
                    .with_point(&[("queue", "a"), ("empty", ""), ("Z", "up")], 3u64),
                histogram,
            ],
        }
    }

    #[test]
    fn golden_write_request() {
        let got = write_request(&snapshot(), 1_700_000_000_123, true);
        let want = WriteRequest {
            timeseries: vec![
                series(
                    vec![
                        label("Z", "up"),
                        label("__name__", "jobs_total"),
                        label("queue", "a"),
                    ],
                    3.0,
                ),
                series(
                    vec![
                        label("__name__", "latency_seconds_bucket"),
                        label("le", "0.5"),
                        label("route", "/a"),
                    ],
                    1.0,
                ),
                series(
                    vec![
                        label("__name__", "latency_seconds_bucket"),
                        label("le", "1e+06"),
                        label("route", "/a"),
                    ],
                    3.0,
                ),
                series(
                    vec![
                        label("__name__", "latency_seconds_bucket"),
                        label("le", "+Inf"),
                        label("route", "/a"),
                    ],
                    7.0,
                ),
                series(
                    vec![
                        label("__name__", "latency_seconds_sum"),
                        label("route", "/a"),
                    ],
                    12.5,
                ),
                series(
                    vec![
                        label("__name__", "latency_seconds_count"),
                        label("route", "/a"),
                    ],
                    7.0,
                ),
            ],
            metadata: vec![
                MetricMetadata {
                    r#type: MetricType::Counter as i32,
                    metric_family_name: "jobs_total".into(),
                    help: "Jobs run.".into(),
                    unit: String::new(),
                },
                MetricMetadata {
                    r#type: MetricType::Histogram as i32,
                    metric_family_name: "latency_seconds".into(),
                    help: "Latency.".into(),
                    unit: "seconds".into(),
                },
            ],
        };
        assert_eq!(got, want);
        assert!(write_request(&snapshot(), 0, false).metadata.is_empty());
    }

    #[test]
    fn golden_bytes_match_the_prompb_field_numbers() {
        let request = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![label("__name__", "a")],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 2,
                }],
                histograms: Vec::new(),
                exemplars: Vec::new(),
            }],
            metadata: Vec::new(),
        };
        let mut want = vec![0x0a, 28, 0x0a, 13, 0x0a, 8];
        want.extend_from_slice(b"__name__");
        want.extend_from_slice(&[0x12, 1, b'a', 0x12, 11, 0x09]);
        want.extend_from_slice(&1.0f64.to_le_bytes());
        want.extend_from_slice(&[0x10, 2]);
        assert_eq!(request.encode_to_vec(), want);
        // The body is block snappy of exactly those bytes.
        let body = encode(&request);
        assert_eq!(
            snap::raw::Decoder::new().decompress_vec(&body).unwrap(),
            want
        );
    }

    #[test]
    fn splitting_keeps_metadata_with_the_first_part() {
        let parts = split(write_request(&snapshot(), 0, true), 4);
        assert_eq!(
            parts
                .iter()
                .map(|p| (p.timeseries.len(), p.metadata.len()))
                .collect::<Vec<_>>(),
            [(4, 2), (2, 0)]
        );
        assert!(split(WriteRequest::default(), 4).is_empty());
    }

    #[test]
    fn target_labels_are_added_in_order_unless_the_series_has_its_own() {
        let mut request = write_request(&snapshot(), 0, false);
        request.timeseries[1].labels.push(label("zone", "b"));
        let own = TimeSeries {
            labels: vec![label("__name__", "up"), label("instance", "mine")],
            samples: Vec::new(),
            histograms: Vec::new(),
            exemplars: Vec::new(),
        };
        request.timeseries.push(own);
        add_target_labels(
            &mut request,
            &[label("instance", "host-1"), label("job", "svc")],
        );
        let names = |s: &TimeSeries| {
            s.labels
                .iter()
                .map(|l| format!("{}={}", l.name, l.value))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&request.timeseries[0]),
            [
                "Z=up",
                "__name__=jobs_total",
                "instance=host-1",
                "job=svc",
                "queue=a"
            ]
        );
        assert_eq!(
            names(&request.timeseries[1]),
            [
                "__name__=latency_seconds_bucket",
                "instance=host-1",
                "job=svc",
                "le=0.5",
                "route=/a",
                "zone=b"
            ]
        );
        assert_eq!(
            names(request.timeseries.last().unwrap()),
            ["__name__=up", "instance=mine", "job=svc"]
        );
    }
}
