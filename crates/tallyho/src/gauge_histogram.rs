//! [`GaugeHistogram`]: OpenMetrics' gaugehistogram, the current distribution of things
//! that come and go (queued jobs by age bucket, open connections by buffer size).

use std::io;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crate::instrument::{sealed::Sealed, Instrument, Shape};
use crate::visit::{HistogramValue, MetricKind, PointValue};
use crate::Buckets;

/// How many things are in each bucket now: [`add`](Self::add) one when it arrives,
/// [`remove`](Self::remove) it (with the same value) when it leaves. Unlike a
/// [`Histogram`](crate::Histogram), whose counts only grow, every bucket goes up and down.
/// OpenMetrics `gaugehistogram` (`_bucket`, `_gcount`, `_gsum`; no `_created`), the
/// Prometheus text format's `histogram` with those samples (as client_python writes it),
/// the protobuf exposition's `GAUGE_HISTOGRAM`. OTLP has no such type, so the OTLP
/// exporter leaves these families out.
///
/// ```
/// let registry = tallyho::Registry::new();
/// let waiting = registry
///     .metric("queue_wait", "Jobs waiting, by wait so far.")
///     .unit("seconds")
///     .buckets(tallyho::Buckets::new([1.0, 10.0])?)
///     .gauge_histogram()?;
/// waiting.add(0.5);
/// waiting.add(4.0);
/// waiting.remove(0.5);
/// let snapshot = registry.snapshot();
/// let h = snapshot.family("queue_wait_seconds").unwrap().series[0].value.as_histogram().unwrap();
/// assert_eq!((h.counts.as_slice(), h.count, h.sum), (&[0, 1, 0][..], 1, 4.0));
/// # Ok::<(), tallyho::Error>(())
/// ```
///
/// Each call is two atomic operations (the bucket, then the sum), no lock: a reading
/// taken while calls are in flight has buckets and `_gcount` that agree (the count is
/// their total) and a `_gsum` that may miss those calls. A bucket that would go below
/// zero (a `remove` without its `add`) reads as 0. NaN and infinities are refused, and so
/// are negative values when no bucket bound is negative (OpenMetrics then forbids a
/// negative `_gsum`), each counted in [`REFUSED_METRIC`](crate::REFUSED_METRIC).
#[derive(Clone, Default)]
pub struct GaugeHistogram(Option<Arc<Inner>>);

struct Inner {
    bounds: Buckets,
    /// One per finite bound, then `+Inf`.
    counts: Box<[AtomicI64]>,
    /// The sum of the values present, as `f64` bits.
    sum: AtomicU64,
    refused: AtomicU64,
}

static NOOP: GaugeHistogram = GaugeHistogram(None);

impl Inner {
    /// No bucket bound below 0: values must not be either, and the sum never is.
    fn non_negative(&self) -> bool {
        crate::visit::sum_is_counter(self.bounds.bounds())
    }
}

impl GaugeHistogram {
    /// A gauge histogram that records nothing.
    pub const fn noop() -> Self {
        GaugeHistogram(None)
    }

    /// A live gauge histogram with these buckets that belongs to no registry.
    pub fn new(buckets: Buckets) -> Self {
        let counts = (0..=buckets.bounds().len())
            .map(|_| AtomicI64::new(0))
            .collect();
        GaugeHistogram(Some(Arc::new(Inner {
            bounds: buckets,
            counts,
            sum: AtomicU64::new(0f64.to_bits()),
            refused: AtomicU64::new(0),
        })))
    }

    fn change(&self, v: f64, by: i64) {
        let Some(inner) = &self.0 else { return };
        if !v.is_finite() || (v < 0.0 && inner.non_negative()) {
            inner.refused.fetch_add(1, Relaxed);
            return;
        }
        let i = inner.bounds.bounds().partition_point(|&b| b < v);
        inner.counts[i].fetch_add(by, Relaxed);
        let delta = if by > 0 { v } else { -v };
        let mut cur = inner.sum.load(Relaxed);
        loop {
            let new = (f64::from_bits(cur) + delta).to_bits();
            match inner.sum.compare_exchange_weak(cur, new, Relaxed, Relaxed) {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }

    /// One more thing with value `v` (in the bucket whose bound is the first `>= v`).
    #[inline]
    pub fn add(&self, v: f64) {
        self.change(v, 1);
    }

    /// One thing with value `v` fewer.
    #[inline]
    pub fn remove(&self, v: f64) {
        self.change(v, -1);
    }

    /// How many things there are now (the `_gcount`).
    pub fn count(&self) -> u64 {
        self.0.as_ref().map_or(0, |i| {
            i.counts.iter().map(|c| c.load(Relaxed).max(0) as u64).sum()
        })
    }

    /// The sum of their values (the `_gsum`). Adding and removing the same values can
    /// leave a rounding residue (`8.3e-17`), so an empty gauge histogram reads 0 exactly,
    /// and one without negative bounds never reads below 0.
    pub fn sum(&self) -> f64 {
        self.sum_for(self.count())
    }

    fn sum_for(&self, count: u64) -> f64 {
        self.0.as_ref().map_or(0.0, |i| {
            let sum = f64::from_bits(i.sum.load(Relaxed));
            if count == 0 {
                0.0
            } else if i.non_negative() {
                sum.max(0.0)
            } else {
                sum
            }
        })
    }
}

impl std::fmt::Debug for GaugeHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GaugeHistogram")
            .field("count", &self.count())
            .field("sum", &self.sum())
            .finish()
    }
}

impl Sealed for GaugeHistogram {}
impl Instrument for GaugeHistogram {
    const KIND: MetricKind = MetricKind::GaugeHistogram;
    const REFUSES: bool = true;
    fn noop_ref() -> &'static Self {
        &NOOP
    }
    fn is_noop(&self) -> bool {
        self.0.is_none()
    }
    fn create(shape: &Shape) -> Self {
        GaugeHistogram::new(shape.buckets.clone())
    }
    fn refused(&self) -> u64 {
        self.0.as_ref().map_or(0, |i| i.refused.load(Relaxed))
    }
    fn fingerprint(&self) -> u64 {
        let Some(inner) = &self.0 else { return 0 };
        // Every change moves a bucket or the sum; the refusals are mixed in too.
        inner.counts.iter().fold(inner.sum.load(Relaxed), |h, c| {
            (h ^ c.load(Relaxed) as u64).wrapping_mul(0x100_0000_01b3)
        }) ^ self.refused()
    }
    fn shared(&self) -> bool {
        self.0.as_ref().is_some_and(|a| Arc::strong_count(a) > 1)
    }
    fn read(&self, f: &mut dyn FnMut(PointValue<'_>) -> io::Result<()>) -> io::Result<()> {
        let Some(inner) = &self.0 else {
            return Ok(());
        };
        let counts: Vec<u64> = inner
            .counts
            .iter()
            .map(|c| c.load(Relaxed).max(0) as u64)
            .collect();
        let count = counts.iter().sum();
        f(PointValue::Histogram(HistogramValue {
            bounds: inner.bounds.bounds(),
            count,
            counts: &counts,
            sum: self.sum_for(count),
            exponential: None,
        }))
    }
}
