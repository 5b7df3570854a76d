//! Labelled families: one instrument per distinct set of label values.
//!
//! Lookups never lock and never allocate. Children live in an append-only arena and are
//! found through an open-addressing table of 4-byte atomic words (`hash tag << 25 |
//! index + 1`).
//! Only inserting a new label set takes the family's mutex; the table grows by building a
//! bigger copy and publishing it, so readers always see a complete table. Old tables are
//! kept (their total size is less than the newest one), which is what makes reads safe
//! without reclamation schemes or `unsafe`.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use crate::instrument::{Instrument, Shape};
#[cfg(test)]
use crate::Buckets;
use crate::{text, Error};

/// Largest number of series one family may hold, whatever its configured limit.
pub const MAX_CARDINALITY: usize = 1 << 24;

const LEVELS: usize = 26;
const FIRST_TABLE: usize = 16;
const FIRST_SEGMENT: usize = 8;

pub(crate) struct Child<M> {
    /// The label pairs in text form, `a="x",b="y"` (see [`crate::text`]).
    pub(crate) key: Box<[u8]>,
    /// When the series was created, in nanoseconds since the Unix epoch.
    start_nanos: u64,
    pub(crate) metric: M,
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl<M> Child<M> {
    /// When the series was created.
    pub(crate) fn start(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(self.start_nanos)
    }
}

/// An append-only list whose elements never move: segment `s` holds `8 << s` slots.
struct Arena<T> {
    segments: [OnceLock<Box<[OnceLock<T>]>>; LEVELS],
}

impl<T> Arena<T> {
    fn new() -> Self {
        Arena {
            segments: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    fn locate(i: usize) -> (usize, usize) {
        let j = i + FIRST_SEGMENT;
        let s = (usize::BITS - 1 - j.leading_zeros()) as usize
            - FIRST_SEGMENT.trailing_zeros() as usize;
        (s, j - (FIRST_SEGMENT << s))
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&T> {
        let (s, o) = Self::locate(i);
        self.segments.get(s)?.get()?.get(o)?.get()
    }

    /// Stores slot `i`; called with the family's insert lock held, in index order.
    fn set(&self, i: usize, v: T) -> &T {
        let (s, o) = Self::locate(i);
        let seg = self.segments[s]
            .get_or_init(|| (0..(FIRST_SEGMENT << s)).map(|_| OnceLock::new()).collect());
        let slot = &seg[o];
        let _ = slot.set(v);
        slot.get().expect("slot was just set")
    }
}

/// Bits of an index entry that hold `child index + 1`: enough for [`MAX_CARDINALITY`].
const INDEX_BITS: u32 = 25;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;

/// The lock-free index from label values to arena slots: open addressing over 4-byte
/// entries, `tag << 25 | index + 1` (0 is empty), the tag being the hash's top 7 bits and
/// the first slot its bits 32 and up.
struct Index {
    tables: [OnceLock<Box<[AtomicU32]>>; LEVELS],
    current: AtomicUsize,
}

impl Index {
    fn new() -> Self {
        let tables: [OnceLock<Box<[AtomicU32]>>; LEVELS] = std::array::from_fn(|_| OnceLock::new());
        let _ = tables[0].set(Self::table(FIRST_TABLE));
        Index {
            tables,
            current: AtomicUsize::new(0),
        }
    }

    fn table(size: usize) -> Box<[AtomicU32]> {
        (0..size).map(|_| AtomicU32::new(0)).collect()
    }

    #[inline]
    fn current(&self) -> &[AtomicU32] {
        let level = self.current.load(Ordering::Acquire);
        self.tables[level].get().map_or(&[], |t| t)
    }

    #[inline(always)]
    fn tag(hash: u64) -> u32 {
        (hash >> (64 - (32 - INDEX_BITS))) as u32
    }

    #[inline(always)]
    fn first(hash: u64, mask: usize) -> usize {
        (hash >> 32) as usize & mask
    }

    /// Inserts the entry of child `index`, whose labels hash to `hash`.
    fn put(table: &[AtomicU32], hash: u64, index: usize) {
        let mask = table.len() - 1;
        let mut pos = Self::first(hash, mask);
        while table[pos].load(Ordering::Relaxed) != 0 {
            pos = (pos + 1) & mask;
        }
        // `index < MAX_CARDINALITY = 2^24`, so `index + 1` fits in INDEX_BITS.
        let entry = Self::tag(hash) << INDEX_BITS | (index as u32 + 1);
        table[pos].store(entry, Ordering::Release);
    }
}

/// Entries of a family's cache of `'static` label lists ([`Family::with_static`]).
const STATIC_ENTRIES: usize = 32;

/// One cached `'static` label list: its address, then the child it names. Written once,
/// under the insert lock (`index` first, `addr` last with `Release`), never changed.
struct StaticEntry {
    addr: AtomicUsize,
    index: AtomicU32,
}

/// A direct-mapped cache from the address of a `&'static [&'static str]` to a child.
///
/// `'static` data never changes and is never freed, so an address names the same values
/// for as long as the program runs; equal lists at different addresses (two call sites)
/// get their own entries for the same child. A list whose entry another list holds just
/// takes the ordinary lookup.
struct StaticCache {
    entries: [StaticEntry; STATIC_ENTRIES],
}

impl StaticCache {
    #[inline(always)]
    fn entry(&self, addr: usize) -> &StaticEntry {
        // Fibonacci hashing of the address: the top bits of the product.
        let h = addr.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize) >> (usize::BITS - 5);
        &self.entries[h % STATIC_ENTRIES]
    }
}

pub(crate) struct Core<M> {
    pub(crate) name: Box<str>,
    pub(crate) label_names: Box<[Box<str>]>,
    buckets: Shape,
    limit: usize,
    /// Random per family: the seed of [`text::hash_values`].
    seed: u64,
    /// Tests only: the hash every label set gets instead of [`text::hash_values`], to make
    /// distinct label sets collide on purpose (see [`Core::hash`]).
    #[cfg(test)]
    forced_hash: Option<u64>,
    index: Index,
    children: Arena<Child<M>>,
    len: AtomicUsize,
    overflow: OnceLock<Child<M>>,
    overflow_records: AtomicU64,
    statics: OnceLock<Box<StaticCache>>,
    insert: Mutex<()>,
}

/// A labelled family of instruments: label names fixed at registration, one child per
/// distinct set of values.
///
/// ```
/// # let registry = tallyho::Registry::new();
/// let requests = registry
///     .metric("http_requests", "Requests handled.")
///     .counter_family(&["method", "code"])?;
/// requests.with(&["GET", "200"]).inc();
/// let ok = requests.with(&["GET", "200"]).clone(); // keep a child as a handle
/// ok.inc();
/// assert_eq!(ok.get(), 2);
/// assert!(requests.try_with(&["GET"]).is_err()); // wrong label count
/// # Ok::<(), tallyho::Error>(())
/// ```
pub struct Family<M: Instrument>(Option<Arc<Core<M>>>);

impl<M: Instrument> Clone for Family<M> {
    fn clone(&self) -> Self {
        Family(self.0.clone())
    }
}

impl<M: Instrument> std::fmt::Debug for Family<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(c) => f
                .debug_struct("Family")
                .field("name", &c.name)
                .field("labels", &c.label_names)
                .field("series", &c.len.load(Ordering::Relaxed))
                .finish(),
            None => f.write_str("Family(noop)"),
        }
    }
}

