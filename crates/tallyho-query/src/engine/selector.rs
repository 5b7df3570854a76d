//! Selectors: series are read from the storage once for the whole grid, then each step
//! finds its sample (instant selectors) or window (range selectors) by moving indexes.

use super::strings::unescape;
use std::time::{Duration, SystemTime};

use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{AtModifier, MatrixSelector, Offset, VectorSelector};

use super::eval::Ctx;
use super::value::{Grid, Series, Val};
use crate::error::QueryError;
use crate::storage::{MatchOp, Matcher};
use crate::types::{is_stale, RangeSeries, Sample};

/// A duration in ms, saturating.
pub(crate) fn duration_ms(d: &Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// An `offset` in ms (negative offsets look into the future).
pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => duration_ms(d),
        Some(Offset::Neg(d)) => duration_ms(d).saturating_neg(),
    }
}

/// A wall-clock time in ms since the epoch (negative before it).
pub(crate) fn system_time_ms(t: &SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => duration_ms(&d),
        Err(e) => duration_ms(&e.duration()).saturating_neg(),
    }
}

impl Ctx<'_> {
    /// The time an `@` modifier pins evaluation to, if any.
    pub fn at_ms(&self, at: &Option<AtModifier>) -> Option<i64> {
        match at {
            None => None,
            Some(AtModifier::Start) => Some(self.query_start),
            Some(AtModifier::End) => Some(self.query_end),
            Some(AtModifier::At(t)) => Some(system_time_ms(t)),
        }
    }

    /// The time a node with these modifiers reads at, for each step of `grid`.
    pub fn effective_times(
        &self,
        at: &Option<AtModifier>,
        offset: &Option<Offset>,
        grid: &Grid,
    ) -> Vec<i64> {
        let off = offset_ms(offset);
        match self.at_ms(at) {
            Some(t) => vec![t.saturating_sub(off); grid.len],
            None => (0..grid.len)
                .map(|i| grid.ts(i).saturating_sub(off))
                .collect(),
        }
    }

    /// Reads the series `vs` selects with samples in `[mint, maxt]`, charging the budget.
    pub fn select(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<RangeSeries>, QueryError> {
        let matchers = to_matchers(vs)?;
        let series = self.storage.select(&matchers, mint, maxt)?;
        let n: usize = series.iter().map(|s| s.samples.len()).sum();
        self.samples_read = self.samples_read.saturating_add(n);
        self.charge(n)?;
        self.check_deadline()?;
        Ok(series)
    }

    /// An instant selector over the grid: at each step the latest sample in
    /// `[t - lookback, t]`, none when that sample is a staleness marker. With `want_ts`
    /// the value is the sample's timestamp in seconds (for `timestamp()`).
    pub fn eval_vector_selector(
        &mut self,
        vs: &VectorSelector,
        grid: &Grid,
        want_ts: bool,
    ) -> Result<Val, QueryError> {
        let times = self.effective_times(&vs.at, &vs.offset, grid);
        let lookback = duration_ms(&self.opts.lookback);
        let (lo, hi) = bounds(&times);
        let raw = self.select(vs, lo.saturating_sub(lookback), hi)?;
        let mut out = Vec::with_capacity(raw.len());
        for rs in raw {
            // Charged before the dense row is allocated, so a huge grid cannot run away.
            self.charge(grid.len)?;
            let vals = instant_values(&rs.samples, &times, lookback, want_ts);
            let s = Series {
                labels: rs.labels,
                vals,
            };
            if s.has_any() {
                out.push(s);
            }
        }
        Ok(Val::Vector(out))
    }

    /// A range selector's samples for a matrix-typed result at `t`: `[t - range, t]`
    /// after `@`/offset, staleness markers dropped, original timestamps.
    pub fn matrix_selector_raw(
        &mut self,
        ms: &MatrixSelector,
        t: i64,
    ) -> Result<Vec<RangeSeries>, QueryError> {
        let input = self.load_range(ms, &Grid::instant(t))?;
        Ok(input
            .series
            .into_iter()
            .filter_map(|mut s| {
                let (a, b) = window_bounds(&s.samples, input.times[0], input.range);
                s.samples.truncate(b);
                s.samples.drain(..a);
                (!s.samples.is_empty()).then_some(s)
            })
            .collect())
    }

    /// Loads a range selector's series once for the whole grid.
    pub fn load_range(
        &mut self,
        ms: &MatrixSelector,
        grid: &Grid,
    ) -> Result<RangeInput, QueryError> {
        let times = self.effective_times(&ms.vs.at, &ms.vs.offset, grid);
        let range = duration_ms(&ms.range);
        let (lo, hi) = bounds(&times);
        let mut series = self.select(&ms.vs, lo.saturating_sub(range), hi)?;
        for s in &mut series {
            s.samples.retain(|p| !is_stale(p.v));
        }
        series.retain(|s| !s.samples.is_empty());
        Ok(RangeInput {
            series,
            times,
            range,
        })
    }
}

