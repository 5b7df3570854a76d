//! CSV: one row per point, for spreadsheets and `awk`.
//!
//! # Schema
//!
//! A header, then one row per point, fields separated by `,`, rows ended by CRLF
//! ([RFC 4180](https://www.rfc-editor.org/rfc/rfc4180)):
//!
//! ```text
//! timestamp_ms,name,type,labels,value,count,sum,buckets
//! ```
//!
//! | column         | content                                                                 |
//! |----------------|-------------------------------------------------------------------------|
//! | `timestamp_ms` | collection time, integer milliseconds since the Unix epoch              |
//! | `name`         | the family name as registered: counters without `_total`                |
//! | `type`         | `counter`, `gauge`, `updowncounter`, `histogram`, `gaugehistogram`, `summary`, `info` or `stateset` |
//! | `labels`       | a JSON object of the labels in order, `{}` when none                    |
//! | `value`        | counters and gauges: the value; empty for histograms                    |
//! | `count`        | histograms, summaries: the number of observations; empty otherwise      |
//! | `sum`          | histograms, summaries: the sum of observations; empty otherwise         |
//! | `buckets`      | histograms: `le:cumulative` pairs joined by `\|`, ending `+Inf:count`; summaries: `quantile:estimate` pairs; empty otherwise |
//!
//! Numbers are spelled as in Prometheus text: integers exactly, `NaN`, `+Inf`, `-Inf`, floats in
//! the shortest form that round-trips (`0.25`, `1e300`). A field holding a comma, quote, CR or
//! LF is quoted with `"` and its quotes doubled, so the labels column, being JSON, is quoted
//! whenever it has a label. Families without points have no rows. An info (named without
//! `_info`) is a row of value 1 with its labels; a stateset is one row per state, the state
//! under a label named like the family (last in `labels`), the value 1 when true, else 0.
//!
//! ```text
//! timestamp_ms,name,type,labels,value,count,sum,buckets
//! 1700000005000,jobs,counter,"{""queue"":""a""}",3,,,
//! 1700000005000,wait_seconds,histogram,{},,2,0.75,0.5:1|+Inf:2
//! ```

use std::io::{self, Write};
use std::time::SystemTime;

use tallyho::{FamilyInfo, Point, PointValue, Source, Visitor};

use crate::escape::write_json_str_in_csv;
use crate::number::{unix_millis, write_f64, write_i64, write_number, write_u64};
use crate::sink::{buckets, LeCache, Sink};

/// The HTTP `Content-Type` of this format.
pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// The first row.
pub const HEADER: &str = "timestamp_ms,name,type,labels,value,count,sum,buckets\r\n";

/// Writes the header and one row per point of `source` to `w` (see the module docs).
///
/// Output is gathered in chunks and passed to `w` with `write_all`; `w` is not flushed.
///
/// # Errors
/// The first error from `w` (or from the source); what was written before it stays written.
pub fn encode(w: &mut dyn Write, source: &dyn Source) -> io::Result<()> {
    encode_rows(w, source, None)
}

/// The first row of [`encode_period`]'s files.
pub const PERIOD_HEADER: &str =
    "period_start_ms,period_end_ms,timestamp_ms,name,type,labels,value,count,sum,buckets\r\n";

/// As [`encode`], for one export period: every row starts with the period's start and
/// end in milliseconds ([`PERIOD_HEADER`]), so that files of delta values say what span
/// each value covers.
///
/// # Errors
/// As [`encode`].
pub fn encode_period(
    w: &mut dyn Write,
    source: &dyn Source,
    start: SystemTime,
    end: SystemTime,
) -> io::Result<()> {
    encode_rows(w, source, Some((start, end)))
}

fn encode_rows(
    w: &mut dyn Write,
    source: &dyn Source,
    period: Option<(SystemTime, SystemTime)>,
) -> io::Result<()> {
    let mut period_cells = Vec::new();
    if let Some((start, end)) = period {
        write_i64(&mut period_cells, unix_millis(start))?;
        period_cells.push(b',');
        write_i64(&mut period_cells, unix_millis(end))?;
        period_cells.push(b',');
    }
    let mut encoder = Encoder {
        sink: Sink::new(w),
        prefix: Vec::new(),
        time_at: None,
        time: Vec::new(),
        period: period_cells,
        name: String::new(),
        le: LeCache::new(write_f64),
    };
    let header = if period.is_some() {
        PERIOD_HEADER
    } else {
        HEADER
    };
    encoder.sink.buf.extend_from_slice(header.as_bytes());
    source.visit(&mut encoder)?;
    encoder.sink.finish()
}

