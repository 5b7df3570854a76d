//! OpenMetrics text format 1.0.0.
//!
//! For each family, in the order the source visits them, then `# EOF`:
//!
//! ```text
//! # TYPE http_requests counter
//! # HELP http_requests Requests served.
//! http_requests_total{method="GET"} 1027
//! http_requests_created{method="GET"} 1700000000.25
//! # TYPE request_seconds histogram
//! # UNIT request_seconds seconds
//! # HELP request_seconds Time to answer.
//! request_seconds_bucket{le="0.1"} 3
//! request_seconds_bucket{le="+Inf"} 4
//! request_seconds_count 4
//! request_seconds_sum 0.35
//! request_seconds_created 1700000000.25
//! # EOF
//! ```
//!
//! - The family name has no `_total`; counter samples are `_total` and `_created`.
//! - Gauges and up-down counters are `gauge`; a kind this crate does not know is `unknown`.
//! - Histograms write cumulative `_bucket` lines with `le` in the canonical form
//!   ([`write_le`]: `0.005`, `1.0`, `1e+06`, `+Inf`; the `+Inf` bucket is the count), then
//!   `_count`, `_sum` and `_created`.
//! - An info family `build` is `# TYPE build info` with one sample `build_info{...} 1`; a
//!   stateset `phase` is `# TYPE phase stateset` with one sample per state,
//!   `phase{phase="running"} 1` (0 when false). Neither has `_created`.
//! - A gauge histogram writes its `_bucket` lines, then `_gcount` and `_gsum`; no `_created`.
//! - A summary writes one line per quantile (`quantile` spelled as `le` is), then `_sum`,
//!   `_count` and `_created`.
//! - `_created` is the point's start as exact decimal seconds since the Unix epoch.
//! - `# UNIT` only when the family has a unit and its name ends with `_<unit>` (as the format
//!   requires; a name with an abbreviated unit such as `task_duration_ms` gets none);
//!   `# HELP` only when it has help. No timestamps.
//! - Values are written as given: the format forbids, say, a NaN counter, but checking that is
//!   the recorder's job, not the encoder's.
//! - Label values and help are escaped as the format asks (see [`crate::escape`]). Metric and
//!   label names are written as given: check them where they are made (`tallyho::name`).

use std::io::{self, Write};
use std::time::SystemTime;

use tallyho::{FamilyInfo, MetricKind, Point, PointValue, Source, Visitor};

use crate::escape::write_help_openmetrics;
use crate::number::{write_f64, write_le, write_number, write_u64, write_unix_seconds};
use crate::sink::{LeCache, Sink};
use crate::text::{
    render_labels, sample, write_buckets, write_exemplar, write_label_set, write_states,
    write_summary,
};

/// The HTTP `Content-Type` of this format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Writes every family and point of `source` to `w` in OpenMetrics 1.0.0 text, ending with
/// `# EOF`.
///
/// Output is gathered in chunks and passed to `w` with `write_all`; `w` is not flushed.
///
/// # Errors
/// The first error from `w` (or from the source); what was written before it stays written,
/// and `# EOF` is not.
pub fn encode(w: &mut dyn Write, source: &dyn Source) -> io::Result<()> {
    let mut encoder = Encoder {
        sink: Sink::new(w),
        name: Vec::new(),
        info: false,
        gauge_histogram: false,
        counter: false,
        labels: Vec::new(),
        le: LeCache::new(write_le),
        created_at: None,
        created: Vec::new(),
    };
    source.visit(&mut encoder)?;
    encoder.sink.buf.extend_from_slice(b"# EOF\n");
    encoder.sink.finish()
}

struct Encoder<'w> {
    sink: Sink<'w>,
    /// The current family's name.
    name: Vec<u8>,
    /// Whether the current family is an info, whose one sample is `_info`.
    info: bool,
    /// Whether the current family is a gauge histogram: `_gcount`, `_gsum`, no `_created`.
    gauge_histogram: bool,
    /// Whether the current family is a counter, whose numbers are `_total` and `_created`.
    counter: bool,
    /// The current point's rendered labels, when they go on several lines.
    labels: Vec<u8>,
    /// Bucket bounds as `le` values.
    le: LeCache,
    /// The start time last written as `_created`, and how it was spelled: usually shared by
    /// many series.
    created_at: Option<SystemTime>,
    created: Vec<u8>,
}

fn type_word(kind: MetricKind) -> &'static [u8] {
    match kind {
        MetricKind::Counter => b"counter",
        MetricKind::Gauge | MetricKind::UpDownCounter => b"gauge",
        MetricKind::Histogram => b"histogram",
        MetricKind::Info => b"info",
        MetricKind::StateSet => b"stateset",
        MetricKind::GaugeHistogram => b"gaugehistogram",
        MetricKind::Summary => b"summary",
        _ => b"unknown",
    }
}

