//! A sum that is one plain cell until a second thread writes it.
//!
//! An adder starts as one 8-byte cell and an owner word. The first thread that records
//! claims the cell for its exclusive [`slot`] (one compare-and-swap, once); from then on it
//! adds with a plain load and store: no locked instruction. Only the evidence of a second
//! writer (another slot finding the cell owned) allocates more: a table with one lazily
//! created, cache-padded cell per stripe, where the stripe count is twice the machine's
//! cores rounded up to a power of two (see [`slot::stripes`]). The first cell is then retired
//! (every writer reads the owner word next to it, so nobody may keep writing that line):
//! its owner moves to a stripe like everyone else. A thread whose stripe is free claims it
//! and again adds with plain stores; a thread whose stripe another slot owns, or that has
//! no slot, adds to that stripe's shared word with a locked read-modify-write. So memory
//! grows with the cores that actually record, never with the number of threads: 16
//! threads on a 2-core machine leave at most four cells.
//!
//! Ownership is by slot index, and a slot has one live holder at a time, released with
//! `Release` and claimed with `Acquire` (see `slot`): a cell keeps a single writer, and the
//! next holder of a slot sees everything the previous one stored.
//!
//! Readers sum every cell; that happens at collection time, off the hot path. The cells
//! hold raw `u64` bits and an [`Op`] says how to add: saturating addition (u64 counters,
//! which must never wrap back to a small total), wrapping integer addition (i64 up-down
//! counters, two's complement) or `f64` addition.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;

use crossbeam_utils::CachePadded;

use crate::slot;

/// How two cell values combine.
pub(crate) trait Op: Send + Sync + 'static {
    /// `a + b` in this representation.
    fn add(a: u64, b: u64) -> u64;

    /// Adds `v` to a cell other threads also add to.
    #[inline]
    fn add_shared(cell: &AtomicU64, v: u64) {
        let _ = cell.fetch_update(Relaxed, Relaxed, |cur| Some(Self::add(cur, v)));
    }
}

/// Wrapping integer addition: i64 totals stored as two's complement.
pub(crate) struct IntOp;

impl Op for IntOp {
    #[inline(always)]
    fn add(a: u64, b: u64) -> u64 {
        a.wrapping_add(b)
    }

    #[inline]
    fn add_shared(cell: &AtomicU64, v: u64) {
        cell.fetch_add(v, Relaxed);
    }
}

/// Saturating `u64` addition: a monotonic total stops at `u64::MAX` instead of wrapping.
///
/// The owner's path stays a plain load and store (`saturating_add` is branch-free); the
/// shared path stays one `fetch_add`, and only when its result wrapped (a total past
/// 2^64, which no real counter reaches except by a bogus `add`) does it store `u64::MAX`
/// over whatever the wrapped word holds. Every later `fetch_add` on `u64::MAX` wraps too
/// and stores `u64::MAX` again, so the word ends at `u64::MAX` whatever the interleaving;
/// a reader racing the clamp may see the wrapped value once.
pub(crate) struct SatOp;

impl Op for SatOp {
    #[inline(always)]
    fn add(a: u64, b: u64) -> u64 {
        a.saturating_add(b)
    }

    #[inline]
    fn add_shared(cell: &AtomicU64, v: u64) {
        let old = cell.fetch_add(v, Relaxed);
        if old.checked_add(v).is_none() {
            cell.store(u64::MAX, Relaxed);
        }
    }
}

/// `f64` addition on the bit patterns.
pub(crate) struct FloatOp;

impl Op for FloatOp {
    #[inline(always)]
    fn add(a: u64, b: u64) -> u64 {
        (f64::from_bits(a) + f64::from_bits(b)).to_bits()
    }
}

/// The owner word of a cell nobody has claimed. [`slot::NONE`] as `u32` is `u32::MAX`, so
/// a thread without a slot never matches an owner.
pub(crate) const UNOWNED: u32 = u32::MAX - 1;

/// The owner word of a cell nobody may claim: the first cell of an instrument that a
/// second thread writes, which then stops being written (its line is read by every
/// writer, so it must not be written next to them), and stripe cells a thread without a
/// slot made.
pub(crate) const RETIRED: u32 = u32::MAX - 2;

/// One stripe's cell: `value` is written with plain stores by the slot in `owner` only;
/// other threads of this stripe add to `shared` by read-modify-write.
struct Cell {
    owner: AtomicU32,
    value: AtomicU64,
    shared: AtomicU64,
}

/// What a second writer allocates: one cell per stripe, each made by its first writer.
struct Stripes {
    /// `cells.len() - 1`; the length is a power of two.
    mask: usize,
    cells: Box<[OnceLock<Box<CachePadded<Cell>>>]>,
}

