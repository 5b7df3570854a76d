//! A sum that stripes itself across cache lines once it sees contention.
//!
//! Like Java's `LongAdder`: an uncontended adder is one 8-byte cell updated with a single
//! compare-and-swap. The first time a CAS fails (another core wrote the line in between),
//! the adder allocates a set of cache-padded stripes and from then on each thread adds to
//! its own stripe, so two cores no longer pull one cache line back and forth. Readers sum
//! the base and all stripes; that happens at collection time, off the hot path.
//!
//! The cells hold raw `u64` bits and an [`Op`] says how to add: wrapping integer
//! addition (u64 counters, i64 up-down counters) or `f64` addition.

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;

use crossbeam_utils::CachePadded;

/// How two cell values combine.
pub(crate) trait Op: Send + Sync + 'static {
    /// `a + b` in this representation.
    fn add(a: u64, b: u64) -> u64;
    /// Adds `v` to `cell` when the cell is known to be a stripe (no CAS needed to detect contention).
    fn fetch_add(cell: &AtomicU64, v: u64);
}

/// Wrapping integer addition: u64 totals, and i64 totals stored as two's complement.
pub(crate) struct IntOp;

impl Op for IntOp {
    #[inline(always)]
    fn add(a: u64, b: u64) -> u64 {
        a.wrapping_add(b)
    }
    #[inline(always)]
    fn fetch_add(cell: &AtomicU64, v: u64) {
        cell.fetch_add(v, Relaxed);
    }
}

/// `f64` addition on the bit patterns.
pub(crate) struct FloatOp;

impl Op for FloatOp {
    #[inline(always)]
    fn add(a: u64, b: u64) -> u64 {
        (f64::from_bits(a) + f64::from_bits(b)).to_bits()
    }
    #[inline(always)]
    fn fetch_add(cell: &AtomicU64, v: u64) {
        let _ = cell.fetch_update(Relaxed, Relaxed, |cur| Some(Self::add(cur, v)));
    }
}

type Stripes = Box<[CachePadded<AtomicU64>]>;

/// A contention-adaptive sum (see the module docs).
pub(crate) struct Adder<O: Op> {
    base: AtomicU64,
    stripes: OnceLock<Stripes>,
    _op: PhantomData<O>,
}

impl<O: Op> Adder<O> {
    /// A sum starting at the bit pattern `zero` (0 for both ops: `0.0f64.to_bits() == 0`).
    pub(crate) fn new() -> Self {
        Adder {
            base: AtomicU64::new(0),
            stripes: OnceLock::new(),
            _op: PhantomData,
        }
    }

    /// Adds `v` (bits in this adder's representation). Never blocks, never allocates
    /// except once, on the first contention this adder ever sees.
    #[inline(always)]
    pub(crate) fn add(&self, v: u64) {
        match self.stripes.get() {
            None => {
                let cur = self.base.load(Relaxed);
                if self
                    .base
                    .compare_exchange(cur, O::add(cur, v), Relaxed, Relaxed)
                    .is_err()
                {
                    self.contended(v);
                }
            }
            Some(stripes) => Self::add_striped(stripes, v),
        }
    }

    #[cold]
    #[inline(never)]
    fn contended(&self, v: u64) {
        let stripes = self.stripes.get_or_init(|| {
            (0..stripe_count())
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect()
        });
        Self::add_striped(stripes, v);
    }

    #[inline(always)]
    fn add_striped(stripes: &Stripes, v: u64) {
        let slot = thread_slot();
        let cell = &stripes[slot & (stripes.len() - 1)];
        let cur = cell.load(Relaxed);
        if cell
            .compare_exchange(cur, O::add(cur, v), Relaxed, Relaxed)
            .is_err()
        {
            // Another thread shares this stripe: move this thread elsewhere for next time.
            rehash_thread_slot();
            O::fetch_add(cell, v);
        }
    }

    /// The current sum (bits). Concurrent adds may or may not be included, each one whole.
    pub(crate) fn sum(&self) -> u64 {
        let mut total = self.base.load(Relaxed);
        if let Some(stripes) = self.stripes.get() {
            for cell in stripes.iter() {
                total = O::add(total, cell.load(Relaxed));
            }
        }
        total
    }
}

/// Stripes per contended adder: a power of two, at least twice the cores (up to 64), so
/// that threads rarely share one.
fn stripe_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        (cores * 2).next_power_of_two().clamp(4, 64)
    })
}

thread_local! {
    static SLOT: Cell<usize> = const { Cell::new(0) };
}

/// This thread's stripe index: handed out round-robin the first time a thread adds to a
/// striped cell, moved by [`rehash_thread_slot`] when it collides with another thread.
#[inline(always)]
fn thread_slot() -> usize {
    SLOT.with(|s| {
        let v = s.get();
        if v != 0 {
            v
        } else {
            static NEXT: AtomicUsize = AtomicUsize::new(1);
            let v = NEXT.fetch_add(1, Relaxed) | (1 << (usize::BITS - 1));
            s.set(v);
            v
        }
    })
}

#[cold]
fn rehash_thread_slot() {
    SLOT.with(|s| {
        // xorshift keeps the marker bit set and moves the low bits.
        let mut v = s.get();
        v ^= v << 13;
        v ^= v >> 7;
        v ^= v << 17;
        s.set(v | (1 << (usize::BITS - 1)));
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn sums_exactly_under_contention() {
        let adder = Arc::new(Adder::<IntOp>::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let a = adder.clone();
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        a.add(1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(adder.sum(), 400_000);
    }

    #[test]
    fn signed_wrapping_sum() {
        let a = Adder::<IntOp>::new();
        a.add(5);
        a.add((-7i64) as u64);
        assert_eq!(a.sum() as i64, -2);
    }

    #[test]
    fn float_sum() {
        let a = Adder::<FloatOp>::new();
        a.add(1.5f64.to_bits());
        a.add(2.25f64.to_bits());
        assert_eq!(f64::from_bits(a.sum()), 3.75);
        a.contended(0.25f64.to_bits());
        assert_eq!(f64::from_bits(a.sum()), 4.0);
    }
}
