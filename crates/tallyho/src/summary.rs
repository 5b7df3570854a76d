//! [`Summary`]: client-side quantiles over a sliding time window, like client_golang's
//! `Summary` with its age buckets.
//!
//! Observations go into one [`ExponentialHistogram`] (lock-free, its hot path unchanged).
//! Reading keeps a ring of at most `age_buckets + 1` copies of its buckets, one taken at
//! most every `max_age / age_buckets`; the window is the histogram now less the newest
//! copy at least `max_age` old (subtracted at the lower of the two scales), so no writer
//! ever waits on the ring.
//!
//! Error bound: each quantile is the window's sample quantile (rank `floor(q * (n - 1))`)
//! to within a relative error of `2^(2^-scale) - 1`, where `scale` is the histogram's
//! (see [`ExpBuckets::quantile`](crate::ExpBuckets::quantile)); ranks are exact, only the
//! value inside its bucket is estimated. The scale follows the range of everything
//! observed since the start, not only the window's: with the default 160 buckets, data
//! within a factor of 2 keeps scale 7 (error under 0.6%), a factor of 1,000 scale 4
//! (4.4%); more buckets ([`SummaryConfig::exponential`]) buy a finer scale, each doubling
//! of `max_buckets` halving the bound.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::exp_histogram::{ExpConfig, ExponentialHistogram};
use crate::exponential::ExpBuckets;
use crate::instrument::{sealed::Sealed, Instrument, Shape};
use crate::visit::{MetricKind, PointValue, SummaryValue};
use crate::{Error, SummaryData};

/// Where a summary's reads take the time from.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// A summary's settings: the quantiles it reports, its window and the histogram behind it.
#[derive(Clone)]
pub struct SummaryConfig {
    quantiles: Arc<[f64]>,
    max_age: Duration,
    age_buckets: u32,
    exponential: ExpConfig,
    clock: Clock,
}

impl std::fmt::Debug for SummaryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SummaryConfig")
            .field("quantiles", &self.quantiles)
            .field("max_age", &self.max_age)
            .field("age_buckets", &self.age_buckets)
            .field("exponential", &self.exponential)
            .finish_non_exhaustive()
    }
}

impl Default for SummaryConfig {
    /// Quantiles 0.5, 0.9 and 0.99 over the last 10 minutes in 5 age buckets, as
    /// client_golang's defaults, over the default exponential histogram.
    fn default() -> Self {
        SummaryConfig {
            quantiles: Arc::from([0.5, 0.9, 0.99]),
            max_age: Duration::from_secs(600),
            age_buckets: 5,
            exponential: ExpConfig::default(),
            clock: Arc::new(Instant::now),
        }
    }
}

impl SummaryConfig {
    /// The quantiles to report, each in `[0, 1]`, given in increasing order.
    ///
    /// # Errors
    /// [`Error::InvalidDefinition`] when one is outside `[0, 1]` or NaN, or they are not
    /// strictly increasing.
    pub fn quantiles(mut self, quantiles: &[f64]) -> Result<Self, Error> {
        let bad = |reason: String| Error::InvalidDefinition {
            metric: String::new(),
            kind: "summary",
            reason,
        };
        for (i, q) in quantiles.iter().enumerate() {
            if !(0.0..=1.0).contains(q) {
                return Err(bad(format!("quantile {q} is outside [0, 1]")));
            }
            if i > 0 && quantiles[i - 1] >= *q {
                return Err(bad(format!(
                    "quantiles must be strictly increasing: {} then {q}",
                    quantiles[i - 1]
                )));
            }
        }
        self.quantiles = quantiles.into();
        Ok(self)
    }

    /// The window the quantiles cover (`max_age`) and how many steps it slides in
    /// (`age_buckets`): a reading covers between `max_age` and `max_age + max_age /
    /// age_buckets` (longer only when nothing read the summary for a while).
    ///
    /// # Errors
    /// [`Error::InvalidDefinition`] for a zero `max_age`, zero `age_buckets`, or more
    /// than 1,000 age buckets.
    pub fn window(mut self, max_age: Duration, age_buckets: u32) -> Result<Self, Error> {
        let bad = |reason: &str| Error::InvalidDefinition {
            metric: String::new(),
            kind: "summary",
            reason: reason.to_owned(),
        };
        if max_age.is_zero() {
            return Err(bad("max_age must be above zero"));
        }
        if age_buckets == 0 || age_buckets > 1000 {
            return Err(bad("age_buckets must be between 1 and 1000"));
        }
        self.max_age = max_age;
        self.age_buckets = age_buckets;
        Ok(self)
    }

    /// The exponential histogram the quantiles are estimated from (its `max_buckets`
    /// sets the accuracy; see the module docs).
    #[must_use]
    pub fn exponential(mut self, config: ExpConfig) -> Self {
        self.exponential = config;
        self
    }

    /// Where reads take the time from (default [`Instant::now`]): a test or a simulation
    /// can move it by hand. Observations never read it.
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// What tells two configurations apart at registration.
    pub(crate) fn signature(&self) -> String {
        format!(
            "quantiles {:?} over {:?} in {} age buckets, {:?}",
            self.quantiles, self.max_age, self.age_buckets, self.exponential
        )
    }
}

