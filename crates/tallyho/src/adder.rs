//! A sum that gives each thread its own cell once it is shared.
//!
//! An adder starts as one 8-byte cell updated by compare-and-swap. When a CAS fails (another
//! core wrote the line in between), when an integer total passes [`HOT_AFTER`] (a busy
//! series), or from the start for an instrument created `striped`,
//! it allocates cache-padded cells indexed by [`slot::current`]: a thread's cell has no other
//! writer, so adding is a plain load and store, with no locked instruction and no cache line
//! shared with another core. Threads without a slot keep using the base cell atomically.
//! Readers sum the base and all cells; that happens at collection time, off the hot path.
//!
//! The cells hold raw `u64` bits and an [`Op`] says how to add: wrapping integer addition
//! (u64 counters, i64 up-down counters) or `f64` addition.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;

use crossbeam_utils::CachePadded;

use crate::slot;

/// How two cell values combine.
pub(crate) trait Op: Send + Sync + 'static {
    /// `a + b` in this representation.
    fn add(a: u64, b: u64) -> u64;
    /// A base cell whose value crosses this (as raw bits) has been recorded often enough to
    /// be worth per-thread cells; 0 disables the rule.
    const HOT_AFTER: u64;
}

/// Increments after which a family series counts as hot and gets per-thread cells: few
/// enough that a busy series turns fast at once, many enough that the thousands of rarely
/// touched series of a big family stay 8 bytes.
pub(crate) const HOT_AFTER: u64 = 4096;

/// Wrapping integer addition: u64 totals, and i64 totals stored as two's complement.
pub(crate) struct IntOp;

impl Op for IntOp {
    #[inline(always)]
    fn add(a: u64, b: u64) -> u64 {
        a.wrapping_add(b)
    }
    const HOT_AFTER: u64 = HOT_AFTER;
}

/// `f64` addition on the bit patterns.
pub(crate) struct FloatOp;

impl Op for FloatOp {
    #[inline(always)]
    fn add(a: u64, b: u64) -> u64 {
        (f64::from_bits(a) + f64::from_bits(b)).to_bits()
    }
    // Float totals say nothing about how often they were added to.
    const HOT_AFTER: u64 = 0;
}

type Cells = Box<[CachePadded<AtomicU64>]>;

/// A contention-adaptive sum (see the module docs).
pub(crate) struct Adder<O: Op> {
    base: AtomicU64,
    cells: OnceLock<Cells>,
    _op: PhantomData<O>,
}

impl<O: Op> Adder<O> {
    /// A sum at 0 (the bit pattern 0 is also `0.0f64`) that stripes on first contention.
    pub(crate) fn new() -> Self {
        Adder {
            base: AtomicU64::new(0),
            cells: OnceLock::new(),
            _op: PhantomData,
        }
    }

    /// A sum at 0 with per-thread cells from the start: the fastest adds, for an
    /// instrument that is not one of many series.
    pub(crate) fn striped() -> Self {
        let a = Self::new();
        a.inflate();
        a
    }

    /// Adds `v` (bits in this adder's representation). Never blocks; allocates only once,
    /// the first time this adder sees contention.
    #[inline(always)]
    pub(crate) fn add(&self, v: u64) {
        match self.cells.get() {
            Some(cells) => match cells.get(slot::current()) {
                // Single writer: this thread owns the slot (see `slot`).
                Some(cell) => cell.store(O::add(cell.load(Relaxed), v), Relaxed),
                None => self.add_shared(v),
            },
            None => {
                let cur = self.base.load(Relaxed);
                let new = O::add(cur, v);
                match self.base.compare_exchange(cur, new, Relaxed, Relaxed) {
                    Ok(_) => {
                        if O::HOT_AFTER != 0 && cur < O::HOT_AFTER && new >= O::HOT_AFTER {
                            self.inflate();
                        }
                    }
                    Err(_) => {
                        self.inflate();
                        self.add(v);
                    }
                }
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn add_shared(&self, v: u64) {
        let _ = self
            .base
            .fetch_update(Relaxed, Relaxed, |cur| Some(O::add(cur, v)));
    }

    #[cold]
    #[inline(never)]
    fn inflate(&self) {
        self.cells.get_or_init(|| {
            (0..slot::stripes())
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect()
        });
    }

    /// The current sum (bits). Concurrent adds may or may not be included, each one whole.
    pub(crate) fn sum(&self) -> u64 {
        let mut total = self.base.load(Relaxed);
        if let Some(cells) = self.cells.get() {
            for cell in cells.iter() {
                total = O::add(total, cell.load(Relaxed));
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn hammer(adder: Arc<Adder<IntOp>>, threads: usize) {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let a = adder.clone();
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        a.add(1);
                    }
                })
            })
            .collect();
        for t in handles {
            t.join().unwrap();
        }
    }

    #[test]
    fn sums_exactly_under_contention() {
        let adder = Arc::new(Adder::<IntOp>::new());
        hammer(adder.clone(), 4);
        assert_eq!(adder.sum(), 400_000);
        let striped = Arc::new(Adder::<IntOp>::striped());
        hammer(striped.clone(), 4);
        // Threads that exited handed their slots to the next ones: nothing lost.
        hammer(striped.clone(), 4);
        assert_eq!(striped.sum(), 800_000);
    }

    #[test]
    fn more_threads_than_slots_still_exact() {
        let adder = Arc::new(Adder::<IntOp>::striped());
        let barrier = Arc::new(std::sync::Barrier::new(70));
        let handles: Vec<_> = (0..70)
            .map(|_| {
                let (a, b) = (adder.clone(), barrier.clone());
                std::thread::spawn(move || {
                    b.wait();
                    for _ in 0..1000 {
                        a.add(1);
                    }
                })
            })
            .collect();
        for t in handles {
            t.join().unwrap();
        }
        assert_eq!(adder.sum(), 70_000);
    }

    #[test]
    fn busy_integer_adders_turn_striped() {
        let a = Adder::<IntOp>::new();
        a.add(HOT_AFTER - 1);
        assert!(a.cells.get().is_none());
        a.add(1);
        assert!(a.cells.get().is_some());
        a.add(5);
        assert_eq!(a.sum(), HOT_AFTER + 5);
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
        a.inflate();
        a.add(0.25f64.to_bits());
        assert_eq!(f64::from_bits(a.sum()), 4.0);
    }
}
