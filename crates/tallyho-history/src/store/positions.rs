//! The position cache: what the previous collection appended, in order.
//!
//! A registry's snapshot lists its series in the same order collection after collection, so
//! the series at position `i` of this append is almost always the one at position `i` of the
//! last. Like Prometheus' scrape cache (which keys on the raw exposition line), the cache
//! keeps the last append's lookup keys back to back in one buffer with their references: a
//! series found there costs one comparison against memory read in order, instead of a hash,
//! a hash-table probe and a comparison against the series' own key somewhere on the heap.
//! A key that differs at its position (series added, removed or reordered) falls back to the
//! head's index, so the cache can make an append slower, never wrong.
//!
//! The references double as the staleness set: series of the previous append that this one
//! did not carry get a staleness marker.

use crate::head::{key_is, SeriesRef};

/// One append's keys (back to back), where each ends, and the series they found.
#[derive(Debug, Default)]
struct Stream {
    keys: Vec<u8>,
    ends: Vec<usize>,
    refs: Vec<SeriesRef>,
}

impl Stream {
    fn clear(&mut self) {
        self.keys.clear();
        self.ends.clear();
        self.refs.clear();
    }

    fn key(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = match i.checked_sub(1) {
            Some(p) => *self.ends.get(p)?,
            None => 0,
        };
        self.keys.get(start..end)
    }
}

/// The previous and the current stale-tracked append.
#[derive(Debug, Default)]
pub(crate) struct Positions {
    prev: Stream,
    cur: Stream,
    /// Positions of the current append found in the previous one.
    hits: usize,
}

impl Positions {
    /// Starts an append.
    pub(crate) fn begin(&mut self) {
        self.cur.clear();
        self.hits = 0;
    }

    /// The series the previous append had at the current position, if its labels are
    /// `pairs` (compared with the key kept, none written). The caller checks the series
    /// still exists, then calls [`carry`](Self::carry) or [`push`](Self::push).
    pub(crate) fn lookup<'a>(
        &mut self,
        pairs: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Option<SeriesRef> {
        let i = self.cur.refs.len();
        if !key_is(pairs, self.prev.key(i)?) {
            return None;
        }
        let r = self.prev.refs.get(i).copied();
        self.hits += usize::from(r.is_some());
        r
    }

    /// Records that the current position holds what the previous append had there.
    pub(crate) fn carry(&mut self) {
        let i = self.cur.refs.len();
        let (Some(key), Some(&r)) = (self.prev.key(i), self.prev.refs.get(i)) else {
            return;
        };
        self.cur.keys.extend_from_slice(key);
        self.cur.ends.push(self.cur.keys.len());
        self.cur.refs.push(r);
    }

    /// Whether every position of the previous append was found in this one, so that every
    /// series it carried (that still exists) was carried again: none is stale.
    pub(crate) fn all_carried(&self) -> bool {
        self.hits == self.prev.refs.len()
    }

    /// Records that the current position holds series `r` with this key.
    pub(crate) fn push(&mut self, key: &[u8], r: SeriesRef) {
        self.cur.keys.extend_from_slice(key);
        self.cur.ends.push(self.cur.keys.len());
        self.cur.refs.push(r);
    }

    /// The series of the previous append.
    pub(crate) fn prev_refs(&self) -> &[SeriesRef] {
        &self.prev.refs
    }

    /// Ends an append: it becomes the previous one.
    pub(crate) fn finish(&mut self) {
        std::mem::swap(&mut self.prev, &mut self.cur);
        self.cur.clear();
    }

    /// Bytes held (both appends' keys and references).
    pub(crate) fn bytes(&self) -> usize {
        [&self.prev, &self.cur]
            .iter()
            .map(|s| s.keys.capacity() + s.ends.capacity() * 8 + s.refs.capacity() * 4)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::key_of;

    /// A one-label key and its pair.
    fn k(v: &'static str) -> (Vec<u8>, [(&'static str, &'static str); 1]) {
        let pairs = [("l", v)];
        let mut key = Vec::new();
        key_of(pairs.iter().copied(), &mut key);
        (key, pairs)
    }

    fn look(p: &mut Positions, v: &'static str) -> Option<SeriesRef> {
        p.lookup(k(v).1.iter().copied())
    }

    fn put(p: &mut Positions, v: &'static str, r: SeriesRef) {
        p.push(&k(v).0, r);
    }

    #[test]
    fn finds_the_same_key_at_the_same_position_only() {
        let mut p = Positions::default();
        p.begin();
        assert_eq!(look(&mut p, "a"), None);
        put(&mut p, "a", 7);
        put(&mut p, "bc", 9);
        p.finish();
        assert_eq!(p.prev_refs(), &[7, 9]);
        assert!(!p.all_carried(), "nothing was looked up yet");

        p.begin();
        assert_eq!(look(&mut p, "a"), Some(7));
        put(&mut p, "a", 7);
        // A different key at position 1, and the key of position 1 at position 2.
        assert_eq!(look(&mut p, "b"), None);
        put(&mut p, "b", 3);
        assert_eq!(look(&mut p, "bc"), None);
        put(&mut p, "bc", 9);
        assert!(!p.all_carried());
        p.finish();
        assert_eq!(p.prev_refs(), &[7, 3, 9]);

        p.begin();
        for (v, r) in [("a", 7), ("b", 3), ("bc", 9)] {
            assert_eq!(look(&mut p, v), Some(r));
            p.carry();
        }
        assert!(p.all_carried());
        put(&mut p, "new", 11);
        assert!(
            p.all_carried(),
            "a series added at the end leaves none stale"
        );
        assert!(p.bytes() > 0);
    }
}