/// A range vector ready for a range function: the series (no staleness markers, time
/// order) and, per step, the end of the window to read.
pub(crate) struct RangeInput {
    /// The series.
    pub series: Vec<RangeSeries>,
    /// Window end at each step (after `@` and offset).
    pub times: Vec<i64>,
    /// Window length, ms; the window is `[end - range, end]`.
    pub range: i64,
}

impl RangeInput {
    /// Calls `f(step, window, window_start, window_end)` for every step whose window in
    /// `samples` is not empty. Windows move forward, so two indexes slide along.
    pub fn for_each_window(
        &self,
        samples: &[Sample],
        mut f: impl FnMut(usize, &[Sample], i64, i64),
    ) {
        let (mut lo, mut hi) = (0usize, 0usize);
        let mut prev_end = i64::MIN;
        for (i, &end) in self.times.iter().enumerate() {
            let start = end.saturating_sub(self.range);
            if end < prev_end {
                // Not monotonic (never happens for grids); start over.
                lo = 0;
                hi = 0;
            }
            prev_end = end;
            while lo < samples.len() && samples[lo].t < start {
                lo += 1;
            }
            if hi < lo {
                hi = lo;
            }
            while hi < samples.len() && samples[hi].t <= end {
                hi += 1;
            }
            if hi > lo {
                f(i, &samples[lo..hi], start, end);
            }
        }
    }
}

/// The smallest and largest of `times` (non-empty).
fn bounds(times: &[i64]) -> (i64, i64) {
    let lo = times.iter().copied().min().unwrap_or(0);
    let hi = times.iter().copied().max().unwrap_or(0);
    (lo, hi)
}

/// Indexes `[a, b)` of the samples in `[end - range, end]`.
fn window_bounds(samples: &[Sample], end: i64, range: i64) -> (usize, usize) {
    let start = end.saturating_sub(range);
    let a = samples.partition_point(|p| p.t < start);
    let b = samples.partition_point(|p| p.t <= end);
    (a, b.max(a))
}

/// The instant value at each of `times` (non-decreasing, or all equal).
fn instant_values(
    samples: &[Sample],
    times: &[i64],
    lookback: i64,
    want_ts: bool,
) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(times.len());
    // `next` is the index of the first sample after the current time.
    let mut next = 0usize;
    let mut prev = i64::MIN;
    for &t in times {
        if t < prev {
            next = 0;
        }
        prev = t;
        while next < samples.len() && samples[next].t <= t {
            next += 1;
        }
        let v = match next.checked_sub(1).map(|i| samples[i]) {
            Some(p) if p.t >= t.saturating_sub(lookback) && !is_stale(p.v) => {
                Some(if want_ts { p.t as f64 / 1000.0 } else { p.v })
            }
            _ => None,
        };
        out.push(v);
    }
    out
}

/// The storage matchers of a selector: its name and label matchers, values unescaped.
pub(crate) fn to_matchers(vs: &VectorSelector) -> Result<Vec<Matcher>, QueryError> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(QueryError::unsupported(
            "\"or\" between label matchers (not part of Prometheus 2.42's PromQL)",
        ));
    }
    let mut out = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    if let Some(name) = &vs.name {
        out.push(Matcher::new("__name__", MatchOp::Equal, name.as_str())?);
    }
    for m in &vs.matchers.matchers {
        let converted = match &m.op {
            PMatchOp::Equal => Matcher::new(m.name.as_str(), MatchOp::Equal, unescape(&m.value))?,
            PMatchOp::NotEqual => {
                Matcher::new(m.name.as_str(), MatchOp::NotEqual, unescape(&m.value))?
            }
            PMatchOp::Re(re) => {
                regex_matcher(&m.name, MatchOp::Regex, &unescape(&m.value), re.as_str())?
            }
            PMatchOp::NotRe(re) => {
                regex_matcher(&m.name, MatchOp::NotRegex, &unescape(&m.value), re.as_str())?
            }
        };
        out.push(converted);
    }
    Ok(out)
}

/// A regex matcher from the source; when Rust's regex refuses a Go-only form (`a{b}` as
/// literal braces), the parser's escaped version is used instead.
fn regex_matcher(
    name: &str,
    op: MatchOp,
    value: &str,
    parsed: &str,
) -> Result<Matcher, QueryError> {
    match Matcher::new(name, op, value) {
        Ok(m) => Ok(m),
        Err(e) => {
            let inner = parsed
                .strip_prefix('^')
                .and_then(|s| s.strip_suffix('$'))
                .filter(|s| *s != value);
            match inner {
                Some(escaped) => {
                    let mut m = Matcher::new(name, op, escaped).map_err(|_| e)?;
                    m.value = value.to_string();
                    Ok(m)
                }
                None => Err(e),
            }
        }
    }
}
