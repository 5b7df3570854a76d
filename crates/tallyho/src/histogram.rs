//! Histograms whose every reading is consistent while writers never wait.
//!
//! Three write paths feed one reading, chosen as in [`crate::adder`]:
//!
//! - **The owner's shard**: the first thread that observes claims the histogram's own shard
//!   for its exclusive [`slot`] and from then on writes it with plain loads and stores
//!   bracketed by a sequence number (a single-writer seqlock). No locked instruction. The
//!   collector copies a shard and retries if the sequence moved or was odd, so each shard
//!   is read whole. A histogram only one thread observes never allocates anything else.
//! - **Stripe shards**: once a second thread observes, the owner's shard is retired (its
//!   line holds the owner word every writer reads) and each thread claims the shard of its
//!   stripe (two per core, made by its first writer, see [`slot::stripes`]) and writes it
//!   the same way. Memory grows with the cores that record, not with the threads.
//! - **Shared hot/cold pair** (threads without a slot, or whose stripe another slot owns):
//!   writers bump one shared word (`count_and_hot`: the observation count, with the top bit
//!   naming the hot shard), then add to the hot shard's sum and finally its bucket. The
//!   collector flips the hot bit, waits until the now-cold shard's buckets add up to the
//!   count it saw (every writer that started before the flip has finished), reads it, and
//!   folds it into the new hot shard. The design follows Prometheus' Go client.
//!
//! Every observation lands in exactly one place and each place is read whole, so sum, count
//! and buckets always describe the same observations.
//!
//! Before any of that, one comparison refuses what would corrupt the sum for ever or make
//! it something OpenMetrics forbids: NaN always, and below zero unless a bucket bound is
//! negative. OpenMetrics: "Semantically, Sum, and buckets values are counters so MUST NOT
//! be NaN or negative. Negative threshold buckets MAY be used, but then the Histogram
//! MetricPoint MUST NOT contain a sum value". So a histogram whose buckets start at or
//! above zero records non-negative values only (as OpenTelemetry's histogram instrument),
//! and one with a negative bound takes any finite value (and `+Inf`) but not `-Inf`, which
//! with a `+Inf` would make the sum NaN; its encoders must leave the sum out
//! ([`HistogramValue::sum_is_counter`]). Refused observations are counted.

use std::io;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::exemplar::{Exemplar, TraceContext};
pub use crate::timer::Timer;
use crossbeam_utils::CachePadded;

use crate::adder::{RETIRED, UNOWNED};
use crate::instrument::{sealed::Sealed, Instrument, Shape};
use crate::visit::{sum_is_counter, HistogramValue, MetricKind, PointValue};
use crate::{slot, Buckets};

const HOT_BIT: u64 = 1 << 63;

/// One shard of the shared pair, written by read-modify-write.
struct Shard {
    sum: AtomicU64,
    buckets: Box<[AtomicU64]>,
}

impl Shard {
    fn new(n: usize) -> Self {
        Shard {
            sum: AtomicU64::new(0f64.to_bits()),
            buckets: (0..n).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn add_sum(&self, v: f64) {
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |cur| {
                Some((f64::from_bits(cur) + v).to_bits())
            });
    }

    fn bucket_total(&self) -> u64 {
        self.buckets
            .iter()
            .map(|b| b.load(Ordering::Acquire))
            .fold(0u64, u64::wrapping_add)
    }
}

/// The shared hot/cold pair (see the module docs), made on first use.
struct Pair {
    count_and_hot: AtomicU64,
    shards: [Shard; 2],
}

impl Pair {
    fn observe(&self, idx: usize, v: f64) {
        let n = self.count_and_hot.fetch_add(1, Ordering::Acquire);
        let shard = &self.shards[(n >> 63) as usize];
        shard.add_sum(v);
        // The bucket increment comes last and publishes the sum: the collector treats an
        // observation as finished once its bucket is counted.
        shard.buckets[idx].fetch_add(1, Ordering::Release);
    }

