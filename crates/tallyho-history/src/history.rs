//! The public handle: appends, queries, stats, and the `Storage` the engine reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tallyho::Snapshot;
use tallyho_query::{
    Engine, Labels, Matcher, QueryError, RangeSeries, Storage, StorageError, Value,
};

use crate::options::{AppendStats, HistoryError, HistoryOptions, HistoryStats};
use crate::store::{CutJob, Store};

/// Upper bounds (seconds) of the query-duration histogram's buckets.
pub(crate) const QUERY_BUCKETS: [f64; 10] =
    [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0];

/// Query counters, kept outside the store's lock.
#[derive(Debug, Default)]
pub(crate) struct QueryCounters {
    pub(crate) count: AtomicU64,
    pub(crate) nanos: AtomicU64,
    pub(crate) buckets: [AtomicU64; QUERY_BUCKETS.len() + 1],
}

impl QueryCounters {
    fn observe(&self, d: Duration) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
        let secs = d.as_secs_f64();
        let i = QUERY_BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(QUERY_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    store: RwLock<Store>,
    engine: Engine,
    pub(crate) queries: QueryCounters,
    /// The thread writing a block, if one was started.
    cutter: Mutex<Option<JoinHandle<()>>>,
}

impl Inner {
    fn new(store: Store, engine: Engine) -> Inner {
        Inner {
            store: RwLock::new(store),
            engine,
            queries: QueryCounters::default(),
            cutter: Mutex::new(None),
        }
    }

    /// Waits for the block-writing thread, unless it is this one.
    fn join_cutter(&self) {
        let handle = self
            .cutter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(h) = handle {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }
}

impl Drop for Inner {
    /// A block being written is finished first, so the directory's lock is held until
    /// nothing writes there.
    fn drop(&mut self) {
        self.join_cutter();
    }
}

/// Writes the blocks due, one after the other, each outside the store's lock; stops when
/// none is due or the history is gone (a block written then is found on the next open,
/// its samples still in the WAL too).
fn cut_blocks(inner: &Weak<Inner>, mut job: CutJob) {
    loop {
        let written = job.write();
        let Some(inner) = inner.upgrade() else { return };
        let next = inner
            .store
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .install(&mut job, written);
        // Outside the lock: WAL files removed, the head's old chunks freed.
        job.finish();
        match next {
            Ok(Some(j)) => job = j,
            Ok(None) => return,
            Err(e) => {
                log::warn!("tallyho-history: after writing a block: {e}");
                return;
            }
        }
    }
}

/// A cheap handle: clones share one store. See the [crate docs](crate) for the design.
#[derive(Debug, Clone)]
pub struct History {
    pub(crate) inner: Arc<Inner>,
}

/// Milliseconds since the epoch (negative before it), saturating.
pub(crate) fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |m| -m),
    }
}

impl History {
    /// Opens a history: in memory, or in `storage_path` (created when missing; the WAL is
    /// replayed and the blocks are checked, damage is reported in [`stats`](Self::stats)).
    ///
    /// # Errors
    /// [`HistoryError::InvalidOption`] for an option out of range, [`HistoryError::Locked`]
    /// when another `History` has the directory open, [`HistoryError::Io`] when the
    /// directory cannot be used.
    pub fn open(opts: HistoryOptions) -> Result<History, HistoryError> {
        let store = Store::open(&opts)?;
        Ok(History {
            inner: Arc::new(Inner::new(store, Engine::new(opts.engine.clone()))),
        })
    }

    /// Opens the history in `path` for reading only, showing every sample it holds (no
    /// retention applied): see [`HistoryOptions::read_only`]. Nothing in the directory is
    /// changed, no lock is taken, and a `History` writing it meanwhile is not disturbed.
    ///
    /// # Errors
    /// [`HistoryError::Io`] when the directory cannot be read.
    pub fn open_read_only(path: impl Into<std::path::PathBuf>) -> Result<History, HistoryError> {
        // The longest retention that fits in i64 milliseconds: nothing is hidden.
        let forever = Duration::from_millis(i64::MAX as u64);
        History::open(
            HistoryOptions::default()
                .storage_path(path)
                .retention(forever)
                .read_only(true),
        )
    }

