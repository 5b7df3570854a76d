//! JSON: one object per collection, for scripts and dashboards that do not speak Prometheus.
//!
//! # Schema
//!
//! ```text
//! {
//!   "families": [
//!     {
//!       "name": string,            // as registered; counters without "_total"
//!       "type": "counter" | "gauge" | "updowncounter" | "histogram" | "gaugehistogram"
//!             | "summary" | "info" | "stateset",
//!       "help": string,            // "" when none
//!       "unit": string,            // "" when none
//!       "series": [
//!         // counter, gauge, updowncounter, info (value 1, name without "_info"):
//!         { "labels": { name: value, ... }, "start_ms": integer, "value": number },
//!         // histogram, gaugehistogram (its current count and sum):
//!         { "labels": { ... }, "start_ms": integer, "count": integer, "sum": number,
//!           "buckets": [ { "le": number | "+Inf", "count": integer }, ... ] }
//!         // summary: quantiles over its window (value "NaN" when it was empty), count
//!         // and sum since the start:
//!         { "labels": { ... }, "start_ms": integer, "count": integer, "sum": number,
//!           "quantiles": [ { "quantile": number, "value": number }, ... ] }
//!         // stateset: every state, in registration order, true or false:
//!         { "labels": { ... }, "start_ms": integer, "states": { state: boolean, ... } }
//!       ]
//!     }
//!   ],
//!   "timestamp_ms": integer        // when the values were collected
//! }
//! ```
//!
//! - Times are integer milliseconds since the Unix epoch (negative before 1970).
//!   `timestamp_ms` is the collection time of the first point, or the time of encoding when
//!   there are no points. It comes after `families` so the encoder can stream; JSON readers do
//!   not care about key order.
//! - Integers recorded as integers are written as integers, exactly (`u64` and `i64` in full,
//!   which some readers hold only as doubles); floats keep a fraction or exponent (`5.0`,
//!   `0.25`, `1e300`).
//! - JSON has no non-finite numbers, so NaN and infinities are the strings `"NaN"`, `"+Inf"`
//!   and `"-Inf"` wherever a number may appear (`value`, `sum`, `le`).
//! - Buckets are cumulative, in increasing `le`, ending with `"+Inf"` whose count is `count`.
//! - Labels keep their order; the output is one line with a trailing newline.
//! - Strings escape `"`, `\` and control characters (`\n`, `\r`, `\t`, otherwise `\u00XX`).
//!
//! ```text
//! {"families":[{"name":"jobs","type":"counter","help":"Jobs run.","unit":"","series":[{"labels":{"queue":"a"},"start_ms":1700000000000,"value":3}]}],"timestamp_ms":1700000005000}
//! ```

use std::io::{self, Write};
use std::time::SystemTime;

use tallyho::{FamilyInfo, Number, Point, PointValue, Source, Visitor};

use crate::escape::write_json_str;
use crate::number::{unix_millis, write_i64, write_number, write_u64};
use crate::sink::{buckets, LeCache, Sink};

/// The HTTP `Content-Type` of this format.
pub const CONTENT_TYPE: &str = "application/json";

/// Writes every family and point of `source` to `w` as one JSON object (see the module docs).
///
/// Output is gathered in chunks and passed to `w` with `write_all`; `w` is not flushed.
///
/// # Errors
/// The first error from `w` (or from the source); what was written before it stays written.
pub fn encode(w: &mut dyn Write, source: &dyn Source) -> io::Result<()> {
    encode_object(w, source, None)
}

/// As [`encode`], for one export period: the object starts with
/// `"period_start_ms"`, `"period_end_ms"` and `"temporality"` (`"cumulative"` or
/// `"delta"`), so that a file of delta values says what span its values cover.
///
/// # Errors
/// As [`encode`].
pub fn encode_period(
    w: &mut dyn Write,
    source: &dyn Source,
    start: SystemTime,
    end: SystemTime,
    delta: bool,
) -> io::Result<()> {
    encode_object(w, source, Some((start, end, delta)))
}

fn encode_object(
    w: &mut dyn Write,
    source: &dyn Source,
    period: Option<(SystemTime, SystemTime, bool)>,
) -> io::Result<()> {
    let mut encoder = Encoder {
        sink: Sink::new(w),
        any_family: false,
        points: 0,
        open: false,
        time: None,
        start_at: None,
        start_ms: 0,
        le: LeCache::new(|buf, le| {
            write_json_f64(buf, le);
            Ok(())
        }),
    };
    let buf = &mut encoder.sink.buf;
    buf.push(b'{');
    if let Some((start, end, delta)) = period {
        buf.extend_from_slice(b"\"period_start_ms\":");
        write_i64(buf, unix_millis(start))?;
        buf.extend_from_slice(b",\"period_end_ms\":");
        write_i64(buf, unix_millis(end))?;
        buf.extend_from_slice(if delta {
            b",\"temporality\":\"delta\","
        } else {
            b",\"temporality\":\"cumulative\","
        });
    }
    buf.extend_from_slice(b"\"families\":[");
    source.visit(&mut encoder)?;
    encoder.close_family();
    let time = encoder.time.unwrap_or_else(SystemTime::now);
    let buf = &mut encoder.sink.buf;
    buf.extend_from_slice(b"],\"timestamp_ms\":");
    write_i64(buf, unix_millis(time))?;
    buf.extend_from_slice(b"}\n");
    encoder.sink.finish()
}