impl<M: Instrument> Family<M> {
    pub(crate) fn new(
        name: &str,
        label_names: &[&str],
        buckets: impl Into<Shape>,
        limit: usize,
    ) -> Self {
        Family(Some(Arc::new(Core {
            name: name.into(),
            label_names: label_names.iter().map(|&n| n.into()).collect(),
            buckets: buckets.into(),
            limit: limit.min(MAX_CARDINALITY),
            seed: foldhash::fast::RandomState::default().hash_one(0u64),
            #[cfg(test)]
            forced_hash: None,
            index: Index::new(),
            children: Arena::new(),
            len: AtomicUsize::new(0),
            overflow: OnceLock::new(),
            overflow_records: AtomicU64::new(0),
            statics: OnceLock::new(),
            insert: Mutex::new(()),
        })))
    }

    /// A family whose every child is a no-op.
    pub const fn noop() -> Self {
        Family(None)
    }

    pub(crate) fn core(&self) -> Option<&Arc<Core<M>>> {
        self.0.as_ref()
    }

    /// The child for these label values, created on first use.
    ///
    /// With the wrong number of values this returns a no-op child (nothing is recorded);
    /// use [`try_with`](Self::try_with) to get the error instead. Past the cardinality
    /// limit, new label sets share the overflow child.
    #[inline]
    pub fn with(&self, values: &[&str]) -> &M {
        match self.try_with(values) {
            Ok(m) => m,
            Err(_) => M::noop_ref(),
        }
    }

