//! Exponential (native) histograms: base-2 exponential buckets whose scale lowers itself
//! to keep at most a configured number of buckets (see [`crate::exponential`]).
//!
//! Writers never wait and never lock, as in [`crate::histogram`]: the first thread to
//! observe owns the histogram's shard; a second thread retires it, and each thread then
//! owns the shard of its stripe. A shard has one writer, so changing its scale (merging
//! bucket pairs in place) needs nothing but the single-writer seqlock the collector reads
//! it under. The collector merges the shards at the lowest scale among them. Threads with
//! neither (more threads than stripes) share one shard behind a mutex: the one place a
//! writer can wait, and only when threads outnumber two per core.

use std::io;
use std::sync::atomic::{fence, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crossbeam_utils::CachePadded;

use crate::adder::{RETIRED, UNOWNED};
use crate::exponential::{index, ExpBuckets, DEFAULT_MAX_SCALE, MIN_SCALE};
use crate::instrument::{sealed::Sealed, Instrument, Shape};
use crate::slot;
use crate::visit::{HistogramValue, MetricKind, PointValue};

pub use crate::exp_config::ExpConfig;

/// One side's buckets in a shard: `len` counts from index `lo`; every count at or past
/// `len` is zero.
struct Side {
    lo: AtomicI64,
    len: AtomicU64,
    counts: Box<[AtomicU64]>,
}

impl Side {
    fn new(n: usize) -> Self {
        Side {
            lo: AtomicI64::new(0),
            len: AtomicU64::new(0),
            counts: (0..n).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn range(&self) -> Option<(i32, i32)> {
        let len = self.len.load(Ordering::Relaxed) as i32;
        let lo = self.lo.load(Ordering::Relaxed) as i32;
        (len > 0).then(|| (lo, lo + len - 1))
    }

    /// Writer only: merges bucket pairs `by` times over.
    fn downscale(&self, by: u32) {
        let Some((lo, hi)) = self.range() else {
            return;
        };
        let new_lo = lo >> by;
        for j in 0..=(hi - lo) as usize {
            let c = self.counts[j].load(Ordering::Relaxed);
            self.counts[j].store(0, Ordering::Relaxed);
            // The target never passes `j`, and those below are already final.
            let t = (((lo + j as i32) >> by) - new_lo) as usize;
            let old = self.counts[t].load(Ordering::Relaxed);
            self.counts[t].store(old + c, Ordering::Relaxed);
        }
        self.lo.store(i64::from(new_lo), Ordering::Relaxed);
        self.len
            .store(((hi >> by) - new_lo + 1) as u64, Ordering::Relaxed);
    }

    /// Writer only: one more observation in bucket `i`, which fits.
    fn add(&self, i: i32) {
        let Some((lo, hi)) = self.range() else {
            self.lo.store(i64::from(i), Ordering::Relaxed);
            self.len.store(1, Ordering::Relaxed);
            let old = self.counts[0].load(Ordering::Relaxed);
            self.counts[0].store(old + 1, Ordering::Relaxed);
            return;
        };
        if i < lo {
            let shift = (lo - i) as usize;
            let len = (hi - lo + 1) as usize;
            for j in (0..len).rev() {
                let c = self.counts[j].load(Ordering::Relaxed);
                self.counts[j + shift].store(c, Ordering::Relaxed);
            }
            for c in &self.counts[..shift] {
                c.store(0, Ordering::Relaxed);
            }
            self.lo.store(i64::from(i), Ordering::Relaxed);
            self.len.store((len + shift) as u64, Ordering::Relaxed);
        } else if i > hi {
            self.len.store((i - lo + 1) as u64, Ordering::Relaxed);
        }
        let at = (i - self.lo.load(Ordering::Relaxed) as i32) as usize;
        let old = self.counts[at].load(Ordering::Relaxed);
        self.counts[at].store(old + 1, Ordering::Relaxed);
    }

    fn read(&self) -> (i32, Vec<u64>) {
        match self.range() {
            Some((lo, hi)) => (
                lo,
                self.counts[..=(hi - lo) as usize]
                    .iter()
                    .map(|c| c.load(Ordering::Relaxed))
                    .collect(),
            ),
            None => (0, Vec::new()),
        }
    }
}

/// How many times bucket pairs must merge for range `(lo, hi)` to take in `i` within
/// `max` buckets.
fn reduction(range: Option<(i32, i32)>, i: i32, max: usize) -> u32 {
    let (lo, hi) = range.map_or((i, i), |(lo, hi)| (lo.min(i), hi.max(i)));
    let mut by = 0;
    while i64::from(hi >> by) - i64::from(lo >> by) + 1 > max as i64 {
        by += 1;
    }
    by
}

/// A shard with one writer at a time (its owner slot, or whoever holds the shared mutex):
/// `seq` is odd while it writes.
struct Local {
    owner: AtomicU32,
    seq: AtomicU64,
    scale: AtomicI64,
    zero: AtomicU64,
    sum: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
    positive: Side,
    negative: OnceLock<Side>,
}

impl Local {
    fn new(owner: u32, config: &ExpConfig) -> Self {
        Local {
            owner: AtomicU32::new(owner),
            seq: AtomicU64::new(0),
            scale: AtomicI64::new(i64::from(config.max_scale)),
            zero: AtomicU64::new(0),
            sum: AtomicU64::new(0f64.to_bits()),
            min: AtomicU64::new(f64::INFINITY.to_bits()),
            max: AtomicU64::new(f64::NEG_INFINITY.to_bits()),
            positive: Side::new(config.max_buckets),
            negative: OnceLock::new(),
        }
    }

    /// Only this shard's one writer calls this; `v` is finite.
    #[inline]
    fn observe(&self, v: f64, config: &ExpConfig) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        let magnitude = v.abs();
        if magnitude <= config.zero_threshold {
            let z = self.zero.load(Ordering::Relaxed);
            self.zero.store(z + 1, Ordering::Relaxed);
        } else {
            self.bucket(v, magnitude, config);
        }
        let sum = f64::from_bits(self.sum.load(Ordering::Relaxed)) + v;
        self.sum.store(sum.to_bits(), Ordering::Relaxed);
        if v < f64::from_bits(self.min.load(Ordering::Relaxed)) {
            self.min.store(v.to_bits(), Ordering::Relaxed);
        }
        if v > f64::from_bits(self.max.load(Ordering::Relaxed)) {
            self.max.store(v.to_bits(), Ordering::Relaxed);
        }
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }

    #[inline]
    fn bucket(&self, v: f64, magnitude: f64, config: &ExpConfig) {
        let scale = self.scale.load(Ordering::Relaxed) as i32;
        let side = if v > 0.0 {
            &self.positive
        } else {
            self.negative.get_or_init(|| Side::new(config.max_buckets))
        };
        let mut i = index(magnitude, scale);
        let range = side.range();
        let fits = range.map_or(true, |(lo, hi)| {
            i64::from(hi.max(i)) - i64::from(lo.min(i)) < config.max_buckets as i64
        });
        if !fits {
            let by = reduction(range, i, config.max_buckets).min((scale - MIN_SCALE).max(0) as u32);
            self.positive.downscale(by);
            if let Some(n) = self.negative.get() {
                n.downscale(by);
            }
            self.scale
                .store(i64::from(scale - by as i32), Ordering::Relaxed);
            i >>= by;
        }
        side.add(i);
    }

    /// This shard, read whole.
    fn read(&self, config: &ExpConfig) -> (ExpBuckets, f64) {
        let mut spins = 0u32;
        loop {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 % 2 == 0 {
                let scale = self.scale.load(Ordering::Relaxed) as i32;
                let (positive_offset, positive) = self.positive.read();
                let (negative_offset, negative) =
                    self.negative.get().map_or((0, Vec::new()), Side::read);
                let b = ExpBuckets {
                    scale,
                    zero_threshold: config.zero_threshold,
                    zero_count: self.zero.load(Ordering::Relaxed),
                    positive_offset,
                    positive,
                    negative_offset,
                    negative,
                    min: f64::from_bits(self.min.load(Ordering::Relaxed)),
                    max: f64::from_bits(self.max.load(Ordering::Relaxed)),
                };
                let sum = f64::from_bits(self.sum.load(Ordering::Relaxed));
                fence(Ordering::Acquire);
                if self.seq.load(Ordering::Relaxed) == s1 {
                    return (b, sum);
                }
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

struct Stripes {
    mask: usize,
    shards: Box<[OnceLock<Box<CachePadded<Local>>>]>,
}

pub(crate) struct Core {
    config: ExpConfig,
    refused: AtomicU64,
    own: Local,
    stripes: OnceLock<Box<Stripes>>,
    shared: OnceLock<Box<(Mutex<()>, Local)>>,
    /// Exemplars, one per power-of-two octave of the value (8 slots, so the latest of each
    /// of 8 neighbouring octaves is kept whatever the scale), made on the first.
    exemplars: crate::exemplar::Slots,
}

/// Exemplar slots of an exponential histogram.
const EXEMPLAR_SLOTS: usize = 8;

impl Core {
    fn new(config: ExpConfig) -> Self {
        Core {
            config,
            refused: AtomicU64::new(0),
            own: Local::new(UNOWNED, &config),
            stripes: OnceLock::new(),
            shared: OnceLock::new(),
            exemplars: crate::exemplar::Slots::default(),
        }
    }

    /// Records `v` and keeps it as the exemplar of its octave (unless refused).
    fn observe_with_exemplar(&self, v: f64, trace: crate::TraceContext) {
        self.observe(v);
        if v.is_finite() {
            // The biased exponent: one slot per octave, wrapping every 8.
            let octave = ((v.to_bits() >> 52) & 0x7ff) as usize;
            let ex = crate::exemplar::now(trace, v);
            self.exemplars
                .record(EXEMPLAR_SLOTS, octave % EXEMPLAR_SLOTS, &ex);
        }
    }

    #[inline]
    fn observe(&self, v: f64) {
        if !v.is_finite() {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let me = slot::current();
        if self.own.owner.load(Ordering::Relaxed) == me as u32 {
            return self.own.observe(v, &self.config);
        }
        if let Some(stripes) = self.stripes.get() {
            if let Some(shard) = stripes.shards.get(me & stripes.mask).and_then(|s| s.get()) {
                if shard.owner.load(Ordering::Relaxed) == me as u32 {
                    return shard.observe(v, &self.config);
                }
            }
        }
        self.observe_slow(me, v);
    }

    #[cold]
    #[inline(never)]
    fn observe_slow(&self, me: usize, v: f64) {
        let owned = me < 64;
        let claim = if owned { me as u32 } else { RETIRED };
        match self
            .own
            .owner
            .compare_exchange(UNOWNED, claim, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) if owned => return self.own.observe(v, &self.config),
            Ok(_) | Err(RETIRED) => {}
            Err(_) => self.own.owner.store(RETIRED, Ordering::Relaxed),
        }
        if owned {
            let stripes = self.stripes.get_or_init(|| {
                let k = slot::stripes();
                Box::new(Stripes {
                    mask: k - 1,
                    shards: (0..k).map(|_| OnceLock::new()).collect(),
                })
            });
            if let Some(slot) = stripes.shards.get(me & stripes.mask) {
                let shard = slot.get_or_init(|| {
                    Box::new(CachePadded::new(Local::new(me as u32, &self.config)))
                });
                if shard.owner.load(Ordering::Relaxed) == me as u32 {
                    return shard.observe(v, &self.config);
                }
            }
        }
        let shared = self
            .shared
            .get_or_init(|| Box::new((Mutex::new(()), Local::new(RETIRED, &self.config))));
        let _one_writer = shared.0.lock().unwrap_or_else(|p| p.into_inner());
        shared.1.observe(v, &self.config);
    }

    /// Every shard merged: the buckets and the sum.
    fn read(&self) -> (ExpBuckets, f64) {
        let (mut all, mut sum) = self.own.read(&self.config);
        let mut add = |shard: &Local| {
            let (b, s) = shard.read(&self.config);
            all.merge(&b, self.config.max_buckets);
            sum += s;
        };
        if let Some(stripes) = self.stripes.get() {
            for shard in stripes.shards.iter().filter_map(|s| s.get()) {
                add(shard);
            }
        }
        if let Some(shared) = self.shared.get() {
            add(&shared.1);
        }
        (all, sum)
    }
}

/// A histogram with base-2 exponential buckets that adapt to the data (OpenTelemetry's
/// exponential histogram, Prometheus' native histogram): no bounds to choose, a relative
/// error set by the scale, and at most [`ExpConfig::max_buckets`] buckets per side.
///
/// Formats that carry exponential buckets (OTLP) get them as they are; the others get the
/// classic view of the same buckets ([`ExpBuckets::classic`]).
///
/// ```
/// let h = tallyho::ExponentialHistogram::new(tallyho::ExpConfig::default());
/// for v in [0.010, 0.012, 0.011, 0.250] {
///     h.observe(v);
/// }
/// let b = h.buckets();
/// assert_eq!(b.count(), 4);
/// assert!(b.positive.len() <= 160);
/// let median = b.quantile(0.5).unwrap();
/// assert!((median - 0.0115).abs() < 0.001);
/// ```
#[derive(Clone, Default)]
pub struct ExponentialHistogram(Option<Arc<Core>>);

static EXP_NOOP: ExponentialHistogram = ExponentialHistogram(None);

impl ExponentialHistogram {
    /// A live histogram that belongs to no registry.
    pub fn new(config: ExpConfig) -> Self {
        ExponentialHistogram(Some(Arc::new(Core::new(config))))
    }

    /// A histogram that records nothing.
    pub const fn noop() -> Self {
        ExponentialHistogram(None)
    }

    /// Records one finite observation; NaN and infinities are refused and counted.
    #[inline]
    pub fn observe(&self, v: f64) {
        if let Some(c) = &self.0 {
            c.observe(v);
        }
    }

    /// Records a duration in seconds.
    #[inline]
    pub fn observe_duration(&self, d: std::time::Duration) {
        self.observe(d.as_secs_f64());
    }

    /// Records one observation and, when `trace` is a context, keeps it as an exemplar:
    /// the latest of its power-of-two octave, at most 8 kept (bounded whatever the scale).
    /// Formats with buckets show each in the bucket holding its value; OTLP sends them
    /// all.
    ///
    /// ```
    /// use tallyho::{ExpConfig, ExponentialHistogram, TraceContext};
    /// let h = ExponentialHistogram::new(ExpConfig::default());
    /// let t = TraceContext::from_hex("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")?;
    /// h.observe_with_exemplar(0.25, Some(t));
    /// assert_eq!(h.exemplars()[0].value, 0.25);
    /// # Ok::<(), tallyho::Error>(())
    /// ```
    #[inline]
    pub fn observe_with_exemplar(&self, v: f64, trace: Option<crate::TraceContext>) {
        match (&self.0, trace) {
            (Some(c), Some(t)) => c.observe_with_exemplar(v, t),
            (Some(c), None) => c.observe(v),
            (None, _) => {}
        }
    }

    /// The exemplars kept, by increasing value.
    pub fn exemplars(&self) -> Vec<crate::Exemplar> {
        let mut out: Vec<_> = self
            .0
            .as_ref()
            .map_or_else(Vec::new, |c| c.exemplars.read())
            .into_iter()
            .flatten()
            .collect();
        out.sort_by(|a, b| a.value.total_cmp(&b.value));
        out
    }

    /// The buckets observed so far, all shards merged.
    pub fn buckets(&self) -> ExpBuckets {
        self.0
            .as_ref()
            .map_or_else(|| ExpBuckets::empty(DEFAULT_MAX_SCALE, 0.0), |c| c.read().0)
    }

    /// The buckets and the sum from one reading (`None` for a no-op handle).
    pub(crate) fn reading(&self) -> Option<(ExpBuckets, f64)> {
        self.0.as_ref().map(|c| c.read())
    }

    /// `(count, sum)` observed so far.
    pub fn count_and_sum(&self) -> (u64, f64) {
        self.0.as_ref().map_or((0, 0.0), |c| {
            let (b, sum) = c.read();
            (b.count(), sum)
        })
    }

    /// How many observations were refused (NaN or infinite).
    pub fn refused(&self) -> u64 {
        self.0
            .as_ref()
            .map_or(0, |c| c.refused.load(Ordering::Relaxed))
    }
}

impl std::fmt::Debug for ExponentialHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (count, sum) = self.count_and_sum();
        f.debug_struct("ExponentialHistogram")
            .field("count", &count)
            .field("sum", &sum)
            .finish()
    }
}

impl Sealed for ExponentialHistogram {}
impl Instrument for ExponentialHistogram {
    const KIND: MetricKind = MetricKind::Histogram;
    const REFUSES: bool = true;
    fn refused(&self) -> u64 {
        ExponentialHistogram::refused(self)
    }
    fn fingerprint(&self) -> u64 {
        self.count_and_sum().0 ^ ExponentialHistogram::refused(self).rotate_left(32)
    }
    fn shared(&self) -> bool {
        self.0.as_ref().is_some_and(|a| Arc::strong_count(a) > 1)
    }
    fn noop_ref() -> &'static Self {
        &EXP_NOOP
    }
    fn is_noop(&self) -> bool {
        self.0.is_none()
    }
    fn create(shape: &Shape) -> Self {
        ExponentialHistogram::new(shape.exponential)
    }
    fn read(&self, f: &mut dyn FnMut(PointValue<'_>) -> io::Result<()>) -> io::Result<()> {
        let Some(core) = &self.0 else {
            return Ok(());
        };
        let (b, sum) = core.read();
        let (bounds, counts) = b.classic();
        f(PointValue::Histogram(HistogramValue {
            bounds: &bounds,
            counts: &counts,
            sum,
            count: b.count(),
            exponential: Some(&b),
        }))
    }
    fn read_with_exemplars(&self, f: &mut crate::read::PointSink<'_>) -> io::Result<()> {
        let Some(core) = self.0.as_ref().filter(|c| c.exemplars.any()) else {
            return self.read(&mut |value| f(value, &[]));
        };
        // One read for the value and for placing the exemplars: each goes to the classic
        // bucket holding its value (`le` inclusive), the latest winning a shared bucket.
        let (b, sum) = core.read();
        let (bounds, counts) = b.classic();
        let mut placed: Vec<Option<crate::Exemplar>> = vec![None; counts.len()];
        for e in core.exemplars.read().into_iter().flatten() {
            let i = bounds.partition_point(|&u| u < e.value);
            if let Some(slot) = placed.get_mut(i) {
                if slot.map_or(true, |old| old.time <= e.time) {
                    *slot = Some(e);
                }
            }
        }
        f(
            PointValue::Histogram(HistogramValue {
                bounds: &bounds,
                counts: &counts,
                sum,
                count: b.count(),
                exponential: Some(&b),
            }),
            &placed,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_lowers_to_keep_the_bucket_limit() {
        let config = ExpConfig::default().max_buckets(20).unwrap();
        let h = ExponentialHistogram::new(config);
        h.observe(1.0);
        assert_eq!(h.buckets().scale, 20);
        h.observe(1000.0);
        let b = h.buckets();
        assert!(b.positive.len() <= 20, "{}", b.positive.len());
        assert!(b.scale < 20);
        assert_eq!(b.count(), 2);
        assert_eq!((b.min, b.max), (1.0, 1000.0));
    }

    #[test]
    fn zero_negative_and_refused_values() {
        let h = ExponentialHistogram::new(ExpConfig::default().zero_threshold(0.5).unwrap());
        h.observe(0.0);
        h.observe(-0.25);
        h.observe(-3.0);
        h.observe(f64::NAN);
        h.observe(f64::INFINITY);
        let b = h.buckets();
        assert_eq!(b.zero_count, 2);
        assert_eq!(b.negative.iter().sum::<u64>(), 1);
        assert_eq!(h.refused(), 2);
        assert_eq!(h.count_and_sum(), (3, -3.25));
    }

    #[test]
    fn threads_beyond_the_stripes_count_every_observation() {
        let h = ExponentialHistogram::new(ExpConfig::default());
        std::thread::scope(|s| {
            for t in 0..12 {
                let h = h.clone();
                s.spawn(move || {
                    for i in 0..2000 {
                        h.observe(1.0 + f64::from(i % 50) * 0.1 * f64::from(t + 1));
                    }
                });
            }
            for _ in 0..50 {
                let b = h.buckets();
                assert!(b.positive.len() <= 160);
            }
        });
        assert_eq!(h.count_and_sum().0, 24_000);
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(ExpConfig::default().max_buckets(1).is_err());
        assert!(ExpConfig::default().max_scale(21).is_err());
        assert!(ExpConfig::default().zero_threshold(-1.0).is_err());
        assert!(ExpConfig::default().zero_threshold(f64::NAN).is_err());
    }
}
