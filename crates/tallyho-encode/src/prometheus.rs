//! Prometheus text exposition format 0.0.4.
//!
//! For each family, in the order the source visits them:
//!
//! ```text
//! # HELP http_requests_total Requests served.
//! # TYPE http_requests_total counter
//! http_requests_total{method="GET"} 1027
//! # HELP request_seconds Time to answer.
//! # TYPE request_seconds histogram
//! request_seconds_bucket{le="0.1"} 3
//! request_seconds_bucket{le="+Inf"} 4
//! request_seconds_sum 0.35
//! request_seconds_count 4
//! ```
//!
//! - Counters get `_total` on the family name in `# HELP`, `# TYPE` and the sample, as
//!   `client_golang` writes a counter named `…_total`.
//! - Gauges and up-down counters are `gauge`; a kind this crate does not know is `untyped`.
//! - OpenMetrics' info and stateset are gauges: an info `build` is the gauge `build_info`
//!   (value 1), a stateset `phase` the gauge `phase` with one sample per state,
//!   `phase{phase="running"} 1` (0 when false), as client_python writes them. A gauge
//!   histogram `q` is the `histogram` `q` with its `_bucket` lines only, then the gauges
//!   `q_gsum` and `q_gcount` (each with the family's help): the series OpenMetrics and
//!   Prometheus' own ingestion of it have.
//! - Summaries write one line per quantile (`quantile` spelled as `le` is), then `_sum`
//!   and `_count`.
//! - Histograms write cumulative `_bucket` lines with `le` as the Go client spells it
//!   ([`write_prometheus_le`]: `0.005`, `1`, `1e+06`, `+Inf`; the `+Inf` bucket is the count),
//!   then `_sum` and `_count`.
//! - `# HELP` is always written, empty help included; families without points still get their
//!   `# HELP` and `# TYPE`. No timestamps. Units are part of the name and have no line.
//! - Label values and help are escaped as the format asks (see [`crate::escape`]). Metric and
//!   label names are written as given: check them where they are made (`tallyho::name`).

use std::io::{self, Write};

use tallyho::{FamilyInfo, MetricKind, Point, PointValue, Source, Visitor};

use crate::escape::write_help;
use crate::number::{write_f64, write_number, write_prometheus_le, write_u64};
use crate::sink::{LeCache, Sink};
use crate::text::{render_labels, sample, write_buckets, write_states, write_summary, LineStart};

/// The HTTP `Content-Type` of this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Writes every family and point of `source` to `w` in Prometheus text format 0.0.4.
///
/// Output is gathered in chunks and passed to `w` with `write_all`; `w` is not flushed.
///
/// # Errors
/// The first error from `w` (or from the source); what was written before it stays written.
pub fn encode(w: &mut dyn Write, source: &dyn Source) -> io::Result<()> {
    let mut encoder = Encoder {
        sink: Sink::new(w),
        name: Vec::new(),
        labels: Vec::new(),
        le: LeCache::new(write_prometheus_le),
        line: LineStart::default(),
        gauged: Gauged::default(),
    };
    source.visit(&mut encoder)?;
    encoder.sink.finish()
}

struct Encoder<'w> {
    sink: Sink<'w>,
    /// The current family's name as samples carry it (`_total` added for counters).
    name: Vec<u8>,
    /// The current histogram point's rendered labels.
    labels: Vec<u8>,
    /// Bucket bounds as `le` values.
    le: LeCache,
    /// The cached start of one-line samples.
    line: LineStart,
    /// The current gauge histogram's `_gsum` and `_gcount` lines.
    gauged: Gauged,
}

/// A gauge histogram's `_gsum` and `_gcount` lines, held until its family ends: this
/// format has no gauge histogram, so after the buckets (a `histogram`, as client_python
/// writes it) they are gauge families of their own, with their own `# HELP` and `# TYPE`
/// (promtool refuses samples of an undeclared family: "no help text").
#[derive(Default)]
struct Gauged {
    on: bool,
    help: Vec<u8>,
    sum: Vec<u8>,
    count: Vec<u8>,
}

