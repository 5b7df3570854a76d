//! What Prometheus text and OpenMetrics share: label sets and histogram buckets.

use std::io;

use tallyho::{Exemplar, HistogramValue, Labels, StateSetValue, SummaryValue};

use crate::escape::write_label_value;
use crate::number::{write_f64, write_u64, write_unix_seconds};
use crate::sink::{buckets, LeCache};

/// Writes `a="x",b="y"` (no braces) and returns whether there was any label. The
/// constant and series parts come rendered from the registry; only owned pairs and the
/// overflow marker are escaped here.
fn write_pairs(out: &mut Vec<u8>, labels: &Labels<'_>) -> io::Result<bool> {
    let text = labels.text();
    let start = out.len();
    for part in [text.constant, text.own] {
        if !part.is_empty() {
            if out.len() != start {
                out.push(b',');
            }
            out.extend_from_slice(part);
        }
    }
    for (name, value) in text
        .pairs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .chain(text.extra)
    {
        if out.len() != start {
            out.push(b',');
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"=\"");
        write_label_value(out, value)?;
        out.push(b'"');
    }
    Ok(out.len() != start)
}

/// Renders `a="x",b="y"` (no braces) into `out`, replacing what it held, for a point whose
/// labels go on several lines: they are escaped once and copied after.
pub(crate) fn render_labels(out: &mut Vec<u8>, labels: &Labels<'_>) -> io::Result<()> {
    out.clear();
    write_pairs(out, labels).map(drop)
}

/// Writes `{a="x",b="y"}` straight into `buf`, or nothing when there are no labels, for a
/// point with a single line.
pub(crate) fn write_label_set(buf: &mut Vec<u8>, labels: &Labels<'_>) -> io::Result<()> {
    let open = buf.len();
    buf.push(b'{');
    if write_pairs(buf, labels)? {
        buf.push(b'}');
    } else {
        buf.truncate(open);
    }
    Ok(())
}

/// Writes the start of one-line samples, `name{labels} `, reusing `name{constant,` across
/// the points of a family that share constant labels: a line is then two copies (that
/// prefix and the series' own rendered labels) instead of one per part.
#[derive(Default)]
pub(crate) struct LineStart {
    /// Address and length of the constant-label text the prefix was built from: within one
    /// family, points of one registry member share that text.
    constant: (usize, usize),
    prefix: Vec<u8>,
    valid: bool,
}

impl LineStart {
    /// Forgets the cached prefix; call when a family begins.
    pub(crate) fn reset(&mut self) {
        self.valid = false;
    }

    /// Writes `name{labels} `, or `name ` without labels.
    #[inline]
    pub(crate) fn write(
        &mut self,
        buf: &mut Vec<u8>,
        name: &[u8],
        labels: &Labels<'_>,
    ) -> io::Result<()> {
        let text = labels.text();
        if text.own.is_empty() || !text.pairs.is_empty() || text.extra.is_some() {
            buf.extend_from_slice(name);
            write_label_set(buf, labels)?;
            buf.push(b' ');
            return Ok(());
        }
        let id = (text.constant.as_ptr() as usize, text.constant.len());
        if !self.valid || self.constant != id {
            self.constant = id;
            self.prefix.clear();
            self.prefix.extend_from_slice(name);
            self.prefix.push(b'{');
            if !text.constant.is_empty() {
                self.prefix.extend_from_slice(text.constant);
                self.prefix.push(b',');
            }
            self.valid = true;
        }
        buf.extend_from_slice(&self.prefix);
        buf.extend_from_slice(text.own);
        buf.extend_from_slice(b"} ");
        Ok(())
    }
}

/// Writes `{name}{suffix}{{labels}} `, leaving out the braces when there are no labels; the
/// caller writes the value and the newline.
pub(crate) fn sample(buf: &mut Vec<u8>, name: &[u8], suffix: &[u8], labels: &[u8]) {
    buf.extend_from_slice(name);
    buf.extend_from_slice(suffix);
    if !labels.is_empty() {
        buf.push(b'{');
        buf.extend_from_slice(labels);
        buf.push(b'}');
    }
    buf.push(b' ');
}

/// Writes an OpenMetrics exemplar, ` # {trace_id="…",span_id="…"} value timestamp`, as
/// the end of a sample line (before its newline).
pub(crate) fn write_exemplar(buf: &mut Vec<u8>, ex: &Exemplar) -> io::Result<()> {
    buf.extend_from_slice(b" # {trace_id=\"");
    buf.extend_from_slice(ex.trace.trace_id_hex().as_bytes());
    buf.extend_from_slice(b"\",span_id=\"");
    buf.extend_from_slice(ex.trace.span_id_hex().as_bytes());
    buf.extend_from_slice(b"\"} ");
    write_f64(buf, ex.value)?;
    buf.push(b' ');
    write_unix_seconds(buf, ex.time)
}