/// What an adder allocates beyond its first 32 bytes, each part made when first needed:
/// the stripes (a second writer) and the exemplar slot (a first exemplar).
#[derive(Default)]
struct Cold {
    stripes: OnceLock<Stripes>,
    exemplar: crate::exemplar::Slots,
}

/// A contention-adaptive sum (see the module docs).
pub(crate) struct Adder<O: Op> {
    /// The slot that may write `base`, or [`UNOWNED`].
    owner: AtomicU32,
    base: AtomicU64,
    cold: OnceLock<Box<Cold>>,
    _op: PhantomData<O>,
}

impl<O: Op> Adder<O> {
    /// A sum at 0 (the bit pattern 0 is also `0.0f64`): 32 bytes until a second thread
    /// writes it.
    pub(crate) fn new() -> Self {
        Adder {
            owner: AtomicU32::new(UNOWNED),
            base: AtomicU64::new(0),
            cold: OnceLock::new(),
            _op: PhantomData,
        }
    }

    #[inline]
    fn stripes(&self) -> Option<&Stripes> {
        self.cold.get().and_then(|c| c.stripes.get())
    }

    fn cold(&self) -> &Cold {
        self.cold.get_or_init(Box::default)
    }

    /// Keeps `ex` as this sum's exemplar (the first one allocates its slot).
    pub(crate) fn exemplar(&self, ex: &crate::exemplar::Exemplar) {
        self.cold().exemplar.record(1, 0, ex);
    }

    /// The exemplar kept, if any.
    pub(crate) fn read_exemplar(&self) -> Option<crate::exemplar::Exemplar> {
        let cold = self.cold.get()?;
        if !cold.exemplar.any() {
            return None;
        }
        cold.exemplar.read().first().copied().flatten()
    }

    /// Adds `v` (bits in this adder's representation). Never blocks; allocates only when
    /// a new thread's stripe gets its cell.
    #[inline(always)]
    pub(crate) fn add(&self, v: u64) {
        let me = slot::current();
        if self.owner.load(Relaxed) == me as u32 {
            // Single writer: this thread's slot owns the cell (see `slot`).
            self.base.store(O::add(self.base.load(Relaxed), v), Relaxed);
        } else {
            self.add_other(me, v);
        }
    }

    /// Not the owner of `base`: this thread's stripe (its own cell, or the cell's shared
    /// word), else the slow path.
    #[inline]
    fn add_other(&self, me: usize, v: u64) {
        if let Some(stripes) = self.stripes() {
            if let Some(cell) = stripes.cells.get(me & stripes.mask).and_then(|c| c.get()) {
                if cell.owner.load(Relaxed) == me as u32 {
                    cell.value
                        .store(O::add(cell.value.load(Relaxed), v), Relaxed);
                } else {
                    O::add_shared(&cell.shared, v);
                }
                return;
            }
        }
        self.add_slow(me, v);
    }

    /// First recording of this thread's stripe: claims `base` if nobody has; else retires
    /// `base` (a second writer is here) and makes this thread's stripe cell.
    #[cold]
    #[inline(never)]
    fn add_slow(&self, me: usize, v: u64) {
        let owned = me < 64;
        let claim = if owned { me as u32 } else { RETIRED };
        match self
            .owner
            .compare_exchange(UNOWNED, claim, Relaxed, Relaxed)
        {
            Ok(_) if owned => {
                // Nobody else ever writes `base`: the slot is ours alone from now on.
                self.base.store(O::add(self.base.load(Relaxed), v), Relaxed);
                return;
            }
            // A thread without a slot came first: `base` stays unwritten.
            Ok(_) | Err(RETIRED) => {}
            // Another slot owns `base`: from now on every writer uses the stripes. The
            // owner may be finishing a store to `base`; it lands, and `sum` reads it.
            Err(_) => self.owner.store(RETIRED, Relaxed),
        }
        let stripes = self.cold().stripes.get_or_init(|| {
            let n = slot::stripes();
            Stripes {
                mask: n - 1,
                cells: (0..n).map(|_| OnceLock::new()).collect(),
            }
        });
        let Some(slot) = stripes.cells.get(me & stripes.mask) else {
            return;
        };
        let cell = slot.get_or_init(|| {
            Box::new(CachePadded::new(Cell {
                owner: AtomicU32::new(if owned { me as u32 } else { RETIRED }),
                value: AtomicU64::new(0),
                shared: AtomicU64::new(0),
            }))
        });
        if cell.owner.load(Relaxed) == me as u32 {
            cell.value
                .store(O::add(cell.value.load(Relaxed), v), Relaxed);
        } else {
            O::add_shared(&cell.shared, v);
        }
    }

