//! Monotonic counters: `u64` ([`Counter`]) and `f64` ([`CounterF64`]).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crate::adder::{Adder, FloatOp, SatOp};
use crate::exemplar::{self, Exemplar, TraceContext};
use crate::instrument::Shape;
use crate::instrument::{sealed::Sealed, Instrument};
use crate::visit::{MetricKind, Number, PointValue};
use crate::Error;

/// A total that only goes up, such as jobs processed or bytes sent.
///
/// Cloning is cheap and every clone records into the same total. Increments never lock,
/// allocate or block (a thread's first increment of a contended counter may allocate its
/// cell); under contention the total stripes itself across cache lines. The total
/// saturates at `u64::MAX` rather than wrapping to a small number (which every reader
/// would take for a counter reset).
#[derive(Clone, Default)]
pub struct Counter(Option<Arc<Adder<SatOp>>>);

static COUNTER_NOOP: Counter = Counter(None);

impl Counter {
    /// A live counter that belongs to no registry.
    pub fn new() -> Self {
        Counter(Some(Arc::new(Adder::new())))
    }

    /// A counter that records nothing; costs one branch per call.
    pub const fn noop() -> Self {
        Counter(None)
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`; a total that would pass `u64::MAX` stays at `u64::MAX`.
    #[inline]
    pub fn add(&self, n: u64) {
        if let Some(a) = &self.0 {
            a.add(n);
        }
    }

    /// Adds `n` and, when `trace` is a context, keeps this increment as the counter's
    /// exemplar (the latest one wins): OpenMetrics, OTLP and remote write carry it, so a
    /// spike in the rate leads to a trace. Reads the clock once; the first exemplar
    /// allocates its slot.
    ///
    /// ```
    /// # let c = tallyho::Counter::new();
    /// use tallyho::TraceContext;
    /// let trace = TraceContext::from_hex("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")?;
    /// c.add_with_exemplar(3, Some(trace));
    /// assert_eq!(c.exemplar().unwrap().value, 3.0);
    /// # Ok::<(), tallyho::Error>(())
    /// ```
    #[inline]
    pub fn add_with_exemplar(&self, n: u64, trace: Option<TraceContext>) {
        if let Some(a) = &self.0 {
            a.add(n);
            if let Some(trace) = trace {
                a.exemplar(&exemplar::now(trace, n as f64));
            }
        }
    }

    /// Adds one, keeping an exemplar as [`add_with_exemplar`](Self::add_with_exemplar).
    #[inline]
    pub fn inc_with_exemplar(&self, trace: Option<TraceContext>) {
        self.add_with_exemplar(1, trace);
    }

    /// The exemplar kept, if any.
    pub fn exemplar(&self) -> Option<Exemplar> {
        self.0.as_ref().and_then(|a| a.read_exemplar())
    }

    /// The current total (0 for a no-op counter).
    pub fn get(&self) -> u64 {
        self.0.as_ref().map_or(0, |a| a.sum())
    }
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Counter").field(&self.get()).finish()
    }
}

impl Sealed for Counter {}
impl Instrument for Counter {
    const KIND: MetricKind = MetricKind::Counter;
    fn fingerprint(&self) -> u64 {
        self.get()
    }
    fn shared(&self) -> bool {
        self.0.as_ref().is_some_and(|a| Arc::strong_count(a) > 1)
    }
    fn noop_ref() -> &'static Self {
        &COUNTER_NOOP
    }
    fn is_noop(&self) -> bool {
        self.0.is_none()
    }
    fn create(_: &Shape) -> Self {
        Counter(Some(Arc::new(Adder::new())))
    }
    fn scalar(&self) -> Option<PointValue<'static>> {
        (!self.is_noop()).then(|| PointValue::Counter(Number::U64(self.get())))
    }
    fn read(&self, f: &mut dyn FnMut(PointValue<'_>) -> io::Result<()>) -> io::Result<()> {
        f(PointValue::Counter(Number::U64(self.get())))
    }
    fn with_exemplars(
        &self,
        f: &mut dyn FnMut(&[Option<Exemplar>]) -> io::Result<()>,
    ) -> io::Result<()> {
        match self.exemplar() {
            Some(e) => f(&[Some(e)]),
            None => f(&[]),
        }
    }
}

/// A floating-point total that only goes up, such as seconds of CPU used.
///
/// An increment that is negative, NaN or infinite is refused (not applied) and counted:
/// [`add`](Self::add) ignores it, [`try_add`](Self::try_add) says why, and
/// [`refused`](Self::refused) (and the registry's `tallyho_refused_values` self-metric)
/// says how many there were. A NaN or infinite total would stay so for ever, and a
/// negative step reads as a counter reset.
#[derive(Clone, Default)]
pub struct CounterF64 {
    inner: Option<Arc<FloatTotal>>,
}

/// The total and the count of refused increments.
struct FloatTotal {
    sum: Adder<FloatOp>,
    refused: AtomicU64,
}

