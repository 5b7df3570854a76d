//! Families whose series come and go: removed by hand, cleared, or expired when idle.
//!
//! [`Family`](crate::Family) never frees a series, which is what lets its lookups hand
//! out `&M` without a lock. Label sets that churn (per user, per connection, StatsD
//! names from the network) need the opposite, so this family keeps its series in 16
//! shards of a hash table behind reader-writer locks and hands out owned handles (one
//! reference-count increment). A series leaves when [`remove`](ExpiringFamily::remove)
//! or [`clear`](ExpiringFamily::clear) says so, or when a sweep finds it idle.
//!
//! Idle is decided at sweeps, never on the hot path: a sweep (each collection runs one)
//! reads every series' value fingerprint and whether a lookup touched it since the last
//! sweep. A series whose value has not changed, that no lookup touched, across sweeps
//! spanning the idle timeout, and to which no handle is held outside the family, is
//! removed and its memory freed. A handle kept by the program therefore keeps its series:
//! nothing it records can land in a series nobody exports.

use std::hash::BuildHasher;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime};

use hashbrown::HashTable;

use crate::instrument::{Instrument, Shape};
use crate::read::Readable;
use crate::visit::{ConstantLabels, Labels, Point, Visitor};
#[cfg(test)]
use crate::Buckets;
use crate::{text, Error, OVERFLOW_LABEL};

const SHARDS: usize = 16;
/// `since` of a series no sweep has seen yet.
const UNSEEN: u64 = u64::MAX;

/// One series.
struct Entry<M> {
    hash: u64,
    /// The label pairs in text form, `a="x",b="y"` (see [`crate::text`]).
    key: Box<[u8]>,
    start: SystemTime,
    metric: M,
    /// Set by a lookup, cleared by a sweep (written only when it changes).
    touched: AtomicBool,
    /// The value fingerprint the last sweep read.
    seen: AtomicU64,
    /// Nanoseconds after the family's epoch of the sweep that last saw a change.
    since: AtomicU64,
}

/// One of the [`SHARDS`] tables, behind its lock.
type Shard<M> = RwLock<HashTable<Arc<Entry<M>>>>;

struct Shared<M> {
    name: Box<str>,
    label_names: Box<[Box<str>]>,
    buckets: Shape,
    limit: usize,
    idle: Duration,
    seed: u64,
    epoch: Instant,
    shards: Box<[Shard<M>]>,
    len: AtomicUsize,
    overflow: OnceLock<Arc<Entry<M>>>,
    overflow_records: AtomicU64,
    expired: AtomicU64,
    /// Sweeps run one at a time; this is the time of the last one (nanoseconds after
    /// `epoch`), so a sweep given an earlier time counts as at the last one.
    sweeping: Mutex<u64>,
}

/// A labelled family whose series can be removed, cleared, or expire when idle.
///
/// Lookups take a shard's read lock and return an owned handle: a little slower than
/// [`Family::with`](crate::Family::with), which never frees anything. Use this one when
/// label sets churn, so memory follows the live series and not every label set ever seen.
///
/// ```
/// use std::time::Duration;
/// # let registry = tallyho::Registry::new();
/// let sessions = registry
///     .metric("session_bytes", "Bytes sent per session.")
///     .expiring_family::<tallyho::Counter>(&["session"], Duration::from_secs(300))?;
/// sessions.with(&["s-1"]).add(512);
/// sessions.with(&["s-2"]).add(64);
/// assert!(sessions.remove(&["s-1"]));
/// assert_eq!(sessions.len(), 1);
/// sessions.clear();
/// assert!(sessions.is_empty());
/// # Ok::<(), tallyho::Error>(())
/// ```
pub struct ExpiringFamily<M: Instrument + Clone>(Option<Arc<Shared<M>>>);

impl<M: Instrument + Clone> Clone for ExpiringFamily<M> {
    fn clone(&self) -> Self {
        ExpiringFamily(self.0.clone())
    }
}