struct Encoder<'w> {
    sink: Sink<'w>,
    /// `,name,type,` for the current family: the row after its timestamp, up to the labels.
    prefix: Vec<u8>,
    /// The current family's name: a stateset's state label.
    name: String,
    /// Bucket bounds as numbers.
    le: LeCache,
    /// The collection time last written, and how it was spelled.
    time_at: Option<SystemTime>,
    time: Vec<u8>,
    /// `start,end,` of the period, written before every row's timestamp (or empty).
    period: Vec<u8>,
}

/// Writes one field, quoted with its quotes doubled when it holds `,`, `"`, CR or LF.
fn write_field(buf: &mut Vec<u8>, field: &[u8]) {
    if !field
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
    {
        buf.extend_from_slice(field);
        return;
    }
    buf.push(b'"');
    for (i, part) in field.split(|&b| b == b'"').enumerate() {
        if i > 0 {
            buf.extend_from_slice(b"\"\"");
        }
        buf.extend_from_slice(part);
    }
    buf.push(b'"');
}

/// Writes a row up to its value: timestamp, name, type and the labels (`extra` last) as
/// a JSON object, quoted as a CSV field with every `"` doubled.
fn row_start(
    buf: &mut Vec<u8>,
    time: &[u8],
    prefix: &[u8],
    point: &Point<'_>,
    extra: Option<(&str, &str)>,
) {
    buf.extend_from_slice(time);
    buf.extend_from_slice(prefix);
    let mut any = false;
    let mut pair = |name: &str, value: &str| {
        let open: &[u8] = if any { b",\"\"" } else { b"\"{\"\"" };
        buf.extend_from_slice(open);
        any = true;
        // Writing into a Vec cannot fail.
        let _ = write_json_str_in_csv(buf, name);
        buf.extend_from_slice(b"\"\":\"\"");
        let _ = write_json_str_in_csv(buf, value);
        buf.extend_from_slice(b"\"\"");
    };
    point.labels.for_each(&mut pair);
    if let Some((name, value)) = extra {
        pair(name, value);
    }
    let close: &[u8] = if any { b"}\"," } else { b"{}," };
    buf.extend_from_slice(close);
}

impl Visitor for Encoder<'_> {
    fn family(&mut self, info: &FamilyInfo<'_>) -> io::Result<()> {
        self.name.clear();
        self.name.push_str(info.name);
        self.prefix.clear();
        self.prefix.push(b',');
        write_field(&mut self.prefix, info.name.as_bytes());
        self.prefix.push(b',');
        self.prefix.extend_from_slice(info.kind.as_str().as_bytes());
        self.prefix.push(b',');
        Ok(())
    }

    fn point(&mut self, point: &Point<'_>) -> io::Result<()> {
        if self.time_at != Some(point.time) {
            self.time.clear();
            self.time.extend_from_slice(&self.period);
            write_i64(&mut self.time, unix_millis(point.time))?;
            self.time_at = Some(point.time);
        }
        if let PointValue::StateSet(s) = point.value {
            // One row per state, as the gauge formats write it: the state under a label
            // named like the family, the value 1 or 0.
            for (state, on) in s.iter() {
                let buf = &mut self.sink.buf;
                row_start(
                    buf,
                    &self.time,
                    &self.prefix,
                    point,
                    Some((&self.name, state)),
                );
                buf.extend_from_slice(if on { b"1,,,\r\n" } else { b"0,,,\r\n" });
            }
            return self.sink.spill();
        }
        let buf = &mut self.sink.buf;
        row_start(buf, &self.time, &self.prefix, point, None);
        match point.value {
            PointValue::Counter(n) | PointValue::Gauge(n) => {
                write_number(buf, n)?;
                buf.extend_from_slice(b",,,");
            }
            PointValue::StateSet(_) => {}
            PointValue::Summary(s) => {
                buf.push(b',');
                write_u64(buf, s.count)?;
                buf.push(b',');
                write_f64(buf, s.sum)?;
                buf.push(b',');
                for (i, &(q, v)) in s.quantiles.iter().enumerate() {
                    if i > 0 {
                        buf.push(b'|');
                    }
                    write_f64(buf, q)?;
                    buf.push(b':');
                    write_f64(buf, v)?;
                }
            }
            PointValue::Histogram(h) => {
                buf.push(b',');
                write_u64(buf, h.count)?;
                buf.push(b',');
                write_f64(buf, h.sum)?;
                buf.push(b',');
                self.le.refresh(h.bounds)?;
                for (i, ((_, count), le)) in buckets(&h).zip(self.le.spelled()).enumerate() {
                    if i > 0 {
                        buf.push(b'|');
                    }
                    buf.extend_from_slice(le);
                    buf.push(b':');
                    write_u64(buf, count)?;
                }
            }
        }
        buf.extend_from_slice(b"\r\n");
        self.sink.spill()
    }
}
