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
//! | `type`         | `counter`, `gauge`, `updowncounter` or `histogram`                      |
//! | `labels`       | a JSON object of the labels in order, `{}` when none                    |
//! | `value`        | counters and gauges: the value; empty for histograms                    |
//! | `count`        | histograms: the number of observations; empty otherwise                 |
//! | `sum`          | histograms: the sum of observations; empty otherwise                    |
//! | `buckets`      | histograms: `le:cumulative` pairs joined by `\|`, ending `+Inf:count`; empty otherwise |
//!
//! Numbers are spelled as in Prometheus text: integers exactly, `NaN`, `+Inf`, `-Inf`, floats in
//! the shortest form that round-trips (`0.25`, `1e300`). A field holding a comma, quote, CR or
//! LF is quoted with `"` and its quotes doubled, so the labels column, being JSON, is quoted
//! whenever it has a label. Families without points have no rows.
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
    let mut encoder = Encoder {
        sink: Sink::new(w),
        prefix: Vec::new(),
        time_at: None,
        time: Vec::new(),
        le: LeCache::new(write_f64),
    };
    encoder.sink.buf.extend_from_slice(HEADER.as_bytes());
    source.visit(&mut encoder)?;
    encoder.sink.finish()
}

struct Encoder<'w> {
    sink: Sink<'w>,
    /// `,name,type,` for the current family: the row after its timestamp, up to the labels.
    prefix: Vec<u8>,
    /// Bucket bounds as numbers.
    le: LeCache,
    /// The collection time last written, and how it was spelled.
    time_at: Option<SystemTime>,
    time: Vec<u8>,
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

impl Visitor for Encoder<'_> {
    fn family(&mut self, info: &FamilyInfo<'_>) -> io::Result<()> {
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
            write_i64(&mut self.time, unix_millis(point.time))?;
            self.time_at = Some(point.time);
        }
        let buf = &mut self.sink.buf;
        buf.extend_from_slice(&self.time);
        buf.extend_from_slice(&self.prefix);
        // The labels as a JSON object, quoted as a CSV field: every `"` doubled.
        let mut any = false;
        point.labels.for_each(|name, value| {
            let open: &[u8] = if any { b",\"\"" } else { b"\"{\"\"" };
            buf.extend_from_slice(open);
            any = true;
            // Writing into a Vec cannot fail.
            let _ = write_json_str_in_csv(buf, name);
            buf.extend_from_slice(b"\"\":\"\"");
            let _ = write_json_str_in_csv(buf, value);
            buf.extend_from_slice(b"\"\"");
        });
        let close: &[u8] = if any { b"}\"," } else { b"{}," };
        buf.extend_from_slice(close);
        match point.value {
            PointValue::Counter(n) | PointValue::Gauge(n) => {
                write_number(buf, n)?;
                buf.extend_from_slice(b",,,");
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