impl<M: Instrument + Clone> std::fmt::Debug for ExpiringFamily<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(s) => f
                .debug_struct("ExpiringFamily")
                .field("name", &s.name)
                .field("labels", &s.label_names)
                .field("series", &s.len.load(Ordering::Relaxed))
                .field("idle", &s.idle)
                .finish(),
            None => f.write_str("ExpiringFamily(noop)"),
        }
    }
}

fn read_lock<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write_lock<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl<M: Instrument + Clone> ExpiringFamily<M> {
    pub(crate) fn new(
        name: &str,
        label_names: &[&str],
        buckets: impl Into<Shape>,
        limit: usize,
        idle: Duration,
    ) -> Self {
        ExpiringFamily(Some(Arc::new(Shared {
            name: name.into(),
            label_names: label_names.iter().map(|&n| n.into()).collect(),
            buckets: buckets.into(),
            limit: limit.min(crate::MAX_CARDINALITY),
            idle,
            seed: foldhash::fast::RandomState::default().hash_one(0u64),
            epoch: Instant::now(),
            shards: (0..SHARDS).map(|_| RwLock::new(HashTable::new())).collect(),
            len: AtomicUsize::new(0),
            overflow: OnceLock::new(),
            overflow_records: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            sweeping: Mutex::new(0),
        })))
    }

    /// A family whose every child is a no-op.
    pub const fn noop() -> Self {
        ExpiringFamily(None)
    }

    /// The handle for these label values, created on first use.
    ///
    /// With the wrong number of values this returns a no-op handle; use
    /// [`try_with`](Self::try_with) to get the error. Past the cardinality limit, new
    /// label sets share the overflow series.
    #[inline]
    pub fn with(&self, values: &[&str]) -> M {
        self.try_with(values)
            .unwrap_or_else(|_| M::noop_ref().clone())
    }

    /// The handle for these label values, or an error naming the family, its labels and
    /// the number of values given.
    ///
    /// # Errors
    /// [`Error::LabelCount`] when `values.len()` differs from the number of label names.
    pub fn try_with(&self, values: &[&str]) -> Result<M, Error> {
        let Some(s) = &self.0 else {
            return Ok(M::noop_ref().clone());
        };
        s.check(values)?;
        let hash = text::hash_values(s.seed, values);
        let shard = s.shard(hash);
        if let Some(e) = read_lock(shard).find(hash, |e| s.is(e, values)) {
            if !e.touched.load(Ordering::Relaxed) {
                e.touched.store(true, Ordering::Relaxed);
            }
            return Ok(e.metric.clone());
        }
        Ok(s.insert_slow(hash, values))
    }

    /// Removes the series with these label values; `true` when there was one. A handle
    /// still held keeps recording into a series that is no longer exported.
    ///
    /// # Errors
    /// [`Error::LabelCount`] when `values.len()` differs from the number of label names.
    pub fn try_remove(&self, values: &[&str]) -> Result<bool, Error> {
        let Some(s) = &self.0 else {
            return Ok(false);
        };
        s.check(values)?;
        let hash = text::hash_values(s.seed, values);
        let mut table = write_lock(s.shard(hash));
        let Ok(found) = table.find_entry(hash, |e| s.is(e, values)) else {
            return Ok(false);
        };
        found.remove();
        s.len.fetch_sub(1, Ordering::AcqRel);
        shrink(&mut table);
        Ok(true)
    }

    /// [`try_remove`](Self::try_remove), with a wrong number of values removing nothing.
    pub fn remove(&self, values: &[&str]) -> bool {
        self.try_remove(values).unwrap_or(false)
    }

    /// Removes every series (the overflow series included).
    pub fn clear(&self) {
        let Some(s) = &self.0 else {
            return;
        };
        for shard in s.shards.iter() {
            let mut table = write_lock(shard);
            s.len.fetch_sub(table.len(), Ordering::AcqRel);
            *table = HashTable::new();
        }
    }

    /// Removes the series idle for the timeout now (collection does this too); returns
    /// how many.
    pub fn sweep(&self) -> usize {
        self.sweep_at(Instant::now())
    }

    /// [`sweep`](Self::sweep) as if the time were `now`: tests pass a time ahead of the
    /// clock instead of waiting.
    #[doc(hidden)]
    pub fn sweep_at(&self, now: Instant) -> usize {
        self.0.as_ref().map_or(0, |s| s.sweep(now))
    }

    /// The label names, in order.
    pub fn label_names(&self) -> Vec<&str> {
        self.0
            .as_ref()
            .map_or_else(Vec::new, |s| s.label_names.iter().map(|n| &**n).collect())
    }

    /// How many series are stored (the overflow series not included).
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |s| s.len.load(Ordering::Acquire))
    }

    /// Whether no series is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many series sweeps have removed so far.
    pub fn expired_count(&self) -> u64 {
        self.0
            .as_ref()
            .map_or(0, |s| s.expired.load(Ordering::Relaxed))
    }

    /// How many lookups landed in the overflow series because the family was full.
    pub fn overflow_count(&self) -> u64 {
        self.0
            .as_ref()
            .map_or(0, |s| s.overflow_records.load(Ordering::Relaxed))
    }
}

