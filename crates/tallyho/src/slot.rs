//! Exclusive per-thread slots: while a thread lives it owns one slot index that no other
//! live thread has, so a cell indexed by it has a single writer and can be updated with a
//! plain load and store instead of a locked read-modify-write.
//!
//! Slots are claimed from a 64-bit map on a thread's first recording and released (with
//! `Release` ordering, claimed with `Acquire`) when the thread exits, so the next owner
//! sees every value the last one stored. Threads beyond 64 at once, and code running in
//! thread-local destructors after the slot is gone, get [`NONE`] and use shared atomics.

use std::sync::atomic::{AtomicU64, Ordering};

/// No exclusive slot: use the shared, read-modify-write path.
pub(crate) const NONE: usize = usize::MAX;

static CLAIMED: AtomicU64 = AtomicU64::new(0);

struct Slot(usize);

impl Slot {
    fn claim() -> Slot {
        let mut cur = CLAIMED.load(Ordering::Relaxed);
        loop {
            let free = (!cur).trailing_zeros() as usize;
            if free >= 64 {
                return Slot(NONE);
            }
            match CLAIMED.compare_exchange_weak(
                cur,
                cur | (1 << free),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Slot(free),
                Err(seen) => cur = seen,
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.0 < 64 {
            CLAIMED.fetch_and(!(1u64 << self.0), Ordering::Release);
        }
    }
}

thread_local! {
    static SLOT: Slot = Slot::claim();
}

/// This thread's exclusive slot, or [`NONE`].
#[inline(always)]
pub(crate) fn current() -> usize {
    SLOT.try_with(|s| s.0).unwrap_or(NONE)
}

/// How many stripes a contended instrument may grow: twice the cores rounded up to a power
/// of two, at most 64 (twice, so that two threads running at once seldom share a stripe).
/// Slot `s` maps to stripe `s & (stripes() - 1)`, so memory is bounded by the machine, not
/// by how many threads record.
pub(crate) fn stripes() -> usize {
    static COUNT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *COUNT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        (cores * 2).next_power_of_two().min(64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_threads_have_distinct_slots_and_exited_ones_release_them() {
        // Other tests run threads too: a thread may find all 64 slots taken (NONE), but no
        // two live threads may ever hold the same slot.
        let mine = current();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let slots: Vec<usize> = (0..8)
            .map(|_| {
                let b = barrier.clone();
                std::thread::spawn(move || {
                    let s = current();
                    b.wait(); // all alive at once
                    s
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        let mut owned: Vec<usize> = slots.iter().copied().filter(|&s| s != NONE).collect();
        let n = owned.len();
        owned.sort_unstable();
        owned.dedup();
        assert_eq!(
            owned.len(),
            n,
            "slots shared between live threads: {slots:?}"
        );
        assert!(mine == NONE || !slots.contains(&mine));
    }
}