struct Encoder<'w> {
    sink: Sink<'w>,
    /// Whether a family has begun.
    any_family: bool,
    /// Points written in the current family.
    points: usize,
    /// Whether a family's `series` array is open.
    open: bool,
    /// The collection time of the first point.
    time: Option<SystemTime>,
    /// Bucket bounds as JSON.
    le: LeCache,
    /// The start time last written, and in milliseconds: usually shared by many series.
    start_at: Option<SystemTime>,
    start_ms: i64,
}

impl Encoder<'_> {
    fn close_family(&mut self) {
        if self.open {
            self.sink.buf.extend_from_slice(b"]}");
            self.open = false;
        }
    }
}

/// Writes a float as a JSON number, or as a string when it is not finite.
fn write_json_f64(buf: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        buf.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    } else if v.is_nan() {
        buf.extend_from_slice(b"\"NaN\"");
    } else if v > 0.0 {
        buf.extend_from_slice(b"\"+Inf\"");
    } else {
        buf.extend_from_slice(b"\"-Inf\"");
    }
}

fn write_json_number(buf: &mut Vec<u8>, n: Number) -> io::Result<()> {
    match n {
        Number::F64(v) => {
            write_json_f64(buf, v);
            Ok(())
        }
        integer => write_number(buf, integer),
    }
}

fn write_json_field(buf: &mut Vec<u8>, key: &[u8], value: &str) -> io::Result<()> {
    buf.extend_from_slice(key);
    buf.push(b'"');
    write_json_str(buf, value)?;
    buf.push(b'"');
    Ok(())
}

impl Visitor for Encoder<'_> {
    fn family(&mut self, info: &FamilyInfo<'_>) -> io::Result<()> {
        self.close_family();
        let buf = &mut self.sink.buf;
        if self.any_family {
            buf.push(b',');
        }
        write_json_field(buf, b"{\"name\":", info.name)?;
        write_json_field(buf, b",\"type\":", info.kind.as_str())?;
        write_json_field(buf, b",\"help\":", info.help)?;
        write_json_field(buf, b",\"unit\":", info.unit)?;
        buf.extend_from_slice(b",\"series\":[");
        self.any_family = true;
        self.points = 0;
        self.open = true;
        self.sink.spill()
    }

    fn point(&mut self, point: &Point<'_>) -> io::Result<()> {
        if !self.open {
            // A point outside a family has nowhere to go in this schema.
            return Ok(());
        }
        self.time.get_or_insert(point.time);
        let buf = &mut self.sink.buf;
        if self.points > 0 {
            buf.push(b',');
        }
        self.points += 1;
        buf.extend_from_slice(b"{\"labels\":{");
        let mut first = true;
        point.labels.for_each(|name, value| {
            if !first {
                buf.push(b',');
            }
            first = false;
            // Writing into a Vec cannot fail.
            let _ = write_json_field(buf, b"", name);
            let _ = write_json_field(buf, b":", value);
        });
        buf.extend_from_slice(b"},\"start_ms\":");
        if self.start_at != Some(point.start) {
            self.start_at = Some(point.start);
            self.start_ms = unix_millis(point.start);
        }
        write_i64(buf, self.start_ms)?;
        match point.value {
            PointValue::Counter(n) | PointValue::Gauge(n) => {
                buf.extend_from_slice(b",\"value\":");
                write_json_number(buf, n)?;
            }
            PointValue::Histogram(h) => {
                buf.extend_from_slice(b",\"count\":");
                write_u64(buf, h.count)?;
                buf.extend_from_slice(b",\"sum\":");
                write_json_f64(buf, h.sum);
                buf.extend_from_slice(b",\"buckets\":[");
                self.le.refresh(h.bounds)?;
                for (i, ((_, count), le)) in buckets(&h).zip(self.le.spelled()).enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    buf.extend_from_slice(b"{\"le\":");
                    buf.extend_from_slice(le);
                    buf.extend_from_slice(b",\"count\":");
                    write_u64(buf, count)?;
                    buf.push(b'}');
                }
                buf.push(b']');
            }
            PointValue::Summary(s) => {
                buf.extend_from_slice(b",\"count\":");
                write_u64(buf, s.count)?;
                buf.extend_from_slice(b",\"sum\":");
                write_json_f64(buf, s.sum);
                buf.extend_from_slice(b",\"quantiles\":[");
                for (i, &(q, v)) in s.quantiles.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    buf.extend_from_slice(b"{\"quantile\":");
                    write_json_f64(buf, q);
                    buf.extend_from_slice(b",\"value\":");
                    write_json_f64(buf, v);
                    buf.push(b'}');
                }
                buf.push(b']');
            }
            PointValue::StateSet(s) => {
                buf.extend_from_slice(b",\"states\":{");
                for (i, (state, on)) in s.iter().enumerate() {
                    let open: &[u8] = if i > 0 { b"," } else { b"" };
                    write_json_field(buf, open, state)?;
                    buf.extend_from_slice(if on { b":true" } else { b":false" });
                }
                buf.push(b'}');
            }
        }
        buf.push(b'}');
        self.sink.spill()
    }

    fn end_family(&mut self) -> io::Result<()> {
        self.close_family();
        Ok(())
    }
}