/// Gives memory back once a table is mostly empty, so churn does not keep the peak.
fn shrink<M>(table: &mut HashTable<Arc<Entry<M>>>) {
    if table.capacity() > 32 && table.len() * 4 < table.capacity() {
        table.shrink_to(table.len() * 2, |e| e.hash);
    }
}

impl<M: Instrument + Clone> Shared<M> {
    fn check(&self, values: &[&str]) -> Result<(), Error> {
        if values.len() == self.label_names.len() {
            return Ok(());
        }
        Err(Error::LabelCount {
            metric: self.name.to_string(),
            names: self.label_names.iter().map(|n| n.to_string()).collect(),
            expected: self.label_names.len(),
            got: values.len(),
        })
    }

    #[inline]
    fn shard(&self, hash: u64) -> &Shard<M> {
        // Middle bits: the table itself probes with the low ones and tags with the top.
        &self.shards[(hash >> 40) as usize % SHARDS]
    }

    #[inline]
    fn is(&self, e: &Entry<M>, values: &[&str]) -> bool {
        text::matches(&e.key, &self.label_names, values)
    }

    fn entry(&self, hash: u64, key: Box<[u8]>) -> Entry<M> {
        Entry {
            hash,
            key,
            start: SystemTime::now(),
            metric: M::create(&self.buckets),
            touched: AtomicBool::new(false),
            seen: AtomicU64::new(0),
            since: AtomicU64::new(UNSEEN),
        }
    }