impl Visitor for Encoder<'_> {
    fn family(&mut self, info: &FamilyInfo<'_>) -> io::Result<()> {
        self.name.clear();
        self.name.extend_from_slice(info.name.as_bytes());
        self.counter = info.kind == MetricKind::Counter;
        self.info = info.kind == MetricKind::Info;
        self.gauge_histogram = info.kind == MetricKind::GaugeHistogram;
        let buf = &mut self.sink.buf;
        buf.extend_from_slice(b"# TYPE ");
        buf.extend_from_slice(&self.name);
        buf.push(b' ');
        buf.extend_from_slice(type_word(info.kind));
        buf.push(b'\n');
        // OpenMetrics: "If non-empty, it MUST be a suffix of the MetricFamily name
        // separated by an underscore". A name that carries its unit abbreviated
        // (`task_duration_ms`, unit `milliseconds`) gets no UNIT line rather than an
        // invalid one.
        if tallyho_names::ends_with_exact_unit(info.name, info.unit) {
            buf.extend_from_slice(b"# UNIT ");
            buf.extend_from_slice(&self.name);
            buf.push(b' ');
            buf.extend_from_slice(info.unit.as_bytes());
            buf.push(b'\n');
        }
        if !info.help.is_empty() {
            buf.extend_from_slice(b"# HELP ");
            buf.extend_from_slice(&self.name);
            buf.push(b' ');
            write_help_openmetrics(buf, info.help)?;
            buf.push(b'\n');
        }
        self.sink.spill()
    }

    fn point(&mut self, point: &Point<'_>) -> io::Result<()> {
        let (buf, name) = (&mut self.sink.buf, &self.name[..]);
        match point.value {
            PointValue::Counter(n) | PointValue::Gauge(n) if !self.counter => {
                // A gauge or an info: one line, labels written straight out.
                buf.extend_from_slice(name);
                if self.info {
                    buf.extend_from_slice(b"_info");
                }
                write_label_set(buf, &point.labels)?;
                buf.push(b' ');
                write_number(buf, n)?;
                buf.push(b'\n');
                return self.sink.spill();
            }
            PointValue::StateSet(s) => {
                // One line per state and no `_created`: a stateset has none.
                render_labels(&mut self.labels, &point.labels)?;
                write_states(buf, name, &self.labels, &s)?;
                return self.sink.spill();
            }
            PointValue::Histogram(h) if self.gauge_histogram => {
                // Current counts: `_gcount` and `_gsum` (allowed with negative buckets,
                // never negative without them: the recorder refuses such values), no
                // `_created`.
                render_labels(&mut self.labels, &point.labels)?;
                let labels = &self.labels[..];
                write_buckets(buf, name, labels, &h, &mut self.le, &[])?;
                sample(buf, name, b"_gcount", labels);
                write_u64(buf, h.count)?;
                buf.push(b'\n');
                sample(buf, name, b"_gsum", labels);
                write_f64(buf, h.sum)?;
                buf.push(b'\n');
                return self.sink.spill();
            }
            _ => {}
        }
        // Counters and histograms: several lines with the same labels, escaped once.
        render_labels(&mut self.labels, &point.labels)?;
        let labels = &self.labels[..];
        match point.value {
            PointValue::Counter(n) | PointValue::Gauge(n) => {
                sample(buf, name, b"_total", labels);
                write_number(buf, n)?;
                if let Some(Some(ex)) = point.exemplars.first() {
                    write_exemplar(buf, ex)?;
                }
                buf.push(b'\n');
            }
            PointValue::Histogram(h) => {
                write_buckets(buf, name, labels, &h, &mut self.le, point.exemplars)?;
                // With a negative bucket bound the sum is not a counter, and OpenMetrics
                // says the point then has no sum (its parsers want no `_count` without it);
                // the `+Inf` bucket still carries the count.
                if h.sum_is_counter() {
                    sample(buf, name, b"_count", labels);
                    write_u64(buf, h.count)?;
                    buf.push(b'\n');
                    sample(buf, name, b"_sum", labels);
                    write_f64(buf, h.sum)?;
                    buf.push(b'\n');
                }
            }
            PointValue::Summary(s) => {
                write_summary(buf, name, labels, &s, write_le)?;
            }
            PointValue::StateSet(_) => {}
        }
        if self.created_at != Some(point.start) {
            self.created.clear();
            write_unix_seconds(&mut self.created, point.start)?;
            self.created_at = Some(point.start);
        }
        sample(buf, name, b"_created", labels);
        buf.extend_from_slice(&self.created);
        buf.push(b'\n');
        self.sink.spill()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_line_only_for_names_ending_in_the_unit() {
        let r = tallyho::Registry::new();
        r.metric("task_duration_ms", "Task time.")
            .unit("milliseconds")
            .gauge()
            .unwrap()
            .set(5.0);
        r.metric("wait", "Wait time.")
            .unit("milliseconds")
            .gauge()
            .unwrap()
            .set(2.0);
        r.metric("payload_bytes", "Payload.")
            .unit("bytes")
            .counter()
            .unwrap()
            .inc();
        let mut out = Vec::new();
        encode(&mut out, &r).unwrap();
        let text = String::from_utf8(out).unwrap();
        let units: Vec<&str> = text.lines().filter(|l| l.starts_with("# UNIT")).collect();
        assert_eq!(
            units,
            [
                "# UNIT wait_milliseconds milliseconds",
                "# UNIT payload_bytes bytes"
            ],
            "{text}"
        );
        assert!(
            text.contains("# TYPE task_duration_ms gauge\n# HELP task_duration_ms Task time.\ntask_duration_ms 5\n"),
            "{text}"
        );
    }
}