    /// The child for these label values, or an error naming the family, its labels and the
    /// number of values given.
    ///
    /// # Errors
    /// [`Error::LabelCount`] when `values.len()` differs from the number of label names.
    #[inline]
    pub fn try_with(&self, values: &[&str]) -> Result<&M, Error> {
        let Some(core) = &self.0 else {
            return Ok(M::noop_ref());
        };
        if values.len() != core.label_names.len() {
            return Err(core.label_count_error(values.len()));
        }
        let hash = core.hash(values);
        match core.find(hash, values) {
            Some((_, child)) => Ok(&child.metric),
            None => Ok(core.insert_slow(hash, values).1),
        }
    }

    /// The child for label values written as literals (or otherwise `'static`): like
    /// [`with`](Self::with), but after the first lookup from a call site the child is found
    /// by the address of `values`, without hashing or comparing any text.
    ///
    /// ```
    /// # let registry = tallyho::Registry::new();
    /// let requests = registry
    ///     .metric("http_requests", "Requests handled.")
    ///     .counter_family(&["method", "code"])?;
    /// requests.with_static(&["GET", "200"]).inc();
    /// requests.with(&["GET", "200"]).inc();
    /// assert_eq!(requests.with_static(&["GET", "200"]).get(), 2);
    /// # Ok::<(), tallyho::Error>(())
    /// ```
    #[inline]
    pub fn with_static(&self, values: &'static [&'static str]) -> &M {
        let Some(core) = &self.0 else {
            return M::noop_ref();
        };
        let addr = values.as_ptr() as usize;
        if let Some(cache) = core.statics.get() {
            let e = cache.entry(addr);
            if e.addr.load(Ordering::Acquire) == addr {
                if let Some(child) = core.children.get(e.index.load(Ordering::Relaxed) as usize) {
                    return &child.metric;
                }
            }
        }
        core.with_static_slow(addr, values)
    }

    /// The label names, in order.
    pub fn label_names(&self) -> Vec<&str> {
        self.0
            .as_ref()
            .map_or_else(Vec::new, |c| c.label_names.iter().map(|n| &**n).collect())
    }

    /// How many distinct label sets are stored (the overflow series not included).
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |c| c.len.load(Ordering::Acquire))
    }

    /// Whether no label set has been recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many lookups landed in the overflow series because the family was full.
    pub fn overflow_count(&self) -> u64 {
        self.0
            .as_ref()
            .map_or(0, |c| c.overflow_records.load(Ordering::Relaxed))
    }
}

impl<M: Instrument> Core<M> {
    /// The hash of `values` in this family's index: [`text::hash_values`] with the
    /// family's seed. Test builds alone can replace it by a constant (`forced_hash`); the
    /// check is compiled out of every other build.
    #[inline(always)]
    fn hash(&self, values: &[&str]) -> u64 {
        #[cfg(test)]
        if let Some(h) = self.forced_hash {
            return h;
        }
        text::hash_values(self.seed, values)
    }

    fn label_count_error(&self, got: usize) -> Error {
        Error::LabelCount {
            metric: self.name.to_string(),
            names: self.label_names.iter().map(|n| n.to_string()).collect(),
            expected: self.label_names.len(),
            got,
        }
    }

