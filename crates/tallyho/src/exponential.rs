//! Base-2 exponential buckets: the OpenTelemetry exponential histogram's layout, which is
//! also the Prometheus native histogram's (its "schema" is OpenTelemetry's "scale").
//!
//! At scale `s` the base is `2^(2^-s)` and bucket `i` holds the magnitudes in
//! `(base^i, base^(i+1)]`. Lowering the scale by one merges each pair of neighbouring
//! buckets, so a histogram that meets a value outside the buckets it can hold lowers its
//! scale instead of growing. Values whose magnitude is at most the zero threshold count in
//! the zero bucket; negative values have buckets of their own, indexed by magnitude.

/// The most buckets on each side by default (OpenTelemetry's default `MaxSize`).
pub const DEFAULT_MAX_BUCKETS: usize = 160;
/// The highest scale by default (OpenTelemetry's default `MaxScale`).
pub const DEFAULT_MAX_SCALE: i32 = 20;
/// The lowest scale: at -10 one bucket spans a factor of 2^1024, every finite double.
pub const MIN_SCALE: i32 = -10;

/// A histogram's buckets at one scale, as read at collection.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpBuckets {
    /// The scale: `2^-scale` doublings per bucket (higher is finer).
    pub scale: i32,
    /// Magnitudes up to this count in the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// Index of `positive[0]`.
    pub positive_offset: i32,
    /// Counts of positive buckets `positive_offset..` (not cumulative).
    pub positive: Vec<u64>,
    /// Index of `negative[0]` (negative buckets are indexed by magnitude).
    pub negative_offset: i32,
    /// Counts of negative buckets `negative_offset..`.
    pub negative: Vec<u64>,
    /// Smallest value observed (`+Inf` when there is none).
    pub min: f64,
    /// Largest value observed (`-Inf` when there is none).
    pub max: f64,
}

/// Exponential buckets in Prometheus' native-histogram encoding: the schema, and spans
/// over the non-empty buckets with their counts as deltas (each from the one before).
/// Prometheus' bucket `i` ends at `base^i`, OpenTelemetry's (ours) at `base^(i+1)`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NativeBuckets {
    /// Prometheus' schema: the scale, at most the finest schema asked for.
    pub schema: i32,
    /// Magnitudes up to this count in the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// `(offset, length)` spans of positive buckets: the first offset is the index of its
    /// first bucket, each later one the gap after the span before.
    pub positive_spans: Vec<(i32, u32)>,
    /// Positive bucket counts as deltas.
    pub positive_deltas: Vec<i64>,
    /// Spans of negative buckets (indexed by magnitude).
    pub negative_spans: Vec<(i32, u32)>,
    /// Negative bucket counts as deltas.
    pub negative_deltas: Vec<i64>,
}

/// Spans and deltas of one side in Prometheus' indexing.
fn native_side(offset: i32, counts: &[u64]) -> (Vec<(i32, u32)>, Vec<i64>) {
    let mut spans: Vec<(i32, u32)> = Vec::new();
    let mut deltas = Vec::new();
    let mut last = 0i64;
    // The index one past the end of the last span.
    let mut next = 0i32;
    for (j, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let i = offset + j as i32 + 1;
        match spans.last_mut() {
            Some(s) if i == next => s.1 += 1,
            Some(_) => spans.push((i - next, 1)),
            None => spans.push((i, 1)),
        }
        next = i + 1;
        let c = i64::try_from(c).unwrap_or(i64::MAX);
        deltas.push(c - last);
        last = c;
    }
    (spans, deltas)
}

