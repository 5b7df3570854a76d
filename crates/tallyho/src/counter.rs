//! Monotonic counters: `u64` ([`Counter`]) and `f64` ([`CounterF64`]).

use std::io;
use std::sync::Arc;

use crate::adder::{Adder, FloatOp, IntOp};
use crate::instrument::{sealed::Sealed, Instrument};
use crate::visit::{MetricKind, Number, PointValue};
use crate::{Buckets, Error};

/// A total that only goes up, such as jobs processed or bytes sent.
///
/// Cloning is cheap and every clone records into the same total. Increments never lock,
/// allocate or block (a thread's first increment of a contended counter may allocate its
/// cell); under contention the total stripes itself across cache lines.
#[derive(Clone, Default)]
pub struct Counter(Option<Arc<Adder<IntOp>>>);

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

    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        if let Some(a) = &self.0 {
            a.add(n);
        }
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
    fn noop_ref() -> &'static Self {
        &COUNTER_NOOP
    }
    fn is_noop(&self) -> bool {
        self.0.is_none()
    }
    fn create(_: &Buckets) -> Self {
        Counter(Some(Arc::new(Adder::new())))
    }
    fn scalar(&self) -> Option<PointValue<'static>> {
        (!self.is_noop()).then(|| PointValue::Counter(Number::U64(self.get())))
    }
    fn read(&self, f: &mut dyn FnMut(PointValue<'_>) -> io::Result<()>) -> io::Result<()> {
        f(PointValue::Counter(Number::U64(self.get())))
    }
}

/// A floating-point total that only goes up, such as seconds of CPU used.
///
/// A negative or NaN increment is refused (and not applied): [`add`](Self::add) ignores it,
/// [`try_add`](Self::try_add) says why.
#[derive(Clone, Default)]
pub struct CounterF64 {
    inner: Option<Arc<Adder<FloatOp>>>,
}

static COUNTER_F64_NOOP: CounterF64 = CounterF64 { inner: None };

impl CounterF64 {
    /// A live counter that belongs to no registry.
    pub fn new() -> Self {
        CounterF64 {
            inner: Some(Arc::new(Adder::new())),
        }
    }

    /// A counter that records nothing.
    pub const fn noop() -> Self {
        CounterF64 { inner: None }
    }

    /// Adds `v` when it is `>= 0` (an infinite total is allowed); ignores negative and NaN values.
    #[inline]
    pub fn add(&self, v: f64) {
        if let Some(a) = &self.inner {
            // `!(v >= 0.0)` is also true for NaN.
            if v >= 0.0 {
                a.add(v.to_bits());
            }
        }
    }

    /// Adds `v`, or says why it was refused.
    ///
    /// # Errors
    /// [`Error::NegativeIncrement`] for a negative or NaN `v`; the total is unchanged.
    pub fn try_add(&self, v: f64) -> Result<(), Error> {
        if v >= 0.0 {
            self.add(v);
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
        self.inner.as_ref().map_or(0.0, |a| f64::from_bits(a.sum()))
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
    fn noop_ref() -> &'static Self {
        &COUNTER_F64_NOOP
    }
    fn is_noop(&self) -> bool {
        self.inner.is_none()
    }
    fn create(_: &Buckets) -> Self {
        CounterF64 {
            inner: Some(Arc::new(Adder::new())),
        }
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
    fn f64_refuses_negative_and_nan() {
        let c = CounterF64::new();
        c.add(1.5);
        c.add(-1.0);
        c.add(f64::NAN);
        assert_eq!(c.get(), 1.5);
        let err = c.try_add(-2.0).unwrap_err();
        assert!(err.to_string().contains("-2"), "{err}");
        assert!(c.try_add(f64::NAN).is_err());
        c.try_add(0.5).unwrap();
        assert_eq!(c.get(), 2.0);
    }
}