/// Writes one `{name}_bucket{labels,le="…"} {cumulative}` line per bucket, `+Inf` last,
/// with `le` as `bounds` spells it; `exemplars` (OpenMetrics only, else empty) go at the
/// end of their bucket's line.
pub(crate) fn write_buckets(
    buf: &mut Vec<u8>,
    name: &[u8],
    labels: &[u8],
    h: &HistogramValue<'_>,
    bounds: &mut LeCache,
    exemplars: &[Option<Exemplar>],
) -> io::Result<()> {
    bounds.refresh(h.bounds)?;
    for (i, ((_, count), le)) in buckets(h).zip(bounds.spelled()).enumerate() {
        buf.extend_from_slice(name);
        buf.extend_from_slice(b"_bucket{");
        buf.extend_from_slice(labels);
        if !labels.is_empty() {
            buf.push(b',');
        }
        buf.extend_from_slice(b"le=\"");
        buf.extend_from_slice(le);
        buf.extend_from_slice(b"\"} ");
        write_u64(buf, count)?;
        if let Some(Some(ex)) = exemplars.get(i) {
            write_exemplar(buf, ex)?;
        }
        buf.push(b'\n');
    }
    Ok(())
}

/// Writes one `{name}{{labels,name="state"}} 1|0` line per state of a stateset: the
/// family's name is the label naming the state (OpenMetrics' rule, kept in the formats
/// that write a stateset as gauges).
pub(crate) fn write_states(
    buf: &mut Vec<u8>,
    name: &[u8],
    labels: &[u8],
    s: &StateSetValue<'_>,
) -> io::Result<()> {
    for (state, on) in s.iter() {
        buf.extend_from_slice(name);
        buf.push(b'{');
        buf.extend_from_slice(labels);
        if !labels.is_empty() {
            buf.push(b',');
        }
        buf.extend_from_slice(name);
        buf.extend_from_slice(b"=\"");
        write_label_value(buf, state)?;
        buf.extend_from_slice(if on { b"\"} 1\n" } else { b"\"} 0\n" });
    }
    Ok(())
}

/// Writes one `{name}{{labels,quantile="q"}} estimate` line per quantile of a summary,
/// `q` spelled by `spell` (each format spells it as it spells `le`), then `_sum` and
/// `_count`.
pub(crate) fn write_summary(
    buf: &mut Vec<u8>,
    name: &[u8],
    labels: &[u8],
    s: &SummaryValue<'_>,
    spell: fn(&mut Vec<u8>, f64) -> io::Result<()>,
) -> io::Result<()> {
    for &(q, v) in s.quantiles {
        buf.extend_from_slice(name);
        buf.push(b'{');
        buf.extend_from_slice(labels);
        if !labels.is_empty() {
            buf.push(b',');
        }
        buf.extend_from_slice(b"quantile=\"");
        spell(buf, q)?;
        buf.extend_from_slice(b"\"} ");
        write_f64(buf, v)?;
        buf.push(b'\n');
    }
    sample(buf, name, b"_sum", labels);
    write_f64(buf, s.sum)?;
    buf.push(b'\n');
    sample(buf, name, b"_count", labels);
    write_u64(buf, s.count)?;
    buf.push(b'\n');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::write_le;

    fn lines(cache: &mut LeCache, bounds: &[f64], counts: &[u64]) -> String {
        let h = HistogramValue {
            bounds,
            counts,
            sum: 0.0,
            count: counts.iter().sum(),
            exponential: None,
        };
        let mut buf = Vec::new();
        write_buckets(&mut buf, b"h", b"a=\"b\"", &h, cache, &[]).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn cached_bounds_follow_changes() {
        let mut cache = LeCache::new(write_le);
        let first = "h_bucket{a=\"b\",le=\"1.0\"} 1\nh_bucket{a=\"b\",le=\"+Inf\"} 3\n";
        assert_eq!(lines(&mut cache, &[1.0], &[1, 2]), first);
        assert_eq!(lines(&mut cache, &[1.0], &[1, 2]), first);
        assert_eq!(
            lines(&mut cache, &[0.5, 1e6], &[1, 0, 1]),
            "h_bucket{a=\"b\",le=\"0.5\"} 1\nh_bucket{a=\"b\",le=\"1e+06\"} 1\nh_bucket{a=\"b\",le=\"+Inf\"} 2\n"
        );
        assert_eq!(
            lines(&mut cache, &[], &[4]),
            "h_bucket{a=\"b\",le=\"+Inf\"} 4\n"
        );
        assert_eq!(lines(&mut cache, &[1.0], &[1, 2]), first);
    }
}