/// The bucket index of magnitude `v` (finite, `> 0`) at `scale`. Subnormal magnitudes
/// count as the smallest normal one, as the OpenTelemetry specification allows.
pub(crate) fn index(v: f64, scale: i32) -> i32 {
    let v = v.max(f64::MIN_POSITIVE);
    let bits = v.to_bits();
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    let mantissa = bits & ((1 << 52) - 1);
    if scale <= 0 || mantissa == 0 {
        // From the exponent alone: a normal number is `1.m * 2^e`.
        let (e, exact) = (exp_bits - 1023, mantissa == 0);
        // Upper-inclusive: 2^e itself belongs to the bucket below.
        let i0 = if exact { e - 1 } else { e };
        if scale <= 0 {
            return i0 >> -scale;
        }
        // An exact power of two at a positive scale: the last bucket below 2^e.
        return ((i0 + 1) << scale) - 1;
    }
    let x = v.log2() * f64::from(1u32 << scale);
    let i = (x.ceil() as i64 - 1).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    // `log2` may round across a boundary, only when `x` is within rounding of an integer:
    // there (rarely) the bucket's bounds decide.
    if (x - x.round()).abs() > 1e-6 {
        return i;
    }
    if v <= lower_bound(i, scale) {
        i - 1
    } else if v > lower_bound(i.saturating_add(1), scale) {
        i + 1
    } else {
        i
    }
}

/// `base^i` at `scale`: the lower (exclusive) bound of bucket `i`.
pub fn lower_bound(i: i32, scale: i32) -> f64 {
    if scale <= 0 {
        let e = i64::from(i) << -scale;
        return (e.clamp(-1100, 1100) as f64).exp2();
    }
    (f64::from(i) / f64::from(1u32 << scale)).exp2()
}