    /// The first lookup of a `'static` label list from its call site: the ordinary lookup,
    /// then the list's address cached when its entry is free.
    #[cold]
    #[inline(never)]
    fn with_static_slow(&self, addr: usize, values: &'static [&'static str]) -> &M {
        if values.len() != self.label_names.len() {
            return M::noop_ref();
        }
        let hash = self.hash(values);
        let (index, child) = match self.find(hash, values) {
            Some(found) => found,
            None => match self.insert_slow(hash, values) {
                (Some(index), metric) => {
                    let Some(child) = self.children.get(index) else {
                        return metric;
                    };
                    (index, child)
                }
                // The overflow child: not cached, so each record is counted.
                (None, metric) => return metric,
            },
        };
        // `addr` is never 0 (a slice's pointer is non-null), the empty entry.
        let cache = self.statics.get_or_init(|| {
            Box::new(StaticCache {
                entries: std::array::from_fn(|_| StaticEntry {
                    addr: AtomicUsize::new(0),
                    index: AtomicU32::new(0),
                }),
            })
        });
        let _guard = self.insert.lock().unwrap_or_else(|p| p.into_inner());
        let e = cache.entry(addr);
        if e.addr.load(Ordering::Relaxed) == 0 {
            // Indexes are below MAX_CARDINALITY (2^24), so they fit.
            e.index.store(index as u32, Ordering::Relaxed);
            e.addr.store(addr, Ordering::Release);
        }
        &child.metric
    }

    #[inline(always)]
    fn find(&self, hash: u64, values: &[&str]) -> Option<(usize, &Child<M>)> {
        let table = self.index.current();
        let mask = table.len().wrapping_sub(1);
        let tag = Index::tag(hash);
        let mut pos = Index::first(hash, mask);
        loop {
            let e = table.get(pos)?.load(Ordering::Acquire);
            if e == 0 {
                return None;
            }
            if e >> INDEX_BITS == tag {
                let index = (e & INDEX_MASK) as usize - 1;
                let child = self.children.get(index)?;
                if text::matches(&child.key, &self.label_names, values) {
                    return Some((index, child));
                }
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Creates the child for `values` (or finds it, created meanwhile); returns its index,
    /// `None` for the overflow child.
    #[cold]
    #[inline(never)]
    fn insert_slow(&self, hash: u64, values: &[&str]) -> (Option<usize>, &M) {
        if self.len.load(Ordering::Acquire) >= self.limit {
            return (None, self.overflowed());
        }
        let _guard = self.insert.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((index, child)) = self.find(hash, values) {
            return (Some(index), &child.metric);
        }
        let idx = self.len.load(Ordering::Relaxed);
        if idx >= self.limit {
            return (None, self.overflowed());
        }
        // Keep the table at most 7/8 full: an empty slot always exists, probes stay short
        // (the 7-bit tags rule out most slots without touching a child), and the tables
        // kept from earlier levels cost less than the current one. Entries carry no full
        // hash, so growing rehashes each child's label values, under this lock.
        let level = self.index.current.load(Ordering::Relaxed);
        let size = FIRST_TABLE << level;
        if (idx + 1) * 8 > size * 7 && level + 1 < LEVELS {
            let bigger = Index::table(size * 2);
            for i in 0..idx {
                if let Some(child) = self.children.get(i) {
                    Index::put(&bigger, self.rehash(child), i);
                }
            }
            let _ = self.index.tables[level + 1].set(bigger);
            self.index.current.store(level + 1, Ordering::Release);
        }
        let child = self.children.set(
            idx,
            Child {
                key: text::render(
                    self.label_names
                        .iter()
                        .map(|n| &**n)
                        .zip(values.iter().copied()),
                ),
                start_nanos: now_nanos(),
                metric: M::create(&self.buckets),
            },
        );
        Index::put(self.index.current(), hash, idx);
        self.len.store(idx + 1, Ordering::Release);
        (Some(idx), &child.metric)
    }

    /// The hash a lookup computes for this child's label values.
    fn rehash(&self, child: &Child<M>) -> u64 {
        let mut values: Vec<String> = Vec::with_capacity(self.label_names.len());
        text::decode(&child.key, &self.label_names, |_, v| {
            values.push(v.to_owned())
        });
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        self.hash(&values)
    }

    fn overflowed(&self) -> &M {
        self.overflow_records.fetch_add(1, Ordering::Relaxed);
        &self
            .overflow
            .get_or_init(|| Child {
                key: Box::new([]),
                start_nanos: now_nanos(),
                metric: M::create(&self.buckets),
            })
            .metric
    }

    /// The number of children published so far.
    pub(crate) fn published(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// Child `i` (below [`published`](Self::published)).
    #[inline]
    pub(crate) fn child(&self, i: usize) -> Option<&Child<M>> {
        self.children.get(i)
    }

    /// The overflow child, once something overflowed.
    pub(crate) fn overflow_child(&self) -> Option<&Child<M>> {
        self.overflow.get()
    }

    /// Every child in creation order, then the overflow child if any.
    #[cfg(test)]
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Child<M>, bool)) {
        let n = self.len.load(Ordering::Acquire);
        for i in 0..n {
            if let Some(c) = self.children.get(i) {
                f(c, false);
            }
        }
        if let Some(c) = self.overflow.get() {
            f(c, true);
        }
    }

    pub(crate) fn overflow_records(&self) -> u64 {
        self.overflow_records.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Counter;

    fn fam(limit: usize) -> Family<Counter> {
        Family::new("f", &["a", "b"], Buckets::default(), limit)
    }

    /// A family in which every label set hashes to `hash`: same tag, same first slot, so
    /// only comparing the values can tell two label sets apart.
    fn colliding(limit: usize, hash: u64) -> Family<Counter> {
        let mut f = fam(limit);
        let core =
            f.0.as_mut()
                .and_then(Arc::get_mut)
                .expect("a new family has one owner");
        core.forced_hash = Some(hash);
        f
    }

    /// Every series of `f` in creation order: its label text and its value.
    fn series(f: &Family<Counter>) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        f.core().unwrap().for_each(|c, overflow| {
            assert!(!overflow, "no overflow expected");
            out.push((String::from_utf8_lossy(&c.key).into_owned(), c.metric.get()));
        });
        out
    }

    #[test]
    fn arena_locate_covers_every_index() {
        assert_eq!(Arena::<u8>::locate(0), (0, 0));
        assert_eq!(Arena::<u8>::locate(7), (0, 7));
        assert_eq!(Arena::<u8>::locate(8), (1, 0));
        assert_eq!(Arena::<u8>::locate(23), (1, 15));
        assert_eq!(Arena::<u8>::locate(24), (2, 0));
    }

    #[test]
    fn lookups_find_the_same_child_across_growth() {
        let f = fam(100_000);
        for i in 0..5000 {
            f.with(&[&i.to_string(), "x"]).add(i);
        }
        assert_eq!(f.len(), 5000);
        for i in 0..5000 {
            assert_eq!(f.with(&[&i.to_string(), "x"]).get(), i);
        }
        assert_eq!(f.len(), 5000);
    }

    #[test]
    fn escaped_values_survive_growth() {
        let f = fam(100_000);
        let odd = |i: u64| format!("say \"{i}\"\\\n");
        for i in 0..300 {
            f.with(&[&odd(i), "\\"]).add(i);
        }
        for i in 0..300 {
            assert_eq!(f.with(&[&odd(i), "\\"]).get(), i);
        }
        assert_eq!(f.len(), 300);
    }

    #[test]
    fn values_split_at_another_boundary_are_distinct() {
        let f = fam(10);
        f.with(&["ab", "c"]).inc();
        f.with(&["a", "bc"]).add(2);
        assert_eq!(f.with(&["ab", "c"]).get(), 1);
        assert_eq!(f.with(&["a", "bc"]).get(), 2);
    }

    #[test]
    fn values_are_compared_not_just_hashed() {
        // Top bits (the tag) and bits 32+ (the first slot) both set: a full collision.
        let f = colliding(10, 0xfe00_0003_0000_0007);
        let core = f.core().unwrap();
        let (x, y) = (["ab", "c"], ["a", "bc"]);
        assert_eq!(
            core.hash(&x),
            core.hash(&y),
            "the hook must force a collision"
        );
        assert_ne!(
            text::hash_values(core.seed, &x),
            text::hash_values(core.seed, &y),
            "without the hook these differ"
        );
        f.with(&x).inc();
        f.with(&y).add(2);
        assert_eq!(f.len(), 2);
        assert_eq!(f.with(&x).get(), 1);
        assert_eq!(f.with(&y).get(), 2);
        assert_eq!(f.with_static(&["a", "bc"]).get(), 2);
        assert_eq!(
            series(&f),
            [
                (r#"a="ab",b="c""#.to_owned(), 1),
                (r#"a="a",b="bc""#.to_owned(), 2),
            ]
        );
    }

    #[test]
    fn colliding_label_sets_survive_growth() {
        // 40 label sets on one probe chain: the table grows twice (16 -> 32 -> 64 slots),
        // rehashing every child to the same forced hash.
        let f = colliding(100, 0x8000_0000_0000_0000);
        let core = f.core().unwrap();
        assert_eq!(core.hash(&["0", "x"]), core.hash(&["39", "x"]));
        for i in 0..40 {
            f.with(&[&i.to_string(), "x"]).add(i + 1);
        }
        assert_eq!(f.len(), 40);
        assert_eq!(core.index.current().len(), 64);
        for i in 0..40 {
            assert_eq!(f.with(&[&i.to_string(), "x"]).get(), i + 1);
        }
        let expected: Vec<(String, u64)> = (0..40)
            .map(|i| (format!(r#"a="{i}",b="x""#), i + 1))
            .collect();
        assert_eq!(series(&f), expected);
    }

    #[test]
    fn wrong_count_is_an_error_or_noop() {
        let f = fam(10);
        let e = f.try_with(&["only"]).unwrap_err().to_string();
        assert!(e.contains("2 label(s)") && e.contains("1 value"), "{e}");
        f.with(&["only"]).inc();
        assert!(f.is_empty());
    }

    #[test]
    fn overflow_is_bounded_and_counted() {
        let f = fam(3);
        for i in 0..10 {
            f.with(&[&i.to_string(), ""]).inc();
        }
        assert_eq!(f.len(), 3);
        assert_eq!(f.overflow_count(), 7);
        // Existing series keep their own child.
        f.with(&["0", ""]).inc();
        assert_eq!(f.with(&["0", ""]).get(), 2);
        let mut overflow_total = 0;
        f.core().unwrap().for_each(|c, overflow| {
            if overflow {
                overflow_total = c.metric.get();
            }
        });
        assert_eq!(overflow_total, 7);
    }

    #[test]
    fn static_lists_find_the_same_child_as_runtime_values() {
        let f = fam(3);
        for _ in 0..3 {
            f.with_static(&["GET", "200"]).inc();
        }
        let (m, c) = (String::from("GET"), String::from("200"));
        f.with(&[&m, &c]).inc();
        assert_eq!(f.with_static(&["GET", "200"]).get(), 4);
        assert_eq!(f.len(), 1);
        // A second call site with equal values: the same child.
        static OTHER: [&str; 2] = ["GET", "200"];
        assert_eq!(f.with_static(&OTHER).get(), 4);
        // Different values, the wrong count, and the overflow child are never cached.
        f.with_static(&["POST", "500"]).add(2);
        assert_eq!(f.with(&["POST", "500"]).get(), 2);
        f.with_static(&["only"]).inc();
        f.with(&["a", "1"]).inc();
        for _ in 0..2 {
            f.with_static(&["full", "x"]).inc();
        }
        assert_eq!(f.len(), 3);
        assert_eq!(f.overflow_count(), 2);
        assert!(f.with_static(&["full", "x"]).get() >= 2);
        assert_eq!(Family::<Counter>::noop().with_static(&["a", "b"]).get(), 0);
    }

    #[test]
    fn concurrent_inserts_agree() {
        let f = fam(100_000);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let f = f.clone();
                std::thread::spawn(move || {
                    for i in 0..2000 {
                        f.with(&[&i.to_string(), "y"]).inc();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(f.len(), 2000);
        for i in 0..2000 {
            assert_eq!(f.with(&[&i.to_string(), "y"]).get(), 4);
        }
    }
}