fn type_word(kind: MetricKind) -> &'static [u8] {
    match kind {
        MetricKind::Counter => b"counter",
        MetricKind::Gauge | MetricKind::UpDownCounter | MetricKind::Info | MetricKind::StateSet => {
            b"gauge"
        }
        // As client_python writes a gauge histogram: the structure of a histogram, with
        // `_gsum` and `_gcount`.
        MetricKind::Histogram | MetricKind::GaugeHistogram => b"histogram",
        MetricKind::Summary => b"summary",
        _ => b"untyped",
    }
}

impl Visitor for Encoder<'_> {
    fn family(&mut self, info: &FamilyInfo<'_>) -> io::Result<()> {
        self.line.reset();
        let g = &mut self.gauged;
        g.on = info.kind == MetricKind::GaugeHistogram;
        if g.on {
            g.help.clear();
            write_help(&mut g.help, info.help)?;
            g.sum.clear();
            g.count.clear();
        }
        self.name.clear();
        self.name.extend_from_slice(info.name.as_bytes());
        if matches!(info.kind, MetricKind::Counter | MetricKind::Info) {
            self.name
                .extend_from_slice(info.kind.value_suffix().as_bytes());
        }
        let buf = &mut self.sink.buf;
        buf.extend_from_slice(b"# HELP ");
        buf.extend_from_slice(&self.name);
        buf.push(b' ');
        write_help(buf, info.help)?;
        buf.extend_from_slice(b"\n# TYPE ");
        buf.extend_from_slice(&self.name);
        buf.push(b' ');
        buf.extend_from_slice(type_word(info.kind));
        buf.push(b'\n');
        self.sink.spill()
    }

    fn point(&mut self, point: &Point<'_>) -> io::Result<()> {
        let (buf, name) = (&mut self.sink.buf, &self.name[..]);
        match point.value {
            PointValue::Counter(n) | PointValue::Gauge(n) => {
                self.line.write(buf, name, &point.labels)?;
                write_number(buf, n)?;
            }
            PointValue::Histogram(h) if self.gauged.on => {
                render_labels(&mut self.labels, &point.labels)?;
                let (labels, g) = (&self.labels[..], &mut self.gauged);
                write_buckets(buf, name, labels, &h, &mut self.le, &[])?;
                sample(&mut g.sum, name, b"_gsum", labels);
                write_f64(&mut g.sum, h.sum)?;
                g.sum.push(b'\n');
                sample(&mut g.count, name, b"_gcount", labels);
                write_u64(&mut g.count, h.count)?;
                g.count.push(b'\n');
                return self.sink.spill();
            }
            PointValue::Histogram(h) => {
                render_labels(&mut self.labels, &point.labels)?;
                let labels = &self.labels[..];
                write_buckets(buf, name, labels, &h, &mut self.le, &[])?;
                sample(buf, name, b"_sum", labels);
                write_f64(buf, h.sum)?;
                buf.push(b'\n');
                sample(buf, name, b"_count", labels);
                write_u64(buf, h.count)?;
            }
            PointValue::StateSet(s) => {
                render_labels(&mut self.labels, &point.labels)?;
                write_states(buf, name, &self.labels, &s)?;
                return self.sink.spill();
            }
            PointValue::Summary(s) => {
                render_labels(&mut self.labels, &point.labels)?;
                write_summary(buf, name, &self.labels, &s, write_prometheus_le)?;
                return self.sink.spill();
            }
        }
        buf.push(b'\n');
        self.sink.spill()
    }

    fn end_family(&mut self) -> io::Result<()> {
        let g = &mut self.gauged;
        if !g.on {
            return Ok(());
        }
        g.on = false;
        let buf = &mut self.sink.buf;
        for (suffix, lines) in [(&b"_gsum"[..], &g.sum), (b"_gcount", &g.count)] {
            for word in [&b"# HELP "[..], b"# TYPE "] {
                buf.extend_from_slice(word);
                buf.extend_from_slice(&self.name);
                buf.extend_from_slice(suffix);
                buf.push(b' ');
                if word == b"# HELP " {
                    buf.extend_from_slice(&g.help);
                } else {
                    buf.extend_from_slice(b"gauge");
                }
                buf.push(b'\n');
            }
            buf.extend_from_slice(lines);
        }
        self.sink.spill()
    }
}