impl ExpBuckets {
    /// No observation yet, at `scale`.
    pub fn empty(scale: i32, zero_threshold: f64) -> Self {
        ExpBuckets {
            scale,
            zero_threshold,
            zero_count: 0,
            positive_offset: 0,
            positive: Vec::new(),
            negative_offset: 0,
            negative: Vec::new(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    /// The number of observations in every bucket.
    pub fn count(&self) -> u64 {
        let side = |c: &[u64]| c.iter().fold(0u64, |a, &b| a.wrapping_add(b));
        self.zero_count
            .wrapping_add(side(&self.positive))
            .wrapping_add(side(&self.negative))
    }

    /// The same observations at a scale lower by `by` (neighbouring buckets merged).
    pub fn downscale(&mut self, by: u32) {
        if by == 0 {
            return;
        }
        let by = by.min(63);
        downscale_side(&mut self.positive_offset, &mut self.positive, by);
        downscale_side(&mut self.negative_offset, &mut self.negative, by);
        self.scale -= by as i32;
    }

    /// Adds `other`'s observations (at whatever scale) into these, lowering the scale as
    /// far as needed for the result to hold at most `max_buckets` buckets per side.
    pub fn merge(&mut self, other: &ExpBuckets, max_buckets: usize) {
        let mut other = other.clone();
        let scale = self.scale.min(other.scale);
        self.downscale((self.scale - scale) as u32);
        other.downscale((other.scale - scale) as u32);
        let need = |a: (i32, usize), b: (i32, usize)| -> u32 {
            let mut by = 0;
            while span(a, b, by) > max_buckets.max(1) && by < 63 {
                by += 1;
            }
            by
        };
        let by = need(
            (self.positive_offset, self.positive.len()),
            (other.positive_offset, other.positive.len()),
        )
        .max(need(
            (self.negative_offset, self.negative.len()),
            (other.negative_offset, other.negative.len()),
        ));
        self.downscale(by);
        other.downscale(by);
        add_side(
            &mut self.positive_offset,
            &mut self.positive,
            &other.positive_offset,
            &other.positive,
        );
        add_side(
            &mut self.negative_offset,
            &mut self.negative,
            &other.negative_offset,
            &other.negative,
        );
        self.zero_count = self.zero_count.wrapping_add(other.zero_count);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// These observations less `earlier`'s (the same histogram read before), for delta
    /// temporality; `None` when `earlier` holds something these do not (a reset).
    pub fn minus(&self, earlier: &ExpBuckets) -> Option<ExpBuckets> {
        let mut now = self.clone();
        let mut then = earlier.clone();
        let scale = now.scale.min(then.scale);
        now.downscale((now.scale - scale) as u32);
        then.downscale((then.scale - scale) as u32);
        now.zero_count = now.zero_count.checked_sub(then.zero_count)?;
        sub_side(
            &mut now.positive_offset,
            &mut now.positive,
            then.positive_offset,
            &then.positive,
        )?;
        sub_side(
            &mut now.negative_offset,
            &mut now.negative,
            then.negative_offset,
            &then.negative,
        )?;
        now.trim();
        // The extremes of the period alone are not known from two totals.
        now.min = f64::INFINITY;
        now.max = f64::NEG_INFINITY;
        Some(now)
    }

    /// These buckets as a Prometheus native histogram, the scale first lowered to
    /// `max_schema` (Prometheus takes -4 to 8); `None` when the scale is below -4.
    pub fn native(&self, max_schema: i32) -> Option<NativeBuckets> {
        if self.scale < -4 {
            return None;
        }
        let mut e = self.clone();
        if e.scale > max_schema {
            e.downscale((e.scale - max_schema) as u32);
        }
        let (positive_spans, positive_deltas) = native_side(e.positive_offset, &e.positive);
        let (negative_spans, negative_deltas) = native_side(e.negative_offset, &e.negative);
        Some(NativeBuckets {
            schema: e.scale,
            zero_threshold: e.zero_threshold,
            zero_count: e.zero_count,
            positive_spans,
            positive_deltas,
            negative_spans,
            negative_deltas,
        })
    }

    /// Drops empty buckets at either end of each side (the same observations).
    pub fn trim(&mut self) {
        for (offset, counts) in [
            (&mut self.positive_offset, &mut self.positive),
            (&mut self.negative_offset, &mut self.negative),
        ] {
            let end = counts.iter().rposition(|&c| c > 0).map_or(0, |i| i + 1);
            counts.truncate(end);
            let start = counts.iter().position(|&c| c > 0).unwrap_or(counts.len());
            counts.drain(..start);
            *offset = if counts.is_empty() {
                0
            } else {
                *offset + start as i32
            };
        }
    }

    /// The classic view, for formats without exponential buckets: the upper bound of every
    /// bucket from the most negative to the largest positive one (the zero bucket's is the
    /// threshold), and the count of each, with a last, empty `+Inf` bucket.
    pub fn classic(&self) -> (Vec<f64>, Vec<u64>) {
        let mut bounds = Vec::with_capacity(self.negative.len() + self.positive.len() + 1);
        let mut counts = Vec::with_capacity(bounds.capacity() + 1);
        for (j, &c) in self.negative.iter().enumerate().rev() {
            bounds.push(-lower_bound(self.negative_offset + j as i32, self.scale));
            counts.push(c);
        }
        bounds.push(self.zero_threshold);
        counts.push(self.zero_count);
        for (j, &c) in self.positive.iter().enumerate() {
            let upper = lower_bound(self.positive_offset + j as i32 + 1, self.scale);
            // Bounds stay strictly increasing even where exp2 rounds two together.
            if bounds.last().is_some_and(|&b| upper <= b) {
                if let Some(last) = counts.last_mut() {
                    *last += c;
                }
                continue;
            }
            bounds.push(upper);
            counts.push(c);
        }
        counts.push(0);
        (bounds, counts)
    }

    /// The `q`-quantile (`0 <= q <= 1`) estimated from the buckets: the bucket holding the
    /// rank, interpolated geometrically inside it, clamped to the observed min and max.
    /// Its relative error is below `base - 1` (`2^(2^-scale) - 1`) of the true sample
    /// quantile's bucket; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let count = self.count();
        if count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = q * (count - 1) as f64;
        let mut seen = 0u64;
        // Negative buckets, most negative first.
        for (j, &c) in self.negative.iter().enumerate().rev() {
            if c > 0 && rank < (seen + c) as f64 {
                let i = self.negative_offset + j as i32;
                let (lo, hi) = (lower_bound(i, self.scale), lower_bound(i + 1, self.scale));
                let f = ((rank - seen as f64).floor() + 0.5) / c as f64;
                // From -hi up to -lo: magnitudes shrink as the rank grows.
                return Some(self.clamp(-(hi * (lo / hi).powf(f))));
            }
            seen += c;
        }
        if self.zero_count > 0 && rank < (seen + self.zero_count) as f64 {
            return Some(self.clamp(0.0));
        }
        seen += self.zero_count;
        for (j, &c) in self.positive.iter().enumerate() {
            if c > 0 && rank < (seen + c) as f64 {
                let i = self.positive_offset + j as i32;
                let (lo, hi) = (lower_bound(i, self.scale), lower_bound(i + 1, self.scale));
                let f = ((rank - seen as f64).floor() + 0.5) / c as f64;
                return Some(self.clamp(lo * (hi / lo).powf(f)));
            }
            seen += c;
        }
        Some(self.max)
    }

    fn clamp(&self, v: f64) -> f64 {
        if self.min <= self.max {
            v.clamp(self.min, self.max)
        } else {
            v
        }
    }
}

/// Buckets needed for two index ranges `(offset, len)` together, at a scale lower by `by`.
fn span(a: (i32, usize), b: (i32, usize), by: u32) -> usize {
    let range = |(o, n): (i32, usize)| (n > 0).then(|| (o >> by, (o + n as i32 - 1) >> by));
    match (range(a), range(b)) {
        (None, None) => 0,
        (Some((l, h)), None) | (None, Some((l, h))) => (h - l + 1) as usize,
        (Some((l1, h1)), Some((l2, h2))) => (h1.max(h2) - l1.min(l2) + 1) as usize,
    }
}

fn downscale_side(offset: &mut i32, counts: &mut Vec<u64>, by: u32) {
    if counts.is_empty() {
        *offset >>= by;
        return;
    }
    let lo = *offset >> by;
    let hi = (*offset + counts.len() as i32 - 1) >> by;
    let mut out = vec![0u64; (hi - lo + 1) as usize];
    for (j, &c) in counts.iter().enumerate() {
        let i = (*offset + j as i32) >> by;
        out[(i - lo) as usize] += c;
    }
    *offset = lo;
    *counts = out;
}

fn add_side(offset: &mut i32, counts: &mut Vec<u64>, other_offset: &i32, other: &[u64]) {
    if other.is_empty() {
        return;
    }
    if counts.is_empty() {
        *offset = *other_offset;
        *counts = other.to_vec();
        return;
    }
    let lo = (*offset).min(*other_offset);
    let hi = (*offset + counts.len() as i32).max(*other_offset + other.len() as i32);
    let mut out = vec![0u64; (hi - lo) as usize];
    for (j, &c) in counts.iter().enumerate() {
        out[(*offset - lo) as usize + j] += c;
    }
    for (j, &c) in other.iter().enumerate() {
        out[(*other_offset - lo) as usize + j] += c;
    }
    *offset = lo;
    *counts = out;
}

fn sub_side(offset: &mut i32, counts: &mut [u64], then_offset: i32, then: &[u64]) -> Option<()> {
    for (j, &c) in then.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let at = then_offset + j as i32 - *offset;
        let slot = usize::try_from(at).ok().and_then(|a| counts.get_mut(a))?;
        *slot = slot.checked_sub(c)?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_hold_their_value_at_every_scale() {
        let values = [
            1.0,
            2.0,
            3.0,
            0.5,
            1e-300,
            5e-324,
            1.7e308,
            std::f64::consts::PI,
            1.0000001,
            0.999999,
        ];
        for scale in MIN_SCALE..=DEFAULT_MAX_SCALE {
            for &v in &values {
                let i = index(v, scale);
                let v = v.max(f64::MIN_POSITIVE);
                let (lo, hi) = (lower_bound(i, scale), lower_bound(i + 1, scale));
                if lo > 0.0 && hi.is_finite() {
                    assert!(
                        lo < v && v <= hi,
                        "scale {scale}: {v} not in ({lo}, {hi}] (index {i})"
                    );
                }
            }
        }
    }

    #[test]
    fn powers_of_two_sit_at_the_top_of_their_bucket() {
        assert_eq!(index(1.0, 0), -1);
        assert_eq!(index(2.0, 0), 0);
        assert_eq!(index(4.0, 0), 1);
        assert_eq!(index(4.0, 1), 3);
        assert_eq!(index(3.0, 0), 1);
        assert_eq!(index(4.0, -1), 0);
        assert_eq!(index(5.0, -1), 1);
    }

    #[test]
    fn native_spans_skip_empty_buckets_and_counts_are_deltas() {
        let (s, d) = native_side(-2, &[1, 3, 0, 0, 2]);
        assert_eq!(s, vec![(-1, 2), (2, 1)]);
        assert_eq!(d, vec![1, 2, -1]);
        let mut b = ExpBuckets::empty(10, 0.0);
        b.positive_offset = 0;
        b.positive = vec![1, 1];
        let n = b.native(8).unwrap();
        assert_eq!(n.schema, 8);
        assert_eq!(
            (n.positive_spans, n.positive_deltas),
            (vec![(1, 1)], vec![2])
        );
        assert!(ExpBuckets::empty(-5, 0.0).native(8).is_none());
    }

    #[test]
    fn downscaling_merges_pairs_and_keeps_the_count() {
        let mut b = ExpBuckets::empty(1, 0.0);
        b.positive_offset = -3;
        b.positive = vec![1, 2, 3, 4, 5];
        b.downscale(1);
        assert_eq!(b.scale, 0);
        // -3 -> -2, -2 -> -1, -1 -> -1, 0 -> 0, 1 -> 0
        assert_eq!((b.positive_offset, b.positive.clone()), (-2, vec![1, 5, 9]));
        assert_eq!(b.count(), 15);
    }

    #[test]
    fn merge_and_minus_undo_each_other() {
        let mut a = ExpBuckets::empty(3, 0.0);
        a.positive_offset = 10;
        a.positive = vec![1, 0, 2];
        let mut b = ExpBuckets::empty(2, 0.0);
        b.positive_offset = 2;
        b.positive = vec![4];
        b.negative_offset = 0;
        b.negative = vec![7];
        let mut sum = a.clone();
        sum.merge(&b, 160);
        assert_eq!(sum.scale, 2);
        assert_eq!(sum.count(), 14);
        let back = sum.minus(&b).unwrap();
        let mut a2 = a.clone();
        a2.downscale(1);
        a2.trim();
        assert_eq!(back.positive_offset, a2.positive_offset);
        assert_eq!(back.positive, a2.positive);
        assert!(b.minus(&sum).is_none(), "a reset shows as None");
    }

    #[test]
    fn merge_respects_the_bucket_limit() {
        let mut a = ExpBuckets::empty(4, 0.0);
        a.positive_offset = 0;
        a.positive = vec![1; 10];
        let mut b = ExpBuckets::empty(4, 0.0);
        b.positive_offset = 100;
        b.positive = vec![1; 10];
        a.merge(&b, 16);
        assert!(a.positive.len() <= 16, "{}", a.positive.len());
        assert_eq!(a.count(), 20);
    }

    #[test]
    fn the_classic_view_is_increasing_and_counts_everything() {
        let mut b = ExpBuckets::empty(1, 0.0);
        b.positive_offset = -2;
        b.positive = vec![1, 2];
        b.negative_offset = 0;
        b.negative = vec![3, 4];
        b.zero_count = 5;
        let (bounds, counts) = b.classic();
        assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{bounds:?}");
        assert_eq!(counts.len(), bounds.len() + 1);
        assert_eq!(counts.iter().sum::<u64>(), 15);
        assert_eq!(counts[0], 4, "the most negative bucket comes first");
    }
}