/// Observations whose quantiles (0.5, 0.9, 0.99 by default) are estimated over a sliding
/// window (10 minutes by default), with a total count and sum since the start: Prometheus
/// and OpenMetrics `summary`, OTLP `Summary`.
///
/// ```
/// let registry = tallyho::Registry::new();
/// let took = registry.metric("request_duration", "Time to answer.").unit("seconds").summary()?;
/// for ms in 1..=100 {
///     took.observe(f64::from(ms) / 1000.0);
/// }
/// let snapshot = registry.snapshot();
/// let s = snapshot.family("request_duration_seconds").unwrap().series[0].value.as_summary().unwrap().clone();
/// let (q, median) = s.quantiles[0];
/// assert_eq!(q, 0.5);
/// assert!((median - 0.050).abs() / 0.050 < 0.01);
/// assert_eq!(s.count, 100);
/// # Ok::<(), tallyho::Error>(())
/// ```
///
/// Observing is the exponential histogram's observe: no lock, no allocation. Negative
/// values, NaN and infinities are refused and counted in
/// [`REFUSED_METRIC`](crate::REFUSED_METRIC) (OpenMetrics forbids negative quantiles and
/// wants the sum to be a counter).
#[derive(Clone, Default)]
pub struct Summary(Option<Arc<Inner>>);

struct Inner {
    hist: ExponentialHistogram,
    config: SummaryConfig,
    negative: std::sync::atomic::AtomicU64,
    /// Copies of the buckets and when they were taken, oldest first.
    ring: Mutex<VecDeque<(Instant, ExpBuckets)>>,
}

static NOOP: Summary = Summary(None);

impl Summary {
    /// A summary that records nothing.
    pub const fn noop() -> Self {
        Summary(None)
    }

    /// A live summary that belongs to no registry.
    pub fn new(config: SummaryConfig) -> Self {
        Summary(Some(Arc::new(Inner {
            hist: ExponentialHistogram::new(config.exponential),
            config,
            negative: std::sync::atomic::AtomicU64::new(0),
            ring: Mutex::new(VecDeque::new()),
        })))
    }

    /// Records one observation.
    #[inline]
    pub fn observe(&self, v: f64) {
        if let Some(inner) = &self.0 {
            if v < 0.0 {
                inner
                    .negative
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            } else {
                inner.hist.observe(v);
            }
        }
    }

    /// Records a duration in seconds.
    #[inline]
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// The configured quantiles with their estimates over the window now (NaN when the
    /// window is empty), and the count and sum since the start; `None` for a no-op
    /// handle. A reading, like a collection's: it may start a new age bucket.
    pub fn read_now(&self) -> Option<SummaryData> {
        let inner = self.0.as_deref()?;
        let (total, sum) = inner.hist.reading()?;
        let count = total.count();
        let window = inner.window(total);
        let quantiles = inner
            .config
            .quantiles
            .iter()
            .map(|&q| (q, window.quantile(q).unwrap_or(f64::NAN)))
            .collect();
        Some(SummaryData {
            quantiles,
            count,
            sum,
        })
    }
}

impl Inner {
    /// The observations of the window: `total` less the newest copy at least `max_age`
    /// old, recording `total` as a new copy when the last one is a step old.
    fn window(&self, total: ExpBuckets) -> ExpBuckets {
        let now = (self.config.clock)();
        let step = self.config.max_age / self.config.age_buckets;
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let old = |t: Instant| now.saturating_duration_since(t) >= self.config.max_age;
        // Keep one copy at least `max_age` old, the newest such: the window's start.
        while ring.len() > 1 && old(ring[1].0) {
            ring.pop_front();
        }
        let baseline = ring.front().filter(|(t, _)| old(*t)).map(|(_, b)| b);
        let window = match baseline {
            Some(b) => total.minus(b).unwrap_or_else(|| total.clone()),
            None => total.clone(),
        };
        if ring
            .back()
            .map_or(true, |(t, _)| now.saturating_duration_since(*t) >= step)
        {
            ring.push_back((now, total));
        }
        window
    }
}

impl std::fmt::Debug for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (count, sum) = self.0.as_ref().map_or((0, 0.0), |i| i.hist.count_and_sum());
        f.debug_struct("Summary")
            .field("count", &count)
            .field("sum", &sum)
            .finish()
    }
}

impl Sealed for Summary {}
impl Instrument for Summary {
    const KIND: MetricKind = MetricKind::Summary;
    const REFUSES: bool = true;
    fn noop_ref() -> &'static Self {
        &NOOP
    }
    fn is_noop(&self) -> bool {
        self.0.is_none()
    }
    fn create(shape: &Shape) -> Self {
        Summary::new(shape.summary.clone())
    }
    fn refused(&self) -> u64 {
        self.0.as_ref().map_or(0, |i| {
            i.hist.refused() + i.negative.load(std::sync::atomic::Ordering::Relaxed)
        })
    }
    fn fingerprint(&self) -> u64 {
        let (count, sum) = self.0.as_ref().map_or((0, 0.0), |i| i.hist.count_and_sum());
        count ^ sum.to_bits().rotate_left(17) ^ self.refused().rotate_left(41)
    }
    fn shared(&self) -> bool {
        self.0.as_ref().is_some_and(|a| Arc::strong_count(a) > 1)
    }
    fn read(&self, f: &mut dyn FnMut(PointValue<'_>) -> io::Result<()>) -> io::Result<()> {
        let Some(s) = self.read_now() else {
            return Ok(());
        };
        f(PointValue::Summary(SummaryValue {
            quantiles: &s.quantiles,
            count: s.count,
            sum: s.sum,
        }))
    }
}