    #[cold]
    #[inline(never)]
    fn insert_slow(&self, hash: u64, values: &[&str]) -> M {
        let mut table = write_lock(self.shard(hash));
        if let Some(e) = table.find(hash, |e| self.is(e, values)) {
            return e.metric.clone();
        }
        let admitted = self
            .len
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            });
        if admitted.is_err() {
            drop(table);
            self.overflow_records.fetch_add(1, Ordering::Relaxed);
            let e = self
                .overflow
                .get_or_init(|| Arc::new(self.entry(0, Box::new([]))));
            return e.metric.clone();
        }
        let key = text::render(
            self.label_names
                .iter()
                .map(|n| &**n)
                .zip(values.iter().copied()),
        );
        let e = Arc::new(self.entry(hash, key));
        let m = e.metric.clone();
        table.insert_unique(hash, e, |e| e.hash);
        m
    }

    fn sweep(&self, now: Instant) -> usize {
        if self.idle == Duration::MAX {
            return 0;
        }
        let mut last = self.sweeping.lock().unwrap_or_else(|p| p.into_inner());
        let now = u64::try_from(now.saturating_duration_since(self.epoch).as_nanos())
            .unwrap_or(u64::MAX - 1)
            .max(*last);
        *last = now;
        let idle = u64::try_from(self.idle.as_nanos()).unwrap_or(u64::MAX);
        // Idle now: unchanged, untouched, unshared, for the timeout.
        let idle_now = |e: &Entry<M>| {
            let since = e.since.load(Ordering::Relaxed);
            since != UNSEEN
                && now.saturating_sub(since) >= idle
                && !e.touched.load(Ordering::Relaxed)
                && e.metric.fingerprint() == e.seen.load(Ordering::Relaxed)
                && !e.metric.shared()
        };
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut candidates = false;
            for e in read_lock(shard).iter() {
                let fp = e.metric.fingerprint();
                let touched = e.touched.load(Ordering::Relaxed);
                if touched {
                    e.touched.store(false, Ordering::Relaxed);
                }
                let since = e.since.load(Ordering::Relaxed);
                if touched || since == UNSEEN || fp != e.seen.load(Ordering::Relaxed) {
                    e.seen.store(fp, Ordering::Relaxed);
                    e.since.store(now, Ordering::Relaxed);
                } else if idle_now(e) {
                    candidates = true;
                }
            }
            if candidates {
                // Checked again under the write lock: no lookup can clone a handle now,
                // and one that touched the series since the read pass keeps it.
                let mut table = write_lock(shard);
                let before = table.len();
                table.retain(|e| !idle_now(e));
                let gone = before - table.len();
                self.len.fetch_sub(gone, Ordering::AcqRel);
                removed += gone;
                shrink(&mut table);
            }
        }
        self.expired.fetch_add(removed as u64, Ordering::Relaxed);
        removed
    }

    /// The series of one shard, cloned out so the lock is not held while encoding.
    fn entries(&self, shard: usize, out: &mut Vec<Arc<Entry<M>>>) {
        out.clear();
        out.extend(read_lock(&self.shards[shard]).iter().cloned());
    }
}

impl<M: Instrument + Clone> Readable for ExpiringFamily<M> {
    fn points(
        &self,
        constant: &ConstantLabels,
        time: SystemTime,
        v: &mut dyn Visitor,
    ) -> io::Result<()> {
        let Some(s) = &self.0 else {
            return Ok(());
        };
        s.sweep(Instant::now());
        let mut entries = Vec::new();
        for shard in 0..SHARDS {
            s.entries(shard, &mut entries);
            for e in &entries {
                let labels = Labels::new(constant, &s.label_names, &e.key, None);
                emit(v, e, labels, time)?;
            }
        }
        if let Some(e) = s.overflow.get() {
            let labels = Labels::new(constant, &[], &[], Some((OVERFLOW_LABEL, "true")));
            emit(v, e, labels, time)?;
        }
        Ok(())
    }

    fn overflow_records(&self) -> u64 {
        self.overflow_count()
    }

    fn refused_records(&self) -> u64 {
        let Some(s) = self.0.as_ref().filter(|_| M::REFUSES) else {
            return 0;
        };
        let mut n = 0u64;
        for shard in s.shards.iter() {
            for e in read_lock(shard).iter() {
                n = n.saturating_add(e.metric.refused());
            }
        }
        n.saturating_add(s.overflow.get().map_or(0, |e| e.metric.refused()))
    }
}

