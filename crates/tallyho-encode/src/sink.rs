//! The buffer every encoder writes into, and what the formats share about points.

use std::io::{self, Write};

use tallyho::HistogramValue;

/// How much an encoder gathers before handing it to the writer in one `write_all`.
const CHUNK: usize = 32 * 1024;

/// Gathers output in memory and passes it on in chunks: the encoders write many small pieces,
/// and a `Vec` takes them far faster than a `dyn Write` would.
pub(crate) struct Sink<'w> {
    /// The pending output; encoders append to it directly.
    pub(crate) buf: Vec<u8>,
    out: &'w mut dyn Write,
}

impl<'w> Sink<'w> {
    pub(crate) fn new(out: &'w mut dyn Write) -> Self {
        Sink {
            // Room for a chunk plus the piece that crosses the mark.
            buf: Vec::with_capacity(CHUNK + CHUNK / 4),
            out,
        }
    }

    /// Passes the buffer on once it holds a chunk; call between pieces of output.
    pub(crate) fn spill(&mut self) -> io::Result<()> {
        if self.buf.len() >= CHUNK {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Passes on whatever is left. The writer is not flushed.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

/// `(upper bound, cumulative count)` for each finite bound, then `(+Inf, count)`.
///
/// The `+Inf` bucket is the histogram's `count`, so it always exists and always equals the
/// `_count` sample, even if `counts` were short.
pub(crate) fn buckets<'a>(h: &HistogramValue<'a>) -> impl Iterator<Item = (f64, u64)> + 'a {
    let finite = h.bounds.len();
    h.cumulative()
        .take(finite)
        .chain(std::iter::once((f64::INFINITY, h.count)))
}

/// Spells a bucket bound for one format.
pub(crate) type WriteLe = fn(&mut Vec<u8>, f64) -> io::Result<()>;

/// Bucket bounds spelled for one format, kept while the bounds stay the same (usually a whole
/// family), so each bound is formatted once rather than once per point.
pub(crate) struct LeCache {
    write: WriteLe,
    /// The bounds spelled, as bit patterns.
    bounds: Vec<u64>,
    /// Every spelling back to back, `+Inf` last.
    text: Vec<u8>,
    /// Where each spelling in `text` ends.
    ends: Vec<usize>,
}

impl LeCache {
    pub(crate) fn new(write: WriteLe) -> Self {
        LeCache {
            write,
            bounds: Vec::new(),
            text: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// Makes [`spelled`](Self::spelled) give `bounds` and then `+Inf`.
    pub(crate) fn refresh(&mut self, bounds: &[f64]) -> io::Result<()> {
        let same = self.ends.len() == bounds.len() + 1
            && self
                .bounds
                .iter()
                .copied()
                .eq(bounds.iter().map(|b| b.to_bits()));
        if same {
            return Ok(());
        }
        self.bounds.clear();
        self.text.clear();
        self.ends.clear();
        for &bound in bounds.iter().chain(&[f64::INFINITY]) {
            (self.write)(&mut self.text, bound)?;
            self.ends.push(self.text.len());
        }
        self.bounds.extend(bounds.iter().map(|b| b.to_bits()));
        Ok(())
    }

    /// The spelling of each bound given to [`refresh`](Self::refresh), then of `+Inf`: one
    /// for each item of [`buckets`].
    pub(crate) fn spelled(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let spelled = self.text.get(start..end).unwrap_or_default();
            start = end;
            spelled
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_end_with_count() {
        let h = HistogramValue {
            bounds: &[0.5, 1.0],
            counts: &[1, 2, 3],
            sum: 4.0,
            count: 6,
            exponential: None,
        };
        let got: Vec<_> = buckets(&h).collect();
        assert_eq!(got, [(0.5, 1), (1.0, 3), (f64::INFINITY, 6)]);

        let short = HistogramValue {
            bounds: &[0.5, 1.0],
            counts: &[],
            sum: 0.0,
            count: 0,
            exponential: None,
        };
        let got: Vec<_> = buckets(&short).collect();
        assert_eq!(got, [(f64::INFINITY, 0)]);
    }

    #[test]
    fn spills_in_chunks() {
        let mut out = Vec::new();
        let mut sink = Sink::new(&mut out);
        sink.buf.extend_from_slice(&[b'x'; CHUNK - 1]);
        sink.spill().unwrap();
        assert_eq!(sink.buf.len(), CHUNK - 1);
        sink.buf.push(b'y');
        sink.spill().unwrap();
        assert!(sink.buf.is_empty());
        sink.buf.push(b'z');
        sink.finish().unwrap();
        assert_eq!(out.len(), CHUNK + 1);
        assert_eq!(out.last(), Some(&b'z'));
    }
}