    /// The current sum (bits). Concurrent adds may or may not be included, each one whole.
    pub(crate) fn sum(&self) -> u64 {
        let mut total = self.base.load(Relaxed);
        if let Some(stripes) = self.stripes() {
            for cell in stripes.cells.iter().filter_map(|c| c.get()) {
                total = O::add(total, cell.value.load(Relaxed));
                total = O::add(total, cell.shared.load(Relaxed));
            }
        }
        total
    }

    /// How many per-stripe cells exist (for tests of the memory bound).
    #[cfg(test)]
    pub(crate) fn cells(&self) -> usize {
        self.stripes()
            .map_or(0, |s| s.cells.iter().filter(|c| c.get().is_some()).count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    fn hammer(adder: Arc<Adder<IntOp>>, threads: usize) {
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (a, b) = (adder.clone(), barrier.clone());
                std::thread::spawn(move || {
                    b.wait();
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
        // Threads that exited handed their slots to the next ones: nothing lost.
        hammer(adder.clone(), 4);
        assert_eq!(adder.sum(), 800_000);
    }

    #[test]
    fn more_threads_than_slots_still_exact() {
        let adder = Arc::new(Adder::<IntOp>::new());
        let barrier = Arc::new(Barrier::new(70));
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
        assert!(adder.cells() <= slot::stripes());
    }

    #[test]
    fn one_thread_never_stripes_whatever_the_value() {
        let a = Adder::<IntOp>::new();
        a.add(1 << 40);
        for _ in 0..10_000 {
            a.add(1);
        }
        assert!(a.stripes().is_none(), "striped without a second writer");
        assert_eq!(a.sum(), (1 << 40) + 10_000);
    }

    #[test]
    fn a_second_writer_stripes() {
        let a = Arc::new(Adder::<IntOp>::new());
        a.add(1);
        let b = a.clone();
        std::thread::spawn(move || b.add(2)).join().unwrap();
        assert!(a.stripes().is_some());
        assert_eq!(a.sum(), 3);
    }

    #[test]
    fn sixteen_threads_then_idle_keep_cells_for_cores_not_threads() {
        // The heap figure is checked with a counting allocator in the `memory` bench
        // (`tallyho-bench`); here, the structure that bounds it.
        let adder = Arc::new(Adder::<IntOp>::new());
        adder.add(1);
        hammer(adder.clone(), 16);
        assert_eq!(adder.sum(), 1 + 16 * 100_000);
        let cells = adder.cells();
        assert!(cells >= 1, "16 threads at once must have striped");
        assert!(cells <= slot::stripes(), "{cells} cells");
        if slot::stripes() < 16 {
            assert!(cells < 16, "{cells} cells for {} stripes", slot::stripes());
        }
        // Idle now, and recording again from new threads reuses what exists.
        hammer(adder.clone(), 16);
        assert!(adder.cells() <= slot::stripes());
        assert_eq!(adder.sum(), 1 + 32 * 100_000);
    }

    #[test]
    fn signed_wrapping_sum() {
        let a = Adder::<IntOp>::new();
        a.add(5);
        a.add((-7i64) as u64);
        assert_eq!(a.sum() as i64, -2);
    }

    #[test]
    fn saturating_sum_stops_at_max_owned_and_shared() {
        let a = Arc::new(Adder::<SatOp>::new());
        a.add(u64::MAX);
        a.add(2);
        assert_eq!(a.sum(), u64::MAX, "the owner's cell saturates");
        // A second writer stripes the adder; its cell and the total saturate too.
        let b = a.clone();
        std::thread::spawn(move || {
            b.add(u64::MAX - 1);
            b.add(5);
        })
        .join()
        .unwrap();
        assert_eq!(a.sum(), u64::MAX);
    }

    #[test]
    fn saturating_shared_word_clamps_after_a_wrap() {
        let cell = AtomicU64::new(u64::MAX - 1);
        SatOp::add_shared(&cell, 3);
        assert_eq!(cell.load(Relaxed), u64::MAX);
        SatOp::add_shared(&cell, 1);
        assert_eq!(cell.load(Relaxed), u64::MAX);
        let fine = AtomicU64::new(40);
        SatOp::add_shared(&fine, 2);
        assert_eq!(fine.load(Relaxed), 42);
    }

    #[test]
    fn float_sum() {
        let a = Arc::new(Adder::<FloatOp>::new());
        a.add(1.5f64.to_bits());
        a.add(2.25f64.to_bits());
        assert_eq!(f64::from_bits(a.sum()), 3.75);
        let b = a.clone();
        std::thread::spawn(move || b.add(0.25f64.to_bits()))
            .join()
            .unwrap();
        assert_eq!(f64::from_bits(a.sum()), 4.0);
    }
}