fn emit<M: Instrument>(
    v: &mut dyn Visitor,
    e: &Entry<M>,
    labels: Labels<'_>,
    time: SystemTime,
) -> io::Result<()> {
    crate::read::read_point(&e.metric, &mut |value, exemplars| {
        v.point(&Point {
            labels,
            value,
            start: e.start,
            time,
            exemplars,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Counter, Gauge};

    const IDLE: Duration = Duration::from_secs(60);

    fn fam(limit: usize) -> ExpiringFamily<Counter> {
        ExpiringFamily::new("f", &["a"], Buckets::default(), limit, IDLE)
    }

    #[test]
    fn lookups_find_the_same_series_and_remove_forgets_it() {
        let f = fam(100);
        f.with(&["x"]).add(2);
        f.with(&["x"]).inc();
        assert_eq!(f.with(&["x"]).get(), 3);
        assert_eq!(f.len(), 1);
        assert!(f.remove(&["x"]));
        assert!(!f.remove(&["x"]));
        assert_eq!(
            f.with(&["x"]).get(),
            0,
            "a removed series starts again at 0"
        );
        assert!(f.try_with(&["x", "y"]).is_err());
        assert!(f.try_remove(&[]).is_err());
    }

    #[test]
    fn an_idle_series_expires_after_the_timeout_and_a_busy_one_stays() {
        let f = fam(100);
        let t0 = Instant::now();
        f.with(&["idle"]).inc();
        f.with(&["busy"]).inc();
        assert_eq!(f.sweep_at(t0), 0, "the first sweep only sees them");
        f.with(&["busy"]).inc();
        assert_eq!(f.sweep_at(t0 + IDLE / 2), 0);
        assert_eq!(f.sweep_at(t0 + IDLE - Duration::from_nanos(1)), 0);
        assert_eq!(f.sweep_at(t0 + IDLE), 1);
        assert_eq!(f.len(), 1);
        assert_eq!(f.with(&["busy"]).get(), 2, "the busy series kept its value");
        assert_eq!(f.with(&["idle"]).get(), 0, "the expired one starts again");
        assert_eq!(f.expired_count(), 1);
    }

    #[test]
    fn a_held_handle_keeps_its_series() {
        let f = fam(100);
        let t0 = Instant::now();
        let kept = f.with(&["kept"]);
        kept.inc();
        f.sweep_at(t0);
        assert_eq!(f.sweep_at(t0 + IDLE * 10), 0);
        drop(kept);
        assert_eq!(f.sweep_at(t0 + IDLE * 11), 1);
    }

    #[test]
    fn a_lookup_counts_as_activity_even_when_the_value_does_not_change() {
        let f: ExpiringFamily<Gauge> =
            ExpiringFamily::new("g", &["a"], Buckets::default(), 10, IDLE);
        let t0 = Instant::now();
        f.with(&["g"]).set(5.0);
        f.sweep_at(t0);
        f.with(&["g"]).set(5.0);
        assert_eq!(f.sweep_at(t0 + IDLE), 0, "set again to the same value");
        assert_eq!(f.sweep_at(t0 + IDLE * 2), 1);
    }

    #[test]
    fn the_limit_sends_new_label_sets_to_overflow_until_series_leave() {
        let f = fam(2);
        f.with(&["a"]).inc();
        f.with(&["b"]).inc();
        f.with(&["c"]).inc();
        assert_eq!(f.len(), 2);
        assert_eq!(f.overflow_count(), 1);
        f.remove(&["a"]);
        f.with(&["c"]).inc();
        assert_eq!(f.len(), 2);
        assert_eq!(f.with(&["c"]).get(), 1);
        f.clear();
        assert!(f.is_empty());
    }

    #[test]
    fn tables_shrink_after_churn() {
        let f = fam(1 << 20);
        for i in 0..10_000 {
            f.with(&[&i.to_string()]).inc();
        }
        let s = f.0.as_ref().unwrap();
        let peak: usize = s.shards.iter().map(|t| read_lock(t).capacity()).sum();
        for i in 0..9_990 {
            f.remove(&[&i.to_string()]);
        }
        let after: usize = s.shards.iter().map(|t| read_lock(t).capacity()).sum();
        assert!(
            after * 10 < peak,
            "capacity {after} after churn, {peak} at peak"
        );
        assert_eq!(f.len(), 10);
    }
}