    /// An in-memory history with the default options.
    pub fn in_memory() -> History {
        let opts = HistoryOptions::default();
        History {
            inner: Arc::new(Inner::new(Store::empty(&opts), Engine::new(opts.engine))),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.inner
            .store
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.inner
            .store
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts writing a block on a thread of its own (inline if no thread can start).
    fn start_cut(&self, job: CutJob) {
        let weak = Arc::downgrade(&self.inner);
        let mut slot = self
            .inner
            .cutter
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // At most one job is out at a time, so a previous thread has finished its work.
        if let Some(old) = slot.take() {
            let _ = old.join();
        }
        // The job goes through a channel so that it comes back if no thread can start.
        let (tx, rx) = std::sync::mpsc::channel::<CutJob>();
        let spawned = std::thread::Builder::new()
            .name("tallyho-history-block".into())
            .spawn(move || {
                if let Ok(job) = rx.recv() {
                    cut_blocks(&weak, job);
                }
            });
        match spawned {
            Ok(h) => *slot = Some(h),
            Err(e) => log::warn!(
                "tallyho-history: cannot start a thread to write a block ({e}); writing it here"
            ),
        }
        drop(slot);
        if let Err(unsent) = tx.send(job) {
            cut_blocks(&Arc::downgrade(&self.inner), unsent.0);
        }
    }

    /// Runs one append under the write lock; a block due is written after the lock is let
    /// go, on another thread.
    fn append_with(
        &self,
        t: i64,
        stale: bool,
        fill: impl FnOnce(&mut Store, &mut AppendStats),
    ) -> Result<AppendStats, HistoryError> {
        let (stats, job) = self.write().append(t, stale, fill)?;
        if let Some(job) = job {
            self.start_cut(job);
        }
        Ok(stats)
    }

    /// Appends a snapshot at `snapshot.time`, named as remote write names it (`_total` on
    /// counters, `_bucket{le}`/`_sum`/`_count` for histograms). Series of the previous
    /// `append` that are missing now get a staleness marker. With a directory, the samples
    /// are in the WAL and synced when this returns; a block that falls due is written on a
    /// thread of its own, so appends do not wait for it.
    ///
    /// # Errors
    /// [`HistoryError::Io`] when the WAL cannot be written (the samples stay in memory);
    /// [`HistoryError::ReadOnly`] when opened read-only.
    pub fn append(&self, snapshot: &Snapshot) -> Result<AppendStats, HistoryError> {
        let t = unix_ms(snapshot.time);
        self.append_with(t, true, |store, stats| {
            crate::ingest::for_each_sample(snapshot, |pairs, v| {
                let make = || {
                    Labels::from_sorted(
                        pairs
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                    )
                };
                store.append_one(t, || pairs.iter().copied(), make, v, stats);
            });
        })
    }

    /// Appends samples at `t_ms` (for recording rules and imports). No staleness tracking.
    ///
    /// # Errors
    /// As [`append`](Self::append).
    pub fn append_samples(
        &self,
        t_ms: i64,
        samples: &[(Labels, f64)],
    ) -> Result<AppendStats, HistoryError> {
        self.append_with(t_ms, false, |store, stats| {
            for (labels, v) in samples {
                store.append_one(t_ms, || labels.iter(), || labels.clone(), *v, stats);
            }
        })
    }

    /// Evaluates `promql` at `at`.
    ///
    /// # Errors
    /// The engine's [`QueryError`].
    pub fn query(&self, promql: &str, at: SystemTime) -> Result<Value, QueryError> {
        let started = Instant::now();
        let res = self.inner.engine.instant(self, promql, unix_ms(at));
        self.inner.queries.observe(started.elapsed());
        res
    }

    /// Evaluates `promql` at every `step` from `start` to `end`.
    ///
    /// # Errors
    /// The engine's [`QueryError`]; also when `step` is zero.
    pub fn query_range(
        &self,
        promql: &str,
        start: SystemTime,
        end: SystemTime,
        step: Duration,
    ) -> Result<Vec<RangeSeries>, QueryError> {
        let started = Instant::now();
        let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX);
        let res = self
            .inner
            .engine
            .range(self, promql, unix_ms(start), unix_ms(end), step_ms);
        self.inner.queries.observe(started.elapsed());
        res
    }

    /// The query engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Counts, sizes and damage found.
    pub fn stats(&self) -> HistoryStats {
        let mut s = self.read().snapshot_stats();
        s.queries = self.inner.queries.count.load(Ordering::Relaxed);
        s
    }

    /// Syncs the WAL.
    ///
    /// # Errors
    /// [`HistoryError::Io`] when the sync fails.
    pub fn flush(&self) -> Result<(), HistoryError> {
        self.write().sync()
    }

    /// Waits until no block is being written (blocks are written on a thread of their
    /// own): then [`stats`](Self::stats) counts every block due so far.
    pub fn wait_for_blocks(&self) {
        self.inner.join_cutter();
    }

    /// Waits for a block being written, syncs and lets go of this handle (the store
    /// closes, and its lock file is released, when the last clone goes). Cuts no block.
    ///
    /// # Errors
    /// As [`flush`](Self::flush).
    pub fn close(self) -> Result<(), HistoryError> {
        self.wait_for_blocks();
        self.flush()
    }
}

impl Storage for History {
    fn select(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<RangeSeries>, StorageError> {
        self.read()
            .select(matchers, start, end)
            .map_err(|e| StorageError(format!("reading a block: {e}")))
    }

    fn series(
        &self,
        matcher_sets: &[Vec<Matcher>],
        start: i64,
        end: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        let store = self.read();
        if matcher_sets.is_empty() {
            return Ok(store.series(&[], start, end));
        }
        let mut out: Vec<Labels> = matcher_sets
            .iter()
            .flat_map(|m| store.series(m, start, end))
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
}