    /// Adds everything observed here to `counts` and `sum`; called under the collect lock.
    fn read_into(&self, counts: &mut [u64], sum: &mut f64) {
        let n = self.count_and_hot.fetch_add(HOT_BIT, Ordering::AcqRel);
        let shared_count = n & !HOT_BIT;
        let cold = &self.shards[(n >> 63) as usize];
        let hot = &self.shards[((n >> 63) ^ 1) as usize];
        let mut spins = 0u32;
        while cold.bucket_total() != shared_count {
            backoff(&mut spins);
        }
        let cold_sum = f64::from_bits(cold.sum.load(Ordering::Acquire));
        // Fold the cold shard into the hot one and clear it for the next flip.
        hot.add_sum(cold_sum);
        cold.sum.store(0f64.to_bits(), Ordering::Relaxed);
        for (c, (h, b)) in counts
            .iter_mut()
            .zip(hot.buckets.iter().zip(cold.buckets.iter()))
        {
            let v = b.load(Ordering::Acquire);
            h.fetch_add(v, Ordering::Release);
            b.store(0, Ordering::Relaxed);
            *c += v;
        }
        *sum += cold_sum;
    }
}

fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// A shard with one writer, the slot in `owner`: `seq` is odd while it writes.
struct Local {
    owner: AtomicU32,
    seq: AtomicU64,
    sum: AtomicU64,
    buckets: Box<[AtomicU64]>,
}

impl Local {
    /// `pad` unused words follow the counts, so that no other shard's counts share their
    /// last cache line.
    fn new(owner: u32, n: usize, pad: usize) -> Self {
        Local {
            owner: AtomicU32::new(owner),
            seq: AtomicU64::new(0),
            sum: AtomicU64::new(0f64.to_bits()),
            buckets: (0..n + pad).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Only the thread owning this shard's slot calls this.
    #[inline(always)]
    fn observe(&self, idx: usize, v: f64) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        if let Some(b) = self.buckets.get(idx) {
            b.store(b.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
        let sum = f64::from_bits(self.sum.load(Ordering::Relaxed)) + v;
        self.sum.store(sum.to_bits(), Ordering::Relaxed);
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }

    /// Adds this shard, read whole, to `counts` and `sum`.
    fn read_into(&self, counts: &mut [u64], sum: &mut f64, scratch: &mut Vec<u64>) {
        let mut spins = 0u32;
        loop {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 % 2 == 0 {
                scratch.clear();
                scratch.extend(
                    self.buckets[..counts.len()]
                        .iter()
                        .map(|b| b.load(Ordering::Relaxed)),
                );
                let s = f64::from_bits(self.sum.load(Ordering::Relaxed));
                fence(Ordering::Acquire);
                if self.seq.load(Ordering::Relaxed) == s1 {
                    for (c, v) in counts.iter_mut().zip(scratch.iter()) {
                        *c += v;
                    }
                    *sum += s;
                    return;
                }
            }
            backoff(&mut spins);
        }
    }
}

/// What a second observing thread allocates: one lazily made shard per stripe.
struct Stripes {
    mask: usize,
    shards: Box<[OnceLock<Box<CachePadded<Local>>>]>,
}

pub(crate) struct Core {
    bounds: Arc<[f64]>,
    /// The lowest value recorded: `0.0` without a negative bound, else `f64::MIN`
    /// (NaN compares false with it as with everything).
    lowest: f64,
    /// Observations refused by the `lowest` check.
    refused: AtomicU64,
    /// The owner's shard; `own.owner` is the slot that may write it, or [`UNOWNED`].
    own: Local,
    stripes: OnceLock<Box<Stripes>>,
    pair: OnceLock<Box<Pair>>,
    collecting: Mutex<()>,
    /// One exemplar per bucket, made on the first.
    exemplars: crate::exemplar::Slots,
}

/// Consistent state read out of a histogram.
pub(crate) struct Reading {
    pub(crate) counts: Vec<u64>,
    pub(crate) sum: f64,
    pub(crate) count: u64,
}

impl Core {
    fn new(bounds: Arc<[f64]>) -> Self {
        let n = bounds.len() + 1;
        let lowest = if sum_is_counter(&bounds) {
            0.0
        } else {
            f64::MIN
        };
        Core {
            lowest,
            refused: AtomicU64::new(0),
            bounds,
            own: Local::new(UNOWNED, n, 0),
            stripes: OnceLock::new(),
            pair: OnceLock::new(),
            collecting: Mutex::new(()),
            exemplars: crate::exemplar::Slots::default(),
        }
    }

    /// The bucket of `v` (never NaN: refused before): the number of bounds below it
    /// (buckets are `le`, inclusive). Counting without branches beats a search on the
    /// short bound lists histograms have.
    #[inline]
    fn bucket_index(&self, v: f64) -> usize {
        let b = &*self.bounds;
        if b.len() <= 32 {
            b.iter().map(|&u| usize::from(u < v)).sum()
        } else {
            b.partition_point(|&u| u < v)
        }
    }

    #[inline]
    fn observe(&self, v: f64) {
        // NaN compares false with `lowest` too: one comparison, one branch.
        if v >= self.lowest {
            let idx = self.bucket_index(v);
            let me = slot::current();
            if self.own.owner.load(Ordering::Relaxed) == me as u32 {
                self.own.observe(idx, v);
            } else {
                self.observe_other(me, idx, v);
            }
        } else {
            self.refuse();
        }
    }

    /// Records `v` and keeps it as its bucket's exemplar (unless refused).
    fn observe_with_exemplar(&self, v: f64, trace: TraceContext) {
        self.observe(v);
        if v >= self.lowest {
            let ex = crate::exemplar::now(trace, v);
            self.exemplars
                .record(self.bounds.len() + 1, self.bucket_index(v), &ex);
        }
    }

    #[cold]
    #[inline(never)]
    fn refuse(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    #[inline]
    fn observe_other(&self, me: usize, idx: usize, v: f64) {
        if let Some(stripes) = self.stripes.get() {
            if let Some(shard) = stripes.shards.get(me & stripes.mask).and_then(|s| s.get()) {
                if shard.owner.load(Ordering::Relaxed) == me as u32 {
                    shard.observe(idx, v);
                    return;
                }
            }
        }
        self.observe_slow(me, idx, v);
    }

    /// This thread's first observation here: the own shard if unclaimed, else this
    /// thread's stripe if unclaimed, else the shared pair.
    #[cold]
    #[inline(never)]
    fn observe_slow(&self, me: usize, idx: usize, v: f64) {
        let owned = me < 64;
        let claim = if owned { me as u32 } else { RETIRED };
        match self
            .own
            .owner
            .compare_exchange(UNOWNED, claim, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) if owned => {
                self.own.observe(idx, v);
                return;
            }
            Ok(_) | Err(RETIRED) => {}
            // A second writer: retire the own shard (every writer reads its owner word, so
            // nobody may keep writing next to it). An observation its owner is finishing
            // lands there, and the collector reads it whole.
            Err(_) => self.own.owner.store(RETIRED, Ordering::Relaxed),
        }
        let n = self.bounds.len() + 1;
        if owned {
            let stripes = self.stripes.get_or_init(|| {
                let k = slot::stripes();
                Box::new(Stripes {
                    mask: k - 1,
                    shards: (0..k).map(|_| OnceLock::new()).collect(),
                })
            });
            if let Some(slot) = stripes.shards.get(me & stripes.mask) {
                let shard =
                    slot.get_or_init(|| Box::new(CachePadded::new(Local::new(me as u32, n, 8))));
                if shard.owner.load(Ordering::Relaxed) == me as u32 {
                    shard.observe(idx, v);
                    return;
                }
            }
        }
        self.pair
            .get_or_init(|| {
                Box::new(Pair {
                    count_and_hot: AtomicU64::new(0),
                    shards: [Shard::new(n), Shard::new(n)],
                })
            })
            .observe(idx, v);
    }

    fn read(&self) -> Reading {
        let _guard = self.collecting.lock().unwrap_or_else(|p| p.into_inner());
        let n = self.bounds.len() + 1;
        let mut counts = vec![0u64; n];
        let mut sum = 0.0;
        let mut scratch = Vec::with_capacity(n);
        self.own.read_into(&mut counts, &mut sum, &mut scratch);
        if let Some(stripes) = self.stripes.get() {
            for shard in stripes.shards.iter().filter_map(|s| s.get()) {
                shard.read_into(&mut counts, &mut sum, &mut scratch);
            }
        }
        if let Some(pair) = self.pair.get() {
            pair.read_into(&mut counts, &mut sum);
        }
        // Each place adds its own whole: the buckets sum to the count.
        let count = counts.iter().fold(0u64, |a, c| a.wrapping_add(*c));
        Reading { counts, sum, count }
    }

    /// How many stripe shards exist (for tests of the memory bound).
    #[cfg(test)]
    fn stripe_shards(&self) -> usize {
        self.stripes
            .get()
            .map_or(0, |s| s.shards.iter().filter(|c| c.get().is_some()).count())
    }
}

/// Observations of a value (latency, size) counted into explicit buckets, with sum and count.
///
/// Every collection sees sum, count and buckets from the same set of observations, even
/// while other threads observe.
#[derive(Clone, Default)]
pub struct Histogram(Option<Arc<Core>>);

static HISTOGRAM_NOOP: Histogram = Histogram(None);

impl Histogram {
    /// A live histogram with these buckets that belongs to no registry.
    pub fn new(buckets: &Buckets) -> Self {
        Histogram(Some(Arc::new(Core::new(buckets.shared()))))
    }

    /// A histogram that records nothing (and whose timers never read the clock).
    pub const fn noop() -> Self {
        Histogram(None)
    }

    /// Records one observation; refuses (and counts, see [`refused`](Self::refused)) NaN,
    /// a value below zero when no bucket bound is negative, and `-Inf`.
    #[inline]
    pub fn observe(&self, v: f64) {
        if let Some(c) = &self.0 {
            c.observe(v);
        }
    }

    /// Records one observation and, when `trace` is a context, keeps it as its bucket's
    /// exemplar (one per bucket, the latest wins), which OpenMetrics, OTLP and remote
    /// write carry. Reads the clock once; the first exemplar allocates the slots.
    ///
    /// ```
    /// use tallyho::{Buckets, Histogram, TraceContext};
    /// let h = Histogram::new(&Buckets::new([0.1, 1.0])?);
    /// let trace = TraceContext::from_hex("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")?;
    /// h.observe_with_exemplar(0.25, Some(trace));
    /// let kept = h.exemplars();
    /// assert_eq!(kept[1].unwrap().value, 0.25); // the bucket (0.1, 1.0]
    /// # Ok::<(), tallyho::Error>(())
    /// ```
    #[inline]
    pub fn observe_with_exemplar(&self, v: f64, trace: Option<TraceContext>) {
        match (&self.0, trace) {
            (Some(c), Some(trace)) => c.observe_with_exemplar(v, trace),
            (Some(c), None) => c.observe(v),
            (None, _) => {}
        }
    }

    /// The exemplars kept, one entry per bucket (the last is `+Inf`); empty when none was
    /// ever recorded.
    pub fn exemplars(&self) -> Vec<Option<Exemplar>> {
        self.0
            .as_ref()
            .map_or_else(Vec::new, |c| c.exemplars.read())
    }

    /// Records a duration in seconds.
    #[inline]
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// Starts a timer that records the elapsed seconds when dropped or stopped.
    #[inline]
    pub fn start_timer(&self) -> Timer<'_> {
        Timer {
            histogram: self,
            start: self.0.as_ref().map(|_| Instant::now()),
        }
    }

    /// Runs `f` and records how long it took.
    #[inline]
    pub fn time<T>(&self, f: impl FnOnce() -> T) -> T {
        let _timer = self.start_timer();
        f()
    }

    /// Wraps `fut` so that the time from its first poll to its completion is recorded.
    /// A future dropped before it completes (cancelled) records nothing.
    ///
    /// ```
    /// # let h = tallyho::Histogram::new(&tallyho::Buckets::default_seconds());
    /// # async fn fetch() -> u32 { 7 }
    /// # async fn run(h: tallyho::Histogram) {
    /// let value = h.time_async(fetch()).await;
    /// # }
    /// ```
    pub fn time_async<F: std::future::Future>(
        &self,
        fut: F,
    ) -> impl std::future::Future<Output = F::Output> {
        let histogram = self.clone();
        async move {
            // The clock is read only for a live histogram, and only once polled.
            let start = histogram.0.as_ref().map(|_| Instant::now());
            let out = fut.await;
            if let Some(start) = start {
                histogram.observe_duration(start.elapsed());
            }
            out
        }
    }

    /// The finite bucket bounds (empty for a no-op histogram).
    pub fn bounds(&self) -> &[f64] {
        self.0.as_ref().map_or(&[], |c| &c.bounds)
    }

    /// `(count, sum)` observed so far.
    pub fn count_and_sum(&self) -> (u64, f64) {
        self.0.as_ref().map_or((0, 0.0), |c| {
            let r = c.read();
            (r.count, r.sum)
        })
    }

    /// How many observations were refused so far: NaN, below zero in a histogram
    /// without a negative bucket bound, or `-Inf`.
    pub fn refused(&self) -> u64 {
        self.0
            .as_ref()
            .map_or(0, |c| c.refused.load(Ordering::Relaxed))
    }

    #[cfg(test)]
    pub(crate) fn reading(&self) -> Option<Reading> {
        self.0.as_ref().map(|c| c.read())
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (count, sum) = self.count_and_sum();
        f.debug_struct("Histogram")
            .field("count", &count)
            .field("sum", &sum)
            .finish()
    }
}

impl Sealed for Histogram {}
impl Instrument for Histogram {
    const KIND: MetricKind = MetricKind::Histogram;
    const REFUSES: bool = true;
    fn refused(&self) -> u64 {
        Histogram::refused(self)
    }
    fn fingerprint(&self) -> u64 {
        let (count, _) = self.count_and_sum();
        count ^ Histogram::refused(self).rotate_left(32)
    }
    fn shared(&self) -> bool {
        self.0.as_ref().is_some_and(|a| Arc::strong_count(a) > 1)
    }
    fn noop_ref() -> &'static Self {
        &HISTOGRAM_NOOP
    }
    fn is_noop(&self) -> bool {
        self.0.is_none()
    }
    fn create(shape: &Shape) -> Self {
        Histogram(Some(Arc::new(Core::new(shape.buckets.shared()))))
    }
    fn read(&self, f: &mut dyn FnMut(PointValue<'_>) -> io::Result<()>) -> io::Result<()> {
        let Some(core) = &self.0 else {
            return Ok(());
        };
        let r = core.read();
        f(PointValue::Histogram(HistogramValue {
            bounds: &core.bounds,
            counts: &r.counts,
            sum: r.sum,
            count: r.count,
            exponential: None,
        }))
    }
    fn with_exemplars(
        &self,
        f: &mut dyn FnMut(&[Option<Exemplar>]) -> io::Result<()>,
    ) -> io::Result<()> {
        match &self.0 {
            Some(c) if c.exemplars.any() => f(&c.exemplars.read()),
            _ => f(&[]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(bounds: &[f64]) -> Histogram {
        Histogram::new(&Buckets::new(bounds.to_vec()).unwrap())
    }

    #[test]
    fn buckets_are_le_inclusive() {
        let hist = h(&[1.0, 2.0]);
        for v in [0.5, 1.0, 1.5, 2.0, 3.0, 4.0] {
            hist.observe(v);
        }
        let r = hist.reading().unwrap();
        assert_eq!(r.counts, vec![2, 2, 2]);
        assert_eq!(r.count, 6);
        assert_eq!(r.sum, 12.0);
    }

    #[test]
    fn nan_and_negatives_are_refused_and_counted_without_negative_bounds() {
        let hist = h(&[0.0, 1.0]);
        for v in [f64::NAN, -1.0, f64::NEG_INFINITY, -f64::MIN_POSITIVE] {
            hist.observe(v);
        }
        hist.observe(-0.0);
        hist.observe(0.5);
        hist.observe(f64::INFINITY);
        let r = hist.reading().unwrap();
        assert_eq!(hist.refused(), 4);
        assert_eq!(r.count, 3);
        assert_eq!(r.counts, vec![1, 1, 1]);
        assert_eq!(r.sum, f64::INFINITY);
        assert!(!r.sum.is_sign_negative());
        // Only +Inf bucket: no negative bound either.
        let only_inf = h(&[]);
        only_inf.observe(-3.0);
        only_inf.observe(f64::NAN);
        assert_eq!((only_inf.refused(), only_inf.count_and_sum().0), (2, 0));
    }

    #[test]
    fn negative_bounds_take_negative_values_but_never_nan() {
        let hist = h(&[-1.0, 1.0]);
        for v in [-5.0, -0.5, 2.0, f64::MIN] {
            hist.observe(v);
        }
        hist.observe(f64::NAN);
        hist.observe(f64::NEG_INFINITY);
        hist.observe(f64::INFINITY);
        let r = hist.reading().unwrap();
        assert_eq!(hist.refused(), 2);
        assert_eq!(r.counts, vec![2, 1, 2]);
        assert_eq!(
            r.sum,
            f64::INFINITY,
            "+Inf with finite values is +Inf, not NaN"
        );
        assert_eq!(Histogram::noop().refused(), 0);
    }

    #[test]
    fn repeated_reads_are_cumulative() {
        let hist = h(&[1.0]);
        hist.observe(0.5);
        assert_eq!(hist.reading().unwrap().counts, vec![1, 0]);
        hist.observe(5.0);
        let r = hist.reading().unwrap();
        assert_eq!(r.counts, vec![1, 1]);
        assert_eq!(r.sum, 5.5);
        let r = hist.reading().unwrap();
        assert_eq!((r.count, r.sum), (2, 5.5));
    }

    #[test]
    fn binary_search_path_matches_linear() {
        let bounds: Vec<f64> = (1..=40).map(f64::from).collect();
        let hist = h(&bounds);
        for v in [0.0, 1.0, 1.5, 20.0, 40.0, 41.0] {
            hist.observe(v);
        }
        let r = hist.reading().unwrap();
        assert_eq!(r.counts[0], 2);
        assert_eq!(r.counts[1], 1);
        assert_eq!(r.counts[19], 1);
        assert_eq!(r.counts[39], 1);
        assert_eq!(r.counts[40], 1);
    }

    #[test]
    fn timers_record_stop_and_discard() {
        let hist = h(&[0.5, 60.0]);
        let d = hist.start_timer().stop();
        hist.start_timer().discard();
        {
            let _t = hist.start_timer();
        }
        let x = hist.time(|| 7);
        assert_eq!(x, 7);
        let (count, sum) = hist.count_and_sum();
        assert_eq!(count, 3);
        assert!(sum >= d.as_secs_f64());
        assert_eq!(Histogram::noop().start_timer().stop(), Duration::ZERO);
    }

    /// Polls a future once with a waker that does nothing.
    fn poll_once<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
        struct Noop;
        impl std::task::Wake for Noop {
            fn wake(self: Arc<Self>) {}
        }
        let waker = std::task::Waker::from(Arc::new(Noop));
        f.poll(&mut std::task::Context::from_waker(&waker))
    }

    #[test]
    fn time_async_records_completion_not_cancellation() {
        let hist = h(&[1.0]);
        let mut done = std::pin::pin!(hist.time_async(async { 5 }));
        assert_eq!(poll_once(done.as_mut()), std::task::Poll::Ready(5));
        assert_eq!(hist.count_and_sum().0, 1);
        // A future that never completes, polled once and then dropped.
        let mut pending = Box::pin(hist.time_async(std::future::pending::<()>()));
        assert!(poll_once(pending.as_mut()).is_pending());
        drop(pending);
        assert_eq!(
            hist.count_and_sum().0,
            1,
            "a cancelled future is not recorded"
        );
    }

    #[test]
    fn shards_follow_writers_not_values() {
        let hist = h(&[1.0]);
        let core = hist.0.clone().unwrap();
        for i in 0..10_000 {
            hist.observe(f64::from(i));
        }
        assert_eq!(core.stripe_shards(), 0, "one thread needs no stripe");
        assert!(core.pair.get().is_none());
        let barrier = Arc::new(std::sync::Barrier::new(16));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (hist, b) = (hist.clone(), barrier.clone());
                std::thread::spawn(move || {
                    b.wait();
                    for _ in 0..1000 {
                        hist.observe(0.5);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(core.stripe_shards() >= 1 && core.stripe_shards() <= slot::stripes());
        let r = hist.reading().unwrap();
        assert_eq!(r.count, 26_000);
        assert_eq!(r.counts, vec![2 + 16_000, 9_998]);
    }

    #[test]
    fn consistent_under_contention() {
        let hist = h(&[1.0, 2.0, 3.0]);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = (0..3)
            .map(|t| {
                let hist = hist.clone();
                std::thread::spawn(move || {
                    for i in 0..50_000u64 {
                        hist.observe(((i + t) % 4) as f64);
                    }
                })
            })
            .collect();
        let reader = {
            let hist = hist.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut last = 0;
                while !stop.load(Ordering::Relaxed) {
                    let r = hist.reading().unwrap();
                    assert_eq!(r.counts.iter().sum::<u64>(), r.count);
                    assert!(r.count >= last);
                    last = r.count;
                }
            })
        };
        for w in writers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        reader.join().unwrap();
        let r = hist.reading().unwrap();
        assert_eq!(r.count, 150_000);
        // Every writer observed 0,1,2,3 equally often (integers, exact in f64).
        assert_eq!(r.sum, 150_000.0 * 1.5);
    }
}