static COUNTER_F64_NOOP: CounterF64 = CounterF64 { inner: None };

/// Whether `v` may be added to a monotonic float total: finite and `>= 0`
/// (`-0.0` included, NaN excluded). One comparison on the bits' float value.
#[inline(always)]
fn valid_increment(v: f64) -> bool {
    (0.0..=f64::MAX).contains(&v)
}

impl CounterF64 {
    /// A live counter that belongs to no registry.
    pub fn new() -> Self {
        CounterF64 {
            inner: Some(Arc::new(FloatTotal {
                sum: Adder::new(),
                refused: AtomicU64::new(0),
            })),
        }
    }

    /// A counter that records nothing.
    pub const fn noop() -> Self {
        CounterF64 { inner: None }
    }

    /// Adds `v` when it is finite and `>= 0`; refuses (and counts) anything else.
    #[inline]
    pub fn add(&self, v: f64) {
        if let Some(t) = &self.inner {
            if valid_increment(v) {
                t.sum.add(v.to_bits());
            } else {
                t.refused.fetch_add(1, Relaxed);
            }
        }
    }

    /// Adds `v`, or says why it was refused (the refusal is counted as by [`add`](Self::add)).
    ///
    /// # Errors
    /// [`Error::NegativeIncrement`] for a negative, NaN or infinite `v`; the total is
    /// unchanged.
    pub fn try_add(&self, v: f64) -> Result<(), Error> {
        self.add(v);
        if valid_increment(v) {
            Ok(())
        } else {
            Err(Error::NegativeIncrement {
                metric: String::new(),
                value: v,
            })
        }
    }

    /// The current total.
    pub fn get(&self) -> f64 {
        self.inner
            .as_ref()
            .map_or(0.0, |t| f64::from_bits(t.sum.sum()))
    }

    /// How many increments were refused (negative, NaN or infinite) so far.
    pub fn refused(&self) -> u64 {
        self.inner.as_ref().map_or(0, |t| t.refused.load(Relaxed))
    }
}

impl std::fmt::Debug for CounterF64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CounterF64").field(&self.get()).finish()
    }
}

impl Sealed for CounterF64 {}
impl Instrument for CounterF64 {
    const KIND: MetricKind = MetricKind::Counter;
    const REFUSES: bool = true;
    fn fingerprint(&self) -> u64 {
        self.get().to_bits() ^ CounterF64::refused(self).rotate_left(32)
    }
    fn shared(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|a| Arc::strong_count(a) > 1)
    }
    fn noop_ref() -> &'static Self {
        &COUNTER_F64_NOOP
    }
    fn is_noop(&self) -> bool {
        self.inner.is_none()
    }
    fn create(_: &Shape) -> Self {
        CounterF64::new()
    }
    fn refused(&self) -> u64 {
        CounterF64::refused(self)
    }
    fn scalar(&self) -> Option<PointValue<'static>> {
        (!self.is_noop()).then(|| PointValue::Counter(Number::F64(self.get())))
    }
    fn read(&self, f: &mut dyn FnMut(PointValue<'_>) -> io::Result<()>) -> io::Result<()> {
        f(PointValue::Counter(Number::F64(self.get())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_clones_share() {
        let c = Counter::new();
        let d = c.clone();
        c.inc();
        d.add(41);
        assert_eq!(c.get(), 42);
    }

    #[test]
    fn noop_records_nothing() {
        let c = Counter::noop();
        c.add(5);
        assert_eq!(c.get(), 0);
        assert!(c.is_noop());
    }

    #[test]
    fn saturates_instead_of_wrapping() {
        let c = Counter::new();
        c.add(u64::MAX);
        c.add(2);
        assert_eq!(c.get(), u64::MAX);
        c.inc();
        assert_eq!(c.get(), u64::MAX);
        let d = Counter::new();
        d.add(u64::MAX - 3);
        d.add(3);
        assert_eq!(
            d.get(),
            u64::MAX,
            "reaching exactly u64::MAX is no overflow"
        );
    }

    #[test]
    fn f64_refuses_negative_nan_and_infinite_and_counts_them() {
        let c = CounterF64::new();
        c.add(1.5);
        c.add(-1.0);
        c.add(f64::NAN);
        c.add(f64::INFINITY);
        c.add(f64::NEG_INFINITY);
        c.add(-0.0);
        assert_eq!(c.get(), 1.5);
        assert_eq!(c.refused(), 4);
        assert!(c.try_add(f64::INFINITY).is_err());
        assert_eq!(c.refused(), 5);
        assert_eq!(CounterF64::noop().refused(), 0);
        let err = c.try_add(-2.0).unwrap_err();
        assert!(err.to_string().contains("-2"), "{err}");
        assert!(c.try_add(f64::NAN).is_err());
        c.try_add(0.5).unwrap();
        assert_eq!(c.get(), 2.0);
    }
}
