//! Values that go up and down: [`Gauge`] (`f64`), [`GaugeI64`] and [`UpDownCounter`].

use std::io;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crate::adder::{Adder, IntOp};
use crate::instrument::Shape;
use crate::instrument::{sealed::Sealed, Instrument};
use crate::visit::{MetricKind, Number, PointValue};

/// A value that is set, such as a temperature or a queue depth: `f64`.
#[derive(Clone, Default)]
pub struct Gauge(Option<Arc<AtomicU64>>);

static GAUGE_NOOP: Gauge = Gauge(None);

impl Gauge {
    /// A live gauge at 0 that belongs to no registry.
    pub fn new() -> Self {
        Gauge(Some(Arc::new(AtomicU64::new(0f64.to_bits()))))
    }

    /// A gauge that records nothing.
    pub const fn noop() -> Self {
        Gauge(None)
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, v: f64) {
        if let Some(a) = &self.0 {
            a.store(v.to_bits(), Relaxed);
        }
    }

    /// Adds `v` (may be negative).
    #[inline]
    pub fn add(&self, v: f64) {
        if let Some(a) = &self.0 {
            let mut cur = a.load(Relaxed);
            loop {
                let new = (f64::from_bits(cur) + v).to_bits();
                match a.compare_exchange_weak(cur, new, Relaxed, Relaxed) {
                    Ok(_) => return,
                    Err(seen) => cur = seen,
                }
            }
        }
    }

    /// Subtracts `v`.
    #[inline]
    pub fn sub(&self, v: f64) {
        self.add(-v);
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.add(-1.0);
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        self.0
            .as_ref()
            .map_or(0.0, |a| f64::from_bits(a.load(Relaxed)))
    }
}

impl std::fmt::Debug for Gauge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Gauge").field(&self.get()).finish()
    }
}

impl Sealed for Gauge {}
impl Instrument for Gauge {
    const KIND: MetricKind = MetricKind::Gauge;
    fn fingerprint(&self) -> u64 {
        self.get().to_bits()
    }
    fn shared(&self) -> bool {
        self.0.as_ref().is_some_and(|a| Arc::strong_count(a) > 1)
    }
    fn noop_ref() -> &'static Self {
        &GAUGE_NOOP
    }
    fn is_noop(&self) -> bool {
        self.0.is_none()
    }
    fn create(_: &Shape) -> Self {
        Gauge::new()
    }
    fn scalar(&self) -> Option<PointValue<'static>> {
        (!self.is_noop()).then(|| PointValue::Gauge(Number::F64(self.get())))
    }
    fn read(&self, f: &mut dyn FnMut(PointValue<'_>) -> io::Result<()>) -> io::Result<()> {
        f(PointValue::Gauge(Number::F64(self.get())))
    }
}

/// An integer gauge, such as connections open or slots in use.
#[derive(Clone, Default)]
pub struct GaugeI64(Option<Arc<AtomicI64>>);

static GAUGE_I64_NOOP: GaugeI64 = GaugeI64(None);

impl GaugeI64 {
    /// A live gauge at 0 that belongs to no registry.
    pub fn new() -> Self {
        GaugeI64(Some(Arc::new(AtomicI64::new(0))))
    }

    /// A gauge that records nothing.
    pub const fn noop() -> Self {
        GaugeI64(None)
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, v: i64) {
        if let Some(a) = &self.0 {
            a.store(v, Relaxed);
        }
    }

    /// Adds `v` (wrapping on overflow).
    #[inline]
    pub fn add(&self, v: i64) {
        if let Some(a) = &self.0 {
            a.fetch_add(v, Relaxed);
        }
    }

    /// Subtracts `v`.
    #[inline]
    pub fn sub(&self, v: i64) {
        self.add(v.wrapping_neg());
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.add(-1);
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.as_ref().map_or(0, |a| a.load(Relaxed))
    }
}

impl std::fmt::Debug for GaugeI64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("GaugeI64").field(&self.get()).finish()
    }
}

