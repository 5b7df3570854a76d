//! A StatsD set's distinct count in fixed memory: exact up to [`EXACT`] members, then a
//! "k minimum values" estimate (the `EXACT` smallest 64-bit hashes; the distinct count is
//! about `(k - 1) / (k-th smallest hash / 2^64)`, relative error about `1 / sqrt(k)`, 3% at
//! k = 1024). Members themselves are never kept, so a set costs at most 8 KiB of hashes
//! whatever is sent. Chosen over HyperLogLog for being exact on small sets (the common
//! case, and what tests and users check by eye) and a dozen lines to verify.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

/// Members counted exactly; the size of the estimate's sample beyond.
pub const EXACT: usize = 1024;

/// The distinct members seen, estimated in bounded memory.
#[derive(Debug, Default, Clone)]
pub struct Distinct {
    smallest: BTreeSet<u64>,
}

impl Distinct {
    /// Adds a member.
    pub fn insert(&mut self, member: &str) {
        // SipHash with fixed keys: the same member always hashes alike.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        member.hash(&mut h);
        let hash = h.finish();
        if self.smallest.len() < EXACT {
            self.smallest.insert(hash);
        } else if self.smallest.last().is_some_and(|&max| hash < max) && self.smallest.insert(hash)
        {
            self.smallest.pop_last();
        }
    }

    /// The number of distinct members: exact below [`EXACT`], estimated from then on.
    pub fn count(&self) -> f64 {
        let n = self.smallest.len();
        match self.smallest.last() {
            Some(&max) if n >= EXACT => {
                let fraction = (max as f64 + 1.0) / 18_446_744_073_709_551_616.0;
                ((n - 1) as f64 / fraction).round()
            }
            _ => n as f64,
        }
    }

    /// Whether the count is an estimate.
    pub fn estimated(&self) -> bool {
        self.smallest.len() >= EXACT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_when_small_then_close_and_bounded() {
        let mut d = Distinct::default();
        for i in 0..500 {
            d.insert(&format!("m{i}"));
            d.insert(&format!("m{i}"));
        }
        assert_eq!(d.count(), 500.0);
        assert!(!d.estimated());
        for i in 0..200_000 {
            d.insert(&format!("m{i}"));
        }
        let c = d.count();
        assert!(d.estimated());
        assert!((c - 200_000.0).abs() < 200_000.0 * 0.1, "estimate {c}");
        assert_eq!(d.smallest.len(), EXACT, "memory stays bounded");
    }
}