impl Sealed for GaugeI64 {}
impl Instrument for GaugeI64 {
    const KIND: MetricKind = MetricKind::Gauge;
    fn fingerprint(&self) -> u64 {
        self.get() as u64
    }
    fn shared(&self) -> bool {
        self.0.as_ref().is_some_and(|a| Arc::strong_count(a) > 1)
    }
    fn noop_ref() -> &'static Self {
        &GAUGE_I64_NOOP
    }
    fn is_noop(&self) -> bool {
        self.0.is_none()
    }
    fn create(_: &Shape) -> Self {
        GaugeI64::new()
    }
    fn scalar(&self) -> Option<PointValue<'static>> {
        (!self.is_noop()).then(|| PointValue::Gauge(Number::I64(self.get())))
    }
    fn read(&self, f: &mut dyn FnMut(PointValue<'_>) -> io::Result<()>) -> io::Result<()> {
        f(PointValue::Gauge(Number::I64(self.get())))
    }
}

/// A total that goes up and down by deltas, such as items in flight; never `set`.
///
/// Unlike a gauge it stripes under contention like a [`Counter`](crate::Counter), so many
/// threads adding and subtracting do not fight over one cache line.
#[derive(Clone, Default)]
pub struct UpDownCounter(Option<Arc<Adder<IntOp>>>);

static UP_DOWN_NOOP: UpDownCounter = UpDownCounter(None);

impl UpDownCounter {
    /// A live up-down counter at 0 that belongs to no registry.
    pub fn new() -> Self {
        UpDownCounter(Some(Arc::new(Adder::new())))
    }

    /// An up-down counter that records nothing.
    pub const fn noop() -> Self {
        UpDownCounter(None)
    }

    /// Adds `v` (negative to subtract).
    #[inline]
    pub fn add(&self, v: i64) {
        if let Some(a) = &self.0 {
            a.add(v as u64);
        }
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.add(-1);
    }

    /// The current total.
    pub fn get(&self) -> i64 {
        self.0.as_ref().map_or(0, |a| a.sum() as i64)
    }
}

impl std::fmt::Debug for UpDownCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("UpDownCounter").field(&self.get()).finish()
    }
}

impl Sealed for UpDownCounter {}
impl Instrument for UpDownCounter {
    const KIND: MetricKind = MetricKind::UpDownCounter;
    fn fingerprint(&self) -> u64 {
        self.get() as u64
    }
    fn shared(&self) -> bool {
        self.0.as_ref().is_some_and(|a| Arc::strong_count(a) > 1)
    }
    fn noop_ref() -> &'static Self {
        &UP_DOWN_NOOP
    }
    fn is_noop(&self) -> bool {
        self.0.is_none()
    }
    fn create(_: &Shape) -> Self {
        UpDownCounter(Some(Arc::new(Adder::new())))
    }
    fn scalar(&self) -> Option<PointValue<'static>> {
        (!self.is_noop()).then(|| PointValue::Gauge(Number::I64(self.get())))
    }
    fn read(&self, f: &mut dyn FnMut(PointValue<'_>) -> io::Result<()>) -> io::Result<()> {
        f(PointValue::Gauge(Number::I64(self.get())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauge_set_add_sub() {
        let g = Gauge::new();
        g.set(10.0);
        g.inc();
        g.dec();
        g.add(2.5);
        g.sub(0.5);
        assert_eq!(g.get(), 12.0);
        Gauge::noop().set(3.0);
        assert_eq!(Gauge::noop().get(), 0.0);
    }

    #[test]
    fn gauge_i64_ops() {
        let g = GaugeI64::new();
        g.set(5);
        g.inc();
        g.sub(10);
        g.dec();
        assert_eq!(g.get(), -5);
    }

    #[test]
    fn up_down_counter_goes_negative() {
        let u = UpDownCounter::new();
        u.inc();
        u.add(-3);
        u.dec();
        assert_eq!(u.get(), -3);
    }
}
